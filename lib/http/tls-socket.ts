/**
 * TLS over our sockets. Node's `TLSSocket` runs OpenSSL against a libuv stream; given any other
 * Duplex (ours), it wraps it in its `JSStreamSocket` and feeds it the bytes from JavaScript. That
 * wrapping knows nothing of addresses, so a TLS socket over ours would report no
 * `remoteAddress`/`localAddress`: Node's `net.Socket` reads them from `_peername`/`_sockname`
 * once filled, and we fill them from our socket.
 */
import { isIP } from 'node:net';
import * as nodeTls from 'node:tls';
import { normalizeArgs } from '../net/connect';
import type { Socket } from '../net/socket';
import { connectOnLoop, loopOption } from './connection';

interface AddressCache {
  _peername?: unknown;
  _sockname?: unknown;
}

/** Copies `raw`'s addresses onto the TLS socket layered over it. */
export function copyAddresses(tlsSocket: nodeTls.TLSSocket, raw: Socket): void {
  const cache = tlsSocket as unknown as AddressCache;
  if (raw.remoteAddress !== undefined) cache._peername = { address: raw.remoteAddress, family: raw.remoteFamily, port: raw.remotePort };
  if (raw.localAddress !== undefined) cache._sockname = { address: raw.localAddress, family: raw.localFamily, port: raw.localPort };
}

/**
 * Once Node's TLSSocket is built over `raw` (it copies `raw.allowHalfOpen` as its own), `raw`
 * itself must stay half-open: the TLS layer ends it (close_notify, then our end()) when it is
 * done. Left as it was, our socket would end its writable side the moment the peer's FIN
 * arrives, cutting off what TLS still had to send (with a libuv socket Node's TLS works on the
 * fd below the JavaScript socket, and the question does not arise).
 */
export function keepOpenUnderTls(raw: Socket): void {
  raw.allowHalfOpen = true;
}

/** The socket of ours under a server-side TLS socket (Node's JSStreamSocket keeps it as `stream`). */
function rawSocketOf(tlsSocket: nodeTls.TLSSocket): Socket | undefined {
  const handle = (tlsSocket as unknown as { _handle?: { _parentWrap?: { stream?: Socket } } | null })._handle;
  return handle?._parentWrap?.stream;
}

function onSecureConnection(tlsSocket: nodeTls.TLSSocket): void {
  const raw = rawSocketOf(tlsSocket);
  if (raw !== undefined) copyAddresses(tlsSocket, raw);
}

function onTlsClientError(_err: Error, tlsSocket: nodeTls.TLSSocket): void {
  onSecureConnection(tlsSocket);
}

/** A TLS server's sockets (and those 'tlsClientError' reports) get their addresses before anyone looks. */
export function fillServerAddresses(server: nodeTls.Server): void {
  server.prependListener('secureConnection', onSecureConnection);
  server.prependListener('tlsClientError', onTlsClientError);
}

/** Node's `tls.connect(options)`, over a socket of ours unless the caller brought one. */
export function connectTls(options: nodeTls.ConnectionOptions & { loop?: unknown }, cb?: () => void): nodeTls.TLSSocket {
  if (options.socket !== undefined && options.socket !== null) return nodeTls.connect(options, cb);
  const raw = connectOnLoop(options as Record<string, unknown>, loopOption(options));
  const withSocket: nodeTls.ConnectionOptions = { ...options, socket: raw as unknown as nodeTls.ConnectionOptions['socket'] };
  // Node's default SNI is the host name (never an IP), which it takes from the socket it connects itself.
  if (withSocket.servername === undefined && typeof options.host === 'string' && isIP(options.host) === 0) withSocket.servername = options.host;
  delete (withSocket as { loop?: unknown }).loop;
  const tlsSocket = nodeTls.connect(withSocket, cb);
  keepOpenUnderTls(raw);
  if (raw.connecting) raw.once('connect', () => copyAddresses(tlsSocket, raw));
  else copyAddresses(tlsSocket, raw);
  return tlsSocket;
}

/** `tls.connect`'s argument forms: (options, cb?), (port, host?, options?, cb?), (path, options?, cb?). */
export function normalizeTlsArgs(args: unknown[]): [nodeTls.ConnectionOptions, (() => void) | undefined] {
  const [options, cb] = normalizeArgs(args);
  if (args[1] !== null && typeof args[1] === 'object') Object.assign(options, args[1]);
  else if (args[2] !== null && typeof args[2] === 'object') Object.assign(options, args[2]);
  return [options as nodeTls.ConnectionOptions, (cb ?? undefined) as (() => void) | undefined];
}
