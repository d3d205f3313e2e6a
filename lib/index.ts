/**
 * epoll-reactor: a real event loop for Linux, in TypeScript, on the kernel's own primitives.
 *
 * - `sys`: the syscalls, 1:1 (lib/sys)
 * - `Loop`, `loop`: the reactor (lib/reactor)
 * - `net`: TCP and Unix stream sockets (lib/net)
 * @module
 */
import * as net from './net/index';
import * as sys from './sys/index';

export { LoopError } from './errors';
export {
  Immediate,
  Loop,
  type LoopOptions,
  type LoopStatsSnapshot,
  loop,
  TIMEOUT_MAX,
  type TimeoutReason,
  Timer,
  type TracedCallback,
  type TracedIteration,
  Tracer,
  type WatchCallback,
  Watcher,
} from './reactor/index';
export { net, sys };
