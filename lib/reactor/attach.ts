/**
 * The attached driver: our loop runs inside Node's own libuv loop.
 *
 * An epoll fd is itself pollable: it reads as ready when its ready list is non-empty. So libuv
 * watches our epoll fd with one `uv_poll_t` (nested epoll: Node's epoll set contains ours), and
 * when it turns readable we run one non-blocking turn (`epoll_wait(…, 0)`, then immediates and
 * due timers). Our timers must wake Node too: the earliest deadline is armed on a timerfd
 * (CLOCK_MONOTONIC, TFD_TIMER_ABSTIME) that sits in our own epoll set.
 *
 * The native callback goes through napi_make_callback, so Node drains process.nextTick and
 * promise jobs after each turn, and what a turn throws surfaces as 'uncaughtException'.
 */
import * as sys from '../sys/index';
import { type AttachHandle, native } from '../sys/native';
import { monotonicMs } from './clock';
import type { Loop } from './loop';
import type { Watcher } from './watcher';

export class AttachedDriver {
  private readonly handle: AttachHandle;
  private readonly timerfd: number;
  private readonly timerWatcher: Watcher;
  /** The wake-up instant armed on the timerfd (ms), −1 when disarmed. */
  private armed = -1;
  /** When the last turn ended: the time in between belongs to Node (asleep, or its own work). */
  private lastEnd = monotonicMs();

  constructor(private readonly loop: Loop) {
    this.timerfd = sys.timerfd_create(sys.CLOCK_MONOTONIC, sys.TFD_NONBLOCK);
    try {
      this.timerWatcher = loop.watch(this.timerfd, sys.EPOLLIN, this.onTimerfd).unref();
      this.timerWatcher._internal = true;
      this.handle = native.attach_start(loop.epfd, this.onReadable);
    } catch (e) {
      sys.close(this.timerfd);
      throw e;
    }
    this.setRef(loop.alive);
    this.wake();
  }

  /** libuv saw our epoll fd readable (or our timerfd fired inside it): one non-blocking turn. */
  private readonly onReadable = (): void => {
    try {
      this.loop._turn(0, this.lastEnd);
    } finally {
      this.lastEnd = monotonicMs();
      this.loop._afterAttachedTurn();
      if (this.loop._driver === this) this.wake();
    }
  };

  private readonly onTimerfd = (): void => {
    sys.timerfd_read(this.timerfd); // clear its readiness; the timers phase does the work
    this.armed = -1;
  };

  /** Arm the timerfd for the loop's next wake-up instant, if it changed. */
  wake(): void {
    const deadline = this.loop._wakeDeadline();
    if (deadline === this.armed) return;
    this.armed = deadline;
    // Absolute CLOCK_MONOTONIC nanoseconds; 1 ns is long past, so "now" fires at once.
    const value = deadline < 0 ? 0 : deadline === 0 ? 1 : Math.ceil(deadline * 1e6);
    sys.timerfd_settime(this.timerfd, sys.TFD_TIMER_ABSTIME, { value, interval: 0 });
  }

  /** Whether we keep Node's loop (and the process) alive: uv_ref / uv_unref. */
  setRef(ref: boolean): void {
    native.attach_ref(this.handle, ref);
  }

  close(): void {
    native.attach_stop(this.handle);
    this.timerWatcher.close();
    sys.close(this.timerfd);
  }
}
