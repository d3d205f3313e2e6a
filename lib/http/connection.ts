/**
 * The client side's one hook: an Agent's `createConnection(options)` — what Node's `http.Agent`
 * calls to open a connection (net.createConnection by default) — opens one of our sockets.
 */
import { loop as defaultLoop, type Loop } from '../reactor/index';
import { connect, type NetConnectOpts } from '../net/index';
import type { Socket } from '../net/socket';

/** The connect options an Agent passes that a socket understands (the request's own are left behind). */
const CONNECT_KEYS = [
  'host',
  'port',
  'localAddress',
  'localPort',
  'family',
  'hints',
  'lookup',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
  'timeout',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
] as const;

/** Our socket for an Agent's connect options (`socketPath`/`path` for a Unix socket). */
export function connectOnLoop(options: Record<string, unknown>, loop: Loop): Socket {
  const picked: Record<string, unknown> = { loop };
  for (const key of CONNECT_KEYS) if (options[key] !== undefined && options[key] !== null) picked[key] = options[key];
  const path = options.socketPath ?? options.path;
  if (typeof path === 'string' && path !== '') {
    delete picked.host;
    delete picked.port;
    picked.path = path;
  }
  return connect(picked as NetConnectOpts);
}

/**
 * `request(url, options?, cb?)` or `request(options, cb?)` with `_defaultAgent` set: Node's
 * ClientRequest takes its agent from there when the caller names none (and `agent: false` makes a
 * fresh one of the same class), so requests go through our Agent by default.
 */
export function withDefaultAgent(args: unknown[], agent: unknown): unknown[] {
  const [first, second] = args;
  if (typeof first === 'string' || first instanceof URL) {
    if (second !== null && typeof second === 'object') return [first, { ...second, _defaultAgent: agent }, ...args.slice(2)];
    return [first, { _defaultAgent: agent }, ...args.slice(1)];
  }
  if (first !== null && typeof first === 'object') return [{ ...first, _defaultAgent: agent }, ...args.slice(1)];
  return args;
}

/** The loop a server or agent was given (`{ loop }` in its options), or the default loop. */
export function loopOption(options: unknown): Loop {
  const loop = options !== null && typeof options === 'object' ? (options as { loop?: Loop }).loop : undefined;
  return loop ?? defaultLoop;
}
