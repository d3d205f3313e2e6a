/**
 * The core of a loop: its parts (registry, scheduler, I/O phase, wait policy, alarm), the
 * iteration that runs them in order, and the state the drivers and the layers above share.
 *
 * One iteration (`turn`), libuv's uv_run in a different order:
 *
 *   1. poll      = epoll_pwait2(epfd, events, timeout): the timeout is 0 with work pending
 *                  (immediates, deferred callbacks, writes to send, stop()), −1 with no timer, else
 *                  until the alarm's lead before the earliest deadline (wait-policy.ts);
 *   2. deferred  = callbacks deferred by the previous iteration (Node's 'close' events);
 *   3. I/O       = each event to the watcher its token names, streams read in batches (io.ts);
 *   4. check     = immediates queued before this phase, in order;
 *   5. timers    = the timers due now, snapshotted before any runs, in (deadline, start order);
 *   6. flush     = what the callbacks wrote to streams, sent in one batch.
 *
 * The public Loop (loop.ts) is a facade over a Core; the drivers (attach.ts, standalone.ts) and
 * runOnce (wait.ts) call `turn` and the wait policy's questions through the DriverHost surface.
 */
import type { EventEmitter } from 'node:events';
import * as sys from '../sys/index';
import { monotonicMs } from './clock';
import { DeadlineTimer } from './deadline';
import { IoPhase } from './io';
import { Registry } from './registry';
import { Scheduler } from './scheduler';
import { LoopCounters } from './stats';
import { StreamBatch, type StreamOwner } from './stream-batch';
import type { TimeoutReason, Tracer } from './trace';
import { WaitPolicy } from './wait-policy';
import type { WatchCallback, Watcher } from './watcher';

/** The mutable state of a loop that its drivers and the layers above (net, dgram) read. */
export class LoopState {
  /** Inside an iteration: writes made now are batched and sent at its end. */
  inTurn = false;
  /** `close({ force: true })` is tearing the handles down. */
  closing = false;
  /** `stop()` was called: the current iteration is the last. */
  stopRequested = false;
  /** `close()` was called. */
  closed = false;

  constructor(
    /** Batched stream I/O (net sockets). */
    readonly streams: StreamBatch,
    private readonly scheduler: Scheduler,
    private readonly registry: Registry,
  ) {}

  /**
   * Run `fn(arg)` at the start of the next iteration, after the promise jobs and nextTicks of
   * this one — where Node's `'close'` events come from. Keeps the loop alive until it has run.
   */
  defer<T>(fn: (arg: T) => void, arg: T): void {
    this.scheduler.defer(fn, arg);
  }

  /** Make `w` a stream watcher: when it is readable, the loop reads it in the iteration's batch. */
  setStream(w: Watcher, owner: StreamOwner): void {
    this.registry.setStream(w, owner);
  }
}

/** What a loop asks of the driver running it. */
export interface Driver {
  /** The loop's next wake-up instant may have changed (`now`: the clock, if just read). */
  wake(now?: number): void;
  /** Whether the loop holds referenced work (it keeps Node's loop, and the process, alive). */
  setRef(ref: boolean): void;
}

/** What a driver needs of the loop it drives. */
export interface DriverHost {
  readonly epfd: number;
  readonly state: LoopState;
  readonly io: IoPhase;
  /** Whether anything referenced is left (and the loop is open). */
  alive(): boolean;
  /** One iteration: poll with `timeout` (or already `polled`), then the phases. Returns whether it was quiet. */
  turn(timeout: number, now: number, polled?: number): boolean;
  /** Events of the user's in the last iteration. */
  readonly lastTurnIo: number;
  /** The timeout of the next wait at `now` (ms; 0 = do not sleep, −1 = until an event). */
  timeoutAt(now: number): number;
  /** The deadline (ms) to poll towards when only a timer is left to wait for, else −1. */
  spinDeadline(now: number): number;
  /** Whether, at the loop's time, the next iteration would wait (sleep or spin). */
  willWait(): boolean;
  /** Before a sleep of `timeout` ms: the alarm rings on time for the timer. */
  armForSleep(timeout: number): void;
  /** How long before a timer the alarm rings (ms). */
  leadMs(): number;
  /** Attached: the instant (ms) Node's loop must wake us at; −1 never, 0 now. */
  wakeAt(now?: number): number;
  /** Arm the alarm timerfd for `at` (ms; 0 = now, −1 = disarm). */
  armAlarm(at: number): void;
  /** Watch an fd of the loop's own (not the user's I/O; it does not keep the loop alive). */
  watchInternal(fd: number, interest: number, callback: WatchCallback): Watcher;
}

export class Core implements DriverHost {
  readonly epfd: number;
  readonly registry: Registry;
  readonly scheduler: Scheduler;
  readonly streams = new StreamBatch();
  readonly io: IoPhase;
  readonly policy: WaitPolicy;
  readonly alarm: DeadlineTimer;
  readonly state: LoopState;
  readonly counters = new LoopCounters();
  /** The loop's cached time (ms of CLOCK_MONOTONIC), as `uv_now`. */
  time: number;
  /** Active, referenced handles. */
  refs = 0;
  lastTurnIo = 0;
  /** The driver running the loop inside Node's, if any (wakes and refs go to it). */
  driver: Driver | null = null;
  /** Standalone: the next wait ends at Node's deadline, not ours (the flight recorder says so). */
  waitForNode = false;
  /** Called when the loop turns alive (the default loop attaches itself then). */
  onAlive: (() => void) | null = null;
  private readonly errors: unknown[] = [];
  /** When the current iteration's wait began (ms), +∞ if it did not wait (a look, or a spin). */
  private waitStart = Number.POSITIVE_INFINITY;
  private tracing = false;

  constructor(
    maxEvents: number,
    spinMs: number,
    /** Where callbacks' errors go (the Loop: its 'error' event). */
    private readonly emitter: EventEmitter,
    readonly trace: Tracer,
  ) {
    this.epfd = sys.epoll_create1(sys.EPOLL_CLOEXEC);
    sys.own_fd(this.epfd); // closed at the thread's teardown if the loop is not closed by then
    this.time = monotonicMs();
    this.counters.since = this.time;
    try {
      this.registry = new Registry(this.epfd, this);
      this.scheduler = new Scheduler(this, this.counters);
      const usePwait2 = probePwait2(this.epfd);
      this.io = new IoPhase(this.epfd, maxEvents, usePwait2, this.registry, this.streams, this.counters, this);
      this.policy = new WaitPolicy(spinMs, usePwait2);
      this.state = new LoopState(this.streams, this.scheduler, this.registry);
      // Made now, not when the first timer needs it: a server whose fd table is full (EMFILE)
      // must still be able to sleep until its timers (issue #20).
      this.alarm = new DeadlineTimer(this.registry, (at) => this.policy.alarmRang(at, this.waitStart, this.time));
    } catch (e) {
      sys.close(this.epfd);
      throw e;
    }
    trace.onToggle = (on) => {
      this.tracing = on;
      this.scheduler.trace = on ? trace : null;
      this.io.trace = on ? trace : null;
    };
  }

  // ── Bookkeeping the parts report to ──

  addRefs(delta: number): void {
    const wasAlive = this.refs > 0;
    this.refs += delta;
    if (this.refs > 0 === wasAlive) return;
    this.driver?.setRef(this.refs > 0);
    if (!wasAlive) this.onAlive?.();
  }

  /** A callback threw: to the loop's 'error' listeners, else rethrown after the iteration. */
  report(e: unknown): void {
    if (this.emitter.listenerCount('error') > 0) {
      try {
        this.emitter.emit('error', e);
        return;
      } catch (e2) {
        e = e2;
      }
    }
    this.errors.push(e);
  }

  /** The earliest timer deadline changed, or the first immediate or deferred callback was queued. */
  scheduleChanged(): void {
    if (this.driver !== null && !this.state.inTurn) this.driver.wake();
  }

  alive(): boolean {
    return this.refs > 0 && !this.state.closed;
  }

  watchInternal(fd: number, interest: number, callback: WatchCallback): Watcher {
    return this.registry.watch(fd, interest, callback, true);
  }

  // ── The wait policy's questions, with this loop's state ──

  /** Work that must not wait for a sleep: stop(), immediates, deferred callbacks, batched writes. */
  private workPending(): boolean {
    const s = this.scheduler;
    return this.state.stopRequested || s.pendingImmediates > 0 || s.deferredCount > 0 || this.streams.pendingWrites > 0;
  }

  timeoutAt(now: number): number {
    return this.policy.timeout(now, this.scheduler.nextDeadline(), this.workPending());
  }

  spinDeadline(now: number): number {
    return this.policy.spinUntil(now, this.scheduler.nextDeadline(), this.workPending());
  }

  willWait(): boolean {
    const now = this.time;
    return this.timeoutAt(now) !== 0 || this.spinDeadline(now) > 0;
  }

  armForSleep(timeout: number): void {
    const deadline = this.scheduler.nextDeadline();
    if (timeout > 0 && deadline >= 0) this.alarm.arm(this.policy.alarmFor(deadline));
  }

  leadMs(): number {
    return this.policy.leadMs;
  }

  wakeAt(now?: number): number {
    const work = this.workPending();
    const deadline = this.scheduler.nextDeadline();
    if (work || deadline < 0) return this.policy.wakeAt(0, deadline, work);
    return this.policy.wakeAt(now ?? monotonicMs(), deadline, false);
  }

  armAlarm(at: number): void {
    this.alarm.arm(at);
  }

  // ── The iteration ──

  /**
   * One iteration: poll with `timeout` (ms, −1 = block), then the phases. `now` is the clock
   * reading the timeout was computed from (it starts the asleep/awake accounting); `polled` ≥ 0
   * means the poll was already done and found that many events. Returns whether the iteration
   * was quiet: no callback of the user's ran (nothing ready but the loop's own watchers, no
   * timer due, no immediate or deferred callback).
   */
  turn(timeout: number, now: number, polled = -1): boolean {
    const state = this.state;
    const io = this.io;
    const scheduler = this.scheduler;
    state.inTurn = true;
    const c = this.counters;
    c.iterations++;
    if (this.tracing) this.traceBegin(timeout, now, polled >= 0);
    const n = polled >= 0 ? polled : io.poll(timeout);
    // Already polled (a look before sleeping, or a spin): `now` still stands, one clock read
    // fewer per busy iteration. Otherwise the wait may have slept: read the clock.
    let time = polled >= 0 ? now : monotonicMs();
    c.asleepMs += time - now;
    this.time = time;
    this.waitStart = polled >= 0 ? Number.POSITIVE_INFINITY : now;
    if (this.tracing) {
      this.trace.recordWake(time, io.events, n, (token) => {
        const w = this.registry.lookup(token);
        return w === undefined || w.internal ? -1 : w.fd;
      });
    }
    const deferred = scheduler.runDeferred();
    if (n > 0) io.dispatch(n, time);
    const immediates = scheduler.runImmediates();
    // Callbacks ran: read the clock again, so timers fire (and lateness is measured) at the
    // time they really run.
    if (n > 0 || immediates > 0 || deferred > 0) this.time = time = monotonicMs();
    const fired = scheduler.runTimers(time);
    if (this.streams.pendingWrites > 0) io.flushStreams();
    // Why did this wait end? Events; else a due timer; else work that needed no sleep; else nothing.
    const registry = this.registry;
    const userIo = n - registry.internalEvents;
    registry.internalEvents = 0;
    this.lastTurnIo = userIo;
    if (userIo > 0) c.ioWakeups++;
    else if (fired > 0) c.timerWakeups++;
    else if (immediates > 0 || deferred > 0 || timeout === 0) c.immediateWakeups++;
    else c.emptyWakeups++;
    state.inTurn = false;
    if (this.tracing) this.trace.recordEnd(monotonicMs());
    this.throwErrors();
    return userIo === 0 && fired === 0 && immediates === 0 && deferred === 0;
  }

  /** Records why this iteration's timeout is what it is (flight recorder only). */
  private traceBegin(timeout: number, now: number, peeked: boolean): void {
    const s = this.scheduler;
    const first = s.timers.peek();
    let reason: TimeoutReason;
    if (peeked) reason = 'peek';
    else if (this.waitForNode) reason = 'node';
    else if (timeout === -1) reason = 'no-timers';
    else if (timeout > 0) reason = 'timer';
    else if (this.state.stopRequested) reason = 'stopping';
    else if (s.pendingImmediates > 0 || s.deferredCount > 0) reason = 'immediates';
    else if (this.streams.pendingWrites > 0) reason = 'writes';
    else if (first !== undefined && first.deadline <= now) reason = 'due';
    else reason = 'no-wait';
    const timer = reason === 'timer' || reason === 'due' || reason === 'peek' || reason === 'node' ? first : undefined;
    const lead = reason === 'timer' ? this.policy.leadMs : 0;
    this.trace.recordBegin(this.counters.iterations, now, timeout, reason, timer?.seq ?? -1, timer?.delay ?? 0, lead);
  }

  /** After an iteration, with all bookkeeping done: rethrow what callbacks threw, if unhandled. */
  private throwErrors(): void {
    const errors = this.errors;
    if (errors.length === 0) return;
    const error = errors.length === 1 ? errors[0] : new AggregateError(errors.slice(), `${errors.length} loop callbacks threw`);
    errors.length = 0;
    throw error;
  }

  // ── Closing ──

  /** Watchers the user made (not the loop's own). */
  userWatchers(): number {
    return this.registry.count - this.registry.internalCount;
  }

  /**
   * Tear everything down: owners of watchers (sockets, servers) close their fds first, then the
   * watchers, the timers and immediates, the alarm and the epoll fd.
   */
  close(): void {
    const state = this.state;
    state.closing = true;
    for (const w of this.registry.slots) {
      if (w === undefined || w.removed || w.internal) continue;
      try {
        w.onLoopClose?.(w);
      } catch (e) {
        this.report(e);
      }
      w.close();
    }
    this.scheduler.cancelAll();
    this.alarm.close();
    // Watchers of the loop's own that a driver left (none when it was stopped properly).
    for (const w of this.registry.slots) if (w !== undefined && !w.removed) w.close();
    state.closed = true;
    state.closing = false;
    this.registry.epfd = -1;
    sys.close(this.epfd);
  }
}

/** epoll_pwait2 (Linux ≥ 5.11) gives nanosecond timeouts; older kernels say ENOSYS. */
function probePwait2(epfd: number): boolean {
  try {
    sys.epoll_pwait2(epfd, new Uint32Array(2), 0);
    return true;
  } catch (e) {
    if (sys.isSystemError(e, 'ENOSYS')) return false;
    throw e;
  }
}
