// threads: a Loop per worker, the eventfd Waker, and the SharedArrayBuffer message queue.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdSnapshot, openFds, pkg, sys } from './helpers';

const { Loop, threads } = pkg;

let fds: ReturnType<typeof fdSnapshot>;
let loop: InstanceType<typeof Loop>;
beforeEach(() => {
  fds = fdSnapshot();
  loop = new Loop();
});
afterEach(() => {
  loop.close({ force: true });
  fds.check();
});

describe('Waker', () => {
  it('wakes its loop, and wakes before a turn coalesce into one callback with their count', async () => {
    const waker = new threads.Waker();
    const counts: number[] = [];
    waker.listen(loop, (n) => {
      counts.push(n);
      if (counts.length === 2) waker.close();
    });
    waker.wake();
    waker.wake();
    waker.wake();
    loop.runOnce();
    expect(counts).toEqual([3]);
    waker.wake();
    await loop.run();
    expect(counts).toEqual([3, 1]);
    expect(waker.closed).toBe(true);
    expect(() => waker.wake()).toThrow(expect.objectContaining({ code: 'ERR_WAKER_CLOSED' }));
    waker.close(); // idempotent
  });

  it('is an eventfd, non-blocking and close-on-exec; from() dups it and refuses once the owner closed', () => {
    const waker = new threads.Waker();
    expect(openFds().get(waker.fd)).toBe('anon_inode:[eventfd]');
    expect(sys.isNonBlocking(waker.fd)).toBe(true);
    expect(sys.isCloseOnExec(waker.fd)).toBe(true);
    const dup = threads.Waker.from(waker.handle);
    expect(dup.fd).not.toBe(waker.fd);
    expect(dup.owner).toBe(false);
    expect(sys.isCloseOnExec(dup.fd)).toBe(true);
    dup.wake();
    dup.wake();
    expect(waker.drain()).toBe(2);
    expect(waker.drain()).toBe(0);
    const handle = waker.handle;
    waker.close();
    expect(() => threads.Waker.from(handle)).toThrow(expect.objectContaining({ code: 'ERR_WAKER_CLOSED' }));
    dup.wake(); // its own reference to the eventfd: still valid
    dup.close();
  });

  it('rejects bad handles and callbacks', () => {
    for (const bad of [undefined, null, 3, {}, { fd: 3 }, { fd: -1, state: new SharedArrayBuffer(8) }, { fd: 3, state: new ArrayBuffer(8) }]) {
      expect(() => threads.Waker.from(bad as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    }
    const waker = new threads.Waker();
    expect(() => waker.listen(loop, 'x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    waker.listen(loop, () => {});
    expect(() => waker.listen(loop, () => {})).toThrow(expect.objectContaining({ code: 'ERR_WAKER_BUSY' }));
    waker.close();
  });
});

describe('MessageQueue', () => {
  it('carries bytes, strings and structured clones in order; false when full, then room again', async () => {
    const q = new threads.MessageQueue({ capacity: 128, loop });
    const got: unknown[] = [];
    q.on('message', (m) => got.push(m));
    expect(q.send(Buffer.from('abc'))).toBe(true);
    expect(q.send('héllo')).toBe(true);
    expect(q.send({ n: 1, list: [1, 2], big: 2n })).toBe(true);
    // 128 bytes of ring: the next 100-byte message does not fit; nothing is queued.
    expect(q.send(Buffer.alloc(100))).toBe(false);
    loop.runOnce();
    expect(got).toEqual([Buffer.from('abc'), 'héllo', { n: 1, list: [1, 2], big: 2n }]);
    expect(q.send(Buffer.alloc(100, 7))).toBe(true); // drained: room again (and the ring wraps)
    loop.runOnce();
    expect(got[3]).toEqual(Buffer.alloc(100, 7));
    expect(() => q.send(Buffer.alloc(121))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    q.close();
    expect(() => q.send('late')).toThrow(expect.objectContaining({ code: 'ERR_QUEUE_CLOSED' }));
  });

  it('carries records across the end of the ring at every offset (header or body split)', () => {
    const q = new threads.MessageQueue({ capacity: 64, loop });
    const got: unknown[] = [];
    q.on('message', (m) => got.push(m));
    const sent: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      const n = (i * 7) % 23;
      const batch = [String.fromCodePoint(0x1f600 + (i % 5)).repeat(n % 6) + 'é'.repeat(n % 4), Buffer.alloc(n, i & 0xff)];
      for (const m of batch) {
        if (q.send(m)) sent.push(m);
      }
      loop.runNoWait();
    }
    expect(got).toEqual(sent);
    expect(sent.length).toBeGreaterThan(400);
    q.close();
  });

  it('keeps the rest of a batch when a listener throws', () => {
    const q = new threads.MessageQueue({ loop });
    const got: unknown[] = [];
    q.on('message', (m) => {
      got.push(m);
      if (m === 2) throw new Error('boom');
    });
    for (let i = 1; i <= 4; i++) q.send(i);
    const errors: unknown[] = [];
    loop.on('error', (e) => errors.push(e));
    loop.runOnce();
    loop.runOnce();
    expect(got).toEqual([1, 2, 3, 4]);
    expect(errors).toHaveLength(1);
    q.close();
  });

  it('rejects bad options and handles', () => {
    for (const capacity of [0, 63, 1.5, -1, 2 ** 31, Number.NaN]) {
      expect(() => new threads.MessageQueue({ capacity, loop })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(() => new threads.MessageQueue(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    for (const bad of [undefined, {}, { buffer: new SharedArrayBuffer(8), waker: {} }]) {
      expect(() => threads.MessageQueue.connect(bad as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    }
  });
});
