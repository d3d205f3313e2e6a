/**
 * The standalone driver (`await loop.run()`): the mirror image of the attached one. We sleep,
 * in our own epoll_pwait2, and libuv's epoll fd (`uv_backend_fd`) sits in *our* set; the sleep
 * ends by the nearer of our next timer and Node's (`node_loop_next`). When Node's loop has work
 * — its epoll fd is readable (a socket, a thread-pool result, a signal), a Node timer is due, an
 * immediate is queued — we let it take its turn by returning to it, never by calling `uv_run`
 * re-entrantly (libuv forbids that), and go on when it comes back to us.
 *
 * Where we sleep: in Node's prepare phase (a `uv_prepare_t`, native/attach.cc), just before
 * libuv would poll. By then Node has run everything it had — its timers, its immediates, every
 * nextTick and promise job — so our sleep delays nothing of Node's. When we come back to Node,
 * a `uv_idle_t` keeps its poll from blocking: Node's loop never sleeps while we run.
 *
 * While busy, iterations run as a chain of nextTick callbacks, each queued through a promise
 * job, so that between two iterations Node runs the nextTicks the callbacks queued, then their
 * promise jobs — the same order as after any Node callback. The chain checks before each
 * iteration whether Node has work (its epoll fd came up in our last poll, or its next timer is
 * due: asked at most every NODE_CHECK_MS), and yields to Node if so. What it costs: nothing
 * while Node has nothing to do; one turn of Node's loop (an epoll_wait with timeout 0 on its
 * fd) when it does, and before each of our sleeps.
 */
import * as sys from '../sys/index';
import { type AttachHandle, native } from '../sys/native';
import { monotonicMs } from './clock';
import type { DriverHost } from './core';
import { sleepTurn, spinTurn } from './wait';
import type { Watcher } from './watcher';

/** A settled promise: `.then` on it is the cheapest way to queue a microtask. */
const RESOLVED = Promise.resolve();
/** Looked up once: `process` is an accessor on the global object, and a dictionary-mode object. */
const nextTick = process.nextTick;
/**
 * How often (ms) a busy chain asks libuv when its next timer is due: a Node timer runs at most
 * this late while our loop is busy (Node's I/O is seen at once, through its epoll fd).
 */
const NODE_CHECK_MS = 1;

export class StandaloneDriver {
  private handle: AttachHandle | null = null;
  private nodeWatcher: Watcher | null = null;
  /** Node's epoll fd came up in one of our polls since Node last had its turn. */
  private nodeReady = false;
  /** When Node's loop must run next (ms of CLOCK_MONOTONIC): 0 now, −1 only when I/O wakes it. */
  private nodeAt = -1;
  private nodeCheckedAt = Number.NEGATIVE_INFINITY;
  /** The `nodeAt` Node was last given a turn for: still the same after it, Node's clock lags. */
  private yieldedFor = -1;
  private finished = false;

  constructor(
    private readonly host: DriverHost & { waitForNode: boolean },
    /** Called once, when run() is over: with what a callback threw, if it was not handled. */
    private readonly done: (error?: unknown) => void,
  ) {}

  start(): void {
    this.nodeWatcher = this.host.watchInternal(native.uv_backend_fd(), sys.EPOLLIN, this.onNodeReady);
    try {
      this.handle = native.standalone_start(this.onPrepare);
    } catch (e) {
      this.nodeWatcher.close();
      throw e;
    }
    this.queueStep();
  }

  private readonly onNodeReady = (): void => {
    this.nodeReady = true;
  };

  /** When Node's loop must run next, as our clock reads it (see yieldedFor). */
  private nodeNext(now: number): number {
    if (now - this.nodeCheckedAt >= NODE_CHECK_MS) {
      this.nodeAt = native.node_loop_next();
      this.nodeCheckedAt = now;
    }
    // libuv may read a coarse clock (CLOCK_MONOTONIC_COARSE, when its resolution is 1 ms): a
    // timer we see due may not be due yet for Node. Given a turn for it once, Node gets the next
    // one a millisecond later, not one per iteration until its clock catches up.
    const at = this.nodeAt;
    return at > 0 && at === this.yieldedFor ? at + 1 : at;
  }

  private nodeWants(now: number): boolean {
    if (this.nodeReady) return true;
    const at = this.nodeNext(now);
    return at === 0 || (at > 0 && at <= now);
  }

  /**
   * Stop iterating here; Node's loop runs (its poll does not block) and calls onPrepare next.
   * `now`: the clock, when the yield is for Node's timer (else −∞).
   */
  private yieldToNode(now: number): void {
    const at = this.nodeAt;
    this.yieldedFor = at > 0 && at <= now ? at : -1;
    native.standalone_idle(this.handle as AttachHandle, true);
  }

  /** One busy iteration, then the next through a promise job and a nextTick (see the header). */
  private readonly step = (): void => {
    if (this.finished) return;
    const host = this.host;
    try {
      if (host.state.stopRequested || !host.alive()) {
        this.finish();
        return;
      }
      const now = monotonicMs();
      if (this.nodeWants(now)) {
        this.yieldToNode(now);
        return;
      }
      const timeout = host.timeoutAt(now);
      if (timeout === 0 && host.spinDeadline(now) < 0) host.turn(0, now);
      else {
        // About to wait: look first. Nothing ready: the wait happens in onPrepare, once Node has
        // run what it had.
        const n = host.io.poll(0);
        if (n === 0) {
        this.yieldToNode(Number.NEGATIVE_INFINITY);
        return;
      }
        host.turn(timeout, now, n);
      }
    } catch (e) {
      this.finish(e);
      return;
    }
    this.next();
  };

  private readonly queueStep = (): void => {
    nextTick(this.step);
  };

  /** After an iteration of ours: the next one, unless it would wait (then Node goes first). */
  private next(): void {
    const host = this.host;
    if (host.state.stopRequested) {
      this.finish();
      return;
    }
    if (!host.alive()) {
      // Not alive yet perhaps: the nextTicks and promise jobs the turn queued have not run (a
      // stream's 'end' → end() → destroy → deferred 'close' is such a chain). `step` asks again
      // once they have, and finishes then if the loop is still not alive.
      RESOLVED.then(this.queueStep);
      return;
    }
    if (host.lastTurnIo === 0 && host.willWait()) this.yieldToNode(Number.NEGATIVE_INFINITY);
    else RESOLVED.then(this.queueStep);
  }

  /**
   * Node's loop is about to poll (its idle request has just been withdrawn): Node has run all
   * it had. If it has more now, it goes first; else we wait — for our events, our timers, and
   * Node's, whose epoll fd is in our set — and run what came.
   */
  private readonly onPrepare = (): void => {
    if (this.finished) return;
    const host = this.host;
    this.nodeReady = false; // our next poll says again if it still is (level-triggered)
    try {
      for (;;) {
        if (host.state.stopRequested || !host.alive()) {
        this.finish();
        return;
      }
        const now = monotonicMs();
        this.nodeCheckedAt = Number.NEGATIVE_INFINITY; // Node has just run: ask afresh
        if (this.nodeWants(now)) {
        this.yieldToNode(now);
        return;
      }
        const nodeAt = this.nodeNext(now);
        let quiet: boolean;
        let timeout = host.timeoutAt(now);
        const until = timeout === 0 ? host.spinDeadline(now) : -1;
        if (timeout === 0 && until < 0) quiet = host.turn(0, now);
        else if (until > 0 && !(nodeAt > 0 && nodeAt < until)) quiet = spinTurn(host, until);
        else {
          let forNode = false;
          if (nodeAt > 0) {
            const ms = nodeAt - now;
            if (timeout <= 0 || ms < timeout) {
              timeout = ms;
              forNode = true;
            }
          }
          host.waitForNode = forNode;
          try {
            quiet = sleepTurn(host, timeout, now);
          } finally {
            host.waitForNode = false;
          }
        }
        if (this.finished) return;
        if (!quiet || this.nodeReady) break;
        // Woke with nothing of ours run: the alarm ahead of our timer, or Node's deadline. Go
        // on here (the loop above asks Node first) rather than through Node's loop.
      }
    } catch (e) {
      this.finish(e);
      return;
    }
    this.next();
  };

  private finish(error?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    if (this.handle !== null) native.standalone_stop(this.handle);
    this.handle = null;
    this.nodeWatcher?.close();
    this.nodeWatcher = null;
    this.done(error);
  }
}
