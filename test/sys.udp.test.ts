// recvmmsg / sendmmsg (1:1), their many-socket batches, and the datagram helpers of sys.
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, expectArgError, expectSystemError, sys, waitFd } from './helpers';

checkFdsEachTest();

const W = sys.MMSG_WORDS;

/** A non-blocking UDP socket bound to a free port of `host`. */
function udp(host = '127.0.0.1'): { fd: number; port: number } {
  const fd = sys.socket(host.includes(':') ? sys.AF_INET6 : sys.AF_INET, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK);
  sys.bind(fd, host, 0);
  return { fd, port: sys.getsockname(fd).port };
}

const hasIPv6 = ((): boolean => {
  try {
    sys.close(udp('::1').fd);
    return true;
  } catch {
    return false;
  }
})();

/** Descriptor i of `msgs` set to (offset, length) and a destination. */
function put(msgs: Int32Array, i: number, offset: number, length: number, host?: string, port = 0, fdIndex = 0): void {
  msgs.fill(0, i * W, (i + 1) * W);
  msgs.set([offset, length, 0, fdIndex], i * W);
  if (host === undefined) return;
  const v6 = host.includes(':');
  msgs.set([v6 ? sys.AF_INET6 : sys.AF_INET, port], i * W + 4);
  new Uint8Array(msgs.buffer, msgs.byteOffset + (i * W + 8) * 4, v6 ? 16 : 4).set(sys.inet_pton(v6 ? sys.AF_INET6 : sys.AF_INET, host)!);
}

/** The sender recorded in descriptor i, as text. */
function sender(msgs: Int32Array, i: number): { family: number; port: number; address: string } {
  const family = msgs[i * W + 4]!;
  const bytes = new Uint8Array(msgs.buffer, msgs.byteOffset + (i * W + 8) * 4, 16);
  return { family, port: msgs[i * W + 5]!, address: sys.inet_ntop(family, bytes) };
}

describe('sendmmsg / recvmmsg', () => {
  it('send several datagrams in one call and receive them in one call, each with its sender', () => {
    const a = udp();
    const b = udp();
    const data = Buffer.from('onetwothree');
    const out = new Int32Array(3 * W);
    put(out, 0, 0, 3, '127.0.0.1', b.port);
    put(out, 1, 3, 3, '127.0.0.1', b.port);
    put(out, 2, 6, 5, '127.0.0.1', b.port);
    expect(sys.sendmmsg(a.fd, data, out, 3)).toBe(3);
    expect([out[2], out[W + 2], out[2 * W + 2]]).toEqual([3, 3, 5]);
    waitFd(b.fd, sys.POLLIN, 1000);
    const room = new Int32Array(4 * W);
    for (let i = 0; i < 4; i++) put(room, i, 16 * i, 16);
    const buf = Buffer.alloc(64);
    expect(sys.recvmmsg(b.fd, buf, room, 4)).toBe(3);
    const got = [0, 1, 2].map((i) => buf.toString('latin1', room[i * W]!, room[i * W]! + room[i * W + 1]!));
    expect(got).toEqual(['one', 'two', 'three']);
    expect(sender(room, 2)).toEqual({ family: sys.AF_INET, port: a.port, address: '127.0.0.1' });
    expect(room[3 * W + 1]).toBe(16); // not received: untouched
    expect(sys.recvmmsg(b.fd, buf, room, 4)).toBe(sys.EAGAIN);
    sys.close(a.fd);
    sys.close(b.fd);
  });

  it.skipIf(!hasIPv6)('carries IPv6 senders and destinations', () => {
    const a = udp('::1');
    const b = udp('::1');
    const out = new Int32Array(W);
    put(out, 0, 0, 2, '::1', b.port);
    expect(sys.sendmmsg(a.fd, Buffer.from('v6'), out, 1)).toBe(1);
    waitFd(b.fd, sys.POLLIN, 1000);
    const room = new Int32Array(W);
    put(room, 0, 0, 8);
    expect(sys.recvmmsg(b.fd, Buffer.alloc(8), room, 1)).toBe(1);
    expect(sender(room, 0)).toEqual({ family: sys.AF_INET6, port: a.port, address: '::1' });
    sys.close(a.fd);
    sys.close(b.fd);
  });

  it('family 0 sends to the connected peer; MSG_TRUNC marks a datagram cut to its room', () => {
    const a = udp();
    const b = udp();
    sys.connect(a.fd, '127.0.0.1', b.port);
    const out = new Int32Array(W);
    put(out, 0, 0, 10);
    expect(sys.sendmmsg(a.fd, Buffer.from('0123456789'), out, 1)).toBe(1);
    waitFd(b.fd, sys.POLLIN, 1000);
    const room = new Int32Array(W);
    put(room, 0, 0, 4);
    expect(sys.recvmmsg(b.fd, Buffer.alloc(4), room, 1)).toBe(1);
    expect(room[1]).toBe(4);
    expect(room[2]! & sys.MSG_TRUNC).toBe(sys.MSG_TRUNC);
    // connect(AF_UNSPEC) dissolves the association: family 0 has nowhere to go
    sys.connect_unspec(a.fd);
    expectSystemError(() => sys.sendmmsg(a.fd, Buffer.alloc(10), out, 1), 'EDESTADDRREQ', 'sendmmsg');
    sys.close(a.fd);
    sys.close(b.fd);
  });

  it('a datagram the kernel refuses fails the call when it is the first, else the next call', () => {
    const a = udp();
    const b = udp();
    const big = Buffer.alloc(70_000);
    const out = new Int32Array(2 * W);
    put(out, 0, 0, 70_000, '127.0.0.1', b.port);
    expectSystemError(() => sys.sendmmsg(a.fd, big, out, 1), 'EMSGSIZE', 'sendmmsg');
    put(out, 0, 0, 1, '127.0.0.1', b.port);
    put(out, 1, 0, 70_000, '127.0.0.1', b.port);
    expect(sys.sendmmsg(a.fd, big, out, 2)).toBe(1); // the error waits for the next call
    sys.close(a.fd);
    sys.close(b.fd);
  });

  it('vlen 0 sends nothing; more than UIO_MAXIOV is cut, as the kernel does', () => {
    const a = udp();
    const b = udp();
    expect(sys.sendmmsg(a.fd, Buffer.alloc(0), new Int32Array(0), 0)).toBe(0);
    const n = sys.UIO_MAXIOV + 5;
    const out = new Int32Array(n * W);
    for (let i = 0; i < n; i++) put(out, i, 0, 0, '127.0.0.1', b.port);
    expect(sys.sendmmsg(a.fd, Buffer.alloc(0), out, n)).toBe(sys.UIO_MAXIOV);
    sys.close(a.fd);
    sys.close(b.fd);
  });

  it('checks every descriptor before the syscall: a bad one throws and nothing is sent', () => {
    const a = udp();
    const b = udp();
    const data = Buffer.alloc(8);
    const out = new Int32Array(2 * W);
    put(out, 0, 0, 1, '127.0.0.1', b.port);
    put(out, 1, 4, 5, '127.0.0.1', b.port); // 4 + 5 > 8
    expectArgError(() => sys.sendmmsg(a.fd, data, out, 2), RangeError, 'msgs[i].length');
    put(out, 1, 9, 0, '127.0.0.1', b.port);
    expectArgError(() => sys.sendmmsg(a.fd, data, out, 2), RangeError, 'msgs[i].offset');
    put(out, 1, 0, 1, '127.0.0.1', b.port);
    out[W + 4] = sys.AF_UNIX;
    expectArgError(() => sys.sendmmsg(a.fd, data, out, 2), RangeError, 'msgs[i].family');
    out[W + 4] = sys.AF_INET;
    out[W + 5] = 65_536;
    expectArgError(() => sys.sendmmsg(a.fd, data, out, 2), RangeError, 'msgs[i].port');
    expect(waitFd(b.fd, sys.POLLIN, 50)).toBe(0); // nothing went
    expectArgError(() => sys.sendmmsg(a.fd, data, out, 3), RangeError, 'vlen');
    expectArgError(() => sys.sendmmsg(a.fd, data, new Uint32Array(W) as never, 1), TypeError, 'msgs');
    expectArgError(() => sys.recvmmsg(a.fd, 'x' as never, out, 1), TypeError, 'buffer');
    expectArgError(() => sys.recvmmsg(-1, data, out, 1), RangeError, 'fd');
    put(out, 0, 6, 4);
    expectArgError(() => sys.recvmmsg(b.fd, data, out, 1), RangeError, 'msgs[i].length');
    expectSystemError(() => sys.recvmmsg(a.fd + 1000, data, new Int32Array(W), 1), 'EBADF', 'recvmmsg');
    sys.close(a.fd);
    sys.close(b.fd);
  });
});

describe('recvmmsg_many / sendmmsg_many', () => {
  it('receives from many sockets into one packed buffer, one result per socket', () => {
    const tx = udp();
    const rx = [udp(), udp(), udp()];
    const out = new Int32Array(5 * W);
    const words = ['alpha', 'be', 'gamma', 'delta', 'e'];
    // rx0 gets two datagrams, rx1 none, rx2 three
    [0, 0, 2, 2, 2].forEach((to, i) => put(out, i, 0, words[i]!.length, '127.0.0.1', rx[to]!.port));
    const data = Buffer.alloc(8);
    for (let i = 0; i < 5; i++) {
      data.write(words[i]!, 'latin1');
      expect(sys.sendmmsg(tx.fd, data, out.subarray(i * W, (i + 1) * W), 1)).toBe(1);
    }
    for (const r of [rx[0]!, rx[2]!]) waitFd(r.fd, sys.POLLIN, 1000);
    const fds = new Int32Array(rx.map((r) => r.fd));
    const results = new Int32Array([8, 8, 2]); // rx2 may give at most 2 now
    const msgs = new Int32Array(16 * W);
    const buf = Buffer.alloc(1 << 20);
    const n = sys.recvmmsg_many(fds, 3, buf, 10, 65_536, msgs, results);
    expect(n).toBe(4);
    expect(Array.from(results)).toEqual([2, sys.EAGAIN, 2]);
    const texts = [0, 1, 2, 3].map((i) => buf.toString('latin1', msgs[i * W]!, msgs[i * W]! + msgs[i * W + 1]!));
    expect(texts).toEqual(['alpha', 'be', 'gamma', 'delta']);
    // packed from `start`, without gaps
    expect([0, 1, 2, 3].map((i) => msgs[i * W])).toEqual([10, 15, 17, 22]);
    expect([0, 1, 2, 3].map((i) => msgs[i * W + 3])).toEqual([0, 0, 2, 2]);
    expect(sender(msgs, 3)).toEqual({ family: sys.AF_INET, port: tx.port, address: '127.0.0.1' });
    // no room for even one slot: -ENOBUFS, and 'e' is still queued
    results.set([0, 0, 4]);
    expect(sys.recvmmsg_many(fds, 3, buf, buf.length - 100, 65_536, msgs, results)).toBe(0);
    expect(Array.from(results)).toEqual([0, 0, -sys.errno.ENOBUFS!]);
    results.set([0, 0, 4]);
    expect(sys.recvmmsg_many(fds, 3, buf, 0, 16, msgs, results)).toBe(1);
    expect(buf.toString('latin1', 0, msgs[1])).toBe('e');
    for (const s of [tx, ...rx]) sys.close(s.fd);
  });

  it('sends the messages of many sockets in one call; a failing message is reported and the rest go', () => {
    const a = udp();
    const b = udp();
    const rx = udp();
    const data = Buffer.alloc(70_000, 0x61);
    data.write('a1b1a2b2', 'latin1');
    const msgs = new Int32Array(5 * W);
    put(msgs, 0, 0, 2, '127.0.0.1', rx.port, 0);
    put(msgs, 1, 2, 2, '127.0.0.1', rx.port, 1);
    put(msgs, 2, 0, 70_000, '127.0.0.1', rx.port, 1); // too big: EMSGSIZE
    put(msgs, 3, 4, 2, '127.0.0.1', rx.port, 0);
    put(msgs, 4, 6, 2, '127.0.0.1', rx.port, 1);
    const fds = new Int32Array([a.fd, b.fd]);
    expect(sys.sendmmsg_many(fds, 2, data, msgs, 5)).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => msgs[i * W + 2])).toEqual([2, 2, -sys.errno.EMSGSIZE!, 2, 2]);
    waitFd(rx.fd, sys.POLLIN, 1000);
    const room = new Int32Array(8 * W);
    for (let i = 0; i < 8; i++) put(room, i, 8 * i, 8);
    const got: string[] = [];
    const buf = Buffer.alloc(64);
    for (let tries = 0; got.length < 4 && tries < 100; tries++) {
      const n = sys.recvmmsg(rx.fd, buf, room, 8);
      if (n < 0) waitFd(rx.fd, sys.POLLIN, 100);
      for (let i = 0; i < n; i++) got.push(`${buf.toString('latin1', room[i * W]!, room[i * W]! + 2)}:${sender(room, i).port === a.port ? 'a' : 'b'}`);
    }
    expect(got).toEqual(['a1:a', 'b1:b', 'a2:a', 'b2:b']);
    for (const s of [a, b, rx]) sys.close(s.fd);
  });

  it('reports a closed fd in its slot, not as a throw; checks arguments before any syscall', () => {
    const a = udp();
    const dead = udp();
    sys.close(dead.fd);
    const results = new Int32Array([4]);
    expect(sys.recvmmsg_many(new Int32Array([dead.fd]), 1, Buffer.alloc(1 << 17), 0, 65_536, new Int32Array(4 * W), results)).toBe(0);
    expect(results[0]).toBe(-sys.errno.EBADF!);
    const msgs = new Int32Array(W);
    put(msgs, 0, 0, 1, '127.0.0.1', a.port, 0);
    sys.sendmmsg_many(new Int32Array([dead.fd]), 1, Buffer.alloc(1), msgs, 1);
    expect(msgs[2]).toBe(-sys.errno.EBADF!);
    msgs[3] = 1;
    expectArgError(() => sys.sendmmsg_many(new Int32Array([a.fd]), 1, Buffer.alloc(1), msgs, 1), RangeError, 'msgs[i].fdIndex');
    expectArgError(() => sys.sendmmsg_many(new Int32Array([a.fd]), 2, Buffer.alloc(1), msgs, 1), RangeError, 'count');
    expectArgError(() => sys.sendmmsg_many(new Int32Array([-1]), 1, Buffer.alloc(1), msgs, 1), RangeError, 'fds[i]');
    expectArgError(() => sys.recvmmsg_many(new Int32Array([a.fd]), 1, Buffer.alloc(8), 9, 8, msgs, results), RangeError, 'start');
    expectArgError(() => sys.recvmmsg_many(new Int32Array([a.fd]), 1, Buffer.alloc(8), 0, 0, msgs, results), RangeError, 'slot');
    expectArgError(() => sys.recvmmsg_many(new Int32Array([a.fd]), 1, Buffer.alloc(8), 0, 8, msgs, new Int32Array(0)), RangeError, 'results.length');
    sys.close(a.fd);
  });
});

describe('addresses, interfaces and multicast structs', () => {
  it('inet_pton / inet_ntop round-trip, null for what is not an address of the family', () => {
    for (const [af, text] of [
      [sys.AF_INET, '192.0.2.1'],
      [sys.AF_INET6, '::1'],
      [sys.AF_INET6, 'fe80::1:2'],
      [sys.AF_INET6, '::ffff:127.0.0.1'],
    ] as const) {
      expect(sys.inet_ntop(af, sys.inet_pton(af, text)!)).toBe(text);
    }
    expect(sys.inet_pton(sys.AF_INET, '::1')).toBeNull();
    expect(sys.inet_pton(sys.AF_INET, '127.0.0.1\0x')).toBeNull();
    expect(sys.inet_pton(sys.AF_INET6, '::1%lo')).toBeNull();
    expectSystemError(() => sys.inet_pton(sys.AF_UNIX, 'x'), 'EAFNOSUPPORT', 'inet_pton');
    expectArgError(() => sys.inet_ntop(sys.AF_INET6, Buffer.alloc(4)), RangeError, 'src.byteLength');
  });

  it('if_nametoindex / if_indextoname name the loopback interface; unknown ones throw', () => {
    const lo = sys.if_nametoindex('lo');
    expect(sys.if_indextoname(lo)).toBe('lo');
    expectSystemError(() => sys.if_nametoindex('no-such-if0'), 'ENODEV', 'if_nametoindex');
    expectSystemError(() => sys.if_indextoname(2 ** 31), 'ENXIO', 'if_indextoname');
    expectArgError(() => sys.if_nametoindex('lo\0'), TypeError, 'name');
  });

  it('joins a group on the loopback interface with ip_mreq and receives what is sent to it', () => {
    const rx = udp('0.0.0.0');
    const tx = udp();
    const group = '239.255.7.8';
    sys.setsockopt(rx.fd, sys.IPPROTO_IP, sys.IP_ADD_MEMBERSHIP, sys.ip_mreq(group, '127.0.0.1'));
    sys.setsockopt(tx.fd, sys.IPPROTO_IP, sys.IP_MULTICAST_IF, sys.inet_pton(sys.AF_INET, '127.0.0.1')!);
    sys.setsockopt(tx.fd, sys.IPPROTO_IP, sys.IP_MULTICAST_LOOP, 1);
    const msgs = new Int32Array(W);
    put(msgs, 0, 0, 5, group, rx.port);
    expect(sys.sendmmsg(tx.fd, Buffer.from('group'), msgs, 1)).toBe(1);
    expect(waitFd(rx.fd, sys.POLLIN, 2000) & sys.POLLIN).toBe(sys.POLLIN);
    put(msgs, 0, 0, 16);
    const buf = Buffer.alloc(16);
    expect(sys.recvmmsg(rx.fd, buf, msgs, 1)).toBe(1);
    expect(buf.toString('latin1', 0, msgs[1])).toBe('group');
    sys.setsockopt(rx.fd, sys.IPPROTO_IP, sys.IP_DROP_MEMBERSHIP, sys.ip_mreq(group, '127.0.0.1'));
    expectSystemError(() => sys.setsockopt(rx.fd, sys.IPPROTO_IP, sys.IP_DROP_MEMBERSHIP, sys.ip_mreq(group, '127.0.0.1')), 'EADDRNOTAVAIL', 'setsockopt');
    sys.close(rx.fd);
    sys.close(tx.fd);
  });

  it('builds the source-specific structs, and refuses what is not an address', () => {
    const s = udp('0.0.0.0');
    const req = sys.ip_mreq_source('232.1.2.3', '127.0.0.1', '127.0.0.1');
    expect(req.length).toBe(12);
    sys.setsockopt(s.fd, sys.IPPROTO_IP, sys.IP_ADD_SOURCE_MEMBERSHIP, req);
    sys.setsockopt(s.fd, sys.IPPROTO_IP, sys.IP_DROP_SOURCE_MEMBERSHIP, req);
    const lo = sys.if_nametoindex('lo');
    const gsr = sys.group_source_req(lo, '232.1.2.3', '127.0.0.1');
    sys.setsockopt(s.fd, sys.IPPROTO_IP, sys.MCAST_JOIN_SOURCE_GROUP, gsr);
    sys.setsockopt(s.fd, sys.IPPROTO_IP, sys.MCAST_LEAVE_SOURCE_GROUP, gsr);
    expect(sys.ipv6_mreq('ff02::1', lo).length).toBe(20);
    expectArgError(() => sys.ip_mreq('not-an-ip'), TypeError, 'group');
    expectArgError(() => sys.ip_mreq_source('232.1.2.3', '::1', '127.0.0.1'), TypeError, 'iface');
    expectArgError(() => sys.group_source_req(lo, 'ff3e::1', '127.0.0.1'), TypeError, 'source');
    expectArgError(() => sys.ipv6_mreq('ff02::1', -1), RangeError, 'ifindex');
    // a struct option must be bytes of an allowed name
    expectArgError(() => sys.setsockopt(s.fd, sys.IPPROTO_IP, sys.IP_TTL, Buffer.alloc(4)), RangeError, 'name');
    sys.close(s.fd);
  });
});
