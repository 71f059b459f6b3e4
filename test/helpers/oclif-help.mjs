// Prints, as JSON, the help texts oclif itself (from node_modules, not the bundle) renders for `dvctl WORDS...
// --help`, for each array of words in the JSON array given: what test/integration/help.test.ts compares the
// bundle's --help with. Each text gets a config of its own: oclif's config keeps state between help texts
// (showing a command that is also a topic changes the next root help).
import {fileURLToPath} from 'node:url'
import {format} from 'node:util'

import {Config, Help} from '@oclif/core'

class OclifHelp extends Help {
  text = ''
  log(...args) {
    this.text += `${format(...args)}\n`
  }
}

const texts = {}
for (const words of JSON.parse(process.argv[2])) {
  const config = await Config.load({root: fileURLToPath(new URL('../..', import.meta.url))})
  const help = new OclifHelp(config, {maxWidth: 80})
  await help.showHelp([...words, '--help'])
  texts[words.join(' ')] = help.text
}
process.stdout.write(JSON.stringify(texts))
