/**
 * Timer and Immediate handles. The Loop owns the scheduling; these objects are what users hold,
 * with Node's methods (`ref`, `unref`, `hasRef`, `refresh`, `close`).
 */
import type { HeapNode } from './timer-heap';

/** The largest delay Node accepts as such (2^31 − 1 ms, about 24.8 days). */
export const TIMEOUT_MAX = 2 ** 31 - 1;

/**
 * Node's coercion of a delay argument (`ms * 1`), with two differences stated in docs/loop.md:
 * - 0 and fractions are kept (sub-millisecond timers; 0 means "next iteration"), where Node
 *   turns anything below 1 into 1;
 * - delays above TIMEOUT_MAX are kept too, so they never fire early (Node fires them after 1 ms
 *   with a TimeoutOverflowWarning). Infinity never fires.
 * NaN, negative and non-numeric delays become 1 ms, as in Node.
 */
export function normalizeDelay(ms: unknown): number {
  const d = (ms as number) * 1;
  return d >= 0 ? d : 1;
}

/** Internal scheduling state of a Timer. */
export const TimerState = {
  Idle: 0,
  /** In the heap, waiting for its deadline. */
  Scheduled: 1,
  /** Taken out of the heap in this iteration's snapshot of due timers; about to run. */
  Due: 2,
} as const;
export type TimerState = (typeof TimerState)[keyof typeof TimerState];

/** What a Timer needs from its loop (the Loop implements it). */
export interface TimerOwner {
  _startTimer(t: Timer): void;
  _stopTimer(t: Timer): void;
  _refTimer(t: Timer, ref: boolean): void;
}

// biome-ignore lint/suspicious/noExplicitAny: a callback of any arity, like Node's timers take
export type TimerCallback = (...args: any[]) => void;

/**
 * A timer from `loop.setTimeout` / `loop.setInterval`.
 *
 * @example
 * ```ts
 * const t = loop.setInterval(() => console.log('tick'), 1000);
 * t.unref(); // does not keep loop.run() going on its own
 * ```
 */
export class Timer implements HeapNode {
  /** When it is due: CLOCK_MONOTONIC in ms, the clock of `loop.now()`. */
  deadline = 0;
  /** Its number in start order; the flight recorder names it by this ("timer #3"). */
  seq = 0;
  /** @internal */
  heapIndex = -1;
  /** @internal */ _state: TimerState = TimerState.Idle;
  /** @internal */ _refed = true;

  /** @internal */
  constructor(
    /** @internal */ readonly _owner: TimerOwner,
    /** @internal */ public _callback: TimerCallback,
    /** Delay in ms (after normalisation). */
    readonly delay: number,
    /** Interval in ms for setInterval timers, −1 for one-shot timers. */
    readonly repeat: number,
    /** @internal */ readonly _args: unknown[] | undefined,
  ) {}

  /** Keep the loop alive while this timer is pending (the default). */
  ref(): this {
    this._owner._refTimer(this, true);
    return this;
  }

  /** Do not keep the loop alive for this timer alone. */
  unref(): this {
    this._owner._refTimer(this, false);
    return this;
  }

  hasRef(): boolean {
    return this._refed;
  }

  /** Restart the timer: its deadline becomes now + delay (also re-arms a fired one-shot). */
  refresh(): this {
    this._owner._startTimer(this);
    return this;
  }

  /** Cancel it, as `clearTimeout`. */
  close(): this {
    this._owner._stopTimer(this);
    return this;
  }

  /** Whether it is scheduled to fire. */
  get pending(): boolean {
    return this._state !== TimerState.Idle;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** What an Immediate needs from its loop. */
export interface ImmediateOwner {
  _clearImmediate(i: Immediate): void;
  _refImmediate(i: Immediate, ref: boolean): void;
}

/** A callback queued by `loop.setImmediate`: runs once, after the I/O callbacks of an iteration. */
export class Immediate {
  /** @internal */ _pending = true;
  /** @internal */ _refed = true;

  /** @internal */
  constructor(
    /** @internal */ readonly _owner: ImmediateOwner,
    /** @internal */ public _callback: TimerCallback,
    /** @internal */ readonly _args: unknown[] | undefined,
  ) {}

  ref(): this {
    this._owner._refImmediate(this, true);
    return this;
  }

  unref(): this {
    this._owner._refImmediate(this, false);
    return this;
  }

  hasRef(): boolean {
    return this._refed;
  }

  /** Whether it is still waiting to run. */
  get pending(): boolean {
    return this._pending;
  }

  [Symbol.dispose](): void {
    this._owner._clearImmediate(this);
  }
}
