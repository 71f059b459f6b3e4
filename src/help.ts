import {CommandHelp, Help, type Command, type Interfaces} from '@oclif/core'

/**
 * oclif's help passes every text it prints (each summary, description, flag and example) through ejs, for
 * templates such as `<%= config.bin %>`, compiling a new template each time: tens of milliseconds for a command
 * with many flags. Only texts that hold a template need it; the others come out of ejs unchanged, so they are
 * printed as they are. The output is the same; --help starts faster (bench/README.md, start-up).
 */
function renderTemplatesOnly(formatter: {render: (input: string) => string}): void {
  const render = formatter.render
  formatter.render = (input) => (input.includes('<%') ? render(input) : input)
}

class DvctlCommandHelp extends CommandHelp {
  constructor(command: Command.Loadable, config: Interfaces.Config, opts: Interfaces.HelpOptions) {
    super(command, config, opts)
    renderTemplatesOnly(this)
  }
}

/** dvctl's help (package.json oclif.helpClass): oclif's own, rendering only texts with templates. */
export default class DvctlHelp extends Help {
  protected override CommandHelpClass = DvctlCommandHelp

  constructor(config: Interfaces.Config, opts?: Partial<Interfaces.HelpOptions>) {
    super(config, opts)
    renderTemplatesOnly(this)
  }
}
