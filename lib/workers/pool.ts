/**
 * The primary's side: start `count` workers running the same file, restart one that dies (with
 * a backoff, giving up after a run of quick failures), drain them all, or replace them one by
 * one. Workers listen with SO_REUSEPORT on one port; the primary never touches a socket.
 *
 * Rolling restart, per worker: start the replacement, wait until its server listens (now two
 * listeners share the worker's part of the port), then drain the old one. The old listener's
 * close takes it out of the kernel's SO_REUSEPORT group at once, so new connections go to the
 * others while the old worker finishes what it has.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Worker as Thread } from 'node:worker_threads';
import { invalidArgType, outOfRange } from '../errors';
import { ENV_ID, type FromWorker, isFromWorker, TAG, type ToWorker, type WorkerAddress } from './protocol';

export interface PoolOptions {
  /** How many workers (1…1024). */
  count: number;
  /** `'thread'` (worker_threads, the default) or `'process'` (child_process.fork). */
  mode?: 'thread' | 'process';
  /**
   * The workers' command-line arguments (their `process.argv.slice(2)`). A function is asked at
   * each start, with where the first worker listens (null for the first): a server started on
   * port 0 passes that port on to the others.
   */
  argv?: readonly string[] | ((id: number, address: WorkerAddress) => readonly string[]);
  /** Node flags of the workers (`execArgv`). */
  execArgv?: readonly string[];
  /** A worker that has not listened this long after starting is killed and counts as failed (ms, default 10,000). */
  readyTimeout?: number;
  /** A draining worker still running after this long is killed (ms, default 30,000). */
  drainTimeout?: number;
  /** How long {@link Pool.stop} lets workers fail health checks before they close their listeners (ms, default 0). */
  drainDelay?: number;
  /** The first restart's delay; it doubles with each quick failure in a row, up to 5 s (ms, default 100). */
  restartDelay?: number;
  /** After this many quick failures in a row the pool gives up: `'error'`, then it stops (default 5). */
  maxQuickFailures?: number;
  /** A worker that dies within this long of starting failed quickly (ms, default 5,000). */
  quickFailure?: number;
}

/** One worker as the pool sees it. A replacement has the same `id` and the next `generation`. */
export interface WorkerInfo {
  readonly id: number;
  readonly generation: number;
  readonly mode: 'thread' | 'process';
  /** The thread id or the process id. */
  readonly tid: number;
  state: 'starting' | 'ready' | 'draining' | 'exited';
  address: WorkerAddress;
  /** The last stats the worker posted. */
  stats: Record<string, number> | null;
  readonly startedAt: number;
}

/** How a worker ended: its exit code, the signal that killed a process, the uncaught error of a thread. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** Why it failed, in words: an uncaught exception's message, the server's error, a timeout. */
  reason: string | null;
}

interface Handle {
  info: WorkerInfo;
  send(m: ToWorker): void;
  kill(): void;
  exited: Promise<WorkerExit>;
  /** Resolves when the worker listens; rejects with the reason it did not. */
  ready: Promise<void>;
  drainRequested: boolean;
}

const MAX_RESTART_DELAY = 5000;

function check(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw invalidArgType(`options.${name}`, 'of type number', v);
  if (!Number.isInteger(v) || v < min || v > max) throw outOfRange(`options.${name}`, `an integer >= ${min} and <= ${max}`, v);
  return v;
}

/**
 * A pool of workers. Events: `'ready'` (a worker listens), `'exit'` (a worker ended, with
 * {@link WorkerExit}), `'restart'` (a worker that died is being replaced, with the delay),
 * `'stats'` (a worker posted stats), `'error'` (the pool gave up on a worker that keeps failing;
 * it stops after emitting it).
 */
export class Pool extends EventEmitter {
  readonly file: string;
  readonly count: number;
  readonly mode: 'thread' | 'process';
  /** Resolves once every worker listens; rejects (and the pool stops) if one cannot start. */
  readonly ready: Promise<void>;
  /** Where the first worker listens (the port the others share). */
  address: WorkerAddress = null;
  private readonly options: Required<Omit<PoolOptions, 'argv' | 'execArgv' | 'mode'>> & Pick<PoolOptions, 'argv' | 'execArgv'>;
  private readonly slots: (Handle | null)[];
  private readonly replaced = new Set<Handle>();
  private quickFailures = 0;
  /** Every worker listened once: from now on a worker that dies is restarted. */
  private up = false;
  private stopping: Promise<void> | null = null;
  private restarting: Promise<void> | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(file: string, options: PoolOptions) {
    super();
    if (typeof file !== 'string' || file === '') throw invalidArgType('file', 'a non-empty string', file);
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const mode = options.mode ?? 'thread';
    if (mode !== 'thread' && mode !== 'process') {
      const e = new TypeError(`The property 'options.mode' must be one of: 'thread', 'process'. Received ${String(mode)}`) as TypeError & { code: string };
      e.code = 'ERR_INVALID_ARG_VALUE';
      throw e;
    }
    this.file = file;
    this.mode = mode;
    this.count = check('count', options.count, 1, 1024);
    this.options = {
      count: this.count,
      argv: options.argv,
      execArgv: options.execArgv,
      readyTimeout: check('readyTimeout', options.readyTimeout ?? 10_000, 1, 2 ** 31 - 1),
      drainTimeout: check('drainTimeout', options.drainTimeout ?? 30_000, 1, 2 ** 31 - 1),
      drainDelay: check('drainDelay', options.drainDelay ?? 0, 0, 2 ** 31 - 1),
      restartDelay: check('restartDelay', options.restartDelay ?? 100, 0, MAX_RESTART_DELAY),
      maxQuickFailures: check('maxQuickFailures', options.maxQuickFailures ?? 5, 1, 1000),
      quickFailure: check('quickFailure', options.quickFailure ?? 5000, 0, 2 ** 31 - 1),
    };
    this.slots = Array.from({ length: this.count }, () => null);
    this.ready = this.startAll();
    this.ready.catch(() => {}); // the caller may only listen to 'error'
  }

  /** The live workers (replacements during a rolling restart included). */
  get workers(): WorkerInfo[] {
    return [...this.slots, ...this.replaced].filter((h): h is Handle => h !== null && h.info.state !== 'exited').map((h) => h.info);
  }

  /**
   * The first worker starts alone, so that a `--port 0` worker picks the port the others then
   * get through `argv` (read {@link address}); the rest start together.
   */
  private async startAll(): Promise<void> {
    try {
      const first = this.spawn(1, 1);
      await first.ready;
      await Promise.all(this.slots.slice(1).map((_, i) => this.spawn(i + 2, 1).ready));
      this.up = true;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private argvFor(id: number): string[] {
    const a = this.options.argv;
    return a === undefined ? [] : typeof a === 'function' ? [...a(id, this.address)] : [...a];
  }

  private spawn(id: number, generation: number): Handle {
    const handle = this.mode === 'thread' ? this.spawnThread(id, generation) : this.spawnProcess(id, generation);
    const previous = this.slots[id - 1];
    if (previous !== null && previous !== undefined && previous.info.state !== 'exited') this.replaced.add(previous);
    this.slots[id - 1] = handle;
    void handle.exited.then((exit) => this.onExit(handle, exit));
    return handle;
  }

  /** What both kinds of worker share: the ready/exit promises, the messages, the ready timeout. */
  private track(info: WorkerInfo, send: (m: ToWorker) => void, kill: () => void, wire: (onMessage: (m: unknown) => void, onEnd: (exit: WorkerExit) => void, onError: (reason: string) => void) => void): Handle {
    let reason: string | null = null;
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    ready.catch(() => {});
    const readyTimer = this.timer(() => {
      reason = `did not listen within ${this.options.readyTimeout} ms`;
      kill();
    }, this.options.readyTimeout);
    let resolveExit!: (e: WorkerExit) => void;
    const exited = new Promise<WorkerExit>((res) => {
      resolveExit = res;
    });
    const handle: Handle = { info, send, kill, exited, ready, drainRequested: false };
    wire(
      (m) => {
        if (!isFromWorker(m)) return;
        const msg = m as FromWorker;
        if (msg[TAG] === 'ready') {
          this.clearTimer(readyTimer);
          info.state = handle.drainRequested ? 'draining' : 'ready';
          info.address = msg.address;
          if (this.address === null) this.address = msg.address;
          resolveReady();
          this.emit('ready', info);
        } else if (msg[TAG] === 'failed') {
          reason ??= msg.message;
        } else if (msg[TAG] === 'stats') {
          info.stats = msg.stats;
          this.emit('stats', info, msg.stats);
        }
      },
      (exit) => {
        this.clearTimer(readyTimer);
        info.state = 'exited';
        const full = { ...exit, reason: reason ?? exit.reason };
        rejectReady(new Error(`worker ${info.id} failed to start: ${describeExit(full)}`));
        resolveExit(full);
      },
      (r) => {
        reason ??= r;
      },
    );
    return handle;
  }

  private spawnThread(id: number, generation: number): Handle {
    const thread = new Thread(this.file, {
      argv: this.argvFor(id),
      execArgv: this.options.execArgv ? [...this.options.execArgv] : undefined,
      workerData: { [TAG]: { id } },
    });
    const info = newInfo(id, generation, 'thread', thread.threadId);
    return this.track(
      info,
      (m) => thread.postMessage(m),
      () => void thread.terminate(),
      (onMessage, onEnd, onError) => {
        thread.on('message', onMessage);
        thread.on('error', (e) => onError(e instanceof Error ? e.message : String(e)));
        thread.on('exit', (code) => onEnd({ code, signal: null, reason: null }));
      },
    );
  }

  private spawnProcess(id: number, generation: number): Handle {
    const child: ChildProcess = fork(this.file, this.argvFor(id), {
      env: { ...process.env, [ENV_ID]: String(id) },
      execArgv: this.options.execArgv ? [...this.options.execArgv] : process.execArgv,
      stdio: 'inherit',
    });
    const info = newInfo(id, generation, 'process', child.pid ?? 0);
    return this.track(
      info,
      (m) => {
        if (child.connected) child.send(m);
      },
      () => void child.kill('SIGKILL'),
      (onMessage, onEnd, onError) => {
        child.on('message', onMessage);
        child.on('error', (e) => onError(e.message));
        // 'close', not 'exit': it comes after the IPC channel is read to its end, so a message
        // the worker sent just before exiting (why it failed) has been seen.
        child.on('close', (code, signal) => onEnd({ code, signal, reason: null }));
      },
    );
  }

  private onExit(handle: Handle, exit: WorkerExit): void {
    this.replaced.delete(handle);
    this.emit('exit', handle.info, exit);
    const slot = handle.info.id - 1;
    if (this.slots[slot] !== handle) return; // replaced by a rolling restart
    if (handle.drainRequested || this.stopping !== null) return;
    if (!this.up) return; // the first start failed: startAll() gives up and stops the pool
    const lived = Date.now() - handle.info.startedAt;
    this.quickFailures = lived < this.options.quickFailure ? this.quickFailures + 1 : 0;
    if (this.quickFailures >= this.options.maxQuickFailures) {
      const e = new Error(
        `worker ${handle.info.id} failed ${this.quickFailures} times in a row, each within ${this.options.quickFailure} ms of starting (last: ${describeExit(exit)}); giving up`,
      );
      void this.stop();
      this.emit('error', e);
      return;
    }
    const delay = this.quickFailures === 0 ? 0 : Math.min(MAX_RESTART_DELAY, this.options.restartDelay * 2 ** (this.quickFailures - 1));
    this.emit('restart', handle.info, delay, exit);
    this.timer(() => {
      if (this.stopping === null && this.slots[slot] === handle) this.spawn(handle.info.id, handle.info.generation + 1);
    }, delay);
  }

  /**
   * Replaces the workers one by one: start the new one, wait until it listens, drain the old one
   * and wait for it to exit. Rejects (keeping the old worker) if a replacement cannot start. A
   * call while one runs returns the running one.
   */
  restart(): Promise<void> {
    if (this.stopping !== null) return Promise.reject(new Error('the pool is stopping'));
    this.restarting ??= this.rollAll().finally(() => {
      this.restarting = null;
    });
    return this.restarting;
  }

  private async rollAll(): Promise<void> {
    await this.ready;
    for (let i = 0; i < this.count; i++) {
      if (this.stopping !== null) throw new Error('the pool is stopping');
      const old = this.slots[i];
      if (old === null || old === undefined) continue;
      const fresh = this.spawn(i + 1, old.info.generation + 1);
      try {
        await fresh.ready;
      } catch (e) {
        // Keep the old worker: put it back in its slot, let the failed one go.
        if (this.slots[i] === fresh) {
          this.slots[i] = old;
          this.replaced.delete(old);
        }
        throw e;
      }
      await this.drainOne(old, 0);
    }
  }

  private drainOne(handle: Handle, delay: number): Promise<WorkerExit> {
    if (handle.info.state !== 'exited' && !handle.drainRequested) {
      handle.drainRequested = true;
      handle.info.state = 'draining';
      handle.send({ [TAG]: 'drain', delay });
      const t = this.timer(() => handle.kill(), delay + this.options.drainTimeout);
      void handle.exited.then(() => this.clearTimer(t));
    }
    return handle.exited;
  }

  /**
   * Drains every worker (each stops accepting after `drainDelay`, finishes what is in flight and
   * exits) and resolves when all have exited. Workers still busy after `drainTimeout` are killed.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      const all = [...this.slots, ...this.replaced].filter((h): h is Handle => h !== null);
      await Promise.all(all.map((h) => this.drainOne(h, this.options.drainDelay)));
    })();
    return this.stopping;
  }

  private timer(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private clearTimer(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }
}

function newInfo(id: number, generation: number, mode: 'thread' | 'process', tid: number): WorkerInfo {
  return { id, generation, mode, tid, state: 'starting', address: null, stats: null, startedAt: Date.now() };
}

/** "exited with code 1 (EADDRINUSE: …)", "killed by SIGKILL", … */
export function describeExit(exit: WorkerExit): string {
  const how = exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return exit.reason !== null ? `${exit.reason} (${how})` : how;
}

/**
 * Starts `options.count` workers running `file`, each its own thread (or process) with its own
 * loop; the file makes its server with `reusePort: true` and hands it to `workers.serve()`.
 *
 * @example
 * ```ts
 * import { workers } from 'epoll-reactor';
 * const pool = workers.start('./server.js', { count: 2 });
 * await pool.ready;                       // every worker listens
 * process.on('SIGHUP', () => void pool.restart());
 * process.on('SIGTERM', () => void pool.stop().then(() => process.exit(0)));
 * ```
 */
export function start(file: string, options: PoolOptions): Pool {
  return new Pool(file, options);
}
