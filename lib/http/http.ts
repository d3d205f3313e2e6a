/**
 * `http`: Node's own HTTP server and client, on the reactor's sockets. `createServer` returns a
 * real `http.Server` (Node's parser, keep-alive, timeouts, `'upgrade'`, `'connect'`) whose
 * `listen()` accepts with our `net.Server`; `request`/`get` go through an `Agent` whose
 * connections are our sockets (Node's keep-alive pooling unchanged). Everything else is
 * node:http's. docs/http.md tells how it is wired and what differs.
 *
 * @example
 * ```ts
 * import { http } from 'epoll-reactor';
 * http.createServer((req, res) => res.end('hello\n')).listen(8080);
 * ```
 * @module
 */
import * as nodeHttp from 'node:http';
import type { Loop } from '../reactor/index';
import type { Socket } from '../net/socket';
import { connectOnLoop, loopOption, withDefaultAgent } from './connection';
import { listenOnLoop, type NodeServerState } from './listener';

export {
  ClientRequest,
  IncomingMessage,
  METHODS,
  OutgoingMessage,
  STATUS_CODES,
  ServerResponse,
  maxHeaderSize,
  setMaxIdleHTTPParsers,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
export type { IncomingHttpHeaders, OutgoingHttpHeaders, RequestListener, RequestOptions } from 'node:http';

/** Node's `http.ServerOptions`, plus the loop to accept on. */
export type ServerOptions = nodeHttp.ServerOptions & { loop?: Loop };

/** Node's `http.AgentOptions`, plus the loop the connections run on. */
export type AgentOptions = nodeHttp.AgentOptions & { loop?: Loop };

/**
 * Node's `http.Server` (`instanceof require('node:http').Server`), listening on the reactor.
 *
 * @example
 * ```ts
 * import { http } from 'epoll-reactor';
 * const server = new http.Server((req, res) => res.end('ok'));
 * server.listen(0, '127.0.0.1', () => console.log(server.address()));
 * ```
 */
export class Server extends nodeHttp.Server {
  /** The loop this server accepts on. */
  readonly loop: Loop;

  constructor(requestListener?: nodeHttp.RequestListener);
  constructor(options: ServerOptions, requestListener?: nodeHttp.RequestListener);
  constructor(options?: ServerOptions | nodeHttp.RequestListener, requestListener?: nodeHttp.RequestListener) {
    super(options as nodeHttp.ServerOptions, requestListener);
    this.loop = loopOption(options);
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

/**
 * Node's `http.Agent` (pooling, keep-alive, `maxSockets`, scheduling) whose connections are our
 * sockets, on `options.loop` (default: the default loop).
 */
export class Agent extends nodeHttp.Agent {
  readonly loop: Loop;

  constructor(options?: AgentOptions) {
    super(options);
    this.loop = loopOption(options);
  }

  // biome-ignore lint/suspicious/noExplicitAny: Node's signature (options, callback)
  override createConnection(options: any): Socket {
    return connectOnLoop(options, this.loop);
  }
}

/** The Agent `request`/`get` use when given none (as Node's `http.globalAgent`). */
export const globalAgent: Agent = new Agent({ keepAlive: true, timeout: 5000 });

/** `request(url, [options], [cb])` or `request(options, [cb])`, as Node's, through {@link globalAgent} unless told otherwise. */
export function request(options: nodeHttp.RequestOptions | string | URL, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function request(url: string | URL, options: nodeHttp.RequestOptions, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function request(...args: unknown[]): nodeHttp.ClientRequest {
  return new (nodeHttp.ClientRequest as unknown as new (...a: unknown[]) => nodeHttp.ClientRequest)(...withDefaultAgent(args, globalAgent));
}

/** `get(...)`: {@link request} with GET, ended at once. */
export function get(options: nodeHttp.RequestOptions | string | URL, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function get(url: string | URL, options: nodeHttp.RequestOptions, callback?: (res: nodeHttp.IncomingMessage) => void): nodeHttp.ClientRequest;
export function get(...args: unknown[]): nodeHttp.ClientRequest {
  const req = (request as (...a: unknown[]) => nodeHttp.ClientRequest)(...args);
  req.end();
  return req;
}
