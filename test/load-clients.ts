// Clients that keep a server busy, for the shutdown and drain tests (test/shutdown.test.ts,
// test/workers.test.ts, test/deploy.test.ts): real sockets, Node's own net.
import * as nodeNet from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A client in the middle of a request when the signal comes: it sends `first` before the signal
 * and `rest` 60 ms after it. A server that ended its connections at the signal would lose the
 * request; resolves with all the client received before the server closed.
 */
export async function straggler(port: number, first: string, rest: string, signal: () => void): Promise<{ got: string; errors: string[] }> {
  const socket = nodeNet.connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  const r = { got: '', errors: [] as string[] };
  socket.on('data', (d: string) => {
    r.got += d;
  });
  socket.on('error', (e) => r.errors.push(e.message));
  const closed = new Promise((res) => socket.on('close', res));
  await new Promise((res) => socket.once('connect', res));
  await sleep(50); // (a chat client's welcome line comes first)
  socket.write(first);
  await sleep(20);
  signal();
  await sleep(60);
  socket.write(rest);
  await closed;
  return r;
}

export const OK_CLOSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!';

/** A keep-alive HTTP client sending one request at a time until told to stop or told `Connection: close`. */
export class HttpClient {
  sent = 0;
  answered = 0;
  statuses = new Set<number>();
  errors: string[] = [];
  closedByServer = false;
  readonly closed: Promise<void>;
  private buf = '';
  private readonly socket: nodeNet.Socket;
  constructor(port: number) {
    this.socket = nodeNet.connect(port, '127.0.0.1', () => this.send());
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => this.onData(d));
    this.socket.on('error', (e) => this.errors.push(e.message));
    this.closed = new Promise((r) => this.socket.on('close', () => r()));
  }
  private send(): void {
    this.sent++;
    this.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  }
  private onData(d: string): void {
    this.buf += d;
    for (;;) {
      const headEnd = this.buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = this.buf.slice(0, headEnd);
      const length = Number(/\r\nContent-Length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buf.length < headEnd + 4 + length) return;
      this.buf = this.buf.slice(headEnd + 4 + length);
      this.answered++;
      this.statuses.add(Number(head.slice(9, 12)));
      if (/\r\nConnection: close/i.test(head)) {
        this.closedByServer = true;
        this.socket.end();
        return;
      }
      this.send();
    }
  }
}

