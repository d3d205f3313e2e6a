// The datagram batch itself (lib/dgram/batch.ts), on real sockets: what a full socket refuses
// (EAGAIN) stays queued in order, later datagrams of that socket wait behind it, other sockets'
// datagrams go on, and every callback runs once. A Unix datagram socket whose peer's queue is
// full answers EAGAIN (loopback UDP never does: the kernel frees a sent datagram at once).
import { describe, expect, it } from 'vitest';
import { type DgramOwner, DgramBatch, type RemoteInfo } from '../dist/lib/dgram/batch.js';
import { freshLoopEachTest, type pkg, sys } from './helpers';

type Loop = InstanceType<typeof pkg.Loop>;
let loop: Loop;
freshLoopEachTest((l) => {
  loop = l;
});

let names = 0;
/** A connected pair of non-blocking Unix datagram sockets: [sender, receiver]. */
function unixPair(): [number, number] {
  const name = `\0epoll-reactor-batch-${process.pid}-${names++}`;
  const rx = sys.socket(sys.AF_UNIX, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK);
  sys.bind(rx, name);
  const tx = sys.socket(sys.AF_UNIX, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK);
  sys.connect(tx, name);
  return [tx, rx];
}

class Owner implements DgramOwner {
  _closed = false;
  _queuedCount = 0;
  _queuedBytes = 0;
  _flushMark = 0;
  _fdIndex = 0;
  blocked = 0;
  emptied = 0;
  constructor(readonly _fd: number) {}
  _onMessage(_msg: Buffer, _rinfo: RemoteInfo): void {}
  _onRecvError(): void {}
  _onSendBlocked(): void {
    this.blocked++;
  }
  _onSendQueueEmpty(): void {
    this.emptied++;
  }
}

function drain(fd: number): string[] {
  const out: string[] = [];
  const buf = Buffer.alloc(64);
  for (let n = sys.recv(fd, buf); n >= 0; n = sys.recv(fd, buf)) out.push(buf.toString('latin1', 0, n));
  return out;
}

describe('DgramBatch', () => {
  it('keeps what EAGAIN refused, in order, behind which the socket\'s later datagrams wait; others go on', () => {
    const [tx, rx] = unixPair();
    const [tx2, rx2] = unixPair();
    const batch = new DgramBatch(loop);
    const full = new Owner(tx);
    const other = new Owner(tx2);
    const done: string[] = [];
    const cb = (name: string) => (err: Error | null, bytes?: number) => done.push(`${name} ${err ? (err as Error & { code: string }).code : bytes}`);
    for (let i = 0; i < 40; i++) {
      batch.add(full, Buffer.from(`a${i}`), null, 0, cb(`a${i}`), undefined, undefined);
      if (i % 10 === 0) batch.add(other, Buffer.from(`b${i}`), null, 0, cb(`b${i}`), undefined, undefined);
    }
    batch.flush();
    const first = drain(rx);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(40); // the peer's queue filled
    expect(first).toEqual(Array.from({ length: first.length }, (_, i) => `a${i}`));
    expect(drain(rx2)).toEqual(['b0', 'b10', 'b20', 'b30']); // not held up by the full socket
    expect(full.blocked).toBeGreaterThan(0);
    expect(full._queuedCount).toBe(40 - first.length);
    expect(full._queuedBytes).toBe(Array.from({ length: 40 - first.length }, (_, i) => `a${first.length + i}`.length).reduce((x, y) => x + y, 0));
    expect(other.emptied).toBe(1);
    // the rest go out, in order, as the peer reads
    const rest: string[] = [];
    for (let round = 0; round < 20 && full._queuedCount > 0; round++) {
      batch.flush();
      rest.push(...drain(rx));
    }
    expect([...first, ...rest]).toEqual(Array.from({ length: 40 }, (_, i) => `a${i}`));
    expect(full.emptied).toBe(1);
    expect(done.filter((d) => d.startsWith('a'))).toEqual(Array.from({ length: 40 }, (_, i) => `a${i} ${`a${i}`.length}`));
    expect(done.filter((d) => d.startsWith('b'))).toEqual(['b0 2', 'b10 3', 'b20 3', 'b30 3']);
    for (const fd of [tx, rx, tx2, rx2]) sys.close(fd);
  });

  it('what a closed owner still had queued is cancelled: its callbacks get ECANCELED with syscall send', () => {
    const [tx, rx] = unixPair();
    const batch = new DgramBatch(loop);
    const owner = new Owner(tx);
    const errors: string[] = [];
    for (let i = 0; i < 30; i++) {
      batch.add(owner, Buffer.from('x'), null, 0, (err) => err && errors.push(`${(err as Error & { code: string }).code} ${(err as Error & { syscall: string }).syscall}`), undefined, undefined);
    }
    batch.flush(); // some go, the rest are held
    const held = owner._queuedCount;
    expect(held).toBeGreaterThan(0);
    owner._closed = true;
    batch.flush();
    expect(owner._queuedCount).toBe(0);
    expect(errors).toEqual(Array.from({ length: held }, () => 'ECANCELED send'));
    for (const fd of [tx, rx]) sys.close(fd);
  });

  it('a batch that reaches UIO_MAXIOV datagrams is sent at once; their callbacks wait for the flush', () => {
    const [tx, rx] = unixPair();
    const batch = new DgramBatch(loop);
    const owner = new Owner(tx);
    let called = 0;
    for (let i = 0; i < sys.UIO_MAXIOV + 1; i++) batch.add(owner, Buffer.from('y'), null, 0, () => called++, undefined, undefined);
    expect(owner._queuedCount).toBeLessThan(sys.UIO_MAXIOV + 1); // the first 1,024 went (or were held by EAGAIN)
    expect(called).toBe(0);
    drain(rx);
    for (let round = 0; round < 200 && owner._queuedCount > 0; round++) {
      batch.flush();
      drain(rx);
    }
    batch.flush();
    expect(called).toBe(sys.UIO_MAXIOV + 1);
    for (const fd of [tx, rx]) sys.close(fd);
  });
});

describe('DgramBatch with a socket that stays blocked', () => {
  it('queues past UIO_MAXIOV datagrams in order while another socket keeps sending', () => {
    const [tx, rx] = unixPair();
    const [tx2, rx2] = unixPair();
    const batch = new DgramBatch(loop);
    const stuck = new Owner(tx);
    const free = new Owner(tx2);
    const n = 3 * sys.UIO_MAXIOV;
    for (let i = 0; i < n; i++) {
      batch.add(stuck, Buffer.from(`s${i}`), null, 0, undefined, undefined, undefined);
      if (i % 100 === 0) {
        batch.add(free, Buffer.from(`f${i}`), null, 0, undefined, undefined, undefined);
        drain(rx2);
      }
    }
    batch.flush();
    expect(free._queuedCount).toBe(0);
    const got: string[] = drain(rx);
    for (let round = 0; round < 2000 && stuck._queuedCount > 0; round++) {
      batch.flush();
      got.push(...drain(rx));
    }
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `s${i}`));
    for (const fd of [tx, rx, tx2, rx2]) sys.close(fd);
  });
});

describe('sendmmsg_many past UIO_MAXIOV', () => {
  it('sends every message of a long list, checked before the first goes', () => {
    const [tx, rx] = unixPair();
    const n = sys.UIO_MAXIOV + 7;
    const W = sys.MMSG_WORDS;
    const msgs = new Int32Array(n * W);
    for (let j = 0; j < n; j++) msgs.set([0, 1, 0, 0], j * W);
    msgs[(n - 1) * W + 1] = 2; // past the 1-byte buffer: nothing may go
    expect(() => sys.sendmmsg_many(new Int32Array([tx]), 1, Buffer.from('z'), msgs, n)).toThrow(RangeError);
    expect(drain(rx)).toEqual([]);
    msgs[(n - 1) * W + 1] = 1;
    expect(sys.sendmmsg_many(new Int32Array([tx]), 1, Buffer.from('z'), msgs, n)).toBe(n);
    // the peer's queue holds only so many: the first went, the rest are -EAGAIN in order
    const results = Array.from({ length: n }, (_, j) => msgs[j * W + 2]);
    const sent = results.findIndex((r) => r !== 1);
    expect(sent).toBeGreaterThan(0);
    expect(results.slice(sent).every((r) => r === sys.EAGAIN)).toBe(true);
    expect(drain(rx).length).toBe(sent);
    for (const fd of [tx, rx]) sys.close(fd);
  });
});
