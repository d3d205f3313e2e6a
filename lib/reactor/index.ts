/**
 * The reactor: `Loop`, its handles, and the default loop.
 * @module
 */
import { Loop } from './loop';

export { Loop, type LoopOptions } from './loop';
export type { LoopStatsSnapshot } from './stats';
export { type TimeoutReason, type TracedCallback, type TracedIteration, Tracer } from './trace';
export { Immediate, TIMEOUT_MAX, Timer } from './timer';
export { type WatchCallback, Watcher } from './watcher';

/**
 * The default loop, like libuv's. It runs by itself inside Node's loop whenever it holds
 * referenced work and nobody runs it explicitly (`autoAttach`), so a script written as for Node
 * works with no extra call; `await loop.run()` takes it over and runs it standalone.
 */
export const loop: Loop = new Loop({ autoAttach: true });
