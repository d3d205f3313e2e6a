/**
 * An fd registered with a loop's epoll instance.
 *
 * Hazards worth knowing (the same as in libuv, mio and asyncio):
 * - **Spurious events**: a callback may be called when the fd turns out not to be ready after
 *   all (another reader got there first, or the state changed); non-blocking calls then return
 *   `sys.EAGAIN`, which is not an error.
 * - **Draining readiness**: level-triggered (the default) reports the fd again on every iteration
 *   while it stays ready, so one read per callback is enough. With `EPOLLET`, the callback must
 *   read or write until `EAGAIN`, or it will not hear about the fd again.
 * - **Closing**: call `watcher.close()` before closing the fd (EPOLL_CTL_DEL, then close). If
 *   the fd was closed first, `close()` is still harmless. An fd that was `dup`ed keeps its epoll
 *   registration alive after `close(fd)` (epoll(7), Q6): close the watcher first.
 */
import * as sys from '../sys/index';
import { Handle, type RefCounter } from './handle';
import type { StreamOwner } from './stream-batch';

/** What a Watcher asks of the registry that made it. */
export interface WatcherOwner extends RefCounter {
  modifyWatcher(w: Watcher, interest: number): void;
  closeWatcher(w: Watcher): void;
}

/** Called with the ready event mask (`sys.EPOLLIN`, `EPOLLOUT`, `EPOLLHUP`, …) and the watcher. */
export type WatchCallback = (events: number, watcher: Watcher) => void;

/**
 * @example
 * ```ts
 * const w = loop.watch(fd, sys.EPOLLIN, (events) => {
 *   const n = sys.read(fd, buf);
 *   if (n === 0) { w.close(); sys.close(fd); }
 * });
 * ```
 */
export class Watcher extends Handle {
  /** @internal Set by close(): the registration is gone. */
  removed = false;
  /**
   * @internal Set when the fd was closed behind our back and its number now belongs to a newer
   * watcher: this one must not touch the epoll registration any more.
   */
  orphaned = false;
  /** Free for the owner of the watcher (libuv's `handle->data`). */
  data: unknown = undefined;
  /** @internal A stream whose readable data the loop reads in its batch (see stream-batch.ts). */
  stream: StreamOwner | null = null;
  private loopCloseHook: ((watcher: Watcher) => void) | null = null;
  /** @internal The loop's own (its alarm timerfd, Node's epoll fd): not the user's I/O. */
  internal = false;

  /** @internal */
  constructor(
    /** @internal */ readonly owner: WatcherOwner,
    readonly fd: number,
    /** The current interest mask. */
    public interest: number,
    public callback: WatchCallback,
    /** The 32-bit token stored in epoll_event.data for this registration. */
    readonly token: number,
  ) {
    super(owner);
  }

  /**
   * Called by `loop.close({ force: true })` before the watcher is closed, so that an owner which
   * also owns the fd (a socket, a server) can close it: nothing leaks. Setting it says the fd is
   * the owner's to close through `sys.close`, so it is also marked with `sys.own_fd`: closed at
   * the thread's teardown if still open then (a worker terminated with its loops open).
   */
  get onLoopClose(): ((watcher: Watcher) => void) | null {
    return this.loopCloseHook;
  }

  set onLoopClose(hook: ((watcher: Watcher) => void) | null) {
    if (hook !== null && this.loopCloseHook === null && !this.removed) sys.own_fd(this.fd);
    this.loopCloseHook = hook;
  }

  /** Change the interest mask (EPOLL_CTL_MOD); also re-arms an EPOLLONESHOT watcher. */
  modify(interest: number): this {
    this.owner.modifyWatcher(this, interest);
    return this;
  }

  /** Remove the fd from the epoll set (EPOLL_CTL_DEL). Does not close the fd. Idempotent. */
  close(): void {
    this.owner.closeWatcher(this);
  }

  get closed(): boolean {
    return this.removed;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
