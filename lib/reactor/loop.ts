/**
 * The Loop: one epoll instance, fd watchers, a timer heap, immediates, and the iteration that
 * ties them together. docs/loop.md tells the same story with a diagram.
 *
 * One iteration (`turn`):
 *
 *   1. timeout  = 0 if immediates are pending or the loop is stopping;
 *                 −1 if no timer exists;
 *                 else (earliest deadline − now), rounded up, clamped to INT_MAX ms.
 *   2. poll     = epoll_pwait2(epfd, events, timeout) — one native call, the whole batch lands in
 *                 a reused Uint32Array of (mask, token) pairs.
 *   3. I/O      = each event goes to the watcher its token names (stale tokens are dropped).
 *   4. check    = immediates queued before this phase began run, in order.
 *   5. timers   = every timer whose deadline ≤ now is taken out of the heap first (a snapshot),
 *                 then their callbacks run in (deadline, start order).
 *
 * Two drivers run iterations: `run()` (standalone: this thread sleeps in epoll_wait) and
 * `attach()` (inside Node's libuv loop; see attach.ts and docs/node-integration.md).
 */
import { EventEmitter } from 'node:events';
import { invalidArgType, LoopError, outOfRange } from '../errors';
import * as sys from '../sys/index';
import { AttachedDriver } from './attach';
import { monotonicMs } from './clock';
import { DeadlineTimer, WakeLatency } from './deadline';
import { LoopCounters, type LoopStatsSnapshot } from './stats';
import { StreamBatch, type StreamOwner } from './stream-batch';
import { Immediate, normalizeDelay, Timer, type TimerCallback, TimerState } from './timer';
import { TimerHeap } from './timer-heap';
import { type TimeoutReason, Tracer } from './trace';
import { type WatchCallback, Watcher } from './watcher';

// The natives an iteration calls, bound once: `sys` has too many exports to be a fast object,
// so `sys.epoll_wait(…)` would be a dictionary lookup on every call.
const { epoll_ctl, epoll_wait, epoll_pwait2, epoll_spin, EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL } = sys;
/** Events after which a stream has something to read: data, EOF, or an error to collect. */
const READABLE = sys.EPOLLIN | sys.EPOLLRDHUP | sys.EPOLLHUP | sys.EPOLLERR;

/** The largest timeout epoll_wait takes, in ms. Longer sleeps are taken in several waits. */
const INT_MAX = 2 ** 31 - 1;
/** Tokens are (generation << SLOT_BITS) | slot: up to 2^20 watchers, 2^12 generations a slot. */
const SLOT_BITS = 20;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
const GENERATIONS = 1 << (32 - SLOT_BITS);
/** Stream events served per read/callbacks/send round within one batch (see dispatch). */
const STREAM_SLICE = 64;
/**
 * With spinUs > 0, the loop does not sleep for less than this (ms) before a timer: it polls all
 * the way instead. A short sleep saves little CPU and costs a wake-up, and a wake-up is where
 * the worst lateness comes from: measured on the 2-vCPU VM of docs/benchmarks.md, a thread woken
 * from a short sleep now and then waits milliseconds for a V8 helper thread that took its CPU
 * (2,000 timers per 100 ms, spinUs 50: p99 0.6–1.1 ms sleeping from 0 µs on, 31–45 µs from 150 µs
 * on, 43–221 µs from 100 µs on). Fixed, not a multiple of spinUs: polling through long gaps
 * turns the thread into a CPU hog that the scheduler then preempts for whole slices (200 timers
 * per 100 ms with spinUs 200 and a 600 µs floor: p99 627 µs, against 117 µs at spinUs 50).
 */
const MIN_SLEEP_MS = 0.15;
/**
 * Attached, with spinUs > 0: when Node's loop would sleep longer than this + MIN_SLEEP_MS (ms)
 * before a timer, the alarm wakes it this much earlier — a pre-wake — and then again at the
 * lead, so that the sleep the timer's precision depends on is a short one. A CPU idle for long
 * is slow to wake now and then: on a virtual machine a vCPU halted longer than the host's
 * halt-polling window (KVM's halt_poll_ns, 200 µs by default) is scheduled out, and waking it
 * goes through the host's scheduler; on bare metal the idle governor picks a deeper C-state
 * for a longer sleep. On the 2-vCPU VM of docs/benchmarks.md a plain C timerfd loop's p98
 * wake-up latency was 47–51 µs after sleeps of 50–200 µs, 103–127 µs after 0.4–3.2 ms, and
 * 58–62 µs after the same long sleeps with a pre-wake 250 µs ahead. Attached to Node it cut
 * the idle timer set's p99 (docs/loop.md, "A short last sleep"); standalone, measured the same
 * way, it doubled the timers stalled for milliseconds, so standalone sleeps once (measured
 * while V8 was still compiling in the benchmark's window; not measured again since).
 */
const PRE_WAKE_MS = 0.25;
/**
 * No pre-wake before a sleep this long or longer (ms): a loop that sleeps that long is idle,
 * and keeps one wake-up per timer (what a laptop's battery, and the benchmarks' idle target,
 * count) rather than two for a shorter tail.
 */
const PRE_WAKE_MAX_MS = 100;
/**
 * The per-iteration queues (due timers, immediates) are counted arrays that keep their backing
 * store; after a batch larger than this they are emptied, so that a burst does not pin its
 * memory (100,000 immediates: 800 KB of array) for the life of the loop.
 */
const SHRINK_AFTER = 1024;
/** A settled promise: `.then` on it is the cheapest way to queue a microtask. */
const RESOLVED = Promise.resolve();
/**
 * Node's nextTick and setImmediate, looked up once: `process` is an accessor on the global
 * object and a dictionary-mode object, so `process.nextTick` costs two IC lookups per iteration
 * (perf: ~3% of a loop iteration delivering one event).
 */
const nextTick = process.nextTick;
const nodeSetImmediate = setImmediate;

export interface LoopOptions {
  /**
   * Events fetched per epoll_wait (default 64, one slice of stream work). Larger batches are
   * served in slices of 64 anyway; fetching no more than that keeps the events fresh — the
   * kernel reported them just before we read — and measured better: echo at 1,000 connections,
   * ~4% more messages per CPU-second than with 1,024 (and no worse at 100, or for HTTP).
   */
  maxEvents?: number;
  /**
   * Run by itself inside Node's loop whenever it holds referenced work and nobody is running it
   * (the default loop does this, so a script written as for Node just works). Default false.
   */
  autoAttach?: boolean;
  /**
   * Microseconds before a timer's deadline within which the loop stops sleeping and polls
   * instead (default 50). Waking from a sleep takes tens of µs at best (on a virtual machine,
   * sometimes hundreds), so a sleep shorter than that only adds lateness; and with timers due
   * every few µs, sleeping between them would make the loop fall behind. The alarm that ends a
   * sleep rings earlier still, by the loop's estimate of its own wake-up latency (the median of
   * recent wake-ups, learned as it runs, at most 200 µs; `stats().timers.wakeLatency`), so that
   * the poll starts about spinUs before the deadline. Nor does the loop sleep for less than
   * 150 µs (a deadline less than that past the alarm's lead is polled for all the way): that
   * short a sleep is not worth its wake-up. Larger values trade that much CPU per timer for
   * precision; 0 always sleeps, to the deadline. Both drivers: attached, the alarm wakes Node's
   * loop that early and the turn polls through the rest (Node waits that long); and before a
   * sleep of Node's from 400 µs to 100 ms, it wakes Node 250 µs earlier still, once (a
   * pre-wake: docs/loop.md, "A short last sleep").
   */
  spinUs?: number;
}

type Mode = 'idle' | 'run' | 'sync' | 'attached';

export class Loop extends EventEmitter {
  /** The epoll fd this loop owns. */
  readonly epfd: number;
  private readonly events: Uint32Array;
  /** The events' ArrayBuffer: what the poll passes (cheaper for Node-API than the view). */
  private readonly eventsBuffer: ArrayBuffer;
  private readonly usePwait2: boolean;

  // ── watchers ──
  private readonly slots: (Watcher | undefined)[] = [];
  private readonly generations: number[] = [];
  private readonly freeSlots: number[] = [];
  /** Slots released while a batch is being dispatched: reused only after it. */
  private readonly releasedInBatch: number[] = [];
  private readonly byFd: (Watcher | undefined)[] = [];
  private watcherCount = 0;
  private streamCount = 0;
  /** Events of the loop's own watchers in the current turn (the attached driver's timerfd). */
  private internalEvents = 0;
  /** Events for the user's watchers in the last iteration (run() picks how to queue the next). */
  private lastTurnIo = 0;
  private dispatching = false;
  /** @internal Batched reads and writes of stream watchers (net sockets). */
  readonly _streams = new StreamBatch();

  // ── timers and immediates ──
  private readonly timers = new TimerHeap<Timer>();
  private readonly dueTimers: (Timer | undefined)[] = [];
  private timerSeq = 0;
  // Counted arrays (entries [0, queuedImmediates)), swapped each immediates phase: `length = 0`
  // would drop the backing store, an allocation per iteration. Cleared immediates stay queued,
  // not pending, until the phase.
  private immediateQueue: (Immediate | undefined)[] = [];
  private spareQueue: (Immediate | undefined)[] = [];
  private queuedImmediates = 0;
  private pendingImmediates = 0;
  /** Callbacks deferred to the next iteration (libuv's pending/closing callbacks). */
  private deferredFns: ((arg: unknown) => void)[] = [];
  private deferredArgs: unknown[] = [];

  // ── lifetime ──
  private refs = 0;
  private time: number;
  private stopRequested = false;
  private closedFlag = false;
  /** @internal True while close({ force }) tears the handles down. */
  _closing = false;
  private mode: Mode = 'idle';
  private inTurn = false;
  private readonly errors: unknown[] = [];
  /** @internal */ _driver: AttachedDriver | null = null;
  /** The alarm clock: a timerfd in our epoll set. */
  private readonly deadline: DeadlineTimer;
  private autoAttached = false;
  private autoAttachScheduled = false;
  private readonly autoAttach: boolean;
  private readonly spinMs: number;
  private readonly wakeLatency = new WakeLatency();
  /** When the current iteration's wait began (ms), +∞ if it did not wait (a look, or a spin). */
  private waitStart = Number.POSITIVE_INFINITY;

  /** @internal */ readonly _counters: LoopCounters;
  /** The flight recorder (off until `trace.start()`): see trace.ts. */
  readonly trace = new Tracer();
  private tracing = false;

  constructor(options: LoopOptions = {}) {
    super();
    const maxEvents = options.maxEvents ?? STREAM_SLICE;
    if (!Number.isInteger(maxEvents) || maxEvents < 1 || maxEvents > 65536) {
      throw outOfRange('options.maxEvents', 'an integer from 1 to 65536', maxEvents);
    }
    this.autoAttach = options.autoAttach === true;
    const spinUs = options.spinUs ?? 50;
    if (typeof spinUs !== 'number' || !(spinUs >= 0) || spinUs > 1e6) throw outOfRange('options.spinUs', 'a number of µs from 0 to 1,000,000', spinUs);
    this.spinMs = spinUs / 1000;
    this.events = new Uint32Array(2 * maxEvents);
    this.eventsBuffer = this.events.buffer as ArrayBuffer;
    this.epfd = sys.epoll_create1(sys.EPOLL_CLOEXEC);
    this.time = monotonicMs();
    this._counters = new LoopCounters();
    this._counters.since = this.time;
    this.trace._onToggle = (on) => {
      this.tracing = on;
    };
    try {
      this.usePwait2 = probePwait2(this.epfd, this.events);
      // Made now, not when the first timer needs it: a server whose fd table is full (EMFILE)
      // must still be able to sleep until its timers (issue #20).
      this.deadline = new DeadlineTimer(this);
    } catch (e) {
      sys.close(this.epfd);
      throw e;
    }
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
    if (typeof fd !== 'number') throw invalidArgType('fd', 'of type number', fd);
    if (!Number.isInteger(fd) || fd < 0 || fd > INT_MAX) throw outOfRange('fd', 'an integer >= 0', fd);
    checkInterest(interest);
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    const slot = this.allocateSlot();
    const token = ((this.generations[slot]! << SLOT_BITS) | slot) >>> 0;
    // The kernel says EEXIST if fd is already in our set; that is the "watched twice" error.
    try {
      epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, interest, token);
    } catch (e) {
      this.freeSlots.push(slot);
      throw e;
    }
    const w = new Watcher(this, fd, interest, callback, token);
    const previous = this.byFd[fd];
    // ADD succeeded although a live watcher had this fd number: its fd was closed without
    // closing the watcher and the number was reused. It must never touch this registration.
    if (previous !== undefined) previous._orphaned = true;
    this.byFd[fd] = w;
    this.slots[slot] = w;
    this.watcherCount++;
    this.addRefs(1);
    return w;
  }

  /**
   * @internal Make `w` a stream watcher: when it is readable, the loop reads it in the batch
   * read of the iteration and hands the bytes to `owner._onRead` before calling `w.callback`.
   */
  _setStream(w: Watcher, owner: StreamOwner): void {
    if (w._stream === null && !w._closed) this.streamCount++;
    w._stream = owner;
  }

  /** @internal */
  _modifyWatcher(w: Watcher, interest: number): void {
    if (w._closed || w._orphaned) {
      throw new LoopError('ERR_WATCHER_CLOSED', `watcher for fd ${w.fd} is closed`);
    }
    checkInterest(interest);
    epoll_ctl(this.epfd, EPOLL_CTL_MOD, w.fd, interest, w.token);
    w.interest = interest;
  }

  /** @internal */
  _closeWatcher(w: Watcher): void {
    if (w._closed) return;
    w._closed = true;
    this.watcherCount--;
    if (w._stream !== null) this.streamCount--;
    if (w._refed) this.addRefs(-1);
    const slot = w.token & SLOT_MASK;
    this.slots[slot] = undefined;
    this.generations[slot] = (this.generations[slot]! + 1) % GENERATIONS;
    if (this.dispatching) this.releasedInBatch.push(slot);
    else this.freeSlots.push(slot);
    if (w._orphaned || this.byFd[w.fd] !== w) return;
    this.byFd[w.fd] = undefined;
    if (this.closedFlag) return;
    try {
      epoll_ctl(this.epfd, EPOLL_CTL_DEL, w.fd);
    } catch (e) {
      // The user closed the fd first (EBADF), or closed it and the number now names another
      // file that is not in our set (ENOENT): the kernel already dropped the registration.
      if (!sys.isSystemError(e, 'EBADF') && !sys.isSystemError(e, 'ENOENT')) throw e;
    }
  }

  /** @internal */
  _refWatcher(w: Watcher, ref: boolean): void {
    if (w._refed === ref) return;
    w._refed = ref;
    if (!w._closed) this.addRefs(ref ? 1 : -1);
  }

  private allocateSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.slots.length;
    if (slot > SLOT_MASK) throw new RangeError(`too many watchers on one loop (max ${SLOT_MASK + 1})`);
    this.slots.push(undefined);
    this.generations.push(0);
    return slot;
  }

  // ══ Timers and immediates ═══════════════════════════════════════════════════════════════

  /**
   * Call `callback(...args)` once, `ms` milliseconds from now (fractions allowed). Never early:
   * it runs in the first iteration whose clock reads at or past the deadline.
   */
  setTimeout(callback: (_?: undefined) => void, ms?: number): Timer;
  setTimeout<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): Timer;
  setTimeout(callback: TimerCallback, ms?: number, ...args: unknown[]): Timer {
    return this.createTimer(callback, ms, false, args);
  }

  /**
   * Call `callback(...args)` every `ms` milliseconds. Each deadline is the previous one plus
   * `ms` (no drift); beats missed while the loop was busy are skipped, not run in a burst.
   */
  setInterval(callback: (_?: undefined) => void, ms?: number): Timer;
  setInterval<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): Timer;
  setInterval(callback: TimerCallback, ms?: number, ...args: unknown[]): Timer {
    return this.createTimer(callback, ms, true, args);
  }

  /** Run `callback(...args)` after the I/O callbacks of the next (or current) iteration. */
  setImmediate(callback: (_?: undefined) => void): Immediate;
  setImmediate<A extends unknown[]>(callback: (...args: A) => void, ...args: A): Immediate;
  setImmediate(callback: TimerCallback, ...args: unknown[]): Immediate {
    this.assertOpen();
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    const im = new Immediate(this, callback, args.length > 0 ? args : undefined);
    this.immediateQueue[this.queuedImmediates++] = im;
    this.pendingImmediates++;
    this.addRefs(1);
    if (this.pendingImmediates === 1) this.scheduleChanged();
    return im;
  }

  /** Cancel `timer`. Anything else — another loop's timer included — is ignored, as Node does. */
  clearTimeout(timer: Timer | undefined | null): void {
    if (timer instanceof Timer && timer._owner === this) this._stopTimer(timer);
  }

  /** Cancel `timer`. Anything else — another loop's timer included — is ignored, as Node does. */
  clearInterval(timer: Timer | undefined | null): void {
    if (timer instanceof Timer && timer._owner === this) this._stopTimer(timer);
  }

  /** Cancel `immediate`. Anything else — another loop's immediate included — is ignored. */
  clearImmediate(immediate: Immediate | undefined | null): void {
    if (immediate instanceof Immediate && immediate._owner === this) this._clearImmediate(immediate);
  }

  private createTimer(callback: TimerCallback, ms: unknown, repeat: boolean, args: unknown[]): Timer {
    this.assertOpen();
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    const delay = normalizeDelay(ms);
    const t = new Timer(this, callback, delay, repeat ? delay : -1, args.length > 0 ? args : undefined);
    this._startTimer(t);
    return t;
  }

  /** @internal (Re)start `t`: deadline = now + delay, measured now, not at the cached loop time. */
  _startTimer(t: Timer): void {
    if (this.closedFlag) return;
    if (t._state === TimerState.Scheduled) this.timers.remove(t);
    else if (t._state === TimerState.Idle && t._refed) this.addRefs(1);
    t.deadline = monotonicMs() + t.delay;
    t.seq = this.timerSeq++;
    t._state = TimerState.Scheduled;
    this.timers.push(t);
    if (this.timers.peek() === t) this.scheduleChanged();
  }

  /** @internal */
  _stopTimer(t: Timer): void {
    if (t._state === TimerState.Idle) return;
    if (t._state === TimerState.Scheduled) this.timers.remove(t);
    t._state = TimerState.Idle;
    if (t._refed) this.addRefs(-1);
  }

  /** @internal */
  _refTimer(t: Timer, ref: boolean): void {
    if (t._refed === ref) return;
    t._refed = ref;
    if (t._state !== TimerState.Idle) this.addRefs(ref ? 1 : -1);
  }

  /** @internal */
  _clearImmediate(im: Immediate): void {
    if (!im._pending) return;
    im._pending = false;
    this.pendingImmediates--;
    if (im._refed) this.addRefs(-1);
  }

  /** @internal */
  _refImmediate(im: Immediate, ref: boolean): void {
    if (im._refed === ref) return;
    im._refed = ref;
    if (im._pending) this.addRefs(ref ? 1 : -1);
  }

  /**
   * @internal Run `fn(arg)` at the start of the next iteration, after the promise jobs and
   * nextTicks of this one — where Node's `'close'` events come from (a handle's close callback).
   * Keeps the loop alive until it has run.
   */
  _defer<T>(fn: (arg: T) => void, arg: T): void {
    this.assertOpen();
    this.deferredFns.push(fn as (arg: unknown) => void);
    this.deferredArgs.push(arg);
    this.addRefs(1);
    if (this.deferredFns.length === 1) this.scheduleChanged();
  }

  private runDeferred(): void {
    const fns = this.deferredFns;
    const args = this.deferredArgs;
    this.deferredFns = [];
    this.deferredArgs = [];
    for (let i = 0; i < fns.length; i++) {
      this.addRefs(-1);
      try {
        fns[i]!(args[i]);
      } catch (e) {
        this.report(e);
      }
    }
  }

  // ══ Time and timeout ════════════════════════════════════════════════════════════════════

  /** The loop's cached CLOCK_MONOTONIC time in ms, updated once per phase (like `uv_now`). */
  now(): number {
    return this.time;
  }

  /** Refresh the cached time (`uv_update_time`). */
  updateTime(): number {
    this.time = monotonicMs();
    return this.time;
  }

  /**
   * The timeout, in ms, the next epoll_wait will be given: 0 when immediates are pending or the
   * loop is stopping; −1 when there is no timer; otherwise the earliest deadline minus now,
   * rounded up (to the nanosecond with epoll_pwait2, to the millisecond without), at most INT_MAX.
   */
  nextTimeout(): number {
    return this.timeoutAt(monotonicMs());
  }

  /** Work that must not wait for a sleep: stop(), immediates, deferred callbacks, batched writes. */
  private workPending(): boolean {
    return this.stopRequested || this.pendingImmediates > 0 || this.deferredFns.length > 0 || this._streams.pendingWrites > 0;
  }

  /** Whether, at the cached time, the next iteration would wait (sleep or spin), not run at once. */
  private willWait(): boolean {
    const now = this.time;
    return this.timeoutAt(now) !== 0 || this.spinDeadline(now) > 0;
  }

  /**
   * The next timer's deadline, to poll towards, when a timer is all there is to wait for and
   * spinUs > 0; else −1. Callers poll only when timeoutAt() says not to sleep (the timer is due
   * within leadMs + MIN_SLEEP_MS; the attached driver, within leadMs).
   */
  private spinDeadline(now: number): number {
    if (this.spinMs === 0 || this.workPending()) return -1;
    const first = this.timers.peek();
    return first !== undefined && first.deadline > now ? first.deadline : -1;
  }

  private timeoutAt(now: number): number {
    if (this.workPending()) return 0;
    const first = this.timers.peek();
    if (first === undefined) return -1;
    // With spinUs, sleep only until that long before the deadline (plus a wake-up's latency:
    // leadMs), then poll (see LoopOptions);
    // and only if the sleep would last more than MIN_SLEEP_MS, else poll all the way.
    const ms = first.deadline - this.leadMs - now;
    if (ms <= 0 || (this.spinMs > 0 && ms <= MIN_SLEEP_MS)) return 0;
    if (ms >= INT_MAX) return INT_MAX;
    // Round up, never down: waking before the deadline would only mean waiting again.
    return this.usePwait2 ? Math.ceil(ms * 1e6) / 1e6 : Math.ceil(ms);
  }

  // ══ Iteration ═══════════════════════════════════════════════════════════════════════════

  /**
   * @internal One iteration: poll with `timeout` (ms, −1 = block), then the phases. `now` is the
   * clock reading the timeout was computed from (it starts the asleep/awake accounting);
   * `polled` ≥ 0 means the poll was already done and found that many events. Returns whether
   * the iteration was quiet: no callback of the user's ran (nothing ready but the loop's own
   * alarm timerfd, no timer due, no immediate or deferred callback).
   */
  _turn(timeout: number, now: number, polled = -1): boolean {
    this.inTurn = true;
    const c = this._counters;
    c.iterations++;
    if (this.tracing) this.traceBegin(timeout, now, polled >= 0);
    // `polled`: the events are already in the array (run() looked before sleeping).
    const n = polled >= 0 ? polled : this.poll(timeout);
    // Already polled (run() read `now` right before its non-blocking look, or spun until it):
    // `now` still stands, one clock read fewer per busy iteration. Otherwise read the clock: the
    // wait may have slept, and the attached driver's `now` is when its previous turn ended.
    let time = polled >= 0 ? now : monotonicMs();
    c.asleepMs += time - now;
    this.time = time;
    this.waitStart = polled >= 0 ? Number.POSITIVE_INFINITY : now;
    if (this.tracing) {
      this.trace._woke(time, this.events, n, (token) => {
        const w = this.slots[token & SLOT_MASK];
        return w === undefined || w._internal ? -1 : w.fd;
      });
    }
    const deferred = this.deferredFns.length;
    if (deferred > 0) this.runDeferred();
    if (n > 0) this.dispatch(n);
    const immediates = this.runImmediates();
    // Callbacks ran: read the clock again, so timers fire (and lateness is measured) at the
    // time they really run.
    if (n > 0 || immediates > 0 || deferred > 0) this.time = time = monotonicMs();
    const fired = this.runTimers();
    if (this._streams.pendingWrites > 0) this.flushStreams();
    // Why did this wait end? Events; else a due timer; else work that needed no sleep; else nothing.
    const io = n - this.internalEvents;
    this.internalEvents = 0;
    this.lastTurnIo = io;
    if (io > 0) c.ioWakeups++;
    else if (fired > 0) c.timerWakeups++;
    else if (immediates > 0 || deferred > 0 || timeout === 0) c.immediateWakeups++;
    else c.emptyWakeups++;
    this.inTurn = false;
    if (this.tracing) this.trace._end(monotonicMs());
    this.throwErrors();
    return io === 0 && fired === 0 && immediates === 0 && deferred === 0;
  }

  /** Records why this iteration's timeout is what it is (flight recorder only). */
  private traceBegin(timeout: number, now: number, peeked: boolean): void {
    const first = this.timers.peek();
    let reason: TimeoutReason;
    if (peeked) reason = 'peek';
    else if (timeout === -1) reason = 'no-timers';
    else if (timeout > 0) reason = 'timer';
    else if (this.stopRequested) reason = 'stopping';
    else if (this.pendingImmediates > 0 || this.deferredFns.length > 0) reason = 'immediates';
    else if (this._streams.pendingWrites > 0) reason = 'writes';
    else if (first !== undefined && first.deadline <= now) reason = 'due';
    else reason = 'no-wait';
    const timer = reason === 'timer' || reason === 'due' || reason === 'peek' ? first : undefined;
    const lead = reason === 'timer' ? this.leadMs : 0;
    this.trace._begin(this._counters.iterations, now, timeout, reason, timer?.seq ?? -1, timer?.delay ?? 0, lead);
  }

  private poll(timeout: number): number {
    if (this.usePwait2) {
      return epoll_pwait2(this.epfd, this.eventsBuffer, timeout < 0 ? -1 : Math.round(timeout * 1e6));
    }
    return epoll_wait(this.epfd, this.eventsBuffer, timeout < 0 ? -1 : Math.ceil(timeout));
  }

  private dispatch(n: number): void {
    const c = this._counters;
    this.dispatching = true;
    // Streams are served in slices of STREAM_SLICE events: read the slice's sockets (one native
    // call), run its callbacks, send what they wrote (one more), then the next slice. Reading a
    // thousand sockets before answering any makes the kernel free a thousand peers' buffers on
    // our CPU at once, and on a VM the cross-CPU interrupts that triggers cost more than the
    // extra native calls (measured: echo at 1,000 connections, ~12% more messages per CPU-s).
    if (this.streamCount > 0) {
      for (let lo = 0; lo < n; lo += STREAM_SLICE) {
        const hi = Math.min(lo + STREAM_SLICE, n);
        this.dispatchRange(lo, hi);
        if (hi < n && this._streams.pendingWrites > 0) this.flushStreams();
      }
    } else this.dispatchRange(0, n);
    this.dispatching = false;
    c.eventsDelivered += n - this.internalEvents;
    c.eventsMax = Math.max(c.eventsMax, n); // branch-free, as LatencyHistogram.add
    const released = this.releasedInBatch;
    while (released.length > 0) this.freeSlots.push(released.pop()!);
  }

  /** Delivers events [lo, hi) of this batch. */
  private dispatchRange(lo: number, hi: number): void {
    const events = this.events;
    const slots = this.slots;
    const c = this._counters;
    const streams = this._streams;
    const batchReads = this.streamCount > 0;
    // Pass 1: every ready stream that wants its data read is read now, in one native call.
    if (batchReads) {
      for (let i = lo; i < hi; i++) {
        const token = events[2 * i + 1]!;
        const w = slots[token & SLOT_MASK];
        if (w === undefined || w.token !== token || w._closed) continue;
        const owner = w._stream;
        if (owner?._wantsRead && events[2 * i]! & READABLE) streams.addRead(owner);
      }
      if (streams.pendingReads > 0) streams.readAll(this.time);
    }
    // Pass 2: callbacks, in the kernel's order.
    for (let i = lo; i < hi; i++) {
      const token = events[2 * i + 1]!;
      const w = slots[token & SLOT_MASK];
      // A registration closed earlier in this batch (its slot is held until the batch ends),
      // or one from before an fd number was reused: never delivered.
      if (w === undefined || w.token !== token || w._closed) {
        c.eventsStale++;
        continue;
      }
      if (w._internal) this.internalEvents++;
      const t0 = this.tracing ? monotonicMs() : 0;
      try {
        if (w._stream !== null) {
          streams.deliverRead(w._stream, events[2 * i]!);
          if (w._closed) continue;
        }
        w.callback(events[2 * i]!, w);
      } catch (e) {
        this.report(e);
      }
      // The loop's own alarm timerfd is not the user's I/O: it shows as "alarm" (its event is
      // left out of the iteration's event list too).
      if (this.tracing) this.trace._callback(w._internal ? 'alarm' : 'io', w.fd, events[2 * i]!, t0, monotonicMs());
    }
    if (batchReads) streams.endReads();
  }

  /** Sends what streams wrote during this turn; writes made while settling go out too. */
  private flushStreams(): void {
    for (let round = 0; round < 8 && this._streams.pendingWrites > 0; round++) {
      try {
        this._streams.flushWrites();
      } catch (e) {
        this.report(e);
      }
    }
  }

  /** Runs the immediates queued before this phase; returns how many ran. */
  private runImmediates(): number {
    const count = this.queuedImmediates;
    if (count === 0) return 0;
    let ran = 0;
    // Swap queues: immediates queued by these callbacks wait for the next iteration.
    const batch = this.immediateQueue;
    this.immediateQueue = this.spareQueue;
    this.queuedImmediates = 0;
    for (let i = 0; i < count; i++) {
      const im = batch[i]!;
      batch[i] = undefined;
      if (!im._pending) continue;
      im._pending = false;
      this.pendingImmediates--;
      if (im._refed) this.addRefs(-1);
      ran++;
      const t0 = this.tracing ? monotonicMs() : 0;
      try {
        if (im._args === undefined) im._callback.call(im);
        else im._callback.apply(im, im._args);
      } catch (e) {
        this.report(e);
      }
      if (this.tracing) this.trace._callback('immediate', -1, 0, t0, monotonicMs());
    }
    if (count > SHRINK_AFTER) batch.length = 0; // a burst: give its memory back
    this.spareQueue = batch;
    return ran;
  }

  /** Runs the timers due at the cached time; returns how many fired. */
  private runTimers(): number {
    const heap = this.timers;
    const now = this.time;
    let first = heap.peek();
    if (first === undefined || first.deadline > now) return 0;
    // Snapshot every due timer before running any: what the callbacks schedule (a 0 ms timer
    // included) waits for the next iteration, so timers cannot starve I/O.
    // A counted array: `length = 0` would drop its backing store, one allocation per iteration.
    const due = this.dueTimers;
    let count = 0;
    while (first !== undefined && first.deadline <= now) {
      heap.pop();
      first._state = TimerState.Due;
      due[count++] = first;
      first = heap.peek();
    }
    const c = this._counters;
    let fired = 0;
    for (let i = 0; i < count; i++) {
      const t = due[i]!;
      due[i] = undefined;
      if (t._state !== TimerState.Due) continue; // cleared or refreshed by an earlier callback
      const late = now - t.deadline;
      const seq = t.seq;
      c.lateness.add(late);
      fired++;
      // A one-shot is done before its callback runs (which may refresh() it); an interval stays
      // Due through its callback and is re-armed after it, unless the callback cleared it.
      if (t.repeat < 0) {
        t._state = TimerState.Idle;
        if (t._refed) this.addRefs(-1);
      }
      const t0 = this.tracing ? monotonicMs() : 0;
      try {
        if (t._args === undefined) t._callback.call(t);
        else t._callback.apply(t, t._args);
      } catch (e) {
        this.report(e);
      }
      if (this.tracing) this.trace._callback('timer', seq, late, t0, monotonicMs());
      if (t._state === TimerState.Due) this.rearmInterval(t);
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
    t.seq = this.timerSeq++;
    t._state = TimerState.Scheduled;
    this.timers.push(t);
  }

  private report(e: unknown): void {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', e);
        return;
      } catch (e2) {
        e = e2;
      }
    }
    this.errors.push(e);
  }

  /** After an iteration, with all bookkeeping done: rethrow what callbacks threw, if unhandled. */
  private throwErrors(): void {
    const errors = this.errors;
    if (errors.length === 0) return;
    const error = errors.length === 1 ? errors[0] : new AggregateError(errors.slice(), `${errors.length} loop callbacks threw`);
    errors.length = 0;
    throw error;
  }

  // ══ Running ═════════════════════════════════════════════════════════════════════════════

  /** Whether anything referenced is left: watchers, pending timers or immediates. */
  get alive(): boolean {
    return this.refs > 0 && !this.closedFlag;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** How this loop is being driven right now. */
  get driver(): 'none' | 'standalone' | 'attached' {
    return this.mode === 'attached' ? 'attached' : this.mode === 'idle' ? 'none' : 'standalone';
  }

  /**
   * Run the loop on this thread until nothing referenced is left or `stop()` is called.
   * The thread sleeps in epoll_wait between iterations, so **Node's own loop is stalled while
   * `run()` is active**: Node timers, fs callbacks and signal listeners wait until it returns.
   * Promise jobs and `process.nextTick` callbacks run after every iteration. Use `attach()` to
   * run inside Node's loop instead.
   *
   * Rejects with what a callback threw when no `'error'` listener handles it (the loop state is
   * consistent; `run()` can be called again).
   */
  run(): Promise<void> {
    this.enter('run');
    return new Promise<void>((resolve, reject) => {
      // Each iteration runs as a nextTick callback and schedules the next one through a promise
      // job: Node then runs, between two iterations, the nextTicks the callbacks queued, then
      // their promise jobs (the same order as after any Node callback), then the next one.
      //
      // Sleeping is different: JavaScript queued by something else (a nextTick queued before
      // ours, a promise job queued by a later one) must not wait for our wake-up. So before an
      // iteration may sleep, it first polls without sleeping; if nothing is ready it yields once
      // to Node with setImmediate — by the time that runs, every nextTick and promise job is
      // done — and only then sleeps. After an iteration without I/O that leaves nothing due (an
      // idle loop between timers), the next one will want to wait: it is queued with that
      // setImmediate at once, not through a promise job, a nextTick and a look first — the one
      // yield, a third of the garbage per timer (scavenges are an idle loop's worst lateness).
      let mayBlock = false;
      const step = (): void => {
        try {
          if (this.stopRequested || !this.alive) {
            this.leave();
            resolve();
            return;
          }
          const now = monotonicMs();
          const timeout = this.timeoutAt(now);
          const spinUntil = timeout === 0 ? this.spinDeadline(now) : -1;
          if (mayBlock || (timeout === 0 && spinUntil < 0)) {
            mayBlock = false;
            const quiet = spinUntil > 0 ? this.spinTurn(spinUntil) : this.sleepTurn(timeout, now);
            // Woke with nothing run — typically the alarm ahead of a timer: no JavaScript
            // has run since the yield, so go on waiting here rather than through another
            // promise job, nextTick, look and yield. Their garbage and time were half of what
            // an idle loop spent per timer.
            if (quiet) this.waitOn();
          } else {
            // About to wait (sleep or spin): look first, and if nothing is ready, yield to Node
            // once, so that nothing queued elsewhere waits for our wake-up.
            const n = this.poll(0);
            if (n === 0) {
              mayBlock = true;
              nodeSetImmediate(step);
              return;
            }
            this._turn(timeout, now, n);
          }
        } catch (e) {
          this.leave();
          reject(e);
          return;
        }
        if (this.lastTurnIo === 0 && this.alive && !this.stopRequested && this.willWait()) {
          mayBlock = true;
          nodeSetImmediate(step);
        } else RESOLVED.then(queueStep);
      };
      const queueStep = (): void => nextTick(step);
      queueStep();
    });
  }

  /**
   * After an iteration that ran nothing of the user's (woken by the alarm ahead of a timer):
   * go on waiting — sleep again, or poll — until an iteration runs something,
   * the loop stops or dies, or the timer is due with nothing left to wait (then returns true:
   * still quiet, the caller runs it).
   */
  private waitOn(): boolean {
    let quiet = true;
    while (quiet && !this.stopRequested && this.alive) {
      const t = monotonicMs();
      const next = this.timeoutAt(t);
      if (next > 0) quiet = this.sleepTurn(next, t);
      else {
        const until = this.spinDeadline(t);
        if (until < 0) break;
        quiet = this.spinTurn(until);
      }
    }
    return quiet;
  }

  /** An iteration that sleeps up to `timeout` ms (> 0): the alarm timerfd rings on time. */
  private sleepTurn(timeout: number, now: number): boolean {
    this.armForSleep(timeout);
    return this._turn(timeout, now);
  }

  /**
   * An iteration that polls until `until` (ms, a timer due within spinUs) or the first event, in
   * one native call (sys.epoll_spin): not one iteration, or one crossing and a boxed clock
   * reading, per look — their garbage, collected in the middle of a spin, cost more lateness
   * than the spin saved.
   */
  private spinTurn(until: number): boolean {
    const n = epoll_spin(this.epfd, this.eventsBuffer, Math.ceil(until * 1e6));
    return this._turn(0, monotonicMs(), n);
  }

  /**
   * One iteration, blocking in epoll_wait until an event or the nearest timer if needed.
   * Returns whether the loop is still alive. Returns at once when nothing is alive. Like libuv's
   * UV_RUN_ONCE it makes progress: a wake-up that ran nothing (the loop's alarm rings ahead of
   * a timer, see LoopOptions.spinUs) waits on, so a call that waited for a timer returns after
   * running it (`stats().iterations` counts each wake-up).
   * Synchronous: promise jobs run only after the caller returns to the event loop.
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
    try {
      const now = monotonicMs();
      if (!this.stopRequested && this.alive) {
        const timeout = mayBlock ? this.timeoutAt(now) : 0;
        this.armForSleep(timeout);
        // runOnce makes progress, as libuv's UV_RUN_ONCE does: a wake-up that ran nothing (the
        // alarm rings ahead of a timer) waits on, and a timer due by then runs.
        if (this._turn(timeout, now) && mayBlock && this.waitOn() && !this.stopRequested && this.alive) {
          this._turn(0, monotonicMs());
        }
      } else this.time = now;
    } finally {
      this.leave();
    }
    return this.alive;
  }

  /**
   * Make `run()` return after the current iteration (its next epoll_wait does not block).
   * On an attached loop: detach from Node's loop after the current turn.
   */
  stop(): void {
    if (this.mode === 'attached' && !this.inTurn) {
      this.detach();
      return;
    }
    this.stopRequested = true;
  }

  /** @internal The attached driver calls this after each turn. */
  _afterAttachedTurn(): void {
    if (!this.stopRequested) return;
    this.stopRequested = false;
    this.detach();
  }

  private enter(mode: Mode): void {
    this.assertOpen();
    // From inside one of its own callbacks the loop is mid-iteration, whatever drives it: a
    // nested iteration would reuse the outer one's events array and read batch (issue #20).
    if (this.inTurn) throw new LoopError('ERR_LOOP_RUNNING', 'cannot run the loop from inside one of its own callbacks');
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
    this.stopRequested = false;
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
      this._driver = new AttachedDriver(this);
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
    const driver = this._driver!;
    this._driver = null;
    this.mode = 'idle';
    this.autoAttached = false;
    driver.close();
    return this;
  }

  /** @internal Arm the deadline timerfd for `deadline` (ms; 0 = at once, −1 = disarm). */
  _armDeadline(deadline: number): void {
    this.deadline.arm(deadline);
  }

  /** Before a sleep with a timer to wake for: the timerfd rings on time (see deadline.ts). */
  private armForSleep(timeout: number): void {
    if (timeout > 0) this._armDeadline(this.timers.peek()!.deadline - this.leadMs);
  }

  /**
   * @internal The alarm armed for `at` (ms) rang, and the loop is now running at `this.time`:
   * if this iteration was waiting for it (its wait began before `at`), that is one wake-up's
   * latency to learn from. Attached, the wait is Node's, and may include its own callbacks.
   */
  _alarmRang(at: number): void {
    if (at < this.waitStart || this.spinMs === 0) return;
    this.wakeLatency.sample(this.time - at);
  }

  /**
   * How long before a timer the alarm rings (ms): spinUs plus the learned wake-up latency
   * (deadline.ts), so that the poll starts about spinUs before the deadline; 0 with spinUs 0
   * (nothing is learnt then).
   */
  private get leadMs(): number {
    return this.spinMs + this.wakeLatency.value;
  }

  /** @internal Used by the attached driver: is it inside a turn right now? */
  get _inTurn(): boolean {
    return this.inTurn;
  }

  /**
   * @internal The earliest instant the attached driver must wake at (ms), −1 for never, 0 for
   * now: for a timer, leadMs (spinUs and a wake-up's latency) before its deadline (the turn
   * then polls through the rest); PRE_WAKE_MS before that if Node would sleep long until then.
   * `now`: the clock, if the caller has just read it (after a turn); else it is read here, and
   * only when a timer is waiting.
   */
  _wakeDeadline(now?: number): number {
    if (this.workPending()) return 0;
    const first = this.timers.peek();
    if (first === undefined) return -1;
    const at = first.deadline - this.leadMs;
    const ms = at - (now ?? monotonicMs());
    return this.spinMs > 0 && ms > PRE_WAKE_MS + MIN_SLEEP_MS && ms < PRE_WAKE_MAX_MS ? at - PRE_WAKE_MS : at;
  }

  /**
   * @internal One turn of the attached driver (`lastEnd`: when the previous one ended): a
   * non-blocking iteration; then, if it ran nothing of the user's and a timer is due within
   * leadMs — the alarm rang that early — the poll through the rest of the stretch, as
   * standalone. Node's loop waits for it: about spinUs per timer, after its own callbacks,
   * nextTicks and promise jobs have run (they ran when the previous turn returned).
   */
  _attachedTurn(lastEnd: number): void {
    if (!this._turn(0, lastEnd)) return;
    const now = monotonicMs();
    const until = this.spinDeadline(now); // −1 with spinUs 0, or work pending
    if (until > 0 && until - now <= this.leadMs) this.spinTurn(until);
  }

  /** The earliest timer deadline changed, or the first immediate was queued. */
  private scheduleChanged(): void {
    if (this._driver !== null && !this.inTurn) this._driver.wake();
  }

  private addRefs(delta: number): void {
    const wasAlive = this.refs > 0;
    this.refs += delta;
    if (this.refs > 0 === wasAlive) return;
    this._driver?.setRef(this.refs > 0);
    if (!wasAlive) this.maybeAutoAttach();
  }

  private maybeAutoAttach(): void {
    if (!this.autoAttach || this.autoAttachScheduled || this.mode !== 'idle' || this.refs === 0) return;
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
    const c = this._counters;
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
        wakeLatency: this.wakeLatency.value,
      },
      alive: { watchers: this.userWatchers(), timers: this.timers.size, immediates: this.pendingImmediates, refs: this.refs },
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
    if (this.closedFlag) return;
    if (this.mode === 'run' || this.mode === 'sync') {
      throw new LoopError('ERR_LOOP_RUNNING', 'cannot close a loop while it runs; stop() it first');
    }
    const watchers = this.userWatchers();
    if (watchers + this.timers.size + this.pendingImmediates > 0 && !options.force) {
      throw new LoopError(
        'ERR_LOOP_BUSY',
        `loop has ${watchers} watcher(s), ${this.timers.size} timer(s), ${this.pendingImmediates} immediate(s) open`,
      );
    }
    this.detach();
    this.deadline.close();
    this._closing = true;
    for (const w of this.slots) {
      if (w === undefined || w._closed) continue;
      try {
        w._onLoopClose?.(w);
      } catch (e) {
        this.report(e);
      }
      w.close();
    }
    while (this.timers.size > 0) this._stopTimer(this.timers.peek()!);
    for (let i = 0; i < this.queuedImmediates; i++) this._clearImmediate(this.immediateQueue[i]!);
    this.addRefs(-this.deferredFns.length);
    this.deferredFns = [];
    this.deferredArgs = [];
    this.closedFlag = true;
    this._closing = false;
    sys.close(this.epfd);
  }

  /** Watchers the user made (the deadline timerfd's is the loop's own). */
  private userWatchers(): number {
    return this.watcherCount - (this.deadline.closed ? 0 : 1);
  }

  private assertOpen(): void {
    if (this.closedFlag) throw new LoopError('ERR_LOOP_CLOSED', 'the loop is closed');
  }
}

function checkInterest(interest: unknown): void {
  if (typeof interest !== 'number') throw invalidArgType('interest', 'of type number', interest);
  if (!Number.isInteger(interest) || interest < -(2 ** 31) || interest > 2 ** 32 - 1) {
    throw outOfRange('interest', 'an epoll event mask (a 32-bit integer)', interest);
  }
}

/** epoll_pwait2 (Linux ≥ 5.11) gives nanosecond timeouts; older kernels say ENOSYS. */
function probePwait2(epfd: number, events: Uint32Array): boolean {
  try {
    sys.epoll_pwait2(epfd, events, 0);
    return true;
  } catch (e) {
    if (sys.isSystemError(e, 'ENOSYS')) return false;
    throw e;
  }
}
