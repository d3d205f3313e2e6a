/**
 * epoll-reactor: a real event loop for Linux, in TypeScript, on the kernel's own primitives.
 *
 * - `sys`: the syscalls, 1:1 (lib/sys)
 * - `Loop`, `loop`: the reactor (lib/reactor)
 * - `net`: TCP and Unix stream sockets (lib/net)
 * - `dgram`: UDP sockets (lib/dgram)
 * - `http`, `https`, `tls`: Node's own servers and clients on our sockets (lib/http)
 * - `fs`: `watch()` over inotify (lib/fs)
 * - `childProcess`: `spawn`, children's exit through a pidfd, stdio over socketpairs (lib/process)
 * - `threads`: a Waker (eventfd) and a message queue between threads (lib/threads)
 * - `workers`: one loop per core, SO_REUSEPORT, rolling restarts (lib/workers)
 * @module
 */
import * as childProcess from './process/index';
import * as dgram from './dgram/index';
import * as errors from './errors';
import * as fs from './fs/index';
import * as http from './http/http';
import * as https from './http/https';
import * as net from './net/index';
import * as reactor from './reactor/index';
import * as signals from './reactor/signals';
import * as sys from './sys/index';
import * as threads from './threads/index';
import * as tls from './http/tls';
import * as workers from './workers/index';

// The values are copied into constants rather than re-exported (`export { loop } from …`):
// TypeScript compiles a re-export to a getter, and redefining the exports object's placeholder
// as a getter turns the whole object into a hash table, so every `loop.now()` in a server's hot
// path would cost a dictionary lookup and a getter call. Constants keep it a fast object.
export const LoopError: typeof errors.LoopError = errors.LoopError;
export type LoopError = errors.LoopError;
export const Loop: typeof reactor.Loop = reactor.Loop;
export type Loop = reactor.Loop;
export const loop: reactor.Loop = reactor.loop;
export const Immediate: typeof reactor.Immediate = reactor.Immediate;
export type Immediate = reactor.Immediate;
export const Timer: typeof reactor.Timer = reactor.Timer;
export type Timer = reactor.Timer;
export const Tracer: typeof reactor.Tracer = reactor.Tracer;
export type Tracer = reactor.Tracer;
export const Watcher: typeof reactor.Watcher = reactor.Watcher;
export type Watcher = reactor.Watcher;
export const TIMEOUT_MAX: number = reactor.TIMEOUT_MAX;
export type {
  LoopOptions,
  LoopStatsSnapshot,
  TimeoutReason,
  TracedCallback,
  TracedIteration,
  WatchCallback,
} from './reactor/index';
export const onSignal: typeof signals.onSignal = signals.onSignal;
export const SignalHandle: typeof signals.SignalHandle = signals.SignalHandle;
export type SignalHandle = signals.SignalHandle;
export type SignalCallback = signals.SignalCallback;
export { childProcess, dgram, fs, http, https, net, sys, threads, tls, workers };
