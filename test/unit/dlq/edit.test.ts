import {describe, expect, it} from 'vitest'

import {editableText, prepareEdited} from '../../../src/lib/dlq/edit.js'

const original = {
  specversion: '1.0',
  id: 'orig-1',
  type: 'maskin.server.provision.requested',
  source: 'sentral',
  time: '2026-01-01T00:00:00Z',
  actor: 'user:alice',
  correlation_id: 'corr-1',
  data: {server_id: 'srv-1', profile: 'small'},
}

describe('replay --edit', () => {
  it('sends the edited envelope as a new message caused by the original, by the operator', () => {
    const text = editableText(new TextEncoder().encode(JSON.stringify(original)))
    const edited = text.replace('"small"', '"large"')
    const r = prepareEdited(edited, {id: 'orig-1'}, {actor: 'ops:bob', subject: 'dv.maskin.cmd.provision'})
    expect(r.ok).toBe(true)
    if (!r.ok) return
    const sent = JSON.parse(new TextDecoder().decode(r.data))
    expect(sent).toMatchObject({causation_id: 'orig-1', actor: 'ops:bob', correlation_id: 'corr-1', id: r.id})
    expect(sent.id).not.toBe('orig-1')
    expect(sent.data.profile).toBe('large')
  })

  it('refuses an edit that breaks the contract, naming the problem', () => {
    const broken = JSON.stringify({...original, data: 'not an object'})
    const r = prepareEdited(broken, {id: 'orig-1'}, {actor: 'ops', subject: 'dv.maskin.cmd.provision'})
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.problems.map((p) => p.path)).toContain('$.data')
    expect(prepareEdited('{oops', {id: 'x'}, {actor: 'ops', subject: 'dv.maskin.cmd.provision'}).ok).toBe(false)
  })
})
