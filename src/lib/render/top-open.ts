import type {SiteConnection} from '../nats/connection.js'
import type {SiteStatus} from '../nats/fanout.js'
import {notFound} from '../errors.js'
import type {ScreenSize} from './live.js'
import {renderToText} from './pager.js'
import type {TopItem} from './top.js'

/**
 * What `dvctl top` shows for an opened item: exactly what `dvctl dlq show REF` or `dvctl workflow show ID`
 * prints on a terminal of the same size, from the same services and renderers.
 */
export async function openTopItem(
  item: TopItem,
  as: 'dead-letter' | 'workflow',
  context: {connections: SiteConnection[]; sites: SiteStatus[]; env: NodeJS.ProcessEnv; color: boolean},
  size: ScreenSize,
): Promise<{title: string; text: string}> {
  const conn = context.connections.find((c) => c.site.name === item.site)
  const render = {columns: size.columns, rows: size.rows, color: context.color}
  if (as === 'dead-letter' && item.kind === 'dead-letter') {
    if (!conn) throw notFound(`Site ${item.site} is not connected.`, 'site-not-connected')
    const [{showDeadLetter}, {renderDeadLetterShow}] = await Promise.all([import('../dlq/show.js'), import('./dlq.js')])
    const {workflowResult, ...result} = await showDeadLetter(conn, {ref: item.ref})
    const text = await renderToText(context.env, render, (term) => renderDeadLetterShow(term, result, workflowResult))
    return {title: `dvctl dlq show ${item.ref}`, text}
  }
  let correlationId = item.correlation_id
  if (!correlationId && item.kind === 'dead-letter' && conn) {
    // A dead letter's workflow is its original's correlation_id, as dlq show reads it.
    const {showDeadLetter} = await import('../dlq/show.js')
    correlationId = (await showDeadLetter(conn, {ref: item.ref})).dead_letter.correlation_id
  }
  if (!correlationId) throw notFound('It carries no correlation_id: there is no workflow to show.', 'no-correlation')
  const [{readWorkflow}, {resolveWindow}, {renderWorkflow}] = await Promise.all([
    import('../workflow/read.js'),
    import('../workflow/window.js'),
    import('./workflow.js'),
  ])
  const result = await readWorkflow(context.connections, {
    correlationId,
    window: resolveWindow({}),
    unreachable: context.sites,
  })
  if (result.messages.length === 0)
    throw notFound(`No message with correlation_id ${correlationId} in the last 24h.`, 'workflow-not-found')
  const text = await renderToText(context.env, render, (term) => renderWorkflow(term, result, 'tree'))
  return {title: `dvctl workflow show ${correlationId}`, text}
}
