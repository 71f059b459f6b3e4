import {createServer, type Server} from 'node:http'

import {UserError} from '../errors.js'
import {ExitCode} from '../exit-codes.js'
import {EXPOSITION_CONTENT_TYPE} from '../render/prometheus.js'

export interface MetricsServer {
  /** HOST:PORT actually bound (the port chosen when 0 was asked for). */
  address: string
  close(): Promise<void>
}

/**
 * The HTTP side of `metrics serve`: `GET /metrics` answers with `metrics()` (text prepared by the last
 * collection, so a scrape costs no NATS read), `GET /healthz` with `ok`; anything else is 404 (405 for
 * another method). Never prints.
 */
export async function serveMetrics(options: {
  host: string
  port: number
  metrics: () => string
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {allow: 'GET, HEAD', 'content-type': 'text/plain'}).end('method not allowed\n')
      return
    }
    if (path === '/metrics') {
      const body = options.metrics()
      res.writeHead(200, {'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': Buffer.byteLength(body)})
      res.end(req.method === 'HEAD' ? undefined : body)
    } else if (path === '/healthz') {
      res.writeHead(200, {'content-type': 'text/plain'}).end('ok\n')
    } else if (path === '/') {
      res.writeHead(200, {'content-type': 'text/plain'}).end('dvctl metrics: /metrics, /healthz\n')
    } else {
      res.writeHead(404, {'content-type': 'text/plain'}).end('not found\n')
    }
  })
  // Idle keep-alive connections must not hold the process open at shutdown.
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UserError(`Cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`, {
          code: 'listen-failed',
          exitCode: ExitCode.usage,
          hint: error.code === 'EADDRINUSE' ? 'Another process uses that port; pick another with --listen.' : undefined,
        }),
      ),
    )
    server.listen(options.port, options.host, () => resolve())
  })
  const bound = server.address()
  const address =
    bound && typeof bound === 'object'
      ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
      : `${options.host}:${options.port}`
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
