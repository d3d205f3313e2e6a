/**
 * Timers, immediates and deferred callbacks: what a loop runs without any fd being ready
 * (libuv's timer.c and loop-watcher.c). The loop decides when each phase runs; this file keeps
 * the queues and the order inside each phase.
 *
 * - Timers live in a min-heap ordered by (deadline, start order). The due ones are taken out all
 *   at once before any of them runs: what their callbacks schedule, a 0 ms timer included, waits
 *   for the next iteration, so timers cannot starve I/O. A timer never runs before its deadline.
 * - Immediates run in the order queued; those queued by an immediate wait for the next iteration.
 * - Deferred callbacks (libuv's pending/closing callbacks: where Node's `'close'` events come
 *   from) run at the start of the next iteration.
 */
import { invalidArgType } from '../errors';
import { monotonicMs } from './clock';
import type { RefCounter } from './handle';
import type { LoopCounters } from './stats';
import { Immediate, type ImmediateOwner, normalizeDelay, Timer, type TimerCallback, type TimerOwner, TimerState } from './timer';
import { TimerHeap } from './timer-heap';
import type { Tracer } from './trace';

/**
 * The per-iteration queues (due timers, immediates) are counted arrays that keep their backing
 * store; after a batch larger than this they are emptied, so that a burst does not pin its
 * memory (100,000 immediates: 800 KB of array) for the life of the loop.
 */
const SHRINK_AFTER = 1024;

/** What the scheduler asks of its loop. */
export interface SchedulerHost extends RefCounter {
  /** A callback threw: the loop reports it (its 'error' event, or run() rejects). */
  report(e: unknown): void;
  /** The earliest deadline changed, or the first immediate or deferred callback was queued. */
  scheduleChanged(): void;
}

export class Scheduler implements TimerOwner, ImmediateOwner {
  /** @internal */ readonly timers = new TimerHeap<Timer>();
  private readonly due: (Timer | undefined)[] = [];
  private seq = 0;
  // Counted arrays (entries [0, queued)), swapped each immediates phase: `length = 0` would drop
  // the backing store, an allocation per iteration. Cleared immediates stay queued, not
  // pending, until the phase.
  private immediates: (Immediate | undefined)[] = [];
  private spare: (Immediate | undefined)[] = [];
  private queued = 0;
  /** Immediates waiting to run. */
  pendingImmediates = 0;
  private deferredFns: ((arg: unknown) => void)[] = [];
  private deferredArgs: unknown[] = [];
  /** The flight recorder while it records, else null. */
  trace: Tracer | null = null;
  /** False once the loop is closed: nothing starts any more. */
  open = true;

  constructor(
    private readonly host: SchedulerHost,
    private readonly counters: LoopCounters,
  ) {}

  addRefs(delta: number): void {
    this.host.addRefs(delta);
  }

  // ── Timers ──

  createTimer(callback: TimerCallback, ms: unknown, repeat: boolean, args: unknown[]): Timer {
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    const delay = normalizeDelay(ms);
    const t = new Timer(this, callback, delay, repeat ? delay : -1, args.length > 0 ? args : undefined);
    this.startTimer(t);
    return t;
  }

  /** (Re)start `t`: deadline = now + delay, measured now, not at the cached loop time. */
  startTimer(t: Timer): void {
    if (!this.open) return;
    if (t.state === TimerState.Scheduled) this.timers.remove(t);
    t.deadline = monotonicMs() + t.delay;
    t.seq = this.seq++;
    t.state = TimerState.Scheduled;
    t.activate();
    this.timers.push(t);
    if (this.timers.peek() === t) this.host.scheduleChanged();
  }

  stopTimer(t: Timer): void {
    if (t.state === TimerState.Idle) return;
    if (t.state === TimerState.Scheduled) this.timers.remove(t);
    t.state = TimerState.Idle;
    t.deactivate();
  }

  /** The earliest deadline (ms), or −1 without timers. */
  nextDeadline(): number {
    const first = this.timers.peek();
    return first === undefined ? -1 : first.deadline;
  }

  /** Runs the timers due at `now`; returns how many fired. */
  runTimers(now: number): number {
    const heap = this.timers;
    let first = heap.peek();
    if (first === undefined || first.deadline > now) return 0;
    // Snapshot every due timer before running any (see the header). A counted array: `length = 0`
    // would drop its backing store, one allocation per iteration.
    const due = this.due;
    let count = 0;
    while (first !== undefined && first.deadline <= now) {
      heap.pop();
      first.state = TimerState.Due;
      due[count++] = first;
      first = heap.peek();
    }
    const c = this.counters;
    let fired = 0;
    for (let i = 0; i < count; i++) {
      const t = due[i] as Timer;
      due[i] = undefined;
      if (t.state !== TimerState.Due) continue; // cleared or refreshed by an earlier callback
      const late = now - t.deadline;
      const seq = t.seq;
      c.lateness.add(late);
      fired++;
      // A one-shot is done before its callback runs (which may refresh() it); an interval stays
      // Due through its callback and is re-armed after it, unless the callback cleared it.
      if (t.repeat < 0) {
        t.state = TimerState.Idle;
        t.deactivate();
      }
      const trace = this.trace;
      const t0 = trace !== null ? monotonicMs() : 0;
      try {
        if (t.args === undefined) t.callback.call(t);
        else t.callback.apply(t, t.args);
      } catch (e) {
        this.host.report(e);
      }
      if (trace !== null) trace.recordCallback('timer', seq, late, t0, monotonicMs());
      if (t.state === TimerState.Due) this.rearmInterval(t);
    }
    if (count > SHRINK_AFTER) due.length = 0; // a burst: give its memory back
    c.timersFired += fired;
    return fired;
  }

  /**
   * Next deadline = previous + repeat (no drift). Beats missed while the callback or the loop
   * was busy are skipped, not replayed in a burst: the next deadline is the first one still ahead.
   */
  private rearmInterval(t: Timer): void {
    const repeat = t.repeat;
    const now = monotonicMs();
    if (repeat === 0) t.deadline = now;
    else {
      let next = t.deadline + repeat;
      if (next <= now) next = t.deadline + repeat * (Math.floor((now - t.deadline) / repeat) + 1);
      t.deadline = next;
    }
    t.seq = this.seq++;
    t.state = TimerState.Scheduled;
    this.timers.push(t);
  }

  // ── Immediates ──

  setImmediate(callback: TimerCallback, args: unknown[]): Immediate {
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    const im = new Immediate(this, callback, args.length > 0 ? args : undefined);
    this.immediates[this.queued++] = im;
    this.pendingImmediates++;
    im.activate();
    if (this.pendingImmediates === 1) this.host.scheduleChanged();
    return im;
  }

  clearImmediate(im: Immediate): void {
    if (!im.active) return;
    this.pendingImmediates--;
    im.deactivate();
  }

  /** Runs the immediates queued before this phase; returns how many ran. */
  runImmediates(): number {
    const count = this.queued;
    if (count === 0) return 0;
    let ran = 0;
    // Swap queues: immediates queued by these callbacks wait for the next iteration.
    const batch = this.immediates;
    this.immediates = this.spare;
    this.queued = 0;
    for (let i = 0; i < count; i++) {
      const im = batch[i] as Immediate;
      batch[i] = undefined;
      if (!im.active) continue;
      this.pendingImmediates--;
      im.deactivate();
      ran++;
      const trace = this.trace;
      const t0 = trace !== null ? monotonicMs() : 0;
      try {
        if (im.args === undefined) im.callback.call(im);
        else im.callback.apply(im, im.args);
      } catch (e) {
        this.host.report(e);
      }
      if (trace !== null) trace.recordCallback('immediate', -1, 0, t0, monotonicMs());
    }
    if (count > SHRINK_AFTER) batch.length = 0; // a burst: give its memory back
    this.spare = batch;
    return ran;
  }

  // ── Deferred callbacks ──

  /** Run `fn(arg)` at the start of the next iteration; it keeps the loop alive until then. */
  defer<T>(fn: (arg: T) => void, arg: T): void {
    this.deferredFns.push(fn as (arg: unknown) => void);
    this.deferredArgs.push(arg);
    this.host.addRefs(1);
    if (this.deferredFns.length === 1) this.host.scheduleChanged();
  }

  get deferredCount(): number {
    return this.deferredFns.length;
  }

  /** Runs the callbacks deferred before this iteration; returns how many ran. */
  runDeferred(): number {
    const fns = this.deferredFns;
    const args = this.deferredArgs;
    if (fns.length === 0) return 0;
    this.deferredFns = [];
    this.deferredArgs = [];
    for (let i = 0; i < fns.length; i++) {
      this.host.addRefs(-1);
      try {
        (fns[i] as (arg: unknown) => void)(args[i]);
      } catch (e) {
        this.host.report(e);
      }
    }
    return fns.length;
  }

  // ── Closing ──

  /** Cancel everything (loop.close({ force })). */
  cancelAll(): void {
    for (let t = this.timers.peek(); t !== undefined; t = this.timers.peek()) this.stopTimer(t);
    for (let i = 0; i < this.queued; i++) {
      const im = this.immediates[i];
      if (im !== undefined) this.clearImmediate(im);
    }
    this.host.addRefs(-this.deferredFns.length);
    this.deferredFns = [];
    this.deferredArgs = [];
    this.open = false;
  }
}
