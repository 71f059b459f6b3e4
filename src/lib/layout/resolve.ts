import type {KvSpec, Layout, SiteLayout, StreamSpec} from './schema.js'

/**
 * One site's view of a layout: the site's entry under `sites:` merged over the base, field by field;
 * a stream's consumers are merged by name, so an override can change one consumer setting alone.
 */
export function layoutForSite(layout: Layout, site: string): SiteLayout {
  const overrides = layout.sites[site] ?? {}
  const streams: Record<string, StreamSpec> = {}
  for (const [name, spec] of Object.entries(layout.streams)) streams[name] = spec
  for (const [name, spec] of Object.entries(overrides.streams ?? {})) {
    streams[name] = mergeStream(streams[name], spec)
  }
  const kv: Record<string, KvSpec> = {...layout.kv}
  for (const [name, spec] of Object.entries(overrides.kv ?? {})) kv[name] = {...kv[name], ...spec}
  return {name: layout.layout, site, streams, kv}
}

function mergeStream(base: StreamSpec | undefined, over: StreamSpec): StreamSpec {
  if (!base) return over
  const merged: StreamSpec = {...base, ...over}
  if (base.consumers || over.consumers) {
    const consumers = {...base.consumers}
    for (const [name, spec] of Object.entries(over.consumers ?? {})) consumers[name] = {...consumers[name], ...spec}
    merged.consumers = consumers
  }
  return merged
}
