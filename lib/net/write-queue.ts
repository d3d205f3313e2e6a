/**
 * A socket's bytes the kernel has not taken yet: the rest of one stream write (the stream hands
 * over one write, or one `_writev` batch, at a time), flushed with `send()` for one buffer and
 * `sendmsg()` (a gather write) for several when EPOLLOUT says there is room.
 */
import * as sys from '../sys/index';

/** Scratch for sendmsg's buffer list, reused by every flush. */
const gather: Uint8Array[] = [];
const MAX_GATHER = 1024;

export class WriteQueue {
  private bufs: Uint8Array[] = [];
  private head = 0;
  /** A batch send failed (set by the socket; reported when the batch is settled). */
  failed: Error | null = null;

  get empty(): boolean {
    return this.head === this.bufs.length;
  }

  push(buf: Uint8Array): void {
    if (buf.length > 0) this.bufs.push(buf);
  }

  /** Puts `buf` at position `at` from the head (the unsent rest of a batched write, in order). */
  insert(at: number, buf: Uint8Array): void {
    this.bufs.splice(this.head + at, 0, buf);
  }

  /** Sends as much as the kernel takes; throws the send's SystemError. */
  send(fd: number): void {
    const queue = this.bufs;
    while (this.head < queue.length) {
      const count = Math.min(queue.length - this.head, MAX_GATHER);
      let n: number;
      let asked = 0;
      if (count === 1) {
        asked = queue[this.head]!.length;
        n = sys.send(fd, queue[this.head]!);
      } else {
        for (let i = 0; i < count; i++) {
          const b = queue[this.head + i]!;
          gather[i] = b;
          asked += b.length;
        }
        gather.length = count;
        try {
          n = sys.sendmsg(fd, gather);
        } finally {
          gather.length = 0;
        }
      }
      if (n === sys.EAGAIN) return;
      // Retire what was fully sent; trim the first partly sent buffer.
      let left = n;
      while (left > 0) {
        const b = queue[this.head]!;
        if (b.length <= left) {
          left -= b.length;
          queue[this.head++] = EMPTY;
        } else {
          queue[this.head] = b.subarray(left);
          left = 0;
        }
      }
      if (n < asked) return; // the kernel's buffer is full: wait for EPOLLOUT
    }
  }
}

const EMPTY = new Uint8Array(0);
