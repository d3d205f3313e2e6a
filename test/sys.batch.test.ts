// read_many / send_many: many fds in one native call.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, expectArgError, sys, tcpPair, waitFd } from './helpers';

checkFdsEachTest();

describe('read_many', () => {
  it('packs each fd’s bytes right after the previous one’s, with per-fd results', () => {
    const pipes = [sys.pipe2(sys.O_NONBLOCK), sys.pipe2(sys.O_NONBLOCK), sys.pipe2(sys.O_NONBLOCK)];
    sys.write(pipes[0]![1], Buffer.from('hello'));
    sys.close(pipes[1]![1]); // EOF
    sys.write(pipes[2]![1], Buffer.from('world!'));
    const [er, ew] = sys.pipe2(sys.O_NONBLOCK); // empty: EAGAIN
    const buf = Buffer.alloc(64);
    const list = new Int32Array([pipes[0]![0], pipes[1]![0], er, pipes[2]![0]]);
    const ranges = new Int32Array([0, 32, 0, 32, 0, 32, 0, 3]); // the last reads at most 3
    const end = sys.read_many(list, 4, buf, ranges, 8);
    expect(end).toBe(8 + 5 + 3);
    expect(Array.from(ranges)).toEqual([8, 5, 13, 0, 13, sys.EAGAIN, 13, 3]);
    expect(buf.toString('latin1', 8, 16)).toBe('hellowor');
    // no room left: -ENOBUFS, nothing read
    const r2 = new Int32Array([0, 32]);
    expect(sys.read_many(new Int32Array([pipes[2]![0]]), 1, buf, r2, 64)).toBe(64);
    expect(r2[1]).toBe(-sys.errno.ENOBUFS!);
    expect(sys.read(pipes[2]![0], buf)).toBe(3); // 'ld!' still there
    for (const [r, w] of pipes) {
      sys.close(r);
      if (w !== pipes[1]![1]) sys.close(w);
    }
    sys.close(er);
    sys.close(ew);
  });

  it('reports a closed fd as -EBADF in its slot, not as a throw', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    sys.close(r);
    sys.close(w);
    const ranges = new Int32Array([0, 8]);
    sys.read_many(new Int32Array([r]), 1, Buffer.alloc(8), ranges);
    expect(ranges[1]).toBe(-sys.errno.EBADF!);
  });

  // /proc/thread-self/io counts this thread's read(2)-family syscalls (syscr); recvfrom(2) is
  // not one of them, so the count shows which call each fd got.
  it.skipIf(!existsSync('/proc/thread-self/io'))('reads a socket with recvfrom(2) and anything else with read(2)', () => {
    const syscr = (): number => Number(/^syscr: (\d+)$/m.exec(readFileSync('/proc/thread-self/io', 'latin1'))![1]);
    const pairs = [tcpPair(), tcpPair(), tcpPair()];
    pairs.forEach(([c], i) => expect(sys.send(c, Buffer.from(`sock${i}`))).toBe(5));
    for (const [, s] of pairs) waitFd(s, sys.POLLIN, 1000);
    sys.shutdown(pairs[2]![0], sys.SHUT_WR); // after its bytes: a second read of it sees EOF
    const [pr, pw] = sys.pipe2(sys.O_NONBLOCK);
    sys.write(pw, Buffer.from('pipe'));
    const efd = sys.eventfd(7, sys.EFD_NONBLOCK);
    const list = new Int32Array([pairs[0]![1], pr, pairs[1]![1], efd, pairs[2]![1], pairs[2]![1]]);
    const ranges = new Int32Array([0, 16, 0, 16, 0, 16, 0, 8, 0, 16, 0, 16]);
    const buf = Buffer.alloc(64);
    const base = -syscr() + syscr(); // what reading the counter itself costs
    const before = syscr();
    const end = sys.read_many(list, 6, buf, ranges);
    const reads = syscr() - before - base;
    expect(reads).toBe(2); // the pipe and the eventfd; four socket reads, none a read(2)
    expect(end).toBe(5 + 4 + 5 + 8 + 5);
    expect(Array.from(ranges)).toEqual([0, 5, 5, 4, 9, 5, 14, 8, 22, 5, 27, 0]);
    expect(buf.toString('latin1', 0, 14)).toBe('sock0pipesock1');
    expect(buf.readBigUInt64LE(14)).toBe(7n);
    expect(buf.toString('latin1', 22, 27)).toBe('sock2');
    for (const [c, s] of pairs) [c, s].forEach(sys.close);
    [pr, pw, efd].forEach(sys.close);
  });

  it('rejects bad arguments before any read', () => {
    const b = Buffer.alloc(8);
    expectArgError(() => sys.read_many(new Int32Array(1), 2, b, new Int32Array(4)), RangeError, 'count');
    expectArgError(() => sys.read_many(new Int32Array(2), 2, b, new Int32Array(3)), RangeError, 'ranges.length');
    expectArgError(() => sys.read_many(new Int32Array([-1]), 1, b, new Int32Array(2)), RangeError, 'fds[i]');
    expectArgError(() => sys.read_many(new Int32Array([0]), 1, b, new Int32Array([0, -1])), RangeError, 'ranges[2i+1]');
    expectArgError(() => sys.read_many(new Uint32Array(1) as unknown as Int32Array, 1, b, new Int32Array(2)), TypeError, 'fds');
    expectArgError(() => sys.read_many(new Int32Array(1), 1, 'x' as never, new Int32Array(2)), TypeError, 'buffer');
    expectArgError(() => sys.read_many(new Int32Array(1), 1, b, new Int32Array(2), 9), RangeError, 'start');
  });
});

describe('ArrayBuffers in place of the arrays (what the loop passes)', () => {
  it('read_many and send_many read an ArrayBuffer as the array it backs', () => {
    const [a, b] = tcpPair();
    const out = new Uint8Array(16);
    out.set(Buffer.from('ping'), 4);
    const sendFds = new Int32Array([a, 0, 0]); // 12 bytes: fds read as 3 words
    const sendRanges = new Int32Array([4, 4]);
    expect(sys.send_many(sendFds.buffer, 1, out.buffer, sendRanges.buffer)).toBe(1);
    expect(sendRanges[1]).toBe(4);
    waitFd(b, sys.POLLIN, 1000);
    const slab = new ArrayBuffer(32);
    const readFds = new Int32Array([b]);
    const readRanges = new Int32Array([0, 16]);
    expect(sys.read_many(readFds.buffer, 1, slab, readRanges.buffer, 10)).toBe(14);
    expect(Array.from(readRanges)).toEqual([10, 4]);
    expect(Buffer.from(slab, 10, 4).toString()).toBe('ping');
    [a, b].forEach(sys.close);
  });

  it('a tail of 1–3 bytes is not a word; detached is empty; a SharedArrayBuffer is refused', () => {
    const b = Buffer.alloc(8);
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    // 7 bytes hold one fd, not two
    const seven = new ArrayBuffer(7);
    new Int32Array(seven, 0, 1)[0] = r;
    expect(sys.read_many(seven, 1, b, new Int32Array(2))).toBe(0);
    expectArgError(() => sys.read_many(seven, 2, b, new Int32Array(4)), RangeError, 'count');
    expectArgError(() => sys.read_many(new Int32Array([r]), 1, b, new ArrayBuffer(7)), RangeError, 'ranges.length');
    const gone = new ArrayBuffer(8);
    structuredClone(gone, { transfer: [gone] }); // detaches
    expectArgError(() => sys.read_many(gone, 1, b, new Int32Array(2)), RangeError, 'count');
    // a detached slab is an empty buffer: no room, nothing read
    const ranges = new Int32Array([0, 8]);
    expect(sys.read_many(new Int32Array([r]), 1, gone, ranges)).toBe(0);
    expect(ranges[1]).toBe(-sys.errno.ENOBUFS!);
    expectArgError(() => sys.read_many(new SharedArrayBuffer(8) as never, 1, b, new Int32Array(2)), TypeError, 'fds');
    sys.close(r);
    sys.close(w);
  });
});

describe('send_many', () => {
  it('sends each range to its fd, results in place; a gone peer is -EPIPE, not SIGPIPE', () => {
    const [c1, s1] = tcpPair();
    const [c2, s2] = tcpPair();
    sys.close(s2);
    waitFd(c2, sys.POLLIN, 1000);
    const out = Buffer.from('abcdefgh');
    const ranges = new Int32Array([0, 3, 3, 5]);
    expect(sys.send_many(new Int32Array([c1, c2]), 2, out, ranges)).toBe(2);
    expect(ranges[1]).toBe(3);
    waitFd(s1, sys.POLLIN, 1000);
    const got = Buffer.alloc(8);
    expect(sys.read(s1, got)).toBe(3);
    expect(got.toString('latin1', 0, 3)).toBe('abc');
    // the first send to a closed peer may still be accepted; keep sending until the reset lands
    let r = 0;
    for (let i = 0; i < 20 && r >= 0; i++) {
      const again = new Int32Array([0, 8]);
      sys.send_many(new Int32Array([c2]), 1, out, again);
      r = again[1]!;
    }
    expect([-sys.errno.EPIPE!, -sys.errno.ECONNRESET!]).toContain(r);
    expectArgError(() => sys.send_many(new Int32Array([c1]), 1, out, new Int32Array([4, 5])), RangeError, 'ranges[2i]');
    [c1, s1, c2].forEach(sys.close);
  });
});
