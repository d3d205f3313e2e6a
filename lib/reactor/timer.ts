/**
 * Timer and Immediate handles. The scheduler (scheduler.ts) owns the scheduling; these objects
 * are what users hold, with Node's methods (`ref`, `unref`, `hasRef`, `refresh`, `close`).
 */
import { Handle, type RefCounter } from './handle';

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

/** What a Timer asks of the scheduler that made it. */
export interface TimerOwner extends RefCounter {
  startTimer(t: Timer): void;
  stopTimer(t: Timer): void;
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
export class Timer extends Handle {
  /** When it is due (ms of CLOCK_MONOTONIC, as `loop.now()`). */
  deadline = 0;
  /** Start order: timers due at the same instant run in this order. */
  seq = 0;
  /** @internal */ heapIndex = -1;
  /** @internal */ state: TimerState = TimerState.Idle;

  /** @internal */
  constructor(
    /** @internal */ readonly owner: TimerOwner,
    /** @internal */ public callback: TimerCallback,
    /** Delay in ms (after normalisation). */
    readonly delay: number,
    /** Interval in ms for setInterval timers, −1 for one-shot timers. */
    readonly repeat: number,
    /** @internal */ readonly args: unknown[] | undefined,
  ) {
    super(owner);
  }

  /** Restart the timer: its deadline becomes now + delay (also re-arms a fired one-shot). */
  refresh(): this {
    this.owner.startTimer(this);
    return this;
  }

  /** Cancel it, as `clearTimeout`. */
  close(): this {
    this.owner.stopTimer(this);
    return this;
  }

  /** Whether it is scheduled to fire. */
  get pending(): boolean {
    return this.state !== TimerState.Idle;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** What an Immediate asks of the scheduler that made it. */
export interface ImmediateOwner extends RefCounter {
  clearImmediate(i: Immediate): void;
}

/** A callback queued by `loop.setImmediate`: runs once, after the I/O callbacks of an iteration. */
export class Immediate extends Handle {
  /** @internal */
  constructor(
    /** @internal */ readonly owner: ImmediateOwner,
    /** @internal */ public callback: TimerCallback,
    /** @internal */ readonly args: unknown[] | undefined,
  ) {
    super(owner);
  }

  /** Whether it is still waiting to run. */
  get pending(): boolean {
    return this.active;
  }

  [Symbol.dispose](): void {
    this.owner.clearImmediate(this);
  }
}
