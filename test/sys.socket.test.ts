// socket / bind / listen / accept4 / connect / shutdown / sockopts / names / send / recv / sendmsg.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, expectArgError, expectSystemError, sys, type SystemError, tcpListener, tcpPair, waitFd } from './helpers';

checkFdsEachTest();

const closeAll = (...list: number[]) => list.forEach((fd) => sys.close(fd));

describe('TCP over IPv4', () => {
  it('listens, connects without blocking, accepts, and moves bytes both ways', () => {
    const l = tcpListener();
    expect(sys.isCloseOnExec(l.fd)).toBe(true);
    expect(sys.getsockopt(l.fd, sys.SOL_SOCKET, sys.SO_ACCEPTCONN)).toBe(1);
    expect(sys.accept4(l.fd, sys.SOCK_NONBLOCK)).toBe(sys.EAGAIN);
    const c = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    const r = sys.connect(c, '127.0.0.1', l.port);
    expect([0, sys.EINPROGRESS]).toContain(r);
    expect(waitFd(c, sys.POLLOUT, 1000) & sys.POLLOUT).toBeTruthy();
    expect(sys.getsockopt(c, sys.SOL_SOCKET, sys.SO_ERROR)).toBe(0);
    waitFd(l.fd, sys.POLLIN, 1000);
    const s = sys.accept4(l.fd, sys.SOCK_NONBLOCK);
    expect(s).toBeGreaterThan(2);
    expect(sys.isCloseOnExec(s)).toBe(true);
    expect(sys.isNonBlocking(s)).toBe(true);
    expect(sys.getpeername(s)).toEqual({ address: '127.0.0.1', port: sys.getsockname(c).port, family: 'IPv4' });
    expect(sys.getsockname(s).port).toBe(l.port);
    expect(sys.send(c, Buffer.from('ping'))).toBe(4);
    waitFd(s, sys.POLLIN, 1000);
    const buf = Buffer.alloc(16);
    expect(sys.recv(s, buf)).toBe(4);
    expect(sys.recv(s, buf)).toBe(sys.EAGAIN);
    expect(sys.sendmsg(s, [Buffer.from('po'), Buffer.from('ng')])).toBe(4);
    waitFd(c, sys.POLLIN, 1000);
    expect(sys.read(c, buf, 0, 2)).toBe(2);
    expect(sys.recv(c, buf, 2, 2, sys.MSG_PEEK)).toBe(2);
    expect(sys.recv(c, buf, 2)).toBe(2);
    expect(buf.subarray(0, 4).toString()).toBe('pong');
    closeAll(c, s, l.fd);
  });

  it('reports a refused connect through SO_ERROR after EINPROGRESS', () => {
    const l = tcpListener();
    const port = l.port;
    sys.close(l.fd); // nothing listens there now
    const c = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    const r = sys.connect(c, '127.0.0.1', port);
    if (r === sys.EINPROGRESS) {
      waitFd(c, sys.POLLOUT, 1000);
      expect(sys.getsockopt(c, sys.SOL_SOCKET, sys.SO_ERROR)).toBe(sys.errno.ECONNREFUSED);
    }
    sys.close(c);
    // a blocking socket reports it from connect itself
    const b = sys.socket(sys.AF_INET, sys.SOCK_STREAM);
    expectSystemError(() => sys.connect(b, '127.0.0.1', port), 'ECONNREFUSED', 'connect');
    sys.close(b);
  });

  it('send to a peer that is gone gives EPIPE or ECONNRESET, never SIGPIPE', () => {
    const [c, s] = tcpPair();
    sys.close(s);
    waitFd(c, sys.POLLIN, 1000);
    let error: unknown;
    try {
      for (let i = 0; i < 10; i++) sys.send(c, Buffer.alloc(1024));
    } catch (e) {
      error = e;
    }
    expect(sys.isSystemError(error)).toBe(true);
    expect(['EPIPE', 'ECONNRESET']).toContain((error as SystemError).code);
    // sendmsg carries MSG_NOSIGNAL too
    expect(() => sys.sendmsg(c, [Buffer.alloc(1)])).toThrow(/EPIPE|ECONNRESET/);
    sys.close(c);
  });

  it('SO_LINGER {1, 0} turns close into a reset the peer sees as ECONNRESET', () => {
    const [c, s] = tcpPair();
    sys.setsockopt(c, sys.SOL_SOCKET, sys.SO_LINGER, sys.linger(true, 0));
    const out = Buffer.alloc(8);
    expect(sys.getsockopt(c, sys.SOL_SOCKET, sys.SO_LINGER, out)).toBe(8);
    expect(out.readInt32LE(0)).toBe(1);
    sys.close(c);
    waitFd(s, sys.POLLIN, 1000);
    expectSystemError(() => sys.read(s, Buffer.alloc(8)), 'ECONNRESET', 'read');
    sys.close(s);
  });

  it('sets and reads integer options, and shuts down one direction', () => {
    const [c, s] = tcpPair();
    sys.setsockopt(c, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
    expect(sys.getsockopt(c, sys.IPPROTO_TCP, sys.TCP_NODELAY)).toBe(1);
    sys.setsockopt(c, sys.SOL_SOCKET, sys.SO_KEEPALIVE, true);
    expect(sys.getsockopt(c, sys.SOL_SOCKET, sys.SO_KEEPALIVE)).toBe(1);
    expect(sys.getsockopt(c, sys.SOL_SOCKET, sys.SO_TYPE)).toBe(sys.SOCK_STREAM);
    sys.shutdown(c, sys.SHUT_WR);
    waitFd(s, sys.POLLIN, 1000);
    expect(sys.recv(s, Buffer.alloc(4))).toBe(0);
    expect(sys.send(s, Buffer.from('still open'))).toBe(10); // half-close: the other way works
    expectSystemError(() => sys.setsockopt(c, sys.SOL_SOCKET, 9999, 1), 'ENOPROTOOPT', 'setsockopt');
    expectArgError(() => sys.shutdown(c, 3), RangeError, 'how');
    closeAll(c, s);
    const [r, w] = sys.pipe2();
    expectSystemError(() => sys.getsockopt(r, sys.SOL_SOCKET, sys.SO_ERROR), 'ENOTSOCK', 'getsockopt');
    closeAll(r, w);
  });

  it('reports EADDRINUSE and refuses address literals of the wrong family', () => {
    const l = tcpListener();
    const b = sys.socket(sys.AF_INET, sys.SOCK_STREAM);
    expectSystemError(() => sys.bind(b, '127.0.0.1', l.port), 'EADDRINUSE', 'bind');
    expectArgError(() => sys.bind(b, 'localhost', 0), TypeError, 'address');
    expectArgError(() => sys.bind(b, '::1', 0), TypeError, 'address');
    expectArgError(() => sys.bind(b, '127.0.0.1', 65536), RangeError, 'port');
    expectArgError(() => sys.bind(b, '127.0.0.1', -1), RangeError, 'port');
    expectArgError(() => sys.connect(b, 42 as unknown as string, 1), TypeError, 'address');
    expectArgError(() => sys.bind(b, '127.0.0.1\0junk', 0), TypeError, 'address');
    // struct-valued options only where the struct is known (no pointers from JavaScript)
    expectArgError(() => sys.setsockopt(b, sys.SOL_SOCKET, sys.SO_RCVBUF, Buffer.alloc(4)), RangeError, 'name');
    expectArgError(() => sys.getsockopt(b, sys.IPPROTO_TCP, sys.TCP_NODELAY, Buffer.alloc(4)), RangeError, 'name');
    closeAll(b, l.fd);
  });
});

describe('TCP over IPv6 and Unix sockets', () => {
  it('binds and connects on ::1', () => {
    const l = sys.socket(sys.AF_INET6, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    sys.bind(l, '::1', 0);
    sys.listen(l);
    const { port, family, address } = sys.getsockname(l);
    expect(family).toBe('IPv6');
    expect(address).toBe('::1');
    const c = sys.socket(sys.AF_INET6, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    sys.connect(c, '::1', port);
    waitFd(l, sys.POLLIN, 1000);
    const s = sys.accept4(l, 0);
    expect(sys.getpeername(s).family).toBe('IPv6');
    closeAll(c, s, l);
  });

  it('binds a path and an abstract name, connects, and reports both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'er-'));
    const path = join(dir, 'sock');
    const l = sys.socket(sys.AF_UNIX, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    sys.bind(l, path);
    sys.listen(l);
    expect(sys.getsockname(l)).toEqual({ address: path, port: -1, family: 'Unix' });
    const c = sys.socket(sys.AF_UNIX, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    expect(sys.connect(c, path)).toBe(0);
    const s = sys.accept4(l, sys.SOCK_NONBLOCK);
    expect(sys.write(c, Buffer.from('u'))).toBe(1);
    expect(sys.read(s, Buffer.alloc(1))).toBe(1);
    const a = sys.socket(sys.AF_UNIX, sys.SOCK_STREAM);
    sys.bind(a, `\0epoll-reactor-test-${process.pid}`);
    expect(sys.getsockname(a).address).toBe(`\0epoll-reactor-test-${process.pid}`);
    const missing = sys.socket(sys.AF_UNIX, sys.SOCK_STREAM);
    expectSystemError(() => sys.connect(missing, join(dir, 'nope')), 'ENOENT', 'connect');
    expectArgError(() => sys.bind(missing, 'x'.repeat(200)), RangeError, 'address');
    expectArgError(() => sys.bind(missing, ''), RangeError, 'address');
    expectArgError(() => sys.bind(missing, join(dir, 'a\0b')), TypeError, 'address');
    closeAll(c, s, l, a, missing);
    rmSync(dir, { recursive: true });
  });
});

describe('linger', () => {
  it('builds struct linger, and checks its arguments as every sys function does', () => {
    expect([...sys.linger(true, 7)]).toEqual([1, 0, 0, 0, 7, 0, 0, 0]);
    expect([...sys.linger(false, 0)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    for (const onoff of [1, 'true', null, Symbol('x'), 1n]) {
      expectArgError(() => sys.linger(onoff as unknown as boolean, 0), TypeError, 'onoff');
    }
    for (const seconds of ['abc', '1', null, Symbol('x'), 1n]) {
      expectArgError(() => sys.linger(true, seconds as unknown as number), TypeError, 'seconds');
    }
    for (const seconds of [1.5, Number.NaN, -1, 2 ** 31, Number.POSITIVE_INFINITY]) {
      expectArgError(() => sys.linger(true, seconds), RangeError, 'seconds');
    }
  });
});
