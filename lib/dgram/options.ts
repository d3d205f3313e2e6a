/**
 * The socket options of a dgram Socket, as libuv sets them (uv_udp_set_ttl, uv_udp_set_membership,
 * uv_recv_buffer_size, …) and as Node reports their failures: `setTTL EINVAL`, `addMembership
 * EADDRNOTAVAIL`, ERR_SOCKET_BUFFER_SIZE. Each takes the socket's fd (−1 before bind: EBADF, as
 * Node's unbound handle has none) and its family.
 */
import * as sys from '../sys/index';
import { destination } from './address';
import * as errors from './errors';

const EINVAL = (): number => -sys.errno.EINVAL!;

/** Runs `fn(fd)`; a missing fd or a failing call throws Node's `<syscall> <CODE>`. */
export function option(fd: number, syscall: string, fn: (fd: number) => void): void {
  if (fd < 0) throw errors.errnoException(-sys.errno.EBADF!, syscall);
  try {
    fn(fd);
  } catch (e) {
    if (!sys.isSystemError(e)) throw e;
    throw errors.errnoException(e.errno, syscall);
  }
}

/** IP_TTL / IPV6_UNICAST_HOPS (1–255), IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS (0–255). */
export function ttl(fd: number, v6: boolean, syscall: 'setTTL' | 'setMulticastTTL', value: unknown): void {
  if (typeof value !== 'number') throw errors.invalidArgType('ttl', 'number', value);
  const v = value | 0;
  const unicast = syscall === 'setTTL';
  // libuv checks the range before it looks at the fd: EINVAL wins over EBADF.
  if (v < (unicast ? 1 : 0) || v > 255) throw errors.errnoException(EINVAL(), syscall);
  const name = unicast ? (v6 ? sys.IPV6_UNICAST_HOPS : sys.IP_TTL) : v6 ? sys.IPV6_MULTICAST_HOPS : sys.IP_MULTICAST_TTL;
  option(fd, syscall, (f) => sys.setsockopt(f, v6 ? sys.IPPROTO_IPV6 : sys.IPPROTO_IP, name, v));
}

export function multicastLoopback(fd: number, v6: boolean, on: boolean): void {
  option(fd, 'setMulticastLoopback', (f) =>
    sys.setsockopt(f, v6 ? sys.IPPROTO_IPV6 : sys.IPPROTO_IP, v6 ? sys.IPV6_MULTICAST_LOOP : sys.IP_MULTICAST_LOOP, on ? 1 : 0),
  );
}

/** IP_MULTICAST_IF (an IPv4 interface address) / IPV6_MULTICAST_IF ('::%eth0': the zone's index). */
export function multicastInterface(fd: number, v6: boolean, iface: unknown): void {
  if (typeof iface !== 'string') throw errors.invalidArgType('interfaceAddress', 'string', iface);
  const d4 = v6 ? null : destination(iface, false);
  const d6 = d4 === null ? destination(iface, true) : null;
  if (d4 === null && d6 === null) throw errors.errnoException(EINVAL(), 'setMulticastInterface');
  option(fd, 'setMulticastInterface', (f) => {
    if (d4 !== null) sys.setsockopt(f, sys.IPPROTO_IP, sys.IP_MULTICAST_IF, Buffer.from(d4.buffer, 16, 4));
    else sys.setsockopt(f, sys.IPPROTO_IPV6, sys.IPV6_MULTICAST_IF, d6![2]!);
  });
}

/** IP_ADD/DROP_MEMBERSHIP, or the IPv6 ones when the group is an IPv6 address (as libuv picks). */
export function membership(fd: number, syscall: string, group: unknown, iface: unknown, join: boolean): void {
  if (!group) throw errors.missingArgs('multicastAddress');
  const g = String(group);
  const i = iface ? String(iface) : undefined;
  if (destination(g, false) !== null) {
    if (i !== undefined && destination(i, false) === null) throw errors.errnoException(EINVAL(), syscall);
    const req = sys.ip_mreq(g, i);
    option(fd, syscall, (f) => sys.setsockopt(f, sys.IPPROTO_IP, join ? sys.IP_ADD_MEMBERSHIP : sys.IP_DROP_MEMBERSHIP, req));
    return;
  }
  const di = i === undefined ? null : destination(i, true);
  if (destination(g, true) === null || (i !== undefined && di === null)) throw errors.errnoException(EINVAL(), syscall);
  const req = sys.ipv6_mreq(g.split('%')[0]!, di === null ? 0 : di[2]! >>> 0);
  option(fd, syscall, (f) => sys.setsockopt(f, sys.IPPROTO_IPV6, join ? sys.IPV6_ADD_MEMBERSHIP : sys.IPV6_DROP_MEMBERSHIP, req));
}

/** IP_ADD/DROP_SOURCE_MEMBERSHIP, or MCAST_JOIN/LEAVE_SOURCE_GROUP for IPv6. */
export function sourceMembership(fd: number, syscall: string, source: unknown, group: unknown, iface: unknown, join: boolean): void {
  if (typeof source !== 'string') throw errors.invalidArgType('sourceAddress', 'string', source);
  if (typeof group !== 'string') throw errors.invalidArgType('groupAddress', 'string', group);
  const i = iface ? String(iface) : undefined;
  if (destination(group, false) !== null) {
    if (destination(source, false) === null || (i !== undefined && destination(i, false) === null)) throw errors.errnoException(EINVAL(), syscall);
    const req = sys.ip_mreq_source(group, i ?? '0.0.0.0', source);
    option(fd, syscall, (f) => sys.setsockopt(f, sys.IPPROTO_IP, join ? sys.IP_ADD_SOURCE_MEMBERSHIP : sys.IP_DROP_SOURCE_MEMBERSHIP, req));
    return;
  }
  const di = i === undefined ? null : destination(i, true);
  if (destination(group, true) === null || destination(source, true) === null || (i !== undefined && di === null)) {
    throw errors.errnoException(EINVAL(), syscall);
  }
  const req = sys.group_source_req(di === null ? 0 : di[2]! >>> 0, group.split('%')[0]!, source.split('%')[0]!);
  option(fd, syscall, (f) => sys.setsockopt(f, sys.IPPROTO_IPV6, join ? sys.MCAST_JOIN_SOURCE_GROUP : sys.MCAST_LEAVE_SOURCE_GROUP, req));
}

/** Checks a buffer size as Node does (a BigInt too: Node's `>>>` would throw a bare TypeError). */
export function checkBufferSize(size: unknown): number {
  if (typeof size !== 'number' || size >>> 0 !== size) throw errors.badBufferSize();
  return size;
}

/** libuv's uv_{recv,send}_buffer_size: 0 reads SO_RCVBUF/SO_SNDBUF, anything else sets it. */
export function bufferSize(fd: number, size: number, which: 'recv' | 'send'): number {
  const name = which === 'recv' ? sys.SO_RCVBUF : sys.SO_SNDBUF;
  if (size > 0x7fffffff) throw errors.bufferSizeError(EINVAL(), which); // libuv: before the fd
  if (fd < 0) throw errors.bufferSizeError(-sys.errno.EBADF!, which);
  try {
    if (size === 0) return sys.getsockopt(fd, sys.SOL_SOCKET, name);
    sys.setsockopt(fd, sys.SOL_SOCKET, name, size);
    return size;
  } catch (e) {
    if (!sys.isSystemError(e)) throw e;
    throw errors.bufferSizeError(e.errno, which);
  }
}

/** What libuv's uv_guess_handle would call `fd`: 'UDP' for a datagram socket. */
export function fdType(fd: number): string {
  try {
    const type = sys.getsockopt(fd, sys.SOL_SOCKET, sys.SO_TYPE);
    const domain = sys.getsockopt(fd, sys.SOL_SOCKET, sys.SO_DOMAIN);
    if (domain === sys.AF_UNIX) return 'PIPE';
    if (type === sys.SOCK_DGRAM) return 'UDP';
    return type === sys.SOCK_STREAM ? 'TCP' : 'UNKNOWN';
  } catch {
    return 'UNKNOWN';
  }
}
