/**
 * Signals as loop events: `onSignal(loop, 'SIGTERM', cb)`.
 *
 * The addon keeps one private libuv loop per environment holding `uv_signal_t` handles (libuv
 * coordinates its loops' sigaction handlers process-wide, so Node's own `process.on('SIGTERM')`
 * keeps working beside ours). That loop's backend fd is watched by our epoll set like any
 * other fd; when it turns readable one UV_RUN_NOWAIT turn collects the signals caught and we
 * call their callbacks. Uses only the public Loop API (`watch`, `Watcher.close/ref/unref`).
 * Why this design: docs/decisions/020-signals.md.
 */
import { constants } from 'node:os';
import { invalidArgType } from '../errors';
import { native } from '../sys/native';
import { EPOLLIN } from '../sys/index';
import type { Loop } from './loop';
import type { Watcher } from './watcher';

/** Called with the signal's name and number, as `process.on(signal, (name, number) => …)`. */
export type SignalCallback = (signal: string, signum: number) => void;

const byNumber = new Map<number, string>();
for (const [name, num] of Object.entries(constants.signals)) if (!byNumber.has(num)) byNumber.set(num, name);

/** A name ('SIGTERM') or number (15) to its number; ERR_UNKNOWN_SIGNAL as Node's `process.kill`. */
export function signalNumber(signal: string | number): number {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || !byNumber.has(signal)) throw unknownSignal(signal);
    return signal;
  }
  if (typeof signal !== 'string') {
    throw invalidArgType('signal', 'one of type string or number', signal);
  }
  const n = (constants.signals as Record<string, number>)[signal];
  if (n === undefined) throw unknownSignal(signal);
  return n;
}

function unknownSignal(signal: unknown): TypeError {
  const err = new TypeError(`Unknown signal: ${String(signal)}`);
  (err as NodeJS.ErrnoException).code = 'ERR_UNKNOWN_SIGNAL';
  return err;
}

/** One subscription; `close()` stops it, `ref()`/`unref()` as Node's handles (ref'd by default). */
export class SignalHandle {
  closed = false;
  refed = true;
  constructor(
    readonly loop: Loop,
    readonly signal: string,
    readonly signum: number,
    readonly callback: SignalCallback,
    readonly id: number,
  ) {}
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native.signalStop(this.id);
    stateOf(this.loop)?.remove(this);
  }
  ref(): this {
    this.refed = true;
    stateOf(this.loop)?.update();
    return this;
  }
  unref(): this {
    this.refed = false;
    stateOf(this.loop)?.update();
    return this;
  }
  hasRef(): boolean {
    return this.refed && !this.closed;
  }
}

// Per loop: the watcher on the private loop's fd and the live subscriptions.
class LoopSignals {
  handles = new Set<SignalHandle>();
  watcher: Watcher;
  constructor(
    private readonly loop: Loop,
    fd: number,
  ) {
    this.watcher = loop.watch(fd, EPOLLIN, () => this.dispatch());
  }
  dispatch(): void {
    for (const signum of native.signalPoll()) {
      // A signal delivered goes to every loop's subscribers for it (libuv does the same).
      for (const state of states.values()) {
        for (const h of [...state.handles]) if (!h.closed && h.signum === signum) h.callback(h.signal, signum);
      }
    }
  }
  // The watcher counts as a reference only while a ref'd subscription exists.
  update(): void {
    let refed = false;
    for (const h of this.handles) if (h.refed) refed = true;
    if (refed) this.watcher.ref();
    else this.watcher.unref();
  }
  remove(h: SignalHandle): void {
    this.handles.delete(h);
    if (this.handles.size === 0) {
      this.watcher.close();
      states.delete(this.loop);
      if (states.size === 0) native.signalClose();
    } else this.update();
  }
}

const states = new Map<Loop, LoopSignals>();
function stateOf(loop: Loop): LoopSignals | undefined {
  return states.get(loop);
}

/**
 * Call `callback(name, number)` each time `signal` is delivered to the process, from `loop`.
 * Node's own `process.on(signal)` listeners keep firing too. The handle is ref'd (keeps the
 * loop alive) until `unref()`; `close()` stops it, and the last close releases the fds.
 */
export function onSignal(loop: Loop, signal: string | number, callback: SignalCallback): SignalHandle {
  const signum = signalNumber(signal);
  if (typeof callback !== 'function') {
    throw invalidArgType('callback', 'of type function', callback);
  }
  let state = states.get(loop);
  if (state === undefined) {
    const fd = native.signalOpen();
    state = new LoopSignals(loop, fd);
    states.set(loop, state);
  }
  const id = native.signalStart(signum);
  const h = new SignalHandle(loop, byNumber.get(signum) ?? String(signum), signum, callback, id);
  state.handles.add(h);
  state.update();
  return h;
}
