import {Box, render, Text, useInput, type Key} from 'ink'
import {createElement as h, useEffect, useState} from 'react'

import type {SiteSnapshot} from '../health/snapshot.js'
import {ENTER_ALTERNATE, HIDE_CURSOR, LEAVE_ALTERNATE, SHOW_CURSOR, type ScreenSize} from './live.js'
import {
  applySnapshots,
  newTopState,
  pressKey,
  scrollViewer,
  topFrame,
  viewerFrame,
  type TopItem,
  type TopKey,
  type TopState,
} from './top.js'

/**
 * `dvctl top` on a terminal, drawn with Ink (docs/architecture.md, "Live views"): this module is loaded only
 * by `top` (with Ink and React), never by other commands. The frame itself is worked out by top.ts; Ink draws
 * it in place, reads the keyboard in raw mode and redraws on resize. The view lives on the alternate screen;
 * an opened dead letter or workflow goes to the pager on the normal screen (Ink unmounted meanwhile, the
 * terminal out of raw mode), and the view comes back when the pager ends.
 */

export interface TopOptions {
  sites: string[]
  intervalMs: number
  /** One refresh: a snapshot of every site (a failed site carries its error; never throws for one site). */
  collect(): Promise<SiteSnapshot[]>
  /** The text of an opened item (what `dlq show` or `workflow show` prints), for a terminal of `size`. */
  open(item: TopItem, as: 'dead-letter' | 'workflow', size: ScreenSize): Promise<{title: string; text: string}>
  /** Shows text in the user's pager; false when there is none (top then scrolls it itself). */
  page(text: string): Promise<boolean>
  /** Ctrl-C from outside (a signal): ends the view like `q`. */
  signal: AbortSignal
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
}

/** How one mount of the Ink app ended. */
type Ending = {quit: true} | {page: {title: string; text: string}}

/** Runs the view until `q`, Ctrl-C or the signal; the terminal is restored however it ends. */
export async function runTop(options: TopOptions): Promise<void> {
  const {stdout} = options
  const state = newTopState(options.sites, options.intervalMs)
  const listeners = new Set<() => void>()
  const changed = () => listeners.forEach((l) => l())
  const size = (): ScreenSize => ({columns: Math.max(1, stdout.columns || 80), rows: Math.max(1, stdout.rows || 24)})

  // Refreshes run on their own clock, mounted or not, one at a time.
  let stopped = false
  let wake: (() => void) | undefined
  const poller = (async () => {
    while (!stopped) {
      try {
        applySnapshots(state, await options.collect())
      } catch (error) {
        state.notice = `Refresh failed: ${error instanceof Error ? error.message : String(error)}`
      }
      changed()
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.intervalMs)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })()

  stdout.write(ENTER_ALTERNATE + HIDE_CURSOR)
  try {
    for (;;) {
      const ending = await mount(options, state, listeners, size, () => wake?.())
      if ('quit' in ending) break
      stdout.write(SHOW_CURSOR + LEAVE_ALTERNATE)
      const release = holdInput(options.stdin)
      const paged = await options.page(ending.page.text).finally(release)
      stdout.write(ENTER_ALTERNATE + HIDE_CURSOR)
      if (!paged)
        state.viewer = {title: ending.page.title, lines: ending.page.text.replace(/\n$/, '').split('\n'), top: 0}
      if (options.signal.aborted) break
    }
  } finally {
    stopped = true
    wake?.()
    stdout.write(SHOW_CURSOR + LEAVE_ALTERNATE)
    // A refresh under way (a site that does not answer holds one for up to --timeout) does not hold up quitting:
    // the caller closes the connections, which ends it.
    void poller
  }
}

/** Mounts the Ink app until it asks to quit or to page some text; unmounted (raw mode off) when this resolves. */
async function mount(
  options: TopOptions,
  state: TopState,
  listeners: Set<() => void>,
  size: () => ScreenSize,
  refresh: () => void,
): Promise<Ending> {
  let finish!: (ending: Ending) => void
  const ended = new Promise<Ending>((resolve) => (finish = resolve))
  const onAbort = () => finish({quit: true})
  options.signal.addEventListener('abort', onAbort, {once: true})
  if (options.signal.aborted) onAbort()

  function App() {
    const [, setTick] = useState(0)
    useEffect(() => {
      const redraw = () => setTick((t) => t + 1)
      listeners.add(redraw)
      options.stdout.on('resize', redraw)
      // Ages ("refreshed 3s ago") move on between refreshes.
      const timer = setInterval(redraw, 1000)
      return () => {
        listeners.delete(redraw)
        options.stdout.off('resize', redraw)
        clearInterval(timer)
      }
    }, [])
    useInput((input, key) => {
      if (input === 'c' && key.ctrl) return finish({quit: true})
      if (state.viewer) {
        viewerKey(state, input, key, size())
        return setTick((t) => t + 1)
      }
      const topKey = keyOf(input, key)
      if (!topKey) return
      const action = pressKey(state, topKey)
      if (action === 'quit') return finish({quit: true})
      if (action === 'refresh') refresh()
      else if (action) {
        state.notice = 'Opening…'
        options.open(action.open, action.as, size()).then(
          (opened) => {
            state.notice = undefined
            finish({page: opened})
          },
          (error: unknown) => {
            state.notice = error instanceof Error ? error.message : String(error)
            setTick((t) => t + 1)
          },
        )
      }
      setTick((t) => t + 1)
    })
    const lines = state.viewer ? viewerFrame(state.viewer, size()) : topFrame(state, size())
    return h(
      Box,
      {flexDirection: 'column'},
      // An empty line is a box one row high (Ink gives an empty text no height).
      lines.map((line, i) => (line ? h(Text, {key: i, wrap: 'truncate-end'}, line) : h(Box, {key: i, height: 1}))),
    )
  }

  const instance = render(h(App), {
    stdin: options.stdin,
    stdout: options.stdout,
    exitOnCtrlC: false,
    patchConsole: false,
  })
  try {
    return await ended
  } finally {
    options.signal.removeEventListener('abort', onAbort)
    instance.unmount()
    await instance.waitUntilExit().catch(() => {})
    // React runs the unmounted app's effect clean-ups (Ink turns raw mode off there) after this resolves:
    // let them run before the pager or the next mount, or they would turn raw mode off under the next one.
    for (let i = 0; i < 100 && options.stdin.isRaw; i++) await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/**
 * Stops this process reading the terminal while another program (the pager) uses it; the function returned
 * starts it again. Ink's clean-up only removes its listener: the stream's handle goes on reading, so a key
 * typed while the pager runs would go to whichever process reads first, and be lost to the pager when it is
 * this one. `pause()` does not stop a terminal's handle; this does what `pause()` and `resume()` do for a
 * socket that reads into a buffer of its own. Nothing is lost: what was read before stays in the stream.
 */
function holdInput(stdin: NodeJS.ReadStream): () => void {
  const handle = (stdin as unknown as {_handle?: {reading?: boolean; readStart?(): number; readStop?(): number}})
    ._handle
  if (!handle?.reading || typeof handle.readStop !== 'function' || typeof handle.readStart !== 'function')
    return () => {}
  handle.reading = false
  handle.readStop()
  return () => {
    if (handle.reading) return
    handle.reading = true
    handle.readStart!()
  }
}

/** The view's keys: tab, ←→, h/l and 1..9 switch sites; ↑↓ (k/j) select; enter opens; w, r, q. */
function keyOf(input: string, key: Key): TopKey | undefined {
  if (key.tab) return key.shift ? 'previous-site' : 'next-site'
  if (key.rightArrow || input === 'l') return 'next-site'
  if (key.leftArrow || input === 'h') return 'previous-site'
  if (key.upArrow || input === 'k') return 'up'
  if (key.downArrow || input === 'j') return 'down'
  if (key.return) return 'open'
  if (/^[1-9]$/.test(input)) return {site: Number(input) - 1}
  if (input === 'w') return 'open-workflow'
  if (input === 'r') return 'refresh'
  if (input === 'q') return 'quit'
  return undefined
}

/** Keys of the in-app viewer: scroll, or back to the view. */
function viewerKey(state: TopState, input: string, key: Key, size: ScreenSize): void {
  const viewer = state.viewer!
  const page = Math.max(1, size.rows - 4)
  if (input === 'q' || key.escape || key.leftArrow) state.viewer = undefined
  else if (key.upArrow || input === 'k') scrollViewer(viewer, -1, size)
  else if (key.downArrow || input === 'j' || key.return) scrollViewer(viewer, 1, size)
  else if (key.pageUp || input === 'b') scrollViewer(viewer, -page, size)
  else if (key.pageDown || input === ' ') scrollViewer(viewer, page, size)
  else if (input === 'g' || key.home) scrollViewer(viewer, 'start', size)
  else if (input === 'G' || key.end) scrollViewer(viewer, 'end', size)
}
