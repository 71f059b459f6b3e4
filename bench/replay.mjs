#!/usr/bin/env node
// Replay (bench/README.md): replaying COUNT (default 10,000) dead letters must run at >= 0.8x the rate
// of pipelined JetStream publishes with acks, in the same run, on the same server. See dlq-fixture.mjs for
// the dead letters (real terminated advisories). Measured, alternating so that drift hits both sides:
//   publish  the same COUNT payloads published into DV_CMD itself (the stream the copies go to: file
//            storage, 2m duplicate window, its consumer), Nats-Msg-Id set, PUBLISH_WINDOW acks in
//            flight: the reference
//   replay   runReplay() from dist/ (what `dlq replay --all --yes` runs after planning): per chunk of 1000 a
//            journal write (ledger before), the originals read, the copies published pipelined, each
//            dead letter's ledger key written after its ack, the journal closed
// and once the real CLI end to end, `dvctl dlq replay --all --status all --force --yes --json` (process
// start-up, listing and planning included; --force makes a new generation of copies). Exit 1 when the
// replay rate is below 0.8x the publish rate. Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {loadavg} from 'node:os'
import {fileURLToPath} from 'node:url'

import {deadLetterSite, pipelined} from './dlq-fixture.mjs'
import {connectSite} from '../dist/lib/nats/connection.js'
import {planReplay, runReplay} from '../dist/lib/dlq/replay.js'

const COUNT = Number(process.env.COUNT ?? 10_000)
const PUBLISH_WINDOW = 256
const TARGET = 0.8
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))

const site = await deadLetterSite(COUNT)
let failed = false
try {
  // The reference publishes the very payloads that will be replayed.
  const payloads = []
  for (let seq = 1; seq <= COUNT; seq++) payloads.push((await site.jsm.streams.getMessage('DV_CMD', {seq})).data)

  let round = 0
  async function publishRate() {
    round++
    const t = performance.now()
    await pipelined(COUNT, PUBLISH_WINDOW, (i) =>
      site.js.publish(`dv.sentral.cmd.bench_ref`, payloads[i], {msgID: `ref-${round}-${i}`}),
    )
    return COUNT / ((performance.now() - t) / 1000)
  }

  const conn = await connectSite({name: 'bench', servers: [site.server.url]}, {timeoutMs: 30_000})
  const before = await publishRate()
  let t = performance.now()
  const plan = await planReplay(conn, {all: {}, force: false})
  const planS = (performance.now() - t) / 1000
  if (plan.items.length !== COUNT) throw new Error(`planned ${plan.items.length}, expected ${COUNT}`)
  t = performance.now()
  const result = await runReplay(conn, plan, {actor: 'bench', reason: 'benchmark'})
  const replayS = (performance.now() - t) / 1000
  if (result.replayed.length !== COUNT)
    throw new Error(`replayed ${result.replayed.length}: ${JSON.stringify(result.failed[0])}`)
  const after = await publishRate()
  await conn.close()

  const publish = (before + after) / 2
  const replay = COUNT / replayS
  const ratio = replay / publish
  console.log(`publish (reference): ${Math.round(before)}/s before, ${Math.round(after)}/s after`)
  console.log(`replay: plan ${planS.toFixed(2)}s, ${COUNT} copies in ${replayS.toFixed(2)}s = ${Math.round(replay)}/s`)

  const cliStart = performance.now()
  const r = spawnSync(
    process.execPath,
    [bin, 'dlq', 'replay', '--all', '--status', 'all', '--force', '--yes', '--json', '--server', site.server.url],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      env: {...process.env, NO_COLOR: '1', DVCTL_CONFIG: '/nonexistent/dvctl.yaml'},
    },
  )
  const cliS = (performance.now() - cliStart) / 1000
  if (r.status !== 0) throw new Error(`dvctl dlq replay exited ${r.status}: ${r.stderr}`)
  const cli = JSON.parse(r.stdout)
  console.log(
    `cli: dvctl dlq replay --all --force --yes: ${cli.replayed.length} copies in ${cliS.toFixed(2)}s end to end ` +
      `(${Math.round(cli.replayed.length / cliS)}/s); load average ${loadavg()[0].toFixed(1)}`,
  )
  failed = ratio < TARGET
  console.log(`${failed ? 'FAIL' : 'ok'}: replay at ${ratio.toFixed(2)}x pipelined publishes (target >= ${TARGET}x)`)
} finally {
  await site.dispose()
}
process.exit(failed ? 1 : 0)
