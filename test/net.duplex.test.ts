// net.Socket as a stream.Duplex: what libraries that take a Duplex rely on (issue #27).
import * as http from 'node:http';
import { Duplex, PassThrough, pipeline } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pkg } from './helpers';

const { net } = pkg;

function listening(server: ReturnType<typeof net.createServer>): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
}

describe('Socket is a stream.Duplex', () => {
  it('instanceof Duplex; socket.pipe(socket) echoes; pipeline(s, t, s) ends without an error', async () => {
    let done!: (e: unknown) => void;
    const piped = new Promise((r) => (done = r));
    const server = net.createServer((s) => pipeline(s, new PassThrough(), s, (e) => done(e ?? null)));
    const port = await listening(server);
    const c = net.connect(port, '127.0.0.1');
    expect(c).toBeInstanceOf(Duplex);
    c.setEncoding('utf8');
    c.end('hello');
    let got = '';
    for await (const chunk of c) got += chunk;
    expect(got).toBe('hello');
    expect(await piped).toBe(null); // no 'Premature close'
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("Node's http.Server serves a request over our socket (emit('connection'))", async () => {
    const hs = http.createServer((req, res) => res.end(`hi ${req.url}`));
    const server = net.createServer((sock) => hs.emit('connection', sock));
    const port = await listening(server);
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ port, host: '127.0.0.1', path: '/x', agent: false }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(`${res.statusCode} ${b}`));
        })
        .on('error', reject);
    });
    expect(body).toBe('200 hi /x');
    hs.close();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
