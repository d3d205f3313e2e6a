/**
 * The loop's alarm clock: one timerfd in the loop's own epoll set, armed at the next instant the
 * loop must wake (CLOCK_MONOTONIC, TFD_TIMER_ABSTIME).
 *
 * Why a timerfd even when the loop sleeps in its own epoll_pwait2 with a timeout: the kernel
 * ends an epoll timeout with up to the thread's timer slack of delay (50 µs by default) so that
 * it can batch wake-ups, while a timerfd expiry is exact; on this kind of machine that is the
 * difference between ~100 µs and ~50 µs of median lateness. Inside Node's loop (the attached
 * driver) it is the only way our timers can wake Node at all. It is re-armed only when the
 * instant changes; its expirations are read (and so cleared) when they arrive.
 */
import * as sys from '../sys/index';
import type { Loop } from './loop';
import type { Watcher } from './watcher';

export class DeadlineTimer {
  readonly fd: number;
  private readonly watcher: Watcher;
  /** The instant armed (ms), −1 when disarmed. */
  private armed = -1;
  private readonly spec = { value: 0, interval: 0 };

  constructor(loop: Loop) {
    this.fd = sys.timerfd_create(sys.CLOCK_MONOTONIC, sys.TFD_NONBLOCK);
    try {
      this.watcher = loop.watch(this.fd, sys.EPOLLIN, this.onExpired).unref();
    } catch (e) {
      sys.close(this.fd);
      throw e;
    }
    this.watcher._internal = true;
  }

  private readonly onExpired = (): void => {
    sys.timerfd_read(this.fd); // clear its readiness; the timers phase does the work
    this.armed = -1;
  };

  /** Arm for `deadline` (ms; 0 = at once, −1 = disarm), unless that is what is armed. */
  arm(deadline: number): void {
    if (deadline === this.armed) return;
    this.armed = deadline;
    // Absolute CLOCK_MONOTONIC nanoseconds; 1 ns is long past, so "at once" fires at once.
    const spec = this.spec; // reused: one object fewer per sleep
    spec.value = deadline < 0 ? 0 : deadline === 0 ? 1 : Math.ceil(deadline * 1e6);
    sys.timerfd_settime(this.fd, sys.TFD_TIMER_ABSTIME, spec);
  }

  close(): void {
    this.watcher.close();
    sys.close(this.fd);
  }
}
