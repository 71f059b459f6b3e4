import type {CST, Document, DocumentOptions, LineCounter, ParseOptions, SchemaOptions} from 'yaml'

/** Collections nested deeper than this are refused before a document is built (a config or layout needs ~6). */
export const MAX_YAML_DEPTH = 64

export type YamlOptions = Omit<ParseOptions, 'prettyErrors' | 'lineCounter'> &
  DocumentOptions &
  SchemaOptions & {lineCounter?: LineCounter}

/**
 * `yaml.parseDocument(text, options)` for a file dvctl did not write (a config, a layout), refusing a document
 * whose collections nest deeper than MAX_YAML_DEPTH before it is built. The library builds nested collections
 * by recursion: a file of a few thousand `[` overflows the stack. The library turns most such overflows into
 * a parse error, but one that happens while V8 compiles a regular expression ends the process
 * ("FATAL ERROR: RegExpCompiler Allocation failed"), which no catch can stop. Its parser, which finds the
 * nesting, is not recursive. Errors are plain (no `linePos`): `lineCounter.linePos(error.pos[0])` places them.
 */
export function parseYamlDocument(yaml: typeof import('yaml'), text: string, options: YamlOptions = {}): Document {
  const parser = new yaml.Parser(options.lineCounter?.addNewLine)
  const composer = new yaml.Composer({...options, prettyErrors: false})
  let tooDeep: number | undefined
  function* bounded(tokens: Iterable<CST.Token>): Generator<CST.Token> {
    for (const token of tokens) {
      tooDeep = deepCollection(token)
      if (tooDeep !== undefined) return
      yield token
    }
  }
  let doc: Document | undefined
  // As parseDocument does: the first document, and an error for a second one.
  for (const next of composer.compose(bounded(parser.parse(text)), true, text.length)) {
    if (!doc) doc = next
    else {
      doc.errors.push(
        new yaml.YAMLParseError(
          [next.range[0], next.range[1]],
          'MULTIPLE_DOCS',
          'More than one YAML document (a line "---" starts another); the file must hold one',
        ),
      )
      break
    }
  }
  doc ??= new yaml.Document()
  if (tooDeep !== undefined) {
    doc.errors.unshift(
      new yaml.YAMLParseError(
        [tooDeep, tooDeep + 1],
        'RESOURCE_EXHAUSTION',
        `Collections nested deeper than ${MAX_YAML_DEPTH} levels`,
      ),
    )
  }
  return doc
}

/** The offset of a collection nested deeper than MAX_YAML_DEPTH in a parser token, walked without recursion. */
function deepCollection(root: CST.Token): number | undefined {
  const stack: Array<[CST.Token, number]> = [[root, 0]]
  while (stack.length) {
    const [token, depth] = stack.pop()!
    if (token.type === 'document') {
      if (token.value) stack.push([token.value, depth])
    } else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth >= MAX_YAML_DEPTH) return token.offset
      for (const item of token.items) {
        if (item.key) stack.push([item.key, depth + 1])
        if (item.value) stack.push([item.value, depth + 1])
      }
    }
  }
  return undefined
}
