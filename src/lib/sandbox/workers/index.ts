/**
 * Simulated maskin/nett/plattform workers for tests and the demo (README, sandbox).
 *
 *   const name = await createWorkerConsumer(conn, {service: 'maskin'})     // short redelivery timings
 *   const worker = await startWorker(conn, {service: 'maskin', consumer: name, behaviour: 'fail'})
 *   ...
 *   await worker.stop()
 *
 * Without `consumer`, the worker pulls from the layout's own durable `<service>` on DV_CMD.
 */
export {createWorkerConsumer, type WorkerConsumerOptions} from './consumer.js'
export {SERVICE_ENTITY, nameUuid, pastTense} from './naming.js'
export {
  startWorker,
  taskIdFor,
  type Worker,
  type WorkerBehaviour,
  type WorkerCommand,
  type WorkerOptions,
  type WorkerOutcome,
} from './worker.js'
