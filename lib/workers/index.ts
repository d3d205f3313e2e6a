/**
 * One loop per core: a pool of workers (threads or processes), each with its own loop and its
 * own SO_REUSEPORT listener on the shared port. The primary calls {@link start}; the workers'
 * file calls {@link serve} with its server.
 * @module
 */
export { type DrainHooks, id, isWorker, mode, postStats, serve } from './worker';
export { describeExit, Pool, type PoolOptions, start, type WorkerExit, type WorkerInfo } from './pool';
export type { WorkerAddress } from './protocol';
