/** Who is recorded as having acted (docs/operations.md, dead letters): the config's `actor`, else the OS user. */
export async function resolveActor(): Promise<string> {
  const {loadConfig, operatorActor} = await import('../config/file.js')
  const loaded = await loadConfig().catch(() => undefined)
  return operatorActor(loaded?.config)
}
