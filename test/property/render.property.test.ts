// Every renderer against hostile values (issue 13, items 3 and 4): messages nested 20,000 levels deep,
// cycles, objects whose toString/valueOf/toJSON or getters throw, proxies that throw on inspection,
// megabyte strings, and every control character and escape sequence in every field. The properties:
// rendering never throws, and what it writes holds no control character of the data (only TAB and LF of
// its own, and with colour on, only dvctl's own SGR styling).
import chalk from 'chalk'
import fc from 'fast-check'
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import type {DeadLetter, DlqHistoryResult, DlqListResult, DlqShowResult, HistoryEntry} from '../../src/lib/dlq/model.js'
import {
  renderActionResult,
  renderDeadLetterList,
  renderDeadLetterShow,
  renderHistory,
  renderReplayPlan,
} from '../../src/lib/render/dlq.js'
import {renderTailEvent, summarizeData} from '../../src/lib/render/tail.js'
import {
  failureLines,
  LiveTaskTable,
  renderTaskList,
  taskEventLine,
  taskFilterText,
  taskRows,
  watchSummary,
} from '../../src/lib/render/tasks.js'
import {jsonLine, table, type Terminal} from '../../src/lib/render/terminal.js'
import {field, jsonPieces, jsonText, prettyJson, safeText, sanitize} from '../../src/lib/render/text.js'
import {
  LiveWorkflow,
  renderWorkflowFollow,
  renderWorkflowTimeline,
  renderWorkflowTree,
} from '../../src/lib/render/workflow.js'
import {TaskBoard} from '../../src/lib/tasks/board.js'
import {assembleWorkflow, type WorkflowResult} from '../../src/lib/workflow/read.js'
import type {TailEvent} from '../../src/lib/workflow/tail.js'
import {buildCausationTree, type WorkflowMessage} from '../../src/lib/workflow/tree.js'

const RUNS = {numRuns: 60}

// ---- hostile values ---------------------------------------------------------------------------------

const C0 = Array.from({length: 32}, (_, i) => String.fromCharCode(i))
const C1 = Array.from({length: 32}, (_, i) => String.fromCharCode(0x80 + i))
const SEQUENCES = [
  '\u001b]0;pwned\u0007',
  '\u001b]8;;https://evil.example/\u0007click\u001b]8;;\u0007',
  '\u001b[2J',
  '\u001b[31m',
  '\u009b31m',
  '\u009d0;title\u009c',
  'over\rwritten',
  '\u202eevil',
  '\u2028',
]
const hostileString = fc.oneof(
  fc.string({unit: fc.constantFrom(...C0, ...C1, '\u007f', 'a', ' ', '\\', '"', 'é', '😀')}),
  fc.array(fc.constantFrom(...SEQUENCES, 'x', '\t', '\n'), {maxLength: 8}).map((parts) => parts.join('')),
  fc.constantFrom(...SEQUENCES),
)

/** `{"a":{"a":...}}` or `[[...]]`, 20,000 levels, made once. */
function deep(kind: 'object' | 'array', depth = 20_000): unknown {
  let v: unknown = 'bottom\u001b[2J'
  for (let i = 0; i < depth; i++) v = kind === 'object' ? {a: v} : [v]
  return v
}
const DEEP_OBJECT = deep('object')
const DEEP_ARRAY = deep('array')
const HUGE = `${'x'.repeat(2_000_000)}\u001b]0;pwned\u0007`

const thrower = () => {
  throw new Error('boom')
}
/** Values that break naive code: each made fresh, since some are mutable. */
const TRAPS: Array<() => unknown> = [
  () => DEEP_OBJECT,
  () => DEEP_ARRAY,
  () => ({data: DEEP_OBJECT, list: [DEEP_ARRAY]}),
  () => {
    const o: Record<string, unknown> = {name: 'cyclic\u001b[2J'}
    o.self = o
    o.list = [o, {back: o}]
    return o
  },
  () => ({toString: thrower, valueOf: thrower, toJSON: thrower, [Symbol.toPrimitive]: thrower}),
  () => ({toString: 1}),
  () => ({code: {toString: 1}, message: {valueOf: 2}}),
  () =>
    Object.defineProperty({}, 'code', {
      enumerable: true,
      get: thrower,
    }),
  () =>
    new Proxy(
      {},
      {get: thrower, ownKeys: thrower, getOwnPropertyDescriptor: thrower, has: thrower, getPrototypeOf: thrower},
    ),
  () => Object.create(null),
  () => [1, , 3], // eslint-disable-line no-sparse-arrays
  () => new Date(NaN),
  () => Symbol('s\u001b[2J'),
  () => BigInt(12),
  () => thrower,
  () => HUGE,
  () => ({big: HUGE}),
  () => Number.NaN,
  () => -0,
  () => undefined,
  () => null,
]
/**
 * fast-check inspects what it generates (and a proxy that throws breaks it), so hostile values are
 * generated as thunks and made inside the property: `materialize` turns a generated shape into the value.
 */
class Thunk {
  constructor(readonly make: () => unknown) {}
}
const trap = fc.integer({min: 0, max: TRAPS.length - 1}).map((i) => new Thunk(TRAPS[i]))

/** A generated shape with its thunks made: the hostile value itself. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function materialize(shape: unknown): any {
  if (shape instanceof Thunk) return shape.make()
  if (Array.isArray(shape)) return shape.map(materialize)
  if (shape && typeof shape === 'object' && Object.getPrototypeOf(shape) === Object.prototype)
    return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, materialize(v)]))
  return shape
}

/** Anything at all where the code expects a value from a message. */
const hostile = fc.oneof(
  {weight: 3, arbitrary: hostileString},
  {weight: 3, arbitrary: trap},
  {weight: 1, arbitrary: fc.anything({withBoxedValues: true, withNullPrototype: true, withSparseArray: true})},
)

/** A data object whose known fields (state, progress, error) hold hostile values. */
const hostileData = fc.record({
  task_id: fc.oneof(hostileString, hostile),
  state: fc.oneof(fc.constantFrom('failed', 'progress', 'succeeded'), hostileString, hostile),
  progress: fc.oneof(hostile, fc.record({percent: hostile, message: hostile})),
  error: fc.oneof(hostile, fc.record({code: hostile, message: hostile})),
  result: hostile,
  deep: trap,
})

const hostileEnvelope = fc.record({
  id: hostileString,
  type: fc.oneof(hostileString, hostile),
  source: fc.oneof(hostileString, hostile),
  subject: fc.oneof(hostileString, hostile),
  correlation_id: hostileString,
  causation_id: fc.oneof(hostileString, hostile),
  tenant_id: fc.oneof(hostileString, hostile),
  data: fc.oneof(hostileData, hostile),
})

const subjectOf = fc.oneof(
  fc.constantFrom('dv.task.evt.failed', 'dv.task.evt.progress', 'dv.maskin.evt.server.provisioned'),
  hostileString.map((s) => `dv.task.evt.${s}`),
  hostileString,
)

const headers = fc.dictionary(hostileString, fc.array(hostileString, {maxLength: 3}), {maxKeys: 3})

// ---- output capture ---------------------------------------------------------------------------------

let written: string[] = []
beforeEach(() => {
  written = []
  const capture = (chunk: unknown) => {
    written.push(String(chunk))
    return true
  }
  vi.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write)
  vi.spyOn(process.stderr, 'write').mockImplementation(capture as typeof process.stderr.write)
})
afterEach(() => {
  vi.restoreAllMocks()
  chalk.level = 0
})

/** Any control character but TAB and LF; DEL, C1; bidirectional overrides and line separators. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

/** What the renderers wrote holds no control character of the data; with colour, SGR styling only. */
function expectClean(text = written.join('')): void {
  // eslint-disable-next-line no-control-regex
  const unstyled = text.replace(/\u001b\[[0-9;]*m/g, '')
  const at = unstyled.search(RAW)
  expect(at, `raw control character near ${JSON.stringify(unstyled.slice(Math.max(0, at - 30), at + 30))}`).toBe(-1)
}

const terminals: Terminal[] = [
  {json: false, stdoutTTY: true, stdinTTY: true, color: false, interactive: false},
  {json: false, stdoutTTY: false, stdinTTY: false, color: false, interactive: false},
]
const terminal = fc.constantFrom(...terminals)
/** Colour off (NO_COLOR) or on: with it on, only chalk's SGR sequences may appear. */
const colour = fc.constantFrom(0, 3)
const setColour = (level: number) => {
  chalk.level = level as 0 | 3
}

// ---- fixtures built from hostile values --------------------------------------------------------------

const str = (v: unknown) => (typeof v === 'string' ? v : 'x')

function workflowOf(
  envelopes: Array<Record<string, unknown>>,
  subjects: string[],
  chain: number,
  text: string,
): WorkflowResult {
  const messages: WorkflowMessage[] = envelopes.map((envelope, i) => ({
    site: text,
    stream: `DV_${text}`,
    seq: i + 1,
    subject: subjects[i % subjects.length] ?? text,
    time: new Date(1_700_000_000_000 + i).toISOString(),
    id: `${str(envelope.id)}-${i}`,
    causation_id: i === 0 ? null : i % 3 === 0 ? `${str(envelope.id)}-${i - 1}` : `${text}-missing-${i}`,
    type: typeof envelope.type === 'string' ? envelope.type : null,
    envelope,
  }))
  // A chain of causes (deeper than both fold limits), and a causation cycle.
  for (let i = 0; i < chain; i++)
    messages.push({
      ...messages[0],
      seq: 1000 + i,
      id: `chain-${i}${text}`,
      causation_id: i === 0 ? messages[0].id : `chain-${i - 1}${text}`,
      time: new Date(1_700_000_001_000 + i).toISOString(),
    })
  messages.push({...messages[0], seq: 9001, id: `c1${text}`, causation_id: `c2${text}`})
  messages.push({...messages[0], seq: 9002, id: `c2${text}`, causation_id: `c1${text}`})
  const result = assembleWorkflow({
    correlationId: text,
    sites: [{site: text, error: text}],
    window: {},
    messages: [...messages, messages[0]],
    deadLetters: [
      {
        ref: `DV_CMD:${text}`,
        site: text,
        stream: `DV_${text}`,
        seq: 1,
        consumer: text,
        reason: 'terminated',
        deliveries: 3,
        dead_lettered_at: text,
        id: messages[0].id,
        advisory: {stream: text, seq: 1},
      },
    ],
    scanned: 1,
  })
  return result
}

function deadLetterOf(text: string, failure: unknown): DeadLetter {
  return {
    ref: `DV_CMD:${text}`,
    site: text,
    stream: text,
    seq: 1,
    consumer: text,
    reason: 'terminated',
    deliveries: 2,
    dead_lettered_at: text,
    subject: text,
    type: text,
    id: text,
    correlation_id: text,
    tenant_id: text,
    original_time: text,
    term_reason: text,
    failure: {code: text, message: safeText(failure)},
    replay_in_progress: false,
    advisory: {stream: text, seq: 1},
  } as DeadLetter
}

function historyOf(text: string): HistoryEntry {
  return {
    ref: text,
    revision: 1,
    action: 'discarded',
    actor: text,
    at: text,
    reason: text,
    replay_id: text,
    new_seq: 3,
    to_subject: text,
    new_id: text,
  } as HistoryEntry
}

// ---- properties -------------------------------------------------------------------------------------

describe('value to text', () => {
  it('safeText, field, prettyJson and jsonText never throw, and field/prettyJson/sanitize leave no control character', () => {
    fc.assert(
      fc.property(hostile, (shape) => {
        const value = materialize(shape)
        const text = safeText(value, 500)
        expect(text.length).toBeLessThanOrEqual(500)
        expectClean(field(value))
        expectClean(sanitize(text))
        expectClean(prettyJson(value, {budget: 20_000}))
        const json = jsonText(value)
        expect(typeof json).toBe('string')
      }),
      RUNS,
    )
  })

  it('jsonPieces, joined, is exactly JSON.stringify of a result, in pieces of about the size asked for', () => {
    // What a result holds, and what JSON.stringify leaves out of an object or writes as null in an array.
    const odd = fc.constantFrom(
      undefined,
      () => 1,
      Symbol('s'),
      new Date(0),
      {toJSON: () => 'own'},
      Object.create(null),
    )
    const item = fc.oneof(fc.jsonValue(), odd, fc.dictionary(fc.string(), fc.oneof(fc.jsonValue(), odd)))
    const result = fc.oneof(
      fc.dictionary(fc.string(), fc.oneof(item, fc.array(item, {maxLength: 30}))),
      fc.jsonValue(),
      odd,
    )
    fc.assert(
      fc.property(result, fc.constantFrom(0, 2, 4), fc.integer({min: 1, max: 200}), (value, indent, size) => {
        const pieces = [...jsonPieces(value, indent, size)]
        expect(pieces.join('')).toBe(jsonText(value, indent))
        // A piece ends once it reaches the size (the last holds what is left); an item is never cut.
        expect(pieces.slice(0, -1).every((p) => p.length >= size)).toBe(true)
      }),
      {numRuns: 500},
    )
    const big = {dead_letters: Array.from({length: 5000}, (_, i) => ({ref: `DV_CMD:${i}`, problems: [{code: 'x'}]}))}
    const whole = JSON.stringify(big, null, 2)
    const pieces = [...jsonPieces(big, 2, 64 * 1024)]
    expect(pieces.length).toBe(Math.ceil(whole.length / (64 * 1024)))
    expect(pieces.slice(0, -1).every((p) => p.length >= 64 * 1024 && p.length < 64 * 1024 + 200)).toBe(true)
    expect(pieces.join('')).toBe(whole)
    // Runs of many items at once (one JSON.stringify each), with items JSON.stringify leaves null among them.
    const odds = [undefined, () => 1, Symbol('s'), new Date(0), {toJSON: () => 'own'}, Object.create(null)]
    const mixed = {
      items: Array.from({length: 3000}, (_, i) => (i % 7 === 0 ? odds[i % odds.length] : {ref: `DV_CMD:${i}`, n: [i]})),
      after: {ok: true},
    }
    for (const indent of [0, 2, 4]) {
      for (const size of [100, 4096, 1 << 20]) {
        expect([...jsonPieces(mixed, indent, size)].join('')).toBe(JSON.stringify(mixed, null, indent || undefined))
      }
    }
    // Items far larger than those before them (a payload) carry a piece at most a few dozen items past its size.
    const growing = {
      items: [...Array.from({length: 200}, (_, i) => i), ...Array.from({length: 500}, () => 'x'.repeat(10_000))],
    }
    const grown = [...jsonPieces(growing, 2, 64 * 1024)]
    expect(grown.join('')).toBe(JSON.stringify(growing, null, 2))
    expect(Math.max(...grown.map((p) => p.length))).toBeLessThan(64 * 1024 + 33 * 10_010)
    // An item too deep for JSON.stringify is written by jsonText's own writer, and the whole stays valid JSON.
    const deep = JSON.parse([...jsonPieces({items: [DEEP_OBJECT, 1]}, 2, 100)].join('')) as {items: unknown[]}
    expect(deep.items[1]).toBe(1)
    // And so is one among others written at once: the run is written item by item.
    const among = JSON.parse([...jsonPieces({items: [1, 2, DEEP_OBJECT, 3, 4]}, 2)].join('')) as {items: unknown[]}
    expect([among.items[0], among.items[1], among.items[3], among.items[4]]).toEqual([1, 2, 3, 4])
  })

  it('jsonText writes valid JSON for deep and cyclic values, the same as JSON.stringify where that works', () => {
    for (const make of TRAPS) {
      const value = make()
      const text = jsonText(value, 2)
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
      expect(() => JSON.parse(text)).not.toThrow()
      let native: string | undefined
      try {
        native = JSON.stringify(value, null, 2)
      } catch {
        native = undefined
      }
      if (native !== undefined) expect(text).toBe(native)
    }
    // A 20,000-deep object survives the round trip whole.
    let v = JSON.parse(jsonText(DEEP_OBJECT)) as unknown
    let depth = 0
    while (v && typeof v === 'object') {
      v = (v as {a: unknown}).a
      depth++
    }
    expect(depth).toBe(20_000)
    expect(v).toBe('bottom\u001b[2J')
  })

  it('summarizeData reads hostile data without running its code and stays short', () => {
    fc.assert(
      fc.property(subjectOf, fc.oneof(hostileData, hostile), (subject, shape) => {
        expect(summarizeData(subject, materialize(shape)).length).toBeLessThanOrEqual(101)
      }),
      RUNS,
    )
  })
})

describe('renderers', () => {
  it('workflow tree, timeline and follow: no throw, no raw control character, folded at depth', () => {
    fc.assert(
      fc.property(
        fc.array(hostileEnvelope, {minLength: 1, maxLength: 6}),
        fc.array(subjectOf, {minLength: 1, maxLength: 3}),
        fc.constantFrom(0, 3, 150),
        hostileString,
        terminal,
        colour,
        (shapes, subjects, chain, text, term, level) => {
          const envelopes = materialize(shapes)
          written = []
          setColour(level)
          const result = workflowOf(envelopes, subjects, chain, text)
          renderWorkflowTree(term, result)
          renderWorkflowTimeline(term, result)
          const nonTty = {...term, stdoutTTY: false}
          renderWorkflowFollow(nonTty, {kind: 'message', message: result.messages[0], result}, 'tree')
          renderWorkflowFollow(
            nonTty,
            {kind: 'dead-letter', deadLetter: result.dead_letters[0], result} as Parameters<
              typeof renderWorkflowFollow
            >[1],
            'tree',
          )
          renderWorkflowFollow(nonTty, {kind: 'site-error', site: text, error: text}, 'tree')
          expectClean()
          // The live view on a terminal: its frames (status line, tree, notices) are as clean.
          const live = new LiveWorkflow('tree', {correlationId: text, sites: [text]})
          live.show({kind: 'snapshot', result})
          live.show({kind: 'site-error', site: text, error: text})
          for (const line of live.frame({columns: 80, rows: 24})) expectClean(line)
          if (chain > 20) expect(written.join('')).toContain('more levels')
        },
      ),
      RUNS,
    )
  })

  it('a causation chain of 5,000 builds and renders, folded, in every view', () => {
    // The chain's links share the root's envelope, so it holds one deep value (not 5,000 copies of it).
    const env = {id: 'root', type: 'maskin.server.provision.requested', data: {n: 1}}
    const result = workflowOf([env], ['dv.maskin.cmd.provision'], 5000, 'w')
    result.messages[1].envelope = {data: DEEP_OBJECT}
    renderWorkflowTree(terminals[0], result)
    renderWorkflowTimeline(terminals[1], result)
    const out = written.join('')
    expect(out).toContain('more levels')
    expect(JSON.parse(jsonText(result, 2)).messages).toHaveLength(result.messages.length)
  })

  it('buildCausationTree keeps every message, whatever the causes (chains, cycles, self-causes)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({min: 0, max: 30}), fc.option(fc.integer({min: 0, max: 30}))), {maxLength: 60}),
        (pairs) => {
          const messages = pairs.map(([id, cause], i) => ({
            site: 's',
            stream: 'S',
            seq: i,
            subject: 'x',
            time: new Date(i).toISOString(),
            id: String(id),
            causation_id: cause === null ? null : String(cause),
            type: null,
            envelope: {},
          }))
          const tree = buildCausationTree(messages)
          const seen: string[] = []
          const stack = [...tree.tree]
          while (stack.length) {
            const n = stack.pop()!
            seen.push(n.id)
            stack.push(...n.children)
          }
          expect(seen.sort()).toEqual([...new Set(messages.map((m) => m.id))].sort())
        },
      ),
      RUNS,
    )
  })

  it('tail lines (messages, invalid messages, headers, notices): no throw, no raw control character', () => {
    fc.assert(
      fc.property(
        hostileEnvelope,
        subjectOf,
        headers,
        hostileString,
        terminal,
        colour,
        (shape, subject, hdrs, text, term, level) => {
          const envelope = materialize(shape)
          written = []
          setColour(level)
          const base = {site: text, stream: text, seq: 1, subject, time: text, headers: hdrs}
          const events: TailEvent[] = [
            {kind: 'message', ...base, envelope: envelope as Record<string, unknown>},
            {kind: 'message', ...base, time: new Date(0).toISOString(), envelope: {data: DEEP_OBJECT, id: text}},
            {
              kind: 'invalid',
              ...base,
              invalid: true,
              problems: [{path: text, code: 'bad-field', message: text}],
              raw: text,
            } as TailEvent,
            {kind: 'site-down', site: text},
            {kind: 'stream-missing', site: text, stream: text},
            {kind: 'note', message: text},
          ]
          for (const e of events) renderTailEvent(term, e, {headers: true, follow: true})
          expectClean()
          for (const e of events) renderTailEvent({...term, json: true}, e)
        },
      ),
      RUNS,
    )
  })

  it('dlq list, show, history, plan and results: no throw, no raw control character, TSV rows keep their columns', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileString,
        hostile,
        hostileEnvelope,
        headers,
        terminal,
        colour,
        async (text, valueShape, envelopeShape, hdrs, term, level) => {
          const value = materialize(valueShape)
          const envelope = materialize(envelopeShape)
          written = []
          setColour(level)
          const letter = deadLetterOf(text, value)
          const list: DlqListResult = {
            dead_letters: [letter, {...letter, status: 'made-up-status'} as unknown as DeadLetter],
            groups: [{key: text, by: 'error', value: text, count: 2}],
            sites: [],
            total: 2,
            archived: 0,
            warnings: [],
          }
          await renderDeadLetterList(term, list)
          if (!term.stdoutTTY) {
            const rows = written.join('').split('\n').filter(Boolean)
            for (const row of rows) expect(row.split('\t')).toHaveLength(10)
          }
          await renderDeadLetterList(term, list, 'tenant')
          const history: DlqHistoryResult = {history: [historyOf(text)]}
          await renderHistory(term, history)
          const workflow = workflowOf([envelope as Record<string, unknown>], [text], 30, text)
          const show = {
            dead_letter: letter,
            advisory: {stream: text, consumer: text, deep: value},
            envelope: {...envelope, data: value},
            raw: text,
            headers: hdrs,
            failure_events: [
              {site: text, stream: text, seq: 1, subject: text, time: text, envelope},
              {site: text, stream: text, seq: 2, subject: text, time: text, envelope: value},
            ],
            history: history.history,
            replays: [
              {replay_id: text, seq: 1, at: text, actor: text, outcome: 'failed', error: {code: text, message: text}},
              {replay_id: text, seq: 2, at: text, actor: text, outcome: text, error: null},
            ],
            triage: {
              held: {owner: text, at: text, note: text},
              notes: [{at: text, actor: text, kind: text, text}],
            },
            workflow: {source: 'workflow', correlation_id: text, messages: [], error: text},
          } as unknown as DlqShowResult
          await renderDeadLetterShow(term, show, workflow)
          await renderDeadLetterShow(term, {...show, envelope: null, advisory: null}, undefined)
          renderReplayPlan(
            term,
            {items: [{ref: text, subject: text, replay_id: text, resume: true}], skipped: [{ref: text, reason: text}]},
            {dryRun: true},
          )
          renderActionResult(
            text,
            [{ref: text, detail: text}],
            [{ref: text, reason: text}],
            [{ref: text, error: text}],
            [{ref: text}],
            {site: text, url: text},
          )
          expectClean()
        },
      ),
      {numRuns: 40},
    )
  })

  it('task list, watch lines, the live table and summaries: no throw, no raw control character', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(hostileEnvelope, subjectOf), {minLength: 1, maxLength: 6}),
        hostileString,
        terminal,
        colour,
        async (shapes, text, term, level) => {
          const events = materialize(shapes) as Array<[Record<string, unknown>, string]>
          written = []
          setColour(level)
          const board = new TaskBoard()
          const lines: string[] = []
          for (const [envelope, subject] of events) {
            const update = board.apply({site: text, subject, time: new Date(0).toISOString(), envelope})
            if (update) lines.push(taskEventLine(term, update))
          }
          // Events whose task id is not a string are skipped; one good event carrying hostile fields.
          const update = board.apply({
            site: text,
            subject: 'dv.task.evt.failed',
            time: text,
            envelope: {source: text, data: {task_id: `t${text}`, error: {code: {toString: 1}, message: text}}},
          })!
          lines.push(taskEventLine(term, update))
          for (const line of lines) {
            expectClean(line)
            expect(line.split('\t')).toHaveLength(7)
          }
          taskRows(board.tasks())
          await renderTaskList(term, board.tasks())
          const live = new LiveTaskTable({what: taskFilterText({service: text, tenant: text}), sites: [text]})
          live.update(board.tasks(), [text])
          for (const line of live.frame({columns: 80, rows: 24})) expectClean(line)
          live.stop()
          expectClean(watchSummary(board.tasks()))
          for (const line of failureLines(board.tasks())) expectClean(line)
          expectClean()
        },
      ),
      RUNS,
    )
  })

  it('table and jsonLine: TSV cells cannot split a row; JSON lines are one line each', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileString, {minLength: 1, maxLength: 5}), hostile, async (cells, shape) => {
        const value = materialize(shape)
        written = []
        await table(terminals[1], cells, [cells])
        const row = written.join('')
        expect(row.endsWith('\n')).toBe(true)
        expect(row.slice(0, -1).split('\t')).toHaveLength(cells.length)
        expectClean(row)
        written = []
        jsonLine({value})
        expect(written.join('').split('\n')).toHaveLength(2)
      }),
      RUNS,
    )
  })
})
