/**
 * What both sides of a socket share: the fd and its watcher, the epoll interest computed from
 * the state, the loop's counters for this stream (its read slot and batch accounting, read and
 * written by lib/reactor/stream-batch.ts), and the state few sockets need (timeouts, peer, a
 * write waiting for the connect).
 *
 * A Socket is built in layers, each a class of its own file, each extending the one below:
 * - this file: the state (`SocketCore`, a `stream.Duplex`);
 * - socket-read.ts: the read side (the loop's reads pushed into the stream, the fast path);
 * - socket-write.ts: the write side (`_write`/`_writev` into the batch or the WriteQueue, `_final`);
 * - socket-settings.ts: options and addresses (TCP_NODELAY, keep-alive, the timeout, ref/unref);
 * - socket.ts: the public API (opening, connecting, closing, options, addresses, typed events).
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import type { LoopState } from '../reactor/core';
import type { Loop, Timer, Watcher } from '../reactor/index';
import { internals } from '../reactor/internal';
import type * as sys from '../sys/index';
import { EPOLLET, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDHUP } from '../sys/index';
import type { Endpoint } from './address';
import type { WriteQueue } from './write-queue';

export type WriteCallback = (error?: Error | null) => void;

/** State used by few sockets (timeouts, peers, keep-alive): allocated on first use. */
export class SocketExtras {
  timeoutMs = 0;
  /** What `socket.timeout` reads (Node: the last setTimeout's ms, or what was assigned). */
  timeoutProp: number | undefined = undefined;
  timeoutTimer: Timer | null = null;
  lastActive = 0;
  peer: sys.SocketAddress | null = null;
  keepAliveDelay = 0;
  /** The write waiting for the connect to finish. */
  pendingWrite: { bufs: Uint8Array[]; cb: WriteCallback } | null = null;
  bytesPending = 0;
  /** end()'s shutdown, waiting for writes already completed to reach the kernel. */
  finalCb: WriteCallback | null = null;
  /** Where the connect under way goes (for its error's message). */
  endpoint: Endpoint | null = null;
}

export class SocketCore extends Duplex {
  /** The fd, or −1 before connect / after close. */
  fd = -1;
  readonly loop: Loop;
  /** The loop's internal state (its write batch, whether it is mid-iteration, deferred callbacks). */
  protected readonly loopState: LoopState;
  /** A non-blocking connect (or the name lookup before it) is under way. */
  connecting = false;
  /** @internal 'close' says whether an error destroyed the socket. */
  _hadError = false;
  /** @internal Wants its readable data read by the loop now. */
  _wantsRead = false;
  /** @internal */ _readSlot = -1;
  /** @internal */ _batchBytes = 0;
  /** @internal */ _batchCursor = 0;
  /** @internal */ _batchSent = 0;
  /** @internal */ _batchCallbacks = false;

  protected connected = false;
  protected unix = false;
  protected watcher: Watcher | null = null;
  protected interest = 0;
  /** The bytes the kernel has not taken yet (write side); null when none. */
  protected wq: WriteQueue | null = null;
  protected ext: SocketExtras | null = null;

  protected get x(): SocketExtras {
    return (this.ext ??= new SocketExtras());
  }

  constructor(streamOptions: DuplexOptions, loop: Loop) {
    super(streamOptions);
    this.loop = loop;
    this.loopState = internals(loop);
  }

  /** Recomputes the epoll interest from the state; one epoll_ctl only when it changed. */
  protected updateInterest(): void {
    const watcher = this.watcher;
    if (watcher === null || this.destroyed) return;
    let want = this.connecting ? EPOLLOUT : 0;
    if (this._wantsRead) want |= EPOLLIN | EPOLLRDHUP;
    if (this.wq !== null) want |= EPOLLOUT;
    // Interested in nothing: EPOLLHUP/EPOLLERR are reported whatever the mask, and one-shot
    // reports them once at most. Otherwise edge-triggered; a MOD that adds EPOLLIN or EPOLLOUT
    // makes the kernel look at the socket, so readiness that came meanwhile is reported then.
    if (want === 0) want = EPOLLONESHOT;
    else want |= EPOLLET;
    if (want !== this.interest) {
      this.interest = want;
      watcher.modify(want);
    }
    // As libuv's stream: the handle is active (keeps the loop alive, when referenced) only
    // while it reads, writes or connects — a paused, idle socket does not hold the process.
    if (want === EPOLLONESHOT) watcher.deactivate();
    else watcher.activate();
  }
}
