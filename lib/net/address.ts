/**
 * Addresses for TCP and Unix sockets: literals only (no DNS: resolving a name would need Node's
 * thread pool, which a standalone loop stalls). `localhost` is the one name understood.
 */
import { isIP } from 'node:net';
import { invalidArgType, outOfRange } from '../errors';
import * as sys from '../sys/index';

export interface Endpoint {
  /** AF_INET, AF_INET6 or AF_UNIX. */
  domain: number;
  /** An IP literal, or a Unix socket path. */
  address: string;
  /** −1 for Unix sockets. */
  port: number;
}

export function checkPort(port: unknown, name = 'port'): number {
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number') throw invalidArgType(name, 'of type number', port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw outOfRange(name, '>= 0 and <= 65535', port);
  return port;
}

/** A host literal (or 'localhost') → its family; throws a TypeError naming `host` otherwise. */
export function ipEndpoint(host: unknown, port: number, defaultHost: string): Endpoint {
  if (host === undefined || host === null || host === '') host = defaultHost;
  if (typeof host !== 'string') throw invalidArgType('host', 'of type string', host);
  let address = host === 'localhost' ? '127.0.0.1' : host;
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const family = isIP(address.split('%')[0]!);
  if (family === 0) {
    throw invalidArgType('host', "an IPv4 or IPv6 address literal or 'localhost' (names are not resolved)", host);
  }
  return { domain: family === 6 ? sys.AF_INET6 : sys.AF_INET, address, port };
}

export function unixEndpoint(path: unknown): Endpoint {
  if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
  if (path.length === 0 || Buffer.byteLength(path) > 107) throw outOfRange('path', 'a Unix socket path of 1 to 107 bytes', path);
  return { domain: sys.AF_UNIX, address: path, port: -1 };
}
