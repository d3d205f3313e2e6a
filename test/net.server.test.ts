// Servers: listen forms, addresses, close, EMFILE, real clients (curl, Node's net and http),
// connection churn, and a script written as for Node.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, drivers, once, onLoop, packageDir, pkg, runScript, type SystemError } from './helpers';

const { net, sys } = pkg;
type Loop = InstanceType<typeof pkg.Loop>;

checkFdsEachTest();

const echo = (loop: Loop, options: Record<string, unknown> = {}) =>
  net.createServer({ loop, ...options }, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => {});
  });

describe('listen and address', () => {
  it('IPv4, IPv6 and Unix paths; address() as Node reports it; Unix path removed on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'er-net-'));
    const got = await onLoop('attached', async (loop) => {
      const results: unknown[] = [];
      for (const target of [
        { port: 0, host: '127.0.0.1' },
        { port: 0, host: '::1' },
        { path: join(dir, 'srv.sock') },
      ]) {
        const server = echo(loop).listen(target);
        await once(server, 'listening');
        const address = server.address();
        const c = typeof address === 'string' ? net.connect({ path: address, loop }) : net.connect({ port: address!.port, host: target.host, loop });
        await once(c, 'connect');
        c.write('ping');
        const reply = (await once<Buffer>(c, 'data')).toString();
        results.push({
          family: typeof address === 'string' ? 'Unix' : address!.family,
          reply,
          remote: c.remoteAddress,
          localPortSet: typeof address === 'string' ? c.localPort === undefined : (c.localPort ?? 0) > 0,
        });
        c.end();
        await new Promise((r) => c.on('close', r));
        server.close();
        await once(server, 'close');
      }
      return results;
    });
    expect(got).toEqual([
      { family: 'IPv4', reply: 'ping', remote: '127.0.0.1', localPortSet: true },
      { family: 'IPv6', reply: 'ping', remote: '::1', localPortSet: true },
      { family: 'Unix', reply: 'ping', remote: join(dir, 'srv.sock'), localPortSet: true },
    ]);
    expect(existsSync(join(dir, 'srv.sock'))).toBe(false);
    rmSync(dir, { recursive: true });
  });

  it('listens only on the address asked for', async () => {
    await onLoop('attached', async (loop) => {
      const server = echo(loop).listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      // another loopback address must be refused: nothing listens on 0.0.0.0 or ::
      const c = nodeNet.connect(port, '127.0.0.2');
      const e = await new Promise<NodeJS.ErrnoException>((r) => c.on('error', r));
      expect(e.code).toBe('ECONNREFUSED');
      server.close();
      await once(server, 'close');
    });
  });
});

describe('server options', () => {
  it('reusePort lets two servers share a port; noDelay is on by default; keepAlive sets SO_KEEPALIVE', async () => {
    const got = await onLoop('attached', async (loop) => {
      const a = net.createServer({ loop, reusePort: true }, (s) => s.end('a'));
      a.listen(0, '127.0.0.1');
      await once(a, 'listening');
      const { port } = a.address() as { port: number };
      const b = net.createServer({ loop, reusePort: true, keepAlive: true }, (s) => s.end('b'));
      b.listen(port, '127.0.0.1');
      await once(b, 'listening');
      // without reusePort the same bind fails
      const c = net.createServer({ loop }, () => {});
      c.listen(port, '127.0.0.1');
      const e = await once<SystemError>(c, 'error');
      const answers = new Set<string>();
      const options: number[][] = [];
      for (let i = 0; i < 40 && answers.size < 2; i++) {
        const s = net.connect({ port, host: '127.0.0.1', loop });
        await once(s, 'connect');
        const reply = (await once<Buffer>(s, 'data')).toString();
        answers.add(reply);
        if (reply === 'b' && options.length === 0) {
          // read the accepted socket's options from our side: the client's are defaults
          options.push([sys.getsockopt(s.fd, sys.IPPROTO_TCP, sys.TCP_NODELAY)]);
        }
        await new Promise((r) => s.on('close', r));
      }
      a.close();
      b.close();
      await Promise.all([once(a, 'close'), once(b, 'close')]);
      return { answers: [...answers].sort(), code: e.code, clientNoDelay: options[0]?.[0] };
    });
    expect(got.answers).toEqual(['a', 'b']); // the kernel spread the connections over both
    expect(got.code).toBe('EADDRINUSE');
    expect(got.clientNoDelay).toBe(1); // client sockets get TCP_NODELAY too
  });

  it('accepted sockets carry TCP_NODELAY by default and SO_KEEPALIVE when asked', async () => {
    const got = await onLoop('attached', async (loop) => {
      const flags: number[] = [];
      const server = net.createServer({ loop, keepAlive: true, keepAliveInitialDelay: 5000 }, (s) => {
        flags.push(
          sys.getsockopt(s.fd, sys.IPPROTO_TCP, sys.TCP_NODELAY),
          sys.getsockopt(s.fd, sys.SOL_SOCKET, sys.SO_KEEPALIVE),
          sys.getsockopt(s.fd, sys.IPPROTO_TCP, sys.TCP_KEEPIDLE),
        );
        s.end();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const c = net.connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', loop, noDelay: false });
      await once(c, 'connect');
      const clientNoDelay = sys.getsockopt(c.fd, sys.IPPROTO_TCP, sys.TCP_NODELAY);
      await new Promise((r) => c.on('close', r));
      server.close();
      await once(server, 'close');
      return { flags, clientNoDelay };
    });
    expect(got.flags).toEqual([1, 1, 5]);
    expect(got.clientNoDelay).toBe(0);
  });
});

describe.each(drivers)('close (%s driver)', (driver) => {
  it('server.close() stops accepting at once; "close" only after the last connection ends', async () => {
    const log = await onLoop(driver, async (loop) => {
      const events: string[] = [];
      const server = echo(loop);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'connect');
      await new Promise((r) => loop.setTimeout(r, 5));
      server.close(() => events.push('close callback'));
      server.on('close', () => events.push('close'));
      events.push(`listening=${server.listening} connections=${server.connections}`);
      const refused = net.connect({ port, host: '127.0.0.1', loop });
      refused.on('error', (e) => events.push(`new connect: ${(e as SystemError).code}`));
      await new Promise((r) => refused.on('close', r));
      c.write('still served');
      events.push(`echo: ${await once<Buffer>(c, 'data')}`);
      c.end();
      await once(server, 'close');
      return events;
    });
    expect(log).toEqual([
      'listening=false connections=1',
      'new connect: ECONNREFUSED',
      'echo: still served',
      'close callback',
      'close',
    ]);
  });

  it('fd count back to baseline after 10,000 connect/close cycles', async () => {
    const n = await onLoop(driver, async (loop) => {
      let accepted = 0;
      const server = net.createServer({ loop }, (s) => {
        accepted++;
        s.on('error', () => {});
        s.resume();
      });
      server.listen(0, '127.0.0.1', 4096);
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      let done = 0;
      const wave = async () => {
        const c = net.connect({ port, host: '127.0.0.1', loop });
        await once(c, 'connect');
        c.end();
        await new Promise((r) => c.on('close', r));
        done++;
      };
      for (let batch = 0; batch < 100; batch++) await Promise.all(Array.from({ length: 100 }, wave));
      while (server.connections > 0) await new Promise((r) => loop.setTimeout(r, 5));
      server.close();
      await once(server, 'close');
      return { done, accepted };
    });
    expect(n).toEqual({ done: 10_000, accepted: 10_000 });
  }, 120_000);
});

describe('real clients', () => {
  it('curl, Node http and Node net all talk to our servers', async () => {
    const got = await onLoop('attached', async (loop) => {
      const server = net.createServer({ loop }, (s) => {
        s.on('data', (d) => {
          if (d.toString().startsWith('GET ')) {
            s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
          } else s.write(d);
        });
        s.on('error', () => {});
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      const curl = await promisify(execFile)('curl', ['-s', `http://127.0.0.1:${port}/`]).then(
        (r) => r.stdout,
        (e) => `curl failed: ${e.message}`,
      );
      const viaHttp = await new Promise<string>((resolve, reject) => {
        http.get({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
          let body = '';
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        }).on('error', reject);
      });
      const viaNet = await new Promise<string>((resolve) => {
        const c = nodeNet.connect(port, '127.0.0.1', () => c.write('echo me'));
        c.on('data', (d) => {
          c.destroy();
          resolve(d.toString());
        });
      });
      server.close();
      await once(server, 'close');
      return [curl, viaHttp, viaNet];
    });
    expect(got).toEqual(['ok', '200 ok', 'echo me']);
  });
});

describe('running out of fds', () => {
  it('EMFILE: the server neither spins nor dies, drops what it cannot accept, and recovers', async () => {
    // A child with RLIMIT_NOFILE 64 holds 40 connections to itself, so the limit is hit.
    const r = await runScript(
      `
      const { net, loop, sys } = pkg;
      const held = [];
      let drops = 0;
      const server = net.createServer((s) => { held.push(s); s.on('error', () => {}); });
      server.on('drop', () => drops++);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        const clients = [];
        for (let i = 0; i < 40; i++) {
          const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
          sys.connect(fd, '127.0.0.1', port);
          clients.push(fd);
        }
        const startIter = () => loop.stats().iterations;
        const i0 = startIter();
        loop.setTimeout(() => {
          const iterations = loop.stats().iterations - i0;
          const accepted = held.length;
          // free fds: close what we hold, and the server accepts again
          for (const s of held.splice(0)) s.destroy();
          const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
          sys.connect(fd, '127.0.0.1', port);
          loop.setTimeout(() => {
            console.log(JSON.stringify({ accepted, drops, iterations, recovered: held.length }));
            process.exit(0);
          }, 200);
        }, 500);
      });
    `,
      { prefix: 'ulimit -n 64; ' },
    );
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.accepted).toBeGreaterThan(0);
    expect(out.drops).toBeGreaterThan(0); // accepted-and-closed with the spare fd, not left queued
    expect(out.accepted + out.drops).toBe(40);
    expect(out.iterations).toBeLessThan(200); // no spinning on a listener it cannot drain
    expect(out.recovered).toBe(1);
  });
});

describe('a script written as for Node', () => {
  it('keeps serving with no extra call (default loop), and exits when the server closes', async () => {
    const r = await runScript(`
      const { net } = pkg;
      const server = net.createServer((s) => s.on('data', (d) => { s.end(d); }));
      server.listen(0, '127.0.0.1', () => {
        const port = server.address().port;
        // a Node client, in the same process: Node's loop and ours together
        const c = require('node:net').connect(port, '127.0.0.1', () => c.write('hello'));
        c.on('data', (d) => { console.log('reply', d.toString()); c.end(); server.close(); });
      });
    `);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('reply hello');
  });

  it('imports as an ES module too', async () => {
    const { spawnSync } = await import('node:child_process');
    const out = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `import { net, loop, sys } from ${JSON.stringify(`${packageDir}dist/lib/index.mjs`)}; console.log(typeof net.createServer, typeof loop.run, sys.EPOLLIN);`],
      { encoding: 'utf8' },
    );
    expect(out.stdout.trim()).toBe(`function function ${sys.EPOLLIN}`);
  });

  it("exports its values as plain properties of a fast object (no getter per use of `loop`)", async () => {
    const { spawnSync } = await import('node:child_process');
    const out = spawnSync(
      process.execPath,
      [
        '--allow-natives-syntax',
        '-e',
        `const m = require(${JSON.stringify(`${packageDir}dist/lib/index.js`)});
         const getters = Object.entries(Object.getOwnPropertyDescriptors(m)).filter(([, d]) => d.get).map(([k]) => k);
         console.log(%HasFastProperties(m), getters.join(',') || 'none');`,
      ],
      { encoding: 'utf8' },
    );
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe('true none');
  });
});
