// read / write / readv / writev / close / pipe2 / eventfd / fcntl / poll.
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, expectArgError, expectSystemError, sys } from './helpers';

checkFdsEachTest();

describe('pipe2, read, write', () => {
  it('moves bytes through a pipe and returns -EAGAIN instead of throwing when empty', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    expect(sys.isCloseOnExec(r) && sys.isCloseOnExec(w)).toBe(true);
    expect(sys.isNonBlocking(r)).toBe(true);
    const buf = Buffer.alloc(16);
    expect(sys.read(r, buf)).toBe(sys.EAGAIN);
    expect(sys.EAGAIN).toBe(-sys.errno.EAGAIN!);
    expect(sys.write(w, Buffer.from('hello world'), 6, 5)).toBe(5);
    expect(sys.read(r, buf, 4, 8)).toBe(5);
    expect(buf.subarray(4, 9).toString()).toBe('world');
    sys.close(w);
    expect(sys.read(r, buf)).toBe(0); // EOF
    sys.close(r);
  });

  it('write returns -EAGAIN when the pipe is full, and a short count before that', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const size = sys.fcntl(w, sys.F_GETPIPE_SZ);
    const big = Buffer.alloc(size + 4096, 1);
    expect(sys.write(w, big)).toBe(size);
    expect(sys.write(w, big)).toBe(sys.EAGAIN);
    sys.close(r);
    expectSystemError(() => sys.write(w, big), 'EPIPE', 'write'); // Node ignores SIGPIPE; we never raise it on sockets
    sys.close(w);
  });

  it('works with any ArrayBufferView: Uint8Array, Float64Array, DataView', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const f = new Float64Array([Math.PI]);
    expect(sys.write(w, f)).toBe(8);
    const back = new Float64Array(1);
    expect(sys.read(r, new DataView(back.buffer))).toBe(8);
    expect(back[0]).toBe(Math.PI);
    sys.close(r);
    sys.close(w);
  });

  it('readv and writev scatter and gather', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    expect(sys.writev(w, [Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cde')])).toBe(5);
    const a = Buffer.alloc(1);
    const b = Buffer.alloc(10);
    expect(sys.readv(r, [a, b])).toBe(5);
    expect(a.toString() + b.subarray(0, 4).toString()).toBe('abcde');
    expect(sys.readv(r, [a])).toBe(sys.EAGAIN);
    expect(sys.writev(w, [])).toBe(0);
    sys.close(r);
    sys.close(w);
  });

  it('close reports EBADF on a double close', () => {
    const [r, w] = sys.pipe2();
    sys.close(r);
    sys.close(w);
    expectSystemError(() => sys.close(r), 'EBADF', 'close');
    expectSystemError(() => sys.read(r, Buffer.alloc(1)), 'EBADF', 'read');
    expectSystemError(() => sys.write(w, Buffer.alloc(1)), 'EBADF', 'write');
  });

  it('refuses out-of-bounds ranges and wrong types before reading or writing', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const buf = Buffer.alloc(8);
    expectArgError(() => sys.read(r, buf, 9), RangeError, 'offset');
    expectArgError(() => sys.read(r, buf, -1), RangeError, 'offset');
    expectArgError(() => sys.read(r, buf, 4, 5), RangeError, 'length');
    expectArgError(() => sys.read(r, buf, 0, -1), RangeError, 'length');
    expectArgError(() => sys.write(w, buf, 0, 2 ** 40), RangeError, 'length');
    expectArgError(() => sys.write(w, 'text' as unknown as Buffer), TypeError, 'buffer');
    expectArgError(() => sys.write(w, [1, 2] as unknown as Buffer), TypeError, 'buffer');
    expectArgError(() => sys.writev(w, Buffer.alloc(1) as unknown as Buffer[]), TypeError, 'buffers');
    expectArgError(() => sys.writev(w, [Buffer.alloc(1), 'x' as unknown as Buffer]), TypeError, 'buffers[i]');
    expectArgError(() => sys.read(1.5, buf), RangeError, 'fd');
    expectArgError(() => sys.read(Number.NaN, buf), RangeError, 'fd');
    expectArgError(() => sys.read(2 ** 31, buf), RangeError, 'fd');
    expectArgError(() => sys.read(null as unknown as number, buf), TypeError, 'fd');
    // a buffer at offset inside a larger ArrayBuffer: bounds are the view's, not the backing store's
    const view = new Uint8Array(new ArrayBuffer(64), 8, 4);
    expectArgError(() => sys.read(r, view, 0, 5), RangeError, 'length');
    expect(sys.write(w, Buffer.from('xyzw'))).toBe(4);
    expect(sys.read(r, view)).toBe(4);
    expect(Buffer.from(view).toString()).toBe('xyzw');
    sys.close(r);
    sys.close(w);
  });

  it('reads into and writes from a whole ArrayBuffer as well', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const src = new Uint8Array([1, 2, 3, 4, 5, 6]).buffer;
    expect(sys.write(w, src, 2, 3)).toBe(3);
    const dst = new ArrayBuffer(8);
    expect(sys.read(r, dst, 1)).toBe(3);
    expect(Array.from(new Uint8Array(dst))).toEqual([0, 3, 4, 5, 0, 0, 0, 0]);
    expectArgError(() => sys.read(r, dst, 9), RangeError, 'offset');
    expect(sys.writev(w, [src, Buffer.from('!')])).toBe(7);
    sys.close(r);
    sys.close(w);
  });

  it('treats a detached buffer as empty, never as a dangling pointer', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const ab = new ArrayBuffer(16);
    const view = new Uint8Array(ab);
    structuredClone(ab, { transfer: [ab] }); // detaches
    expect(view.byteLength).toBe(0);
    expect(sys.write(w, view)).toBe(0);
    expect(sys.write(w, ab)).toBe(0);
    expectArgError(() => sys.write(w, view, 0, 1), RangeError, 'length');
    expectArgError(() => sys.write(w, ab, 0, 1), RangeError, 'length');
    expect(sys.writev(w, [view])).toBe(0);
    sys.close(r);
    sys.close(w);
  });
});

describe('eventfd', () => {
  it('counts writes and reads them back; semaphore mode reads one at a time', () => {
    const e = sys.eventfd(3, sys.EFD_NONBLOCK);
    expect(sys.isCloseOnExec(e)).toBe(true);
    expect(sys.eventfd_write(e, 4)).toBe(0);
    expect(sys.eventfd_read(e)).toBe(7);
    expect(sys.eventfd_read(e)).toBe(sys.EAGAIN);
    sys.close(e);
    const s = sys.eventfd(2, sys.EFD_NONBLOCK | sys.EFD_SEMAPHORE);
    expect(sys.eventfd_read(s)).toBe(1);
    expect(sys.eventfd_read(s)).toBe(1);
    expect(sys.eventfd_read(s)).toBe(sys.EAGAIN);
    sys.close(s);
    expectArgError(() => sys.eventfd(-1), RangeError, 'initval');
    expectArgError(() => sys.eventfd_write(0, -1), RangeError, 'value');
  });
});

describe('fcntl', () => {
  it('reads and sets O_NONBLOCK and FD_CLOEXEC', () => {
    const [r, w] = sys.pipe2();
    expect(sys.isNonBlocking(r)).toBe(false);
    sys.setNonBlocking(r, true);
    expect(sys.isNonBlocking(r)).toBe(true);
    expect(sys.read(r, Buffer.alloc(1))).toBe(sys.EAGAIN);
    sys.setNonBlocking(r, false);
    expect(sys.isNonBlocking(r)).toBe(false);
    sys.fcntl(w, sys.F_SETFD, 0);
    expect(sys.isCloseOnExec(w)).toBe(false);
    sys.fcntl(w, sys.F_SETFD, sys.FD_CLOEXEC);
    expect(sys.isCloseOnExec(w)).toBe(true);
    const dup = sys.fcntl(w, sys.F_DUPFD_CLOEXEC, 0);
    expect(sys.isCloseOnExec(dup)).toBe(true);
    [r, w, dup].forEach((fd) => sys.close(fd));
    expectSystemError(() => sys.fcntl(r, sys.F_GETFL), 'EBADF', 'fcntl');
  });

  it('refuses commands whose argument would be a pointer', () => {
    expectArgError(() => sys.fcntl(0, 5 /* F_GETLK */, 0), RangeError, 'cmd');
    expectArgError(() => sys.fcntl(0, 0 /* F_DUPFD: not CLOEXEC */, 0), RangeError, 'cmd');
    expectArgError(() => sys.setNonBlocking(0, 'yes' as unknown as boolean), TypeError, 'on');
  });
});

describe('poll', () => {
  it('reports revents per entry', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const p = new Int32Array([r, sys.POLLIN, 0, w, sys.POLLOUT, 0]);
    expect(sys.poll(p, 0)).toBe(1);
    expect(p[2]).toBe(0);
    expect(p[5]).toBe(sys.POLLOUT);
    sys.write(w, Buffer.from('x'));
    expect(sys.poll(p, 0)).toBe(2);
    expect(p[2]).toBe(sys.POLLIN);
    sys.close(r);
    sys.close(w);
    expect(sys.poll(p, 0)).toBe(2);
    expect(p[2]).toBe(sys.POLLNVAL);
    expectArgError(() => sys.poll(new Int32Array(4), 0), RangeError, 'fds.length');
    expectArgError(() => sys.poll(new Uint32Array(3) as unknown as Int32Array, 0), TypeError, 'fds');
  });
});

describe('the addon', () => {
  it('is the build EPOLL_REACTOR_ADDON names, or a node-gyp-build match', () => {
    const wanted = process.env.EPOLL_REACTOR_ADDON;
    if (wanted) expect(sys.addonPath).toBe(wanted);
    else expect(sys.addonPath).toMatch(/(build\/Release|prebuilds\/linux-x64)\/[^/]+\.node$/);
  });
});
