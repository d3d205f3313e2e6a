/**
 * The worker's side of a pool: tell the primary when the server listens, post stats, and drain
 * when told to (stop accepting, let the connections finish, exit 0).
 *
 * A worker is a thread (`worker_threads`, the pool's default) or a forked process; either way it
 * runs its own loop and its own listening socket, bound with SO_REUSEPORT to the port the others
 * use, and the kernel spreads new connections over the listeners.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Server } from '../net/server';
import { ENV_ID, type FromWorker, TAG, type ToWorker } from './protocol';

function threadId(): number {
  if (isMainThread || parentPort === null) return 0;
  const data = workerData as Record<string, { id?: unknown }> | null | undefined;
  const id = data !== null && typeof data === 'object' ? data[TAG]?.id : undefined;
  return typeof id === 'number' ? id : 0;
}

function processId(): number {
  const text = process.env[ENV_ID];
  if (text === undefined || typeof process.send !== 'function') return 0;
  delete process.env[ENV_ID]; // not inherited by the worker's own children
  return Number(text) || 0;
}

const inThread = threadId();
/** This worker's id in its pool (1…count; a replacement keeps the id), 0 outside a pool. */
export const id: number = inThread !== 0 ? inThread : processId();
/** True in a thread or process started by {@link start}. */
export const isWorker: boolean = id !== 0;
/** `'thread'` or `'process'` in a worker, null outside a pool. */
export const mode: 'thread' | 'process' | null = !isWorker ? null : inThread !== 0 ? 'thread' : 'process';

function send(message: FromWorker): void {
  if (mode === 'thread') parentPort!.postMessage(message);
  else if (mode === 'process' && process.connected) process.send!(message);
}

/** What a server does as it drains, beyond closing its listener (see {@link serve}). */
export interface DrainHooks {
  /**
   * Draining has begun: the server still accepts and serves, for the pool's `drainDelay` ms,
   * while a load balancer in front notices (a health check should fail from now on).
   */
  onDraining?(): void;
  /**
   * The listener has just closed: finish what is in flight and close each connection when it
   * has nothing left to do (an HTTP server answers with `Connection: close` from now on).
   */
  onClosing?(): void;
}

let served: { server: Server; hooks: DrainHooks } | null = null;
let draining = false;

/**
 * Registers the server this worker runs for the pool: its `'listening'` tells the primary the
 * worker is ready (a rolling restart waits for it before draining the worker it replaces), an
 * `'error'` before it listens (EADDRINUSE…) is reported as the reason the worker failed, and a
 * drain (SIGTERM to the primary, a rolling restart) runs `hooks`, closes the server and, once
 * every connection is closed, exits the worker with code 0. Outside a pool it does nothing.
 *
 * @example
 * ```ts
 * import { net, workers } from 'epoll-reactor';
 * const server = net.createServer({ reusePort: true }, (s) => s.pipe?.(s));
 * workers.serve(server);
 * server.listen(7000, '127.0.0.1');
 * ```
 */
export function serve(server: Server, hooks: DrainHooks = {}): void {
  if (!isWorker) return;
  if (served !== null) throw new Error('workers.serve(): this worker already serves a server');
  served = { server, hooks };
  // First among the error listeners: the server's own may exit the worker at once.
  const onError = (e: Error & { code?: string; address?: string; port?: number }): void => {
    const where = e.address === undefined ? '' : e.port === undefined ? ` ${e.address}` : ` ${e.address}:${e.port}`;
    // Node's messages name the address already ("listen EADDRINUSE: … 127.0.0.1:80").
    send({ [TAG]: 'failed', message: e.message.endsWith(where.trim()) ? e.message : `${e.message}${where}`, code: e.code });
    // Nobody else listens: without us the error would have been thrown (Node's rule for 'error').
    if (server.listenerCount('error') === 1) throw e;
  };
  server.prependListener('error', onError);
  server.once('listening', () => {
    server.removeListener('error', onError);
    send({ [TAG]: 'ready', address: server.address() as never });
  });
}

/** Posts a worker's stats (numbers, cumulative) to the primary, which sums them across workers. */
export function postStats(stats: Record<string, number>): void {
  if (isWorker) send({ [TAG]: 'stats', stats });
}

/** Drain: hooks, then (after `delay` ms) close the listener; exit 0 when the last connection closes. */
function drain(delay: number): void {
  if (draining) return;
  draining = true;
  if (served === null) process.exit(0);
  const { server, hooks } = served;
  hooks.onDraining?.();
  const close = (): void => {
    server.once('close', () => process.exit(0));
    if (server.listening) server.close();
    else process.nextTick(() => process.exit(0));
    hooks.onClosing?.();
  };
  if (delay > 0) server.loop.setTimeout(close, delay);
  else close();
}

/** The thread is ending: close the listener (and every socket, when the loop can close). */
function releaseOnExit(): void {
  if (served === null) return;
  const { server } = served;
  if (server.listening) server.close();
  try {
    server.loop.close({ force: true });
  } catch {
    // ERR_LOOP_RUNNING: the thread exits from inside the loop's run(); its sockets stay open
  }
}

function onMessage(m: unknown): void {
  const msg = m as ToWorker | null;
  if (msg !== null && typeof msg === 'object' && msg[TAG] === 'drain') drain(Number(msg.delay) || 0);
}

if (mode === 'thread') {
  parentPort!.on('message', onMessage);
  // A thread's fds are the process's: one the thread leaves open outlives it. A listener left
  // open stays in the port's SO_REUSEPORT group with nobody accepting, and the connections the
  // kernel hashes to it hang; so whatever way the thread ends, its server's listener closes.
  process.on('exit', releaseOnExit);
} else if (mode === 'process') {
  process.on('message', onMessage);
  // The primary is gone (killed): nobody will restart or drain this worker, so it drains itself.
  process.on('disconnect', () => drain(0));
  // systemd's default KillMode signals the whole cgroup, workers included: drain, never die mid-request.
  process.on('SIGTERM', () => drain(0));
  process.on('SIGINT', () => {});
}
