/**
 * `https`: Node's own HTTPS server and client over the reactor's sockets — `tls` under `http`,
 * as in Node. `createServer` returns a real `https.Server`; `request`/`get` go through an
 * `Agent` whose TLS connections run over our sockets (Node's pooling and TLS session reuse
 * unchanged).
 *
 * @example
 * ```ts
 * import { https } from 'epoll-reactor';
 * https.createServer({ key, cert }, (req, res) => res.end('hello\n')).listen(8443);
 * ```
 * @module
 */
import * as nodeHttp from 'node:http';
import * as nodeHttps from 'node:https';
import type * as nodeTls from 'node:tls';
import { urlToHttpOptions } from 'node:url';
import type { Loop } from '../reactor/index';
import { connectOnLoop, loopOption } from './connection';
import { listenOnLoop, type NodeServerState } from './listener';
import { copyAddresses, fillServerAddresses, keepOpenUnderTls } from './tls-socket';

export type { RequestOptions } from 'node:https';

const { ClientRequest } = nodeHttp;

/** Node's `https.ServerOptions`, plus the loop to accept on. */
export type ServerOptions = nodeHttps.ServerOptions & { loop?: Loop };

/** Node's `https.AgentOptions`, plus the loop the connections run on. */
export type AgentOptions = nodeHttps.AgentOptions & { loop?: Loop };

/** Node's `https.Server` (`instanceof require('node:https').Server`), listening on the reactor. */
export class Server extends nodeHttps.Server {
  /** The loop this server accepts on. */
  readonly loop: Loop;

  constructor(requestListener?: nodeHttp.RequestListener);
  constructor(options: ServerOptions, requestListener?: nodeHttp.RequestListener);
  constructor(options?: ServerOptions | nodeHttp.RequestListener, requestListener?: nodeHttp.RequestListener) {
    super(options as nodeHttps.ServerOptions, requestListener);
    this.loop = loopOption(options);
    fillServerAddresses(this);
  }

  /** Every form of Node's `listen()`; accepts on {@link Server.loop}. */
  // biome-ignore lint/suspicious/noExplicitAny: Node's overloads, all forwarded
  override listen(...args: any[]): this {
    listenOnLoop(this as unknown as NodeServerState, this.loop, args);
    return this;
  }
}

/** `createServer([options], [requestListener])`, as Node's. */
export function createServer(requestListener?: nodeHttp.RequestListener): Server;
export function createServer(options: ServerOptions, requestListener?: nodeHttp.RequestListener): Server;
export function createServer(options?: ServerOptions | nodeHttp.RequestListener, requestListener?: nodeHttp.RequestListener): Server {
  return new Server(options as ServerOptions, requestListener);
}

/** Node's `https.Agent` whose TLS connections run over our sockets, on `options.loop`. */
export class Agent extends nodeHttps.Agent {
  readonly loop: Loop;

  constructor(options?: AgentOptions) {
    super(options);
    this.loop = loopOption(options);
  }

  // biome-ignore lint/suspicious/noExplicitAny: Node's signature (options, callback)
  override createConnection(options: any): nodeTls.TLSSocket {
    const raw = connectOnLoop(options, this.loop);
    // Node's own https createConnection (session cache, tls.connect) with the socket given to it.
    const create = nodeHttps.Agent.prototype.createConnection as unknown as (this: Agent, o: unknown) => nodeTls.TLSSocket;
    const tlsSocket = create.call(this, { ...options, socket: raw });
    keepOpenUnderTls(raw);
    raw.once('connect', () => copyAddresses(tlsSocket, raw));
    return tlsSocket;
  }
}

/** The Agent `request`/`get` use when given none (as Node's `https.globalAgent`). */
export const globalAgent: Agent = new Agent({ keepAlive: true, timeout: 5000 });

/** `request(url, [options], [cb])` or `request(options, [cb])`, as Node's `https.request`. */
export function request(options: nodeHttps.RequestOptions | string | URL, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function request(url: string | URL, options: nodeHttps.RequestOptions, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function request(...args: unknown[]): nodeHttp.ClientRequest {
  // As Node's https.request: the URL's parts, then the options over them, then the default agent (ours).
  let options: Record<string, unknown> = {};
  if (typeof args[0] === 'string') options = urlToHttpOptions(new URL(args.shift() as string)) as Record<string, unknown>;
  else if (args[0] instanceof URL) options = urlToHttpOptions(args.shift() as URL) as Record<string, unknown>;
  if (args[0] && typeof args[0] !== 'function') Object.assign(options, args.shift());
  options._defaultAgent = globalAgent;
  return new (ClientRequest as unknown as new (...a: unknown[]) => nodeHttp.ClientRequest)(options, ...args);
}

/** `get(...)`: {@link request} with GET, ended at once. */
export function get(options: nodeHttps.RequestOptions | string | URL, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function get(url: string | URL, options: nodeHttps.RequestOptions, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function get(...args: unknown[]): nodeHttp.ClientRequest {
  const req = (request as (...a: unknown[]) => nodeHttp.ClientRequest)(...args);
  req.end();
  return req;
}
