/**
 * HTTP/1.1 "Hello, World!" server: keep-alive, pipelining, and the defences a server on the
 * open internet needs — the one the benchmarks compare with Node's `http` and a C server.
 *
 *   node dist/examples/http-server.js --port 8080 [--host 127.0.0.1] [--driver standalone|node] [--stats]
 *
 * Every request gets the same 13-byte body. Requests are parsed straight out of the bytes the
 * socket reads (`socket.onread`: a range of the loop's read slab, no chunk object, no copy unless
 * a request spans two reads); all the responses to one read's pipelined requests leave in one
 * write.
 *
 * Answers and limits:
 * - 400 Bad Request for a malformed request line or header line (then close): a header name
 *   that is not a token, whitespace before the colon, obs-fold, a bare CR or another control
 *   character, two Content-Lengths, an HTTP/1.1 request without exactly one Host (RFC 9112);
 * - 431 Request Header Fields Too Large past 8 KiB of head (then close);
 * - 413 Content Too Large for a body over 1 MiB, 501 for Transfer-Encoding, with or without a
 *   Content-Length (then close);
 * - 408 Request Timeout when a request's head takes longer than --header-timeout (slowloris);
 * - keep-alive connections idle longer than --idle-timeout are closed;
 * - a client that does not read its responses is not read from either (backpressure): the
 *   server never buffers more than ~16 KiB of responses for it.
 *
 * `GET /health` answers 200 `ok`, or 503 `draining` once the server drains. A drain (SIGTERM or
 * SIGINT; with `--workers N`, SIGTERM to the primary or a rolling restart — see
 * examples/support/workers.ts) fails the health check for `--drain-delay` ms, closes the
 * listener, answers each connection's next request with `Connection: close`, closes the
 * connections left idle, and exits 0 when the last one has closed (docs/signals.md).
 */
import { type net as Net, loop, net, workers } from '../lib/index';
import { intFlag } from './cli';
import { announce, counters, drainServer, drive, exampleArgs, shutdownOnSignals, startReporting } from './common';

const args = exampleArgs({
  about: 'HTTP/1.1 "Hello, World!" server: keep-alive, pipelining, 400/408/413/431/501, backpressure.\nThe server the benchmarks compare with Node\'s http and a C server.',
  port: 8080,
  flags: {
    'header-timeout': { type: 'string', default: '10000', value: 'MS', help: "answer 408 and close when a request's head takes longer" },
    'idle-timeout': { type: 'string', default: '30000', value: 'MS', help: 'close keep-alive connections idle this long' },
  },
  notes: [
    'try: curl http://127.0.0.1:8080/, or wrk -c100 http://127.0.0.1:8080/',
    'many cores: --workers 2 (kill -HUP the primary for a rolling restart, kill -TERM to drain)',
  ],
  workers: true,
});
const HEADER_TIMEOUT_MS = intFlag(args.values, 'header-timeout', 1);
const IDLE_TIMEOUT_MS = intFlag(args.values, 'idle-timeout', 1);

const BODY = 'Hello, World!';
const head = (connection: string): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: ${connection}\r\n\r\n${BODY}`;
const OK = Buffer.from(head('keep-alive'));
const OK_CLOSE = Buffer.from(head('close'));
const errorResponse = (status: string): Buffer => {
  const text = status.slice(4);
  return Buffer.from(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`,
  );
};
const ERRORS: Record<number, Buffer> = {
  400: errorResponse('400 Bad Request'),
  408: errorResponse('408 Request Timeout'),
  413: errorResponse('413 Content Too Large'),
  431: errorResponse('431 Request Header Fields Too Large'),
  501: errorResponse('501 Not Implemented'),
};
const MAX_HEAD = 8 * 1024;

// ── Health and draining (--workers; a load balancer's health check) ───────────────────────────
/** The health check fails from now on (a drain has begun). */
let draining = false;
/** The listener is closed: every connection closes after its next answer, or when idle. */
let stopping = false;
const healthHead = (status: string, body: string, connection: string): Buffer =>
  Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: ${connection}\r\n\r\n${body}`);
const HEALTH = [healthHead('200 OK', 'ok', 'keep-alive'), healthHead('200 OK', 'ok', 'close')];
const UNHEALTHY = [healthHead('503 Service Unavailable', 'draining', 'keep-alive'), healthHead('503 Service Unavailable', 'draining', 'close')];
function healthResponse(close: boolean): Buffer {
  return (draining ? UNHEALTHY : HEALTH)[close ? 1 : 0]!;
}
/** `GET /health ` at `at` (the second test is enough to pass over `GET / ` cheaply). */
function isHealthCheck(b: Buffer, at: number): boolean {
  return b[at + 5] === 104 && b[at] === 71 && b[at + 4] === 47 && b.toString('latin1', at, at + 12) === 'GET /health ';
}
const MAX_BODY = 1024 * 1024;

/** OK repeated k times, built once per k: one write answers k pipelined requests. */
const batches: Buffer[] = [Buffer.alloc(0), OK];
function okTimes(k: number): Buffer {
  if (k < 64) return (batches[k] ??= Buffer.concat(Array.from({ length: k }, () => OK)));
  return Buffer.concat(Array.from({ length: k }, () => OK));
}

// ── The parser ─────────────────────────────────────────────────────────────────────────────
// parse() reports through these module variables instead of allocating a result per chunk.
let parsedCount = 0; // complete requests
let parsedEnd = 0; // bytes consumed by them
let parsedClose = false; // the last one asked to close (Connection: close, or HTTP/1.0)
let parsedError = 0; // an HTTP status to answer with, then close; 0 = none
let parsedHealth = false; // the last one is GET /health (parse stops after it)

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const DEL = 127;
/** nextLF's answer for a line with a forbidden control character. */
const BAD_LINE = -2;

/** `METHOD SP request-target SP HTTP/1.x`, with a token method and no control characters. */
function validRequestLine(b: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end && b[i]! >= 65 && b[i]! <= 90) i++; // method: upper-case token
  if (i === start || i >= end || b[i] !== SP) return false;
  const target = ++i;
  while (i < end && b[i]! > SP && b[i]! < 127) i++;
  if (i === target || i >= end || b[i] !== SP) return false;
  i++;
  return (
    end - i === 8 &&
    b[i] === 72 && b[i + 1] === 84 && b[i + 2] === 84 && b[i + 3] === 80 && // HTTP
    b[i + 4] === 47 && b[i + 5] === 49 && b[i + 6] === 46 && // /1.
    b[i + 7]! >= 48 && b[i + 7]! <= 57
  );
}

/** Case-insensitive match of a lower-case header name (with its colon) at `at`. */
function nameIs(b: Buffer, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) if ((b[at + k]! | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

/** The header value between `from` and `to`, trimmed, lower-cased (only for short values). */
function headerValue(b: Buffer, from: number, to: number): string {
  return b.toString('latin1', from, to).trim().toLowerCase();
}

/**
 * Index of the next LF at or after `i`, −1 if none before `limit`, or BAD_LINE if a control
 * character comes first: CR is allowed only right before the LF, HTAB anywhere. A bare CR, a
 * NUL or any other CTL in a request line or a field is invalid (RFC 9112 §2.2, RFC 9110 §5.5),
 * and a recipient that reads past one may see different messages than the proxy in front of it
 * did. (A JavaScript loop: cheaper than a native call for a few dozen bytes.)
 */
function nextLF(b: Buffer, i: number, limit: number): number {
  while (i < limit) {
    const c = b[i]!;
    if (c < SP || c === DEL) {
      if (c === LF) return i;
      if (c !== HTAB && !(c === CR && i + 1 < limit && b[i + 1] === LF)) return BAD_LINE;
    }
    i++;
  }
  return -1;
}

/** tchar (RFC 9110 §5.6.2): the bytes a header name may hold. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/**
 * One pass over the bytes `b[start]` to `b[stop - 1]`: request line, header lines up to the empty
 * line, body. Stops at the first incomplete request (parsedEnd marks where it starts) or the first
 * error.
 */
function parse(b: Buffer, start: number, stop: number): void {
  parsedCount = 0;
  parsedEnd = start;
  parsedClose = false;
  parsedError = 0;
  parsedHealth = false;
  let pos = start;
  while (pos < stop) {
    const limit = Math.min(stop, pos + MAX_HEAD + 4);
    const lineEnd = nextLF(b, pos, limit);
    if (lineEnd === BAD_LINE) {
      parsedError = 400;
      return;
    }
    if (lineEnd < 0) {
      if (limit < stop || stop - pos > MAX_HEAD) parsedError = 431;
      return;
    }
    if (b[lineEnd - 1] !== CR || !validRequestLine(b, pos, lineEnd - 1)) {
      parsedError = 400;
      return;
    }
    const http10 = b[lineEnd - 2] === 48;
    let keepAlive = !http10; // HTTP/1.0 closes unless asked to keep alive
    let bodyLength = -1;
    let hosts = 0;
    // Header lines, "name: value\r\n" with a token name (no spaces, no folding), to an empty line.
    let line = lineEnd + 1;
    for (;;) {
      const next = nextLF(b, line, limit);
      if (next === BAD_LINE) {
        parsedError = 400;
        return;
      }
      if (next < 0) {
        if (limit < stop) parsedError = 431;
        return; // the head is not complete yet
      }
      if (b[next - 1] !== CR) {
        parsedError = 400;
        return;
      }
      if (next === line + 1) {
        line = next + 1; // the empty line: end of the head
        break;
      }
      // The name: a token, right up to the colon. A space before the colon (RFC 9112 §5.1) and
      // a line that starts with whitespace (obs-fold, §5.2) both fail here: 400, as they must.
      let colon = line;
      while (colon < next && b[colon] !== 58) {
        if (TCHAR[b[colon]!] === 0) {
          parsedError = 400;
          return;
        }
        colon++;
      }
      if (colon === line || colon === next) {
        parsedError = 400;
        return;
      }
      const first = b[line]! | 0x20;
      if (first === 99 /* c */) {
        if (colon - line === 14 && nameIs(b, line, 'content-length')) {
          const v = headerValue(b, colon + 1, next - 1);
          // A second Content-Length, even an equal one, is refused as Node's parser refuses it:
          // two framings of one message are how requests are smuggled past a proxy (§6.3).
          if (!/^\d{1,10}$/.test(v) || bodyLength >= 0) {
            parsedError = 400;
            return;
          }
          bodyLength = Number(v);
          if (bodyLength > MAX_BODY) {
            parsedError = 413;
            return;
          }
        } else if (colon - line === 10 && nameIs(b, line, 'connection')) {
          const v = headerValue(b, colon + 1, next - 1);
          if (v === 'close') keepAlive = false;
          else if (v === 'keep-alive') keepAlive = true;
        }
      } else if (first === 116 /* t */ && colon - line === 17 && nameIs(b, line, 'transfer-encoding')) {
        // Not implemented; and with a Content-Length too, the framing is ambiguous: either way
        // the answer is final and the connection closes, so nothing after it is read (§6.1).
        parsedError = 501;
        return;
      } else if (first === 104 /* h */ && colon - line === 4 && nameIs(b, line, 'host')) {
        hosts++;
      }
      line = next + 1;
    }
    // HTTP/1.1 requires exactly one Host (RFC 9112 §3.2).
    if (hosts > 1 || (hosts === 0 && !http10)) {
      parsedError = 400;
      return;
    }
    const end = line + Math.max(bodyLength, 0);
    if (end > stop) return; // the body is still on its way
    parsedCount++;
    const health = isHealthCheck(b, pos);
    parsedEnd = pos = end;
    if (health) {
      parsedHealth = true;
      parsedClose = !keepAlive;
      return;
    }
    if (!keepAlive) {
      parsedClose = true;
      return;
    }
  }
}

// ── Connections ────────────────────────────────────────────────────────────────────────────
interface Conn {
  socket: Net.Socket;
  /** Bytes of an incomplete request, kept across reads (slab views stay valid). */
  partial: Buffer | null;
  /** When the incomplete request started (loop time), for the header timeout. */
  partialSince: number;
  lastActive: number;
  /** Answered with an error status and closing. */
  closing: boolean;
}
const conns = new Set<Conn>();

/** The bytes `b[start]` to `b[end - 1]` arrived (socket.onread: a view of the read slab). */
function onData(conn: Conn, b: Buffer, start: number, end: number): void {
  if (conn.closing) return; // answered with an error: whatever else comes is dropped
  const socket = conn.socket;
  if (conn.partial !== null) {
    b = Buffer.concat([conn.partial, b.subarray(start, end)]);
    start = 0;
    end = b.length;
  }
  conn.lastActive = loop.now();
  for (;;) {
    parse(b, start, end);
    const count = parsedCount;
    counters.requests += count;
    if (parsedError !== 0) {
      if (count > 0) socket.write(okTimes(count));
      closeWith(conn, parsedError);
      return;
    }
    // Draining: the last complete request of the read is answered with Connection: close.
    const close = parsedClose || (stopping && count > 0 && parsedEnd === end);
    const last = parsedHealth ? healthResponse(close) : close ? OK_CLOSE : null;
    if (close) {
      if (count > 1) socket.write(okTimes(count - 1));
      socket.end(last!);
      conn.closing = true;
      return;
    }
    if (last !== null) {
      // A health check ends parse()'s batch: answer it, then go on with what follows.
      if (count > 1) socket.write(okTimes(count - 1));
      if (!socket.write(last)) socket.pause();
      conn.partial = null;
      if (parsedEnd === end) return;
      start = parsedEnd;
      continue;
    }
    if (parsedEnd < end) {
      if (conn.partial === null || count > 0) conn.partialSince = conn.lastActive;
      conn.partial = b.subarray(parsedEnd, end);
    } else {
      conn.partial = null;
    }
    // A client that does not read its responses stops being read (until 'drain').
    if (count > 0 && !socket.write(okTimes(count))) socket.pause();
    return;
  }
}

const server = net.createServer({ allowHalfOpen: false, reusePort: args.reusePort }, (socket) => {
  counters.connections++;
  const conn: Conn = { socket, partial: null, partialSince: 0, lastActive: loop.now(), closing: false };
  conns.add(conn);
  // Bytes straight from the read slab, no chunk object per read (Socket.onread).
  socket.onread = (b, start, end) => onData(conn, b, start, end);
  socket.on('drain', () => socket.resume());
  socket.on('error', () => {}); // resets are part of life; 'close' follows
  socket.on('close', () => {
    counters.connections--;
    conns.delete(conn);
  });
});

// Once a second: 408 for heads that take too long, close keep-alive connections idle too long.
loop
  .setInterval(() => {
    const now = loop.now();
    for (const conn of conns) {
      if (conn.partial !== null && now - conn.partialSince > HEADER_TIMEOUT_MS) {
        closeWith(conn, 408);
      } else if (IDLE_TIMEOUT_MS > 0 && now - conn.lastActive > IDLE_TIMEOUT_MS) {
        conn.socket.destroy();
      }
    }
  }, 1000)
  .unref();

/**
 * Answer with an error status and close: stop reading (whatever else the client sends is not
 * our problem), send the answer, FIN; a client that does not close its side within a second
 * (or never reads the answer) is reset.
 */
function closeWith(conn: Conn, status: number): void {
  conn.partial = null;
  conn.closing = true;
  conns.delete(conn);
  conn.socket.pause();
  conn.socket.end(ERRORS[status]);
  loop.setTimeout(() => conn.socket.destroy(), 1000).unref();
}

server.on('error', (e) => {
  console.error(`http-server: ${e.message}`);
  process.exit(1);
});
/**
 * Draining (SIGTERM or SIGINT, or a pool worker told to): the health check fails at once; when
 * the listener closes, connections close after their next answer, and those idle for
 * DRAIN_IDLE_MS are closed (a keep-alive client that sends a request just then sees the close:
 * HTTP/1.1's own race, which a client retries — so only connections quiet for a while are closed).
 */
const DRAIN_IDLE_MS = 200;
const drainHooks = {
  onDraining(): void {
    draining = true;
  },
  onClosing(): void {
    stopping = true;
    loop.setInterval(() => {
      const now = loop.now();
      for (const conn of conns) {
        if (!conn.closing && conn.partial === null && now - conn.lastActive >= DRAIN_IDLE_MS) {
          conn.closing = true;
          conns.delete(conn);
          conn.socket.end();
          loop.setTimeout(() => conn.socket.destroy(), 1000).unref();
        }
      }
    }, 50).unref();
  },
};
workers.serve(server, drainHooks);
// One process alone: the same drain on SIGTERM/SIGINT, `--drain-delay` ms of failing health checks first.
shutdownOnSignals(args, () => drainServer(server, drainHooks, intFlag(args.values, 'drain-delay', 0)));

// With --workers N this process only supervises N workers, each running this file.
if (!args.primary) {
  server.listen({ port: args.port, host: args.host, backlog: args.backlog }, () => announce(server.address()));
  startReporting(args);
  void drive(args.driver);
}
