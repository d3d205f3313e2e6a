// Type test (checked by `npm run typecheck` through test/tsconfig.json; never run): our
// net.Socket and net.Server are accepted by Node's own APIs that take theirs, without casts,
// and their events, overloads and options are typed as @types/node types Node's.
import * as http from 'node:http';
import * as readline from 'node:readline';
import { Duplex, pipeline, Transform } from 'node:stream';
import * as tls from 'node:tls';
import { net } from '../../lib/index';

const upper = new Transform({
  transform(chunk: Buffer, _encoding, done) {
    done(null, chunk.toString().toUpperCase());
  },
});

export function interop(socket: net.Socket): void {
  // stream.pipeline(ourSocket, transform, ourSocket)
  pipeline(socket, upper, socket, (err) => {
    if (err) console.error(err.message);
  });
  // readline over our socket
  const rl = readline.createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on('line', (line: string) => socket.write(`${line}\n`));
  // TLS over our socket
  const secure = new tls.TLSSocket(socket, { isServer: false });
  secure.end();
  // Node's HTTP server handed our connection
  http.createServer((_req, res) => res.end('ok')).emit('connection', socket);
  // A Duplex wherever one is wanted
  const d: Duplex = socket;
  d.pipe(socket);
  Duplex.from({ readable: socket, writable: socket });
}

export function events(socket: net.Socket, server: net.Server): void {
  socket.on('data', (chunk: Buffer) => chunk.length);
  socket.once('close', (hadError: boolean) => hadError);
  socket.on('error', (err: Error) => err.message);
  socket.on('lookup', (err: Error | null, address: string, family: number | string | null, host: string) => [err, address, family, host]);
  socket.prependListener('end', () => {});
  server.on('connection', (s: net.Socket) => s.end());
  server.on('listening', () => server.address());
  server.on('error', (e: Error) => e);
  // Unannotated listeners get their arguments' types from the event's name.
  socket.on('data', (chunk) => {
    const b: Buffer = chunk;
    // @ts-expect-error: a chunk is a Buffer, not a number
    const n: number = chunk;
    return [b, n];
  });
  server.on('connection', (s) => {
    const ok: net.Socket = s;
    // @ts-expect-error: the connection is a Socket, not a string
    const no: string = s;
    return [ok, no];
  });
  socket.on('close', (hadError) => {
    // @ts-expect-error: hadError is a boolean
    const no: string = hadError;
    return no;
  });
}

export function overloads(): void {
  const s1: net.Server = net.createServer();
  const s2: net.Server = net.createServer((socket) => socket.pipe(socket));
  const s3: net.Server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => socket.resume());
  s1.listen();
  s1.listen(8080);
  s1.listen(8080, () => {});
  s1.listen(8080, '127.0.0.1');
  s1.listen(8080, '127.0.0.1', 511, () => {});
  s2.listen('/tmp/x.sock');
  s2.listen({ port: 0, host: '::', ipv6Only: true, exclusive: true, signal: AbortSignal.timeout(10) }, () => {});
  s3.listen({ path: '/tmp/y.sock', readableAll: true, writableAll: true });
  // @ts-expect-error: a typo in the options is caught
  s3.listen({ prot: 80 });
  const c1: net.Socket = net.connect(80);
  const c2: net.Socket = net.connect(80, 'example.com', () => {});
  const c3: net.Socket = net.createConnection('/tmp/x.sock');
  const c4: net.Socket = net.connect({ port: 80, host: 'example.com', localAddress: '0.0.0.0', family: 6, autoSelectFamily: true, timeout: 1000 });
  const c5: net.Socket = new net.Socket({ allowHalfOpen: true }).connect({ port: 80 });
  const c6: net.Socket = net.Socket().connect(80, '::1');
  const c7: net.Socket = net.connect({ port: 80, onread: { buffer: Buffer.alloc(64), callback: (n: number, buf: Uint8Array) => n > 0 && buf.length > 0 } });
  for (const c of [c1, c2, c3, c4, c5, c6, c7]) c.destroy();
  const n: number = new net.Socket().bytesWritten + new net.Socket().bytesRead;
  void n;
}

export function hidden(socket: net.Socket): void {
  // The layers' state is protected: not part of what a user sees.
  // @ts-expect-error: the write queue is internal
  void socket.wq;
  // @ts-expect-error: the watcher is internal
  void socket.watcher;
  // @ts-expect-error: the epoll interest is internal
  void socket.interest;
}
