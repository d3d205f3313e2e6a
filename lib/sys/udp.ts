/**
 * Datagram syscalls: `recvmmsg(2)` and `sendmmsg(2)` 1:1, their many-socket batches, and what
 * UDP needs besides (address text ↔ bytes, interface names, multicast option structs).
 *
 * Messages are described by a caller-owned `Int32Array` (or its ArrayBuffer), {@link MMSG_WORDS}
 * (12) words per message, reused from call to call — no object per message:
 *
 * | word | recvmmsg | sendmmsg |
 * | --- | --- | --- |
 * | 0 | offset of the message's room in `buffer` (in) | offset of its bytes (in) |
 * | 1 | room (in); bytes received (out) | length (in) |
 * | 2 | `msg_flags` (out: `MSG_TRUNC`, …) | bytes sent (out; batches: or −errno) |
 * | 3 | batches: index of its fd in `fds` (out) | batches: index of its fd in `fds` (in) |
 * | 4 | sender's family: `AF_INET`, `AF_INET6` (out) | destination family, 0 = none (connected) |
 * | 5 | port | port |
 * | 6, 7 | IPv6 scope id, flow info | IPv6 scope id, flow info |
 * | 8–11 | the address's 4 or 16 bytes, in network order | same |
 *
 * Every field is read once and checked before any syscall (offsets and lengths inside `buffer`,
 * family, port); a bad one throws a RangeError naming it, and nothing is sent.
 *
 * @example
 * ```ts
 * import { sys } from 'epoll-reactor';
 * const fd = sys.socket(sys.AF_INET, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK);
 * sys.bind(fd, '127.0.0.1', 0);
 * const { port } = sys.getsockname(fd);
 * const data = Buffer.from('pingpong');
 * const msgs = new Int32Array(2 * sys.MMSG_WORDS);
 * const loopback = sys.inet_pton(sys.AF_INET, '127.0.0.1')!;
 * for (let i = 0; i < 2; i++) {
 *   msgs.set([4 * i, 4, 0, 0, sys.AF_INET, port], i * sys.MMSG_WORDS);
 *   new Uint8Array(msgs.buffer, (i * sys.MMSG_WORDS + 8) * 4, 4).set(loopback);
 * }
 * sys.sendmmsg(fd, data, msgs, 2);            // 2: both datagrams in one syscall
 * const room = new Int32Array(2 * sys.MMSG_WORDS);
 * room.set([0, 64], 0); room.set([64, 64], sys.MMSG_WORDS);
 * const n = sys.recvmmsg(fd, Buffer.alloc(128), room, 2);   // 2 ('ping', 'pong')
 * sys.close(fd);
 * ```
 * @module
 */
import { constant, native } from './native';

const udp = native;

/** Words per message in a `msgs` array (see the table above). */
export const MMSG_WORDS: number = constant('MMSG_WORDS');
/** The most messages one recvmmsg/sendmmsg takes (`UIO_MAXIOV`); more are ignored, as the kernel does. */
export const UIO_MAXIOV: number = constant('UIO_MAXIOV');
export const AF_UNSPEC: number = constant('AF_UNSPEC');
export const IPPROTO_IP: number = constant('IPPROTO_IP');
export const IPPROTO_IPV6: number = constant('IPPROTO_IPV6');
export const IPPROTO_UDP: number = constant('IPPROTO_UDP');
export const IP_TTL: number = constant('IP_TTL');
export const IP_MULTICAST_TTL: number = constant('IP_MULTICAST_TTL');
export const IP_MULTICAST_LOOP: number = constant('IP_MULTICAST_LOOP');
export const IP_MULTICAST_IF: number = constant('IP_MULTICAST_IF');
export const IP_ADD_MEMBERSHIP: number = constant('IP_ADD_MEMBERSHIP');
export const IP_DROP_MEMBERSHIP: number = constant('IP_DROP_MEMBERSHIP');
export const IP_ADD_SOURCE_MEMBERSHIP: number = constant('IP_ADD_SOURCE_MEMBERSHIP');
export const IP_DROP_SOURCE_MEMBERSHIP: number = constant('IP_DROP_SOURCE_MEMBERSHIP');
export const IPV6_V6ONLY: number = constant('IPV6_V6ONLY');
export const IPV6_UNICAST_HOPS: number = constant('IPV6_UNICAST_HOPS');
export const IPV6_MULTICAST_HOPS: number = constant('IPV6_MULTICAST_HOPS');
export const IPV6_MULTICAST_LOOP: number = constant('IPV6_MULTICAST_LOOP');
export const IPV6_MULTICAST_IF: number = constant('IPV6_MULTICAST_IF');
export const IPV6_ADD_MEMBERSHIP: number = constant('IPV6_ADD_MEMBERSHIP');
export const IPV6_DROP_MEMBERSHIP: number = constant('IPV6_DROP_MEMBERSHIP');
export const MCAST_JOIN_SOURCE_GROUP: number = constant('MCAST_JOIN_SOURCE_GROUP');
export const MCAST_LEAVE_SOURCE_GROUP: number = constant('MCAST_LEAVE_SOURCE_GROUP');
export const SO_BROADCAST: number = constant('SO_BROADCAST');
export const MSG_TRUNC: number = constant('MSG_TRUNC');
export const MSG_CTRUNC: number = constant('MSG_CTRUNC');
export const MSG_WAITFORONE: number = constant('MSG_WAITFORONE');

/**
 * `int recvmmsg(int fd, struct mmsghdr *msgs, unsigned vlen, int flags, NULL)` — up to `vlen`
 * datagrams, message i into `buffer[msgs[i·12], + msgs[i·12 + 1])`; fills, for each received,
 * its length, `msg_flags` and sender (see the table above). Returns how many, or −EAGAIN. No
 * timeout (the kernel checks it only between datagrams: recvmmsg(2), BUGS).
 */
export const recvmmsg = udp.recvmmsg;
/**
 * `int sendmmsg(int fd, struct mmsghdr *msgs, unsigned vlen, int flags | MSG_NOSIGNAL)` — up to
 * `vlen` datagrams in one syscall, each to its own address (family 0: the connected peer).
 * Returns how many went (word 2 of each: its bytes), or −EAGAIN. A failure after the first
 * datagram is not reported by this call; the next one, starting at the failed message, reports it.
 */
export const sendmmsg = udp.sendmmsg;
/**
 * Not 1:1: `recvmmsg` on many sockets in one native call, packed. For each `fds[i]` in turn,
 * up to `results[i]` datagrams (as many as `msgs` and the room left allow) are received into
 * `slot`-byte rooms from the current position (at first `start`), then moved down to follow each
 * other without gaps: the buffer advances only by what arrived, and no byte before the new
 * position is written again. Each message is described in `msgs` (word 3: i). `results[i]`
 * becomes its count or −errno (−EAGAIN: none; −ENOBUFS: no room or no msgs left). Returns the
 * number of messages. A datagram longer than `slot` is cut (`MSG_TRUNC` in word 2): give
 * 65,536 to lose nothing.
 */
export const recvmmsg_many = udp.recvmmsg_many;
/**
 * Not 1:1: `sendmmsg` for messages of many sockets in one native call. Message j (j < n) goes
 * from `fds[msgs[j·12 + 3]]`; each run of one socket's messages is one sendmmsg (more past
 * UIO_MAXIOV). Word 2 of each becomes bytes sent or −errno; a failing message is reported and
 * the rest of its run still goes; after EAGAIN, the socket's later messages get −EAGAIN, unsent,
 * so that its order holds. Every descriptor is checked before the first datagram goes. Returns n.
 */
export const sendmmsg_many = udp.sendmmsg_many;
/** `connect(fd, { sa_family: AF_UNSPEC })` — dissolves a datagram socket's association. */
export const connect_unspec = udp.connect_unspec;
/** `int inet_pton(int af, const char *src, void *dst)` → the 4 or 16 bytes, or null (C's 0). */
export const inet_pton = udp.inet_pton;
/** `const char *inet_ntop(int af, const void *src, …)` → the text form of the first 4 or 16 bytes. */
export const inet_ntop = udp.inet_ntop;
/** `unsigned if_nametoindex(const char *name)` → index; throws ENODEV for no such interface. */
export const if_nametoindex = udp.if_nametoindex;
/** `char *if_indextoname(unsigned index, char *name)` → name; throws ENXIO for no such index. */
export const if_indextoname = udp.if_indextoname;
/** `struct ip_mreq` for `IP_ADD_MEMBERSHIP`/`IP_DROP_MEMBERSHIP` (iface default `0.0.0.0`: the kernel picks). */
export const ip_mreq = udp.ip_mreq;
/** `struct ip_mreq_source` for `IP_ADD_SOURCE_MEMBERSHIP`/`IP_DROP_SOURCE_MEMBERSHIP`. */
export const ip_mreq_source = udp.ip_mreq_source;
/** `struct ipv6_mreq` for `IPV6_ADD_MEMBERSHIP`/`IPV6_DROP_MEMBERSHIP` (ifindex 0: the kernel picks). */
export const ipv6_mreq = udp.ipv6_mreq;
/** `struct group_source_req` for `MCAST_JOIN_SOURCE_GROUP`/`MCAST_LEAVE_SOURCE_GROUP` (IPv4 or IPv6). */
export const group_source_req = udp.group_source_req;
