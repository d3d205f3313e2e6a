// http.createServer on the reactor: each scenario runs on Node's own http.Server (libuv) first,
// then on ours under both drivers, and what the clients and the server saw must be the same.
// Clients are Node's http client, raw node:net sockets and curl.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as nodeHttp from 'node:http';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, closed, drivers, listening, once, onLoop, pkg } from './helpers';

const { http } = pkg;
type Loop = InstanceType<typeof pkg.Loop>;
type Make = (options: nodeHttp.ServerOptions, handler?: nodeHttp.RequestListener) => nodeHttp.Server;

checkFdsEachTest();

const nodeMake: Make = (options, handler) => nodeHttp.createServer(options, handler);
const ourMake =
  (loop: Loop): Make =>
  (options, handler) =>
    http.createServer({ ...options, loop }, handler);

/** Runs `scenario` on Node's http, then on ours under each driver: the results must match Node's. */
async function sameAsNode<T>(scenario: (make: Make) => Promise<T>): Promise<T> {
  const expected = await scenario(nodeMake);
  for (const driver of drivers) {
    const got = await onLoop(driver, (loop) => scenario(ourMake(loop)));
    expect(got, `${driver} driver`).toEqual(expected);
  }
  return expected;
}



/** Writes `data` on a raw connection; resolves with all it read once the server closes it (or `until` matches). */
function raw(port: number, data: string | string[], until?: (got: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = nodeNet.connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => {
      got += d.toString('latin1');
      if (until?.(got)) c.destroy();
    });
    c.on('close', () => resolve(got));
    c.on('error', reject);
    for (const part of Array.isArray(data) ? data : [data]) c.write(part);
  });
}

/** Status lines and bodies of raw HTTP/1.1 responses (headers such as Date left out). */
function responses(text: string): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    const head = rest.indexOf('\r\n\r\n');
    if (head < 0) break;
    const lines = rest.slice(0, head).split('\r\n');
    const length = Number(/content-length: (\d+)/i.exec(lines.join('\n'))?.[1] ?? 0);
    out.push(`${lines[0]} | ${rest.slice(head + 4, head + 4 + length)}`);
    rest = rest.slice(head + 4 + length);
  }
  return out;
}

function get(port: number, path: string, agent: nodeHttp.Agent | false, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; socket: nodeNet.Socket }>((resolve, reject) => {
    const req = nodeHttp.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      const socket = res.socket;
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      // without an agent the connection closes after the response: wait for it (no fd left behind)
      res.on('end', () => {
        if (agent === false && !socket.destroyed) socket.once('close', () => resolve({ status: res.statusCode!, body, socket }));
        else resolve({ status: res.statusCode!, body, socket });
      });
    });
    req.on('error', reject);
  });
}

describe('a real http.Server', () => {
  it('is an instance of node:http Server, and listen() takes every form of Node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'er-http-'));
    await onLoop('attached', async (loop) => {
      const handler: nodeHttp.RequestListener = (req, res) => res.end(`${req.method} ${req.url}`);
      const s1 = http.createServer({ loop }, handler);
      expect(s1).toBeInstanceOf(nodeHttp.Server);
      expect(s1).toBeInstanceOf(nodeNet.Server);
      expect(s1.listening).toBe(false);
      expect(s1.address()).toBe(null);
      let called = false;
      s1.listen(0, '127.0.0.1', () => {
        called = true;
      });
      expect(s1.listening).toBe(true); // as Node: an IP literal listens at once
      await once(s1, 'listening');
      expect(called).toBe(true);
      const port = (s1.address() as nodeNet.AddressInfo).port;
      expect((await get(port, '/a?b', false)).body).toBe('GET /a?b');
      expect(() => s1.listen(0)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_ALREADY_LISTEN' }));
      // the port taken: 'error' as Node's (EADDRINUSE, syscall listen), the server not listening
      const s2 = http.createServer({ loop }, handler);
      s2.listen({ port, host: '127.0.0.1' });
      const err = await once<NodeJS.ErrnoException>(s2, 'error');
      expect([err.code, err.syscall, s2.listening]).toEqual(['EADDRINUSE', 'listen', false]);
      await closed(s1);
      expect(s1.address()).toBe(null);
      // a Unix path, and listen() with no arguments (every interface, a free port)
      const path = join(dir, 'http.sock');
      const s3 = new http.Server({ loop }, handler).listen(path);
      await once(s3, 'listening');
      expect(s3.address()).toBe(path);
      const body = await new Promise<string>((resolve) => {
        nodeHttp.get({ socketPath: path, path: '/unix', agent: false }, (res) => {
          res.setEncoding('utf8');
          let b = '';
          res.on('data', (d) => {
            b += d;
          });
          res.on('end', () => res.socket.once('close', () => resolve(b)));
        });
      });
      expect(body).toBe('GET /unix');
      await closed(s3);
      const s4 = http.createServer({ loop }, handler).listen();
      await once(s4, 'listening');
      expect((s4.address() as nodeNet.AddressInfo).port).toBeGreaterThan(0);
      const notRunning = await new Promise<NodeJS.ErrnoException | undefined>((r) => {
        s4.close();
        s4.close(r);
      });
      expect(notRunning?.code).toBe('ERR_SERVER_NOT_RUNNING');
      // listen({ signal }): aborting closes the http.Server itself, as Node's
      const ac = new AbortController();
      const s5 = http.createServer({ loop }, handler).listen({ port: 0, host: '127.0.0.1', signal: ac.signal });
      await once(s5, 'listening');
      const s5Closed = once(s5, 'close');
      ac.abort();
      await s5Closed;
      expect([s5.listening, s5.address()]).toEqual([false, null]);
      expect(() => http.createServer({ loop }).listen({ port: 0, signal: 'nope' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      // unref() before listen() is kept, as Node's (on a loop of its own, to see it alone)
      const own = new pkg.Loop();
      own.attach();
      const s6 = http.createServer({ loop: own }, handler).unref().listen(0, '127.0.0.1');
      await once(s6, 'listening');
      expect(own.alive).toBe(false);
      s6.ref();
      expect(own.alive).toBe(true);
      await closed(s6);
      own.close();
    });
    rmSync(dir, { recursive: true });
  });

  it('keep-alive: requests reuse one connection; curl sees the same', async () => {
    await sameAsNode(async (make) => {
      const server = make({}, (req, res) => res.end(`hi ${req.url}`));
      const port = await listening(server);
      const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
      const a = await get(port, '/1', agent);
      const b = await get(port, '/2', agent);
      const c = await get(port, '/3', agent);
      const curl = await promisify(execFile)('curl', ['-s', '-w', ' %{num_connects}', `http://127.0.0.1:${port}/x`, `http://127.0.0.1:${port}/y`]);
      agent.destroy();
      await closed(server);
      return { bodies: [a.body, b.body, c.body], reused: a.socket === b.socket && b.socket === c.socket, curl: curl.stdout };
    });
  });

  it('pipelining: three requests in one write are answered in order, the slow first one first', async () => {
    const got = await sameAsNode(async (make) => {
      const server = make({}, (req, res) => {
        const delay = req.url === '/slow' ? 50 : 0;
        setTimeout(() => res.end(`body of ${req.url}`), delay);
      });
      const port = await listening(server);
      const text = await raw(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await closed(server);
      return responses(text);
    });
    expect(got).toEqual(['HTTP/1.1 200 OK | body of /slow', 'HTTP/1.1 200 OK | body of /b', 'HTTP/1.1 200 OK | body of /c']);
  });

  it('request bodies of 10 MB, by Content-Length and chunked, arrive whole', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i * 2654435761 >>> 0, i);
    const digest = createHash('sha256').update(body).digest('hex');
    const got = await sameAsNode(async (make) => {
      const server = make({}, (req, res) => {
        const hash = createHash('sha256');
        let n = 0;
        req.on('data', (d: Buffer) => {
          n += d.length;
          hash.update(d);
        });
        req.on('end', () => res.end(`${req.headers['transfer-encoding'] ?? 'length'} ${n} ${hash.digest('hex')}`));
      });
      const port = await listening(server);
      const post = (chunked: boolean) =>
        new Promise<string>((resolve, reject) => {
          const req = nodeHttp.request({ host: '127.0.0.1', port, method: 'POST', agent: false }, (res) => {
            let b = '';
            res.on('data', (d) => {
              b += d;
            });
            res.on('end', () => resolve(b));
          });
          req.on('error', reject);
          if (!chunked) {
            req.setHeader('Content-Length', body.length);
            req.end(body);
          } else {
            for (let i = 0; i < body.length; i += 1 << 20) req.write(body.subarray(i, i + (1 << 20)));
            req.end();
          }
        });
      const result = [await post(false), await post(true)];
      await closed(server);
      return result;
    });
    expect(got).toEqual([`length ${body.length} ${digest}`, `chunked ${body.length} ${digest}`]);
  });

  it('Expect: 100-continue: the client gets 100 before it sends the body; checkContinue can refuse', async () => {
    await sameAsNode(async (make) => {
      const server = make({}, (req, res) => {
        let n = 0;
        req.on('data', (d) => {
          n += d.length;
        });
        req.on('end', () => res.end(`got ${n}`));
      });
      const port = await listening(server);
      const send = () =>
        new Promise<string[]>((resolve, reject) => {
          const events: string[] = [];
          const req = nodeHttp.request({ host: '127.0.0.1', port, method: 'PUT', agent: false, headers: { Expect: '100-continue', 'Content-Length': 5 } }, (res) => {
            events.push(`response ${res.statusCode}`);
            res.on('data', (d) => events.push(`body ${d}`));
            res.on('end', () => resolve(events));
          });
          req.on('error', reject);
          req.on('continue', () => {
            events.push('continue');
            req.end('12345');
          });
        });
      const accepted = await send();
      server.on('checkContinue', (_req, res) => {
        res.writeHead(417);
        res.end('no');
      });
      const refused = await send();
      await closed(server);
      return { accepted, refused };
    });
  });

  it('a client aborting mid-response: the server sees its response closed unfinished, and serves on', async () => {
    const got = await sameAsNode(async (make) => {
      const events: string[] = [];
      const server = make({}, (req, res) => {
        if (req.url === '/after') {
          res.end('still here');
          return;
        }
        req.on('close', () => events.push('req close'));
        res.on('close', () => {
          events.push(`res close, finished ${res.writableFinished}`);
          clearInterval(timer);
        });
        res.on('error', (e) => events.push(`res error ${e.message}`));
        res.writeHead(200);
        const chunk = Buffer.alloc(16 * 1024, 'x');
        const timer = setInterval(() => res.write(chunk), 1);
      });
      const port = await listening(server);
      await new Promise<void>((resolve) => {
        const req = nodeHttp.get({ host: '127.0.0.1', port, path: '/big', agent: false }, (res) => {
          res.once('data', () => req.destroy());
        });
        req.on('error', () => {});
        req.on('close', () => resolve());
      });
      while (events.length < 2) await new Promise((r) => setTimeout(r, 5));
      const after = await get(port, '/after', false);
      await closed(server);
      return { events, after: after.body };
    });
    expect(got.events).toContain('res close, finished false');
  });

  it('close(): idle connections go at once, a busy one finishes its response, then the server closes', async () => {
    const got = await sameAsNode(async (make) => {
      const events: string[] = [];
      let release: () => void = () => {};
      const server = make({}, (req, res) => {
        if (req.url === '/busy') {
          release = () => res.end('busy done');
          events.push('busy request');
        } else res.end('quick');
      });
      const port = await listening(server);
      const idleAgent = new nodeHttp.Agent({ keepAlive: true });
      const idle = await get(port, '/idle', idleAgent);
      idle.socket.on('close', () => events.push('idle connection closed'));
      const busyAgent = new nodeHttp.Agent({ keepAlive: true });
      let busyClosed: Promise<unknown> = Promise.resolve();
      const busy = get(port, '/busy', busyAgent).then((r) => {
        events.push(`busy response: ${r.body}`);
        busyClosed = once(r.socket, 'close');
      });
      while (!events.includes('busy request')) await new Promise((r) => setTimeout(r, 5));
      const serverClosed = new Promise<void>((r) => server.close(() => r()));
      events.push(`listening after close(): ${server.listening}`);
      while (!events.includes('idle connection closed')) await new Promise((r) => setTimeout(r, 5));
      server.keepAliveTimeout = 100; // read when the busy response finishes
      release();
      await busy;
      // the busy connection stays open until its keep-alive timeout, then the server closes
      await Promise.all([serverClosed, busyClosed]);
      events.push('server and busy connection closed');
      idleAgent.destroy();
      busyAgent.destroy();
      return events;
    });
    expect(got).toEqual([
      'busy request',
      'listening after close(): false',
      'idle connection closed',
      'busy response: busy done',
      'server and busy connection closed',
    ]);
  });

  it('closeAllConnections() ends busy connections too', async () => {
    await sameAsNode(async (make) => {
      const server = make({}, () => {
        server.closeAllConnections();
      });
      const port = await listening(server);
      const error = await new Promise<string>((resolve) => {
        nodeHttp.get({ host: '127.0.0.1', port, agent: false }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      await closed(server);
      return error;
    });
  });

  it('headersTimeout, requestTimeout and keepAliveTimeout act as Node’s', async () => {
    await sameAsNode(async (make) => {
      const server = make({ headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 50, keepAliveTimeout: 100 }, (_req, res) => res.end('ok'));
      const port = await listening(server);
      // headers never finished: 408 then close
      const slowHeaders = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n');
      // headers done, body never finished
      const slowBody = await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345');
      // a keep-alive connection left idle is closed by the server
      const idle = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await closed(server);
      return { slowHeaders: responses(slowHeaders), slowBody: responses(slowBody), idle: responses(idle) };
    });
  });

  it('maxHeadersCount, oversized heads and malformed requests get what Node gives them', async () => {
    const got = await sameAsNode(async (make) => {
      const server = make({}, (req, res) => res.end(String(Object.keys(req.headers).length)));
      server.maxHeadersCount = 3;
      const port = await listening(server);
      const many = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nConnection: close\r\n\r\n');
      const huge = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nBig: ${'y'.repeat(20_000)}\r\n\r\n`);
      const garbage = await raw(port, 'NOT HTTP AT ALL\r\n\r\n');
      const clientErrors: string[] = [];
      server.on('clientError', (e: NodeJS.ErrnoException, socket: nodeNet.Socket) => {
        clientErrors.push(e.code ?? '');
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\n\r\nmine');
      });
      const handled = await raw(port, 'GET / HTTP/1.1\r\nBad Header\r\n\r\n');
      await closed(server);
      return { many: responses(many), huge: responses(huge), garbage: responses(garbage), handled: responses(handled), clientErrors };
    });
    expect(got.many).toEqual(['HTTP/1.1 200 OK | 3']);
    expect(got.huge[0]).toMatch(/^HTTP\/1.1 431/);
    expect(got.garbage[0]).toMatch(/^HTTP\/1.1 400/);
    expect(got.handled).toEqual(['HTTP/1.1 400 Bad Request | mine']);
  });

  it("abrupt resets (mid-request, mid-response) reach 'clientError' or close the response, as with Node's", async () => {
    await sameAsNode(async (make) => {
      const events: string[] = [];
      const server = make({}, (req, res) => {
        res.on('close', () => events.push(`response closed, finished ${res.writableFinished}`));
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 'r');
        const pump = (): void => {
          while (res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        req.resume();
        pump();
      });
      server.on('clientError', (e: NodeJS.ErrnoException, socket: nodeNet.Socket) => {
        events.push(`clientError ${e.code}`);
        socket.destroy();
      });
      const port = await listening(server);
      const reset = (data: string, afterBytes: number) =>
        new Promise<void>((resolve) => {
          const c = nodeNet.connect(port, '127.0.0.1', () => {
            c.write(data);
            if (afterBytes === 0) setTimeout(() => c.resetAndDestroy(), 20);
          });
          let got = 0;
          c.on('data', (d) => {
            got += d.length;
            if (afterBytes > 0 && got >= afterBytes && !c.destroyed) c.resetAndDestroy();
          });
          c.on('close', () => resolve());
        });
      await reset('GET / HTTP/1.1\r\nHost: x\r\nX-Half: ', 0);
      while (events.length < 1) await new Promise((r) => setTimeout(r, 5));
      await reset('GET /big HTTP/1.1\r\nHost: x\r\n\r\n', 256 * 1024);
      while (events.length < 2) await new Promise((r) => setTimeout(r, 5));
      await closed(server);
      return events;
    });
  });

  it('a 50 MB response to a slow reader (curl --limit-rate) streams with the server’s buffers bounded', async () => {
    for (const driver of drivers) {
      const got = await onLoop(driver, async (loop) => {
        const total = 50 * 1024 * 1024;
        const chunk = Buffer.alloc(64 * 1024, 'z');
        let maxBuffered = 0;
        const server = http.createServer({ loop }, (_req, res) => {
          res.writeHead(200, { 'Content-Length': total });
          let sent = 0;
          const pump = (): void => {
            while (sent < total) {
              sent += chunk.length;
              const more = res.write(chunk);
              maxBuffered = Math.max(maxBuffered, res.socket?.writableLength ?? 0, res.writableLength);
              if (!more) {
                res.once('drain', pump);
                return;
              }
            }
            res.end();
          };
          pump();
        });
        const port = await listening(server);
        const rssBefore = process.memoryUsage().rss;
        const curl = await promisify(execFile)('curl', ['-s', '-o', '/dev/null', '--limit-rate', '40M', '-w', '%{size_download}', `http://127.0.0.1:${port}/`]);
        const rssGrowth = process.memoryUsage().rss - rssBefore;
        await closed(server);
        return { downloaded: Number(curl.stdout), maxBuffered, rssGrowth };
      });
      expect(got.downloaded, driver).toBe(50 * 1024 * 1024);
      // write() says false past the high-water mark and the handler waits for 'drain': what waits
      // in user space stays within a few chunks, whatever the response's size.
      expect(got.maxBuffered, driver).toBeLessThanOrEqual(256 * 1024);
      expect(got.rssGrowth, driver).toBeLessThan(40 * 1024 * 1024);
    }
  });
});
