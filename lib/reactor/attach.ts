/**
 * The attached driver: our loop runs inside Node's own libuv loop.
 *
 * An epoll fd is itself pollable: it reads as ready when its ready list is non-empty. So libuv
 * watches our epoll fd with one `uv_poll_t` (nested epoll: Node's epoll set contains ours), and
 * when it turns readable we run one non-blocking turn (`epoll_wait(…, 0)`, then immediates and
 * due timers). Our timers must wake Node too: the loop's deadline timerfd (deadline.ts), which
 * sits in our own epoll set, is armed at the next instant the loop must run.
 *
 * The native callback goes through napi_make_callback, so Node drains process.nextTick and
 * promise jobs after each turn, and what a turn throws surfaces as 'uncaughtException'.
 */
import { type AttachHandle, native } from '../sys/native';
import { monotonicMs } from './clock';
import type { Loop } from './loop';

export class AttachedDriver {
  private readonly handle: AttachHandle;
  /** When the last turn ended: the time in between belongs to Node (asleep, or its own work). */
  private lastEnd = monotonicMs();

  constructor(private readonly loop: Loop) {
    this.handle = native.attach_start(loop.epfd, this.onReadable);
    try {
      this.setRef(loop.alive);
      this.wake();
    } catch (e) {
      // A handle left running would keep turning a loop that believes it is detached, block
      // every later attach() (EEXIST), and outlive the epoll fd it polls (issue #20).
      this.close();
      throw e;
    }
  }

  /** libuv saw our epoll fd readable (or our deadline timerfd fired inside it): one turn. */
  private readonly onReadable = (): void => {
    try {
      this.loop._attachedTurn(this.lastEnd);
    } finally {
      this.lastEnd = monotonicMs();
      this.loop._afterAttachedTurn();
      if (this.loop._driver === this) this.wake(this.lastEnd);
    }
  };

  /** Arm the deadline timerfd for the loop's next wake-up instant (`now`: the clock, if just read). */
  wake(now?: number): void {
    this.loop._armDeadline(this.loop._wakeDeadline(now));
  }

  /** Whether we keep Node's loop (and the process) alive: uv_ref / uv_unref. */
  setRef(ref: boolean): void {
    native.attach_ref(this.handle, ref);
  }

  close(): void {
    native.attach_stop(this.handle);
  }
}
