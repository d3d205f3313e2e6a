/**
 * epoll-reactor: a real event loop for Linux, in TypeScript, on the kernel's own primitives.
 *
 * - {@link sys}: the syscalls, one function each (`epoll_ctl`, `timerfd_settime`, `accept4`, …)
 * - {@link Loop}, {@link loop}: the reactor — fd watchers, timers, immediates, two drivers
 * - {@link net}: TCP and Unix stream sockets shaped like Node's `net`
 * - {@link dgram}: UDP sockets shaped like Node's `dgram`, batched with recvmmsg/sendmmsg
 * - {@link http}, {@link https}, {@link tls}: Node's own servers and clients, on our sockets
 * - {@link threads}: a Waker on eventfd and a SharedArrayBuffer message queue between threads
 * - {@link fs}: `watch()`, Node's `fs.watch` over inotify, bursts coalesced
 * - {@link childProcess}: `spawn()`, Node's `child_process.spawn` with the exit through a pidfd
 *
 * ```ts
 * import { dgram, loop, Loop, net, sys } from 'epoll-reactor';   // or require('epoll-reactor')
 * ```
 * @module epoll-reactor
 */
// The API reference's entry point: the names lib/index.ts exports, re-exported from where they
// are declared. lib/index.ts copies its values into constants (for speed, see there), which
// TypeDoc would show as variables of type `typeof Loop` instead of the classes themselves.
import type * as docs from './entry';
import type * as pkg from '../../lib/index';

export { LoopError, type LoopErrorCode } from '../../lib/errors';
export * as childProcess from '../../lib/process/index';
export * as dgram from '../../lib/dgram/index';
export * as fs from '../../lib/fs/index';
export * as http from '../../lib/http/http';
export * as https from '../../lib/http/https';
export * as tls from '../../lib/http/tls';
export * as threads from '../../lib/threads/index';
export * as net from './net';
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
} from '../../lib/reactor/index';
export { onSignal, type SignalCallback, SignalHandle } from '../../lib/reactor/signals';
export * as sys from '../../lib/sys/index';
export * as workers from '../../lib/workers/index';

// Fails to compile (so `npm run docs` fails) when lib/index.ts exports a value this file does not.
type Missing = Exclude<keyof typeof pkg, keyof typeof docs>;
export const _sameValues: [Missing] extends [never] ? true : Missing = true;
