// Shared by the layout tests: write a layout file, name a plan's changes, list a server's streams.
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {stringify} from 'yaml'

import type {LayoutResult} from '../../src/lib/layout/apply.js'
import type {SiteConnection} from '../../src/lib/nats/connection.js'

/** The changes of a plan or apply that do something, as `update stream DV_EVT` / `create consumer DV_CMD/maskin`. */
export const changeActions = (r: LayoutResult): string[] =>
  r.changes
    .filter((c) => c.action !== 'noop')
    .map((c) => `${c.action} ${c.kind} ${c.stream ? `${c.stream}/` : ''}${c.name}`)

/** Writes `layout` as YAML to `dir/name` and returns the path. */
export async function writeLayoutFile(dir: string, name: string, layout: unknown): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, stringify(layout))
  return file
}

/** The server's stream names, sorted. */
export async function streamNamesOf(conn: SiteConnection): Promise<string[]> {
  const names: string[] = []
  for await (const s of (await conn.jsm()).streams.list()) names.push(s.config.name)
  return names.sort()
}
