import Ajv from 'ajv'
import {describe, expect, it} from 'vitest'

import {asyncApiDocument, embedSchema, jsonSchemaBundle} from '../../../src/lib/contract/export.js'
import {builtinRegistry, PayloadRegistry} from '../../../src/lib/contract/schemas.js'
import {z} from 'zod'

describe('contract export', () => {
  it('embeds a schema with its own references moved under its new place', () => {
    const team = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'objekt.bucket.created/v1',
      $defs: {name: {type: 'string', minLength: 1}},
      properties: {bucket: {$ref: '#/$defs/name'}, other: {$ref: 'https://example.org/x.json'}},
    }
    expect(embedSchema(team, '#/$defs/objekt.bucket.created.v1')).toEqual({
      $defs: {name: {type: 'string', minLength: 1}},
      properties: {
        bucket: {$ref: '#/$defs/objekt.bucket.created.v1/$defs/name'},
        other: {$ref: 'https://example.org/x.json'},
      },
    })
  })

  it('a team schema with internal references validates inside the bundle', () => {
    const jsonSchema = {
      $id: 'objekt.bucket.created/v1',
      type: 'object',
      $defs: {name: {type: 'string', minLength: 1}},
      properties: {bucket: {$ref: '#/$defs/name'}},
      required: ['bucket'],
    }
    const registry = builtinRegistry().merge(
      new PayloadRegistry().register({
        type: 'objekt.bucket.created',
        version: 1,
        schema: z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]),
        jsonSchema,
        origin: 'test',
      }),
    )
    const {$schema: _, ...bundle} = jsonSchemaBundle(registry)
    const accepts = new Ajv().compile(bundle)
    const message = {
      specversion: '1.0',
      id: 'e1',
      type: 'objekt.bucket.created',
      source: 'objekt',
      time: '2026-03-14T09:30:00Z',
      actor: 'svc:objekt',
      correlation_id: 'wf',
      data: {bucket: 'media'},
    }
    expect(accepts(message)).toBe(true)
    expect(accepts({...message, data: {bucket: ''}})).toBe(false)
  })

  it('servers: a URL that does not parse is left out; userinfo never reaches the document', () => {
    const doc = asyncApiDocument({
      registry: builtinRegistry(),
      sites: [
        {name: 'osl1', servers: ['nats://a:b@c@host.example:4222', 'not a url'], description: 'via nats://u:p@x'},
      ],
    })
    expect(doc.servers).toEqual({
      osl1: {
        host: 'host.example:4222',
        protocol: 'nats',
        description: 'Site osl1 (datacenter_id osl1): via nats://x.',
        tags: [{name: 'site:osl1'}],
      },
    })
  })
})
