import {CommandHelp, Help, type Command, type Interfaces} from '@oclif/core'

const TEMPLATE = /<%= (config\.bin|command\.id) %>/g
const XML_ESCAPES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;'}

/**
 * oclif's help passes every text it prints (each summary, description, flag and example) through ejs, for
 * templates such as `<%= config.bin %>`, compiling a new template (a new function) each time: tens of
 * milliseconds for a command with many examples. A text without a template comes out of ejs unchanged, and the
 * only templates dvctl's texts hold are `<%= config.bin %>` and `<%= command.id %>`: those are filled in as ejs
 * would (its `<%=` escapes the value for XML). Any other template still goes to ejs. The output is the same
 * (test/integration/help.test.ts compares every --help with oclif's own); --help starts faster (bench/README.md,
 * start-up).
 */
function fillKnownTemplates(
  formatter: {render: (input: string) => string},
  config: Interfaces.Config,
  command?: Command.Loadable,
): void {
  const render = formatter.render
  const values: Record<string, string | undefined> = {'config.bin': config.bin, 'command.id': command?.id}
  formatter.render = (input) => {
    if (!input.includes('<%')) return input
    const known = [...input.matchAll(TEMPLATE)].every((m) => values[m[1]] !== undefined)
    if (!known || input.replace(TEMPLATE, '').includes('<%')) return render(input)
    return input.replace(TEMPLATE, (_, name: string) => values[name]!.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]))
  }
}

class DvctlCommandHelp extends CommandHelp {
  constructor(command: Command.Loadable, config: Interfaces.Config, opts: Interfaces.HelpOptions) {
    super(command, config, opts)
    fillKnownTemplates(this, config, command)
  }
}

/** dvctl's help (package.json oclif.helpClass): oclif's own, filling in the known templates without ejs. */
export default class DvctlHelp extends Help {
  protected override CommandHelpClass = DvctlCommandHelp

  constructor(config: Interfaces.Config, opts?: Partial<Interfaces.HelpOptions>) {
    super(config, opts)
    fillKnownTemplates(this, config)
  }
}
