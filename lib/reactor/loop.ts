/**
 * The Loop: the public face of one epoll instance — fd watchers, timers, immediates, running
 * and stopping, stats, close. The work is done by its parts (core.ts says how one iteration
 * goes; registry.ts, scheduler.ts, io.ts, wait-policy.ts) and its drivers: `run()` (standalone,
 * standalone.ts) and `attach()` (inside Node's loop, attach.ts). docs/loop.md tells the same
 * story with a diagram, docs/node-integration.md the drivers'.
 */
import { EventEmitter } from 'node:events';
import { LoopError, outOfRange } from '../errors';
import { AttachedDriver } from './attach';
import { monotonicMs } from './clock';
import { Core } from './core';
import { registerInternals } from './internal';
import { STREAM_SLICE } from './io';
import { StandaloneDriver } from './standalone';
import type { LoopStatsSnapshot } from './stats';
import { Immediate, Timer, type TimerCallback } from './timer';
import { Tracer } from './trace';
import { waitOn } from './wait';
import type { WatchCallback, Watcher } from './watcher';

export interface LoopOptions {
  /**
   * Events fetched per epoll_wait (default 64, one slice of stream work). Larger batches are
   * served in slices of 64 anyway (docs/decisions/005-batch-of-64.md).
   */
  maxEvents?: number;
  /**
   * Run by itself inside Node's loop whenever it holds referenced work and nobody is running it
   * (the default loop does this, so a script written as for Node just works). Default false.
   */
  autoAttach?: boolean;
  /**
   * Microseconds before a timer's deadline within which the loop stops sleeping and polls
   * instead (default 50): waking from a sleep takes tens of µs at best, sometimes hundreds on a
   * virtual machine, so a sleep that short only adds lateness. The alarm that ends a sleep rings
   * earlier still, by the loop's estimate of its own wake-up latency (learnt as it runs, at most
   * 200 µs; `stats().timers.wakeLatency`), and the loop never sleeps less than 150 µs before a
   * timer (docs/decisions/002-min-sleep.md). Larger values trade that much CPU per timer for
   * precision; 0 always sleeps, to the deadline. Attached, the alarm wakes Node's loop that early
   * and the turn polls through the rest; before a sleep of Node's from 400 µs to 100 ms it wakes
   * Node 250 µs earlier still, once (docs/decisions/003-pre-wake.md).
   */
  spinUs?: number;
}

type Mode = 'idle' | 'run' | 'sync' | 'attached';

export class Loop extends EventEmitter {
  /** The flight recorder (off until `trace.start()`): see trace.ts. */
  readonly trace = new Tracer();
  private readonly core: Core;
  private mode: Mode = 'idle';
  private attached: AttachedDriver | null = null;
  private autoAttached = false;
  private autoAttachScheduled = false;
  private readonly autoAttach: boolean;

  constructor(options: LoopOptions = {}) {
    super();
    const maxEvents = options.maxEvents ?? STREAM_SLICE;
    if (!Number.isInteger(maxEvents) || maxEvents < 1 || maxEvents > 65536) {
      throw outOfRange('options.maxEvents', 'an integer from 1 to 65536', maxEvents);
    }
    const spinUs = options.spinUs ?? 50;
    if (typeof spinUs !== 'number' || !(spinUs >= 0) || spinUs > 1e6) throw outOfRange('options.spinUs', 'a number of µs from 0 to 1,000,000', spinUs);
    this.autoAttach = options.autoAttach === true;
    this.core = new Core(maxEvents, spinUs / 1000, this, this.trace);
    this.core.onAlive = () => this.maybeAutoAttach();
    registerInternals(this, this.core.state);
  }

  /** The epoll fd this loop owns. */
  get epfd(): number {
    return this.core.epfd;
  }

  // ══ Fd watchers ═════════════════════════════════════════════════════════════════════════

  /**
   * Watch `fd` for the events in `interest` (an epoll mask: `sys.EPOLLIN | sys.EPOLLOUT`, plus
   * `EPOLLRDHUP`, `EPOLLPRI`, and `EPOLLET` / `EPOLLONESHOT` / `EPOLLEXCLUSIVE` on request;
   * level-triggered by default). `callback(events, watcher)` gets the ready mask.
   * Watching an fd that is already watched by this loop throws EEXIST.
   *
   * @example
   * ```ts
   * const [r, w] = sys.pipe2(sys.O_NONBLOCK);
   * const watcher = loop.watch(r, sys.EPOLLIN, () => {
   *   const n = sys.read(r, buf);
   *   watcher.close();
   * });
   * ```
   */
  watch(fd: number, interest: number, callback: WatchCallback): Watcher {
    this.assertOpen();
    return this.core.registry.watch(fd, interest, callback);
  }

  // ══ Timers and immediates ═══════════════════════════════════════════════════════════════

  /**
   * Call `callback(...args)` once, `ms` milliseconds from now (fractions allowed). Never early:
   * it runs in the first iteration whose clock reads at or past the deadline.
   */
  setTimeout(callback: (_?: undefined) => void, ms?: number): Timer;
  setTimeout<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): Timer;
  setTimeout(callback: TimerCallback, ms?: number, ...args: unknown[]): Timer {
    this.assertOpen();
    return this.core.scheduler.createTimer(callback, ms, false, args);
  }

  /**
   * Call `callback(...args)` every `ms` milliseconds. Each deadline is the previous one plus
   * `ms` (no drift); beats missed while the loop was busy are skipped, not run in a burst.
   */
  setInterval(callback: (_?: undefined) => void, ms?: number): Timer;
  setInterval<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): Timer;
  setInterval(callback: TimerCallback, ms?: number, ...args: unknown[]): Timer {
    this.assertOpen();
    return this.core.scheduler.createTimer(callback, ms, true, args);
  }

  /** Run `callback(...args)` after the I/O callbacks of the next (or current) iteration. */
  setImmediate(callback: (_?: undefined) => void): Immediate;
  setImmediate<A extends unknown[]>(callback: (...args: A) => void, ...args: A): Immediate;
  setImmediate(callback: TimerCallback, ...args: unknown[]): Immediate {
    this.assertOpen();
    return this.core.scheduler.setImmediate(callback, args);
  }

  /** Cancel `timer`. Anything else — another loop's timer included — is ignored, as Node does. */
  clearTimeout(timer: Timer | undefined | null): void {
    if (timer instanceof Timer && timer.owner === this.core.scheduler) timer.close();
  }

  /** Cancel `timer`. Anything else — another loop's timer included — is ignored, as Node does. */
  clearInterval(timer: Timer | undefined | null): void {
    this.clearTimeout(timer);
  }

  /** Cancel `immediate`. Anything else — another loop's immediate included — is ignored. */
  clearImmediate(immediate: Immediate | undefined | null): void {
    if (immediate instanceof Immediate && immediate.owner === this.core.scheduler) this.core.scheduler.clearImmediate(immediate);
  }

  // ══ Time and timeout ════════════════════════════════════════════════════════════════════

  /** The loop's cached CLOCK_MONOTONIC time in ms, updated once per phase (like `uv_now`). */
  now(): number {
    return this.core.time;
  }

  /** Refresh the cached time (`uv_update_time`). */
  updateTime(): number {
    this.core.time = monotonicMs();
    return this.core.time;
  }

  /**
   * The timeout, in ms, the next epoll_wait will be given: 0 when immediates are pending or the
   * loop is stopping; −1 when there is no timer; otherwise until the alarm's lead before the
   * earliest deadline, rounded up (to the nanosecond with epoll_pwait2, to the millisecond
   * without), at most INT_MAX.
   */
  nextTimeout(): number {
    return this.core.timeoutAt(monotonicMs());
  }

  // ══ Running ═════════════════════════════════════════════════════════════════════════════

  /** Whether anything referenced is left: watchers, pending timers or immediates. */
  get alive(): boolean {
    return this.core.alive();
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.core.state.closed;
  }

  /** How this loop is being driven right now. */
  get driver(): 'none' | 'standalone' | 'attached' {
    return this.mode === 'attached' ? 'attached' : this.mode === 'idle' ? 'none' : 'standalone';
  }

  /**
   * Run the loop until nothing referenced is left or `stop()` is called. This thread sleeps in
   * the loop's own epoll_pwait2, whose set holds Node's epoll fd too, and wakes by the nearer of
   * our next timer and Node's: whenever Node's loop has work (its timers, fs and dns results,
   * signals, its own sockets), it gets its turn, then the loop goes on — see
   * docs/node-integration.md. Promise jobs and `process.nextTick` callbacks run after every
   * iteration, as after any Node callback.
   *
   * Rejects with what a callback threw when no `'error'` listener handles it (the loop state is
   * consistent; `run()` can be called again).
   */
  run(): Promise<void> {
    this.enter('run');
    return new Promise<void>((resolve, reject) => {
      const done = (error?: unknown): void => {
        this.leave();
        if (error === undefined) resolve();
        else reject(error);
      };
      try {
        new StandaloneDriver(this.core, done).start();
      } catch (e) {
        this.leave();
        throw e;
      }
    });
  }

  /**
   * One iteration, blocking in epoll_wait until an event or the nearest timer if needed.
   * Returns whether the loop is still alive. Returns at once when nothing is alive. Like libuv's
   * UV_RUN_ONCE it makes progress: a wake-up that ran nothing (the loop's alarm rings ahead of
   * a timer, see LoopOptions.spinUs) waits on, so a call that waited for a timer returns after
   * running it (`stats().iterations` counts each wake-up).
   * Synchronous: Node's loop, and promise jobs, wait until the caller returns to it.
   */
  runOnce(): boolean {
    return this.runSync(true);
  }

  /** One iteration that never blocks (timeout 0). Returns whether the loop is still alive. */
  runNoWait(): boolean {
    return this.runSync(false);
  }

  private runSync(mayBlock: boolean): boolean {
    this.enter('sync');
    const core = this.core;
    try {
      const now = monotonicMs();
      if (!core.state.stopRequested && core.alive()) {
        const timeout = mayBlock ? core.timeoutAt(now) : 0;
        core.armForSleep(timeout);
        // runOnce makes progress, as libuv's UV_RUN_ONCE does: a wake-up that ran nothing (the
        // alarm rings ahead of a timer) waits on, and a timer due by then runs.
        if (core.turn(timeout, now) && mayBlock && waitOn(core) && !core.state.stopRequested && core.alive()) {
          core.turn(0, monotonicMs());
        }
      } else core.time = now;
    } finally {
      this.leave();
    }
    return core.alive();
  }

  /**
   * Make `run()` return after the current iteration (its next epoll_wait does not block).
   * On an attached loop: detach from Node's loop after the current turn.
   */
  stop(): void {
    if (this.mode === 'attached' && !this.core.state.inTurn) {
      this.detach();
      return;
    }
    this.core.state.stopRequested = true;
  }

  private enter(mode: Mode): void {
    this.assertOpen();
    // From inside one of its own callbacks the loop is mid-iteration, whatever drives it: a
    // nested iteration would reuse the outer one's events array and read batch (issue #20).
    if (this.core.state.inTurn) throw new LoopError('ERR_LOOP_RUNNING', 'cannot run the loop from inside one of its own callbacks');
    if (this.mode === 'attached' && this.autoAttached) this.detach();
    if (this.mode !== 'idle') {
      throw new LoopError(
        this.mode === 'attached' ? 'ERR_LOOP_ATTACHED' : 'ERR_LOOP_RUNNING',
        this.mode === 'attached' ? 'the loop is attached to Node; call detach() first' : 'the loop is already running',
      );
    }
    this.mode = mode;
  }

  private leave(): void {
    this.mode = 'idle';
    this.core.state.stopRequested = false;
    this.maybeAutoAttach();
  }

  // ══ Inside Node's loop ══════════════════════════════════════════════════════════════════

  /**
   * Hand the waiting to Node: libuv watches our epoll fd (a `uv_poll_t`) and the nearest timer
   * is armed on a timerfd in our own epoll set, so our watchers and timers run from Node's loop,
   * side by side with Node's timers, fs and sockets. While the loop holds referenced work it
   * keeps the process alive, exactly like a Node handle. See docs/node-integration.md.
   */
  attach(): this {
    this.enter('attached');
    try {
      this.attached = new AttachedDriver(this.core, () => this.afterAttachedTurn());
    } catch (e) {
      this.mode = 'idle';
      throw e;
    }
    this.autoAttached = false;
    return this;
  }

  /** Return to standalone operation (stop watching from Node's loop). */
  detach(): this {
    if (this.mode !== 'attached') return this;
    const driver = this.attached;
    this.attached = null;
    this.mode = 'idle';
    this.autoAttached = false;
    driver?.close();
    return this;
  }

  /** After each attached turn: a stop() made inside it detaches now. */
  private afterAttachedTurn(): void {
    const state = this.core.state;
    if (!state.stopRequested) return;
    state.stopRequested = false;
    this.detach();
  }

  private maybeAutoAttach(): void {
    if (!this.autoAttach || this.autoAttachScheduled || this.mode !== 'idle' || this.core.refs === 0) return;
    this.autoAttachScheduled = true;
    // Deferred, so that a `loop.run()` in the same tick takes the loop over instead.
    process.nextTick(() => {
      this.autoAttachScheduled = false;
      if (this.mode === 'idle' && this.alive) {
        this.attach();
        this.autoAttached = true;
      }
    });
  }

  // ══ Stats and shutdown ══════════════════════════════════════════════════════════════════

  /** Counters since creation or the last `stats({ reset: true })`. See LoopStatsSnapshot. */
  stats(options: { reset?: boolean } = {}): LoopStatsSnapshot {
    const core = this.core;
    const c = core.counters;
    const now = monotonicMs();
    const elapsed = Math.max(now - c.since, 0);
    const wakeupsWithEvents = c.ioWakeups;
    const snapshot: LoopStatsSnapshot = {
      iterations: c.iterations,
      wakeups: { io: c.ioWakeups, timer: c.timerWakeups, immediate: c.immediateWakeups, none: c.emptyWakeups },
      events: {
        delivered: c.eventsDelivered - c.eventsStale,
        stale: c.eventsStale,
        perWakeupMean: wakeupsWithEvents > 0 ? c.eventsDelivered / wakeupsWithEvents : 0,
        perWakeupMax: c.eventsMax,
      },
      time: {
        asleep: c.asleepMs,
        busy: Math.max(elapsed - c.asleepMs, 0),
        asleepShare: elapsed > 0 ? Math.min(c.asleepMs / elapsed, 1) : 0,
      },
      timers: {
        fired: c.timersFired,
        lateness: {
          p50: c.lateness.quantile(0.5),
          p99: c.lateness.quantile(0.99),
          max: c.lateness.max,
          early: c.lateness.negative,
        },
        wakeLatency: core.policy.wakeLatency.value,
      },
      alive: {
        watchers: core.userWatchers(),
        timers: core.scheduler.timers.size,
        immediates: core.scheduler.pendingImmediates,
        refs: core.refs,
      },
    };
    if (options.reset) c.reset(now);
    return snapshot;
  }

  /**
   * Release the epoll fd. Throws ERR_LOOP_BUSY while watchers, timers or immediates remain,
   * unless `force`: then sockets and servers on the loop are destroyed (their fds closed),
   * watchers you made are closed (their fds are not: they belong to you), and timers and
   * immediates cancelled. Throws ERR_LOOP_RUNNING inside `run()`.
   */
  close(options: { force?: boolean } = {}): void {
    const core = this.core;
    if (core.state.closed) return;
    if (this.mode === 'run' || this.mode === 'sync') {
      throw new LoopError('ERR_LOOP_RUNNING', 'cannot close a loop while it runs; stop() it first');
    }
    const watchers = core.userWatchers();
    const timers = core.scheduler.timers.size;
    const immediates = core.scheduler.pendingImmediates;
    if (watchers + timers + immediates > 0 && !options.force) {
      throw new LoopError('ERR_LOOP_BUSY', `loop has ${watchers} watcher(s), ${timers} timer(s), ${immediates} immediate(s) open`);
    }
    this.detach();
    core.close();
  }

  private assertOpen(): void {
    if (this.core.state.closed) throw new LoopError('ERR_LOOP_CLOSED', 'the loop is closed');
  }
}
