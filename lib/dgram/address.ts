/**
 * Addresses between text and the words of a datagram descriptor (sys.MMSG_WORDS layout, words
 * 4–11), both ways, cached: a server answers the same few peers again and again, so each
 * destination is parsed once (by the kernel's own inet_pton) and each sender's text is built once.
 */
import * as sys from '../sys/index';

const { AF_INET, AF_INET6 } = sys;

/** Words 4–11 of a descriptor for a destination, port left 0: [family, 0, scope, 0, addr × 4]. */
export type Destination = Int32Array;

/** Bounded caches: a flood of distinct peers must not grow memory without end. */
const CACHE_MAX = 4096;
const dest4 = new Map<string, Destination | null>();
const dest6 = new Map<string, Destination | null>();

/**
 * The destination words for an IP literal of the socket's family, or null when `ip` is not one
 * (what libuv's uv_ip4_addr / uv_ip6_addr refuse: Node answers EINVAL). An IPv6 `%zone` names
 * the interface (its index becomes the scope id; an unknown one gives 0, as libuv does).
 */
export function destination(ip: string, v6: boolean): Destination | null {
  const cache = v6 ? dest6 : dest4;
  let d = cache.get(ip);
  if (d !== undefined) return d;
  d = parse(ip, v6);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(ip, d);
  return d;
}

function parse(ip: string, v6: boolean): Destination | null {
  let host = ip;
  let scope = 0;
  const pct = v6 ? ip.indexOf('%') : -1;
  if (pct >= 0) {
    host = ip.slice(0, pct);
    try {
      scope = sys.if_nametoindex(ip.slice(pct + 1));
    } catch {
      scope = 0;
    }
  }
  const bytes = host.includes('\0') ? null : sys.inet_pton(v6 ? AF_INET6 : AF_INET, host);
  if (bytes === null) return null;
  const d = new Int32Array(8);
  d[0] = v6 ? AF_INET6 : AF_INET;
  d[2] = scope;
  new Uint8Array(d.buffer, 16, bytes.length).set(bytes);
  return d;
}

/** Whether `ip` is a literal the socket can send to or bind (after its zone, for IPv6). */
export const isLiteral = (ip: string, v6: boolean): boolean => destination(ip, v6) !== null;

// ── Received addresses → text ──────────────────────────────────────────────────────────────
const text4 = new Map<number, string>();
const text6 = new Map<string, string>();
let last4 = 0;
let lastText4 = '';

/**
 * The text of the sender recorded in `words` (a descriptor's Int32Array) at `base` (its word 4),
 * as Node prints it: dotted quad, or RFC 5952 IPv6 (inet_ntop's form) with `%interface` for a
 * link-local address with a scope.
 */
export function senderText(words: Int32Array, bytes: Uint8Array, base: number): string {
  if (words[base] === AF_INET) {
    const key = words[base + 4]!;
    if (key === last4 && lastText4 !== '') return lastText4; // the same peer as last time: no lookup
    let t = text4.get(key);
    last4 = key;
    if (t === undefined) {
      const o = (base + 4) * 4;
      t = `${bytes[o]}.${bytes[o + 1]}.${bytes[o + 2]}.${bytes[o + 3]}`;
      if (text4.size >= CACHE_MAX) text4.clear();
      text4.set(key, t);
    }
    lastText4 = t;
    return t;
  }
  const key = `${words[base + 4]},${words[base + 5]},${words[base + 6]},${words[base + 7]},${words[base + 2]}`;
  let t = text6.get(key);
  if (t === undefined) {
    t = ipv6Text(bytes.subarray((base + 4) * 4, (base + 8) * 4), words[base + 2]! >>> 0);
    if (text6.size >= CACHE_MAX) text6.clear();
    text6.set(key, t);
  }
  return t;
}

function ipv6Text(b: Uint8Array, scope: number): string {
  let t = sys.inet_ntop(AF_INET6, b);
  // Node adds the interface to a link-local address (fe80::/10) that has a scope.
  if (scope > 0 && b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) {
    try {
      t += `%${sys.if_indextoname(scope)}`;
    } catch {
      t += `%${scope}`;
    }
  }
  return t;
}
