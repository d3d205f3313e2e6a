// Differential tests: each scenario runs on Node's own `node:net` and on ours, and what it
// records — events in order, errors (code, name, message, syscall), bytes — must be the same.
// Scenarios that are about the process itself (does it exit? what does it warn?) run in a child
// process, once per net. These cover what Node's own test/parallel/test-net-*.js found different
// (scripts/node-net-tests.cjs runs those).
import * as events from 'node:events';
import { statSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, pkg, runScript } from './helpers';

checkFdsEachTest();

// biome-ignore lint/suspicious/noExplicitAny: the scenarios are written once for both nets, as plain JavaScript would be
type Net = any;
type Log = (...parts: unknown[]) => void;

const ours: Net = pkg.net;

function describeError(e: unknown): string {
  const x = e as { name?: string; code?: string; message?: string; syscall?: string };
  return `${x.name} ${x.code} ${x.syscall ?? '-'} ${x.message}`;
}

/** Runs `scenario` with Node's net, then with ours; the two logs must be equal. Returns Node's. */
async function same(scenario: (net: Net, log: Log) => Promise<void>): Promise<string[]> {
  const run = async (net: Net): Promise<string[]> => {
    const got: string[] = [];
    await scenario(net, (...parts) => got.push(parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ')));
    return got;
  };
  const node = await run(nodeNet);
  const mine = await run(ours);
  expect(mine).toEqual(node);
  return node;
}

/** The same script in a child process with each net (`net` in scope); their outputs and exit codes must be equal. */
async function sameInChild(code: string, nodeArgs: string[] = []): Promise<string> {
  const run = async (which: string) => {
    const r = await runScript(`const net = process.env.WHICH === 'node' ? require('node:net') : pkg.net;\n${code}`, {
      env: { WHICH: which, NODE_OPTIONS: nodeArgs.join(' ') },
      timeoutMs: 10_000,
    });
    return `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}${r.stderr.replace(/\(Use `node --trace-warnings[^\n]*\n?/, '').replace(/\(node:\d+\)/g, '(node)')}`;
  };
  const node = await run('node');
  const mine = await run('ours');
  expect(mine).toBe(node);
  return node;
}

function listening(net: Net, onConnection?: (s: nodeNet.Socket) => void, options: object = {}): Promise<nodeNet.Server> {
  return new Promise((resolve) => {
    const server = net.createServer(options, onConnection);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const portOf = (server: nodeNet.Server): number => (server.address() as nodeNet.AddressInfo).port;
const closed = (emitter: NodeJS.EventEmitter): Promise<void> => new Promise((r) => emitter.once('close', () => r()));

describe('net, differential: the same scenario on node:net and on ours', () => {
  it('a socket that is not half-open, ended by its peer: writable in its end listener, the write arrives, then finish and close', async () => {
    const log = await same(async (net, log) => {
      let received = '';
      const server = await listening(net, (s) => {
        s.on('data', (d) => (received += d));
        s.on('end', () => log('server end', received));
        s.end('bye');
      });
      const c = net.connect(portOf(server), '127.0.0.1');
      c.setEncoding('utf8');
      c.on('data', (d: string) => log('data', d));
      c.on('end', () => {
        log('end writable', c.writable);
        log('write returns', c.write('late words'));
      });
      c.on('finish', () => log('finish'));
      c.on('close', (hadError: boolean) => log('close', hadError));
      await closed(c);
      server.close();
      await closed(server);
    });
    expect(log).toContain('end writable true');
  });

  it('a paused, idle client socket does not keep the process alive (libuv: not reading = not active)', async () => {
    const out = await sameInChild(`
      const server = net.createServer((s) => s.unref()).listen(0, '127.0.0.1', () => {
        const c = net.connect(server.address().port, '127.0.0.1', () => { console.log('connected'); c.pause(); });
        server.unref();
      });
      process.on('exit', () => console.log('exit'));
      setTimeout(() => console.log('still alive'), 3000).unref();
    `);
    expect(out).toBe('exit 0 \nconnected\nexit\n');
  });

  it('an aborted signal given to new Socket({ signal }): AbortError, then close', async () => {
    await same(async (net, log) => {
      const ac = new AbortController();
      ac.abort();
      const s = new net.Socket({ signal: ac.signal });
      s.on('error', (e: Error) => log('error', describeError(e)));
      await closed(s);
      log('closed');
    });
  });

  // Node 20 goes on connecting after a pre-aborted signal destroyed the socket (the connection
  // is made, and its fd stays open): the error and close are compared, not that.
  it('connect({ signal }) with an aborted signal: AbortError, then close; ours makes no connection', async () => {
    const connectionsOf: Record<string, number> = {};
    const run = async (net: Net, name: string, log: Log) => {
      const server = await listening(net, (s) => {
        connectionsOf[name] = (connectionsOf[name] ?? 0) + 1;
        s.destroy();
      });
      const ac = new AbortController();
      ac.abort();
      const s = net.connect({ port: portOf(server), host: '127.0.0.1', signal: ac.signal });
      s.on('error', (e: Error) => log('error', describeError(e)));
      await closed(s);
      log('closed');
      s.on('connect', () => s.destroy());
      await new Promise((r) => setTimeout(r, 30));
      server.close();
      await closed(server);
    };
    const logs: Record<string, string[]> = { node: [], ours: [] };
    for (const [name, net] of [
      ['node', nodeNet],
      ['ours', ours],
    ] as const) {
      await run(net, name, (...p) => logs[name]!.push(p.join(' ')));
    }
    expect(logs.ours).toEqual(logs.node);
    expect(connectionsOf.ours ?? 0).toBe(0);
  });

  it('reconnecting after close: bytesRead and bytesWritten count each connection', async () => {
    await same(async (net, log) => {
      const server = await listening(net, (s) => {
        s.resume();
        s.end('0123456789');
      });
      const c = new net.Socket();
      for (let round = 0; round < 2; round++) {
        c.connect(portOf(server), '127.0.0.1');
        c.resume();
        await new Promise((r) => c.once('connect', r));
        c.end('abcdef');
        await closed(c);
        log('round', round, 'read', c.bytesRead, 'written', c.bytesWritten);
      }
      server.close();
      await closed(server);
    });
  });

  it("Node's onread option: reads copied into the caller's buffer, a buffer function asked per read, false stops until resume(), no 'data'", async () => {
    const message = Buffer.from('the quick brown fox');
    await same(async (net, log) => {
      for (const mode of ['static', 'function', 'false-then-resume']) {
        const server = await listening(net, (s) => {
          server.close();
          s.end(message);
        });
        const pool = [Buffer.alloc(4), Buffer.alloc(4)];
        let asked = 0;
        const staticBuf = Buffer.alloc(5);
        const got: Buffer[] = [];
        const c = net.connect({
          port: portOf(server),
          host: '127.0.0.1',
          onread: {
            buffer: mode === 'function' ? () => pool[asked++ % 2] : staticBuf,
            callback(n: number, buf: Buffer) {
              got.push(Buffer.from(buf.subarray(0, n)));
              if (mode === 'false-then-resume') {
                setTimeout(() => c.resume(), 5);
                return false;
              }
              return undefined;
            },
          },
        });
        c.on('data', () => log('data (must not happen)'));
        c.on('end', () => log(mode, 'end', Buffer.concat(got).toString(), 'pieces', got.map((b) => b.length).join(','), mode === 'function' ? `asked ${asked}` : ''));
        await closed(c);
        await closed(server);
      }
    });
  });

  it('objectMode options are refused with the same error', async () => {
    await same(async (net, log) => {
      for (const key of ['objectMode', 'readableObjectMode', 'writableObjectMode']) {
        try {
          net.createConnection({ port: 9, [key]: true });
          log(key, 'accepted');
        } catch (e) {
          log(key, describeError(e));
        }
      }
    });
  });

  it('a lookup answering an unknown family: ERR_INVALID_ADDRESS_FAMILY with host and port', async () => {
    await same(async (net, log) => {
      const c = net.connect({
        host: 'example.invalid',
        port: 0,
        autoSelectFamily: false,
        lookup: (_h: string, _o: object, cb: (e: null, a: string, f: number) => void) => cb(null, '127.0.0.1', 100),
      });
      await new Promise<void>((r) => {
        c.on('error', (e: Error & { host?: string; port?: number }) => {
          log(describeError(e), e.host, e.port);
          r();
        });
      });
      await closed(c);
    });
  });

  it("maxConnections: the connection over it is closed and 'drop' tells its addresses", async () => {
    await same(async (net, log) => {
      let first: nodeNet.Socket | null = null;
      const server = await listening(net, (s) => {
        first = s;
      });
      server.maxConnections = 1;
      const dropped = new Promise<void>((r) =>
        server.on('drop', (data: Record<string, unknown>) => {
          log('drop keys', Object.keys(data ?? {}).sort());
          log('drop', data.localAddress, data.localPort === portOf(server), data.localFamily, data.remoteAddress, typeof data.remotePort, data.remoteFamily);
          r();
        }),
      );
      const a = net.connect(portOf(server), '127.0.0.1');
      await new Promise((r) => a.once('connect', r));
      await new Promise((r) => setTimeout(r, 20));
      const b = net.connect(portOf(server), '127.0.0.1');
      b.on('error', () => {});
      await dropped;
      await closed(b);
      first!.destroy();
      a.destroy();
      server.close();
      await closed(server);
    });
  });

  it("captureRejections: a rejected async 'connection' listener destroys that socket with its error", async () => {
    const before = events.EventEmitter.captureRejections;
    events.EventEmitter.captureRejections = true;
    try {
      await same(async (net, log) => {
        const kaboom = new Error('kaboom');
        const server = net.createServer(async (s: nodeNet.Socket) => {
          s.on('error', (e) => log('server socket error is ours', e === kaboom));
          s.on('close', (hadError) => log('server socket close', hadError));
          throw kaboom;
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        const c = net.connect(portOf(server), '127.0.0.1');
        c.on('error', (e: Error) => log('client error', (e as { code?: string }).code));
        await closed(c);
        log('client closed');
        server.close();
        await closed(server);
      });
    } finally {
      events.EventEmitter.captureRejections = before;
    }
  });

  it('listen({ path, readableAll, writableAll }) makes the socket file readable and writable by all', async () => {
    await same(async (net, log) => {
      const path = join(tmpdir(), `net-diff-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
      const server = net.createServer();
      await new Promise<void>((r) => server.listen({ path, readableAll: true, writableAll: true }, () => r()));
      log('others may read and write', (statSync(path).mode & 0o006) === 0o006);
      server.close();
      await closed(server);
    });
  });

  it('legacy and edge surface: net.Stream, _connecting, _connectionKey, socket.timeout, bytesWritten on the prototype', async () => {
    await same(async (net, log) => {
      log('Stream is Socket', net.Stream === net.Socket);
      log('bytesWritten on the prototype', net.Socket.prototype.bytesWritten);
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      log('connection key', (server as unknown as { _connectionKey: string })._connectionKey);
      const c = net.connect(portOf(server), '127.0.0.1');
      log('connecting', c.connecting, c._connecting);
      log('timeout before', c.timeout);
      c.setTimeout(1000);
      log('timeout set', c.timeout);
      c.setTimeout(0);
      log('timeout cleared', c.timeout);
      c.timeout = 5;
      log('timeout assigned', c.timeout);
      await new Promise((r) => c.once('connect', r));
      log('connecting after', c.connecting, c._connecting);
      c.destroy();
      await closed(c);
      server.close();
      await closed(server);
    });
  });

  it('--no-network-family-autoselection sets the default, as in Node', async () => {
    const out = await sameInChild(`console.log(net.getDefaultAutoSelectFamily());`, ['--no-network-family-autoselection']);
    expect(out).toBe('exit 0 \nfalse\n');
  });

  it('net._setSimultaneousAccepts warns once (DEP0121)', async () => {
    const out = await sameInChild(`net._setSimultaneousAccepts(); net._setSimultaneousAccepts(); setTimeout(() => {}, 10);`);
    expect(out).toContain('DEP0121');
  });

  it('write() keeps returning true past the high-water mark while the bytes go out (test-net-throttle); every byte arrives', async () => {
    await same(async (net, log) => {
      let sent = 0;
      let bytesWritten = 0;
      // The writes are made in the 'connection' listener: inside an iteration of our loop.
      const server = await listening(net, (s) => {
        const block = Buffer.alloc(1024, 7);
        let n = 1;
        while (s.write(block) && n < 256) n++;
        // Node's: as long as the kernel takes each write whole; ours: as long as the iteration's
        // batch does (64 KiB per socket). Either is well past the 16 KiB high-water mark.
        log('more than the high-water mark before false', n * 1024 > s.writableHighWaterMark);
        s.write(block);
        s.end(block);
        sent = (n + 2) * 1024;
        bytesWritten = s.bytesWritten;
      });
      const c = net.connect(portOf(server), '127.0.0.1');
      let received = 0;
      c.on('data', (d: Buffer) => (received += d.length));
      await new Promise((r) => c.once('end', r));
      log('all arrived', received === sent, 'bytesWritten', bytesWritten === sent);
      c.destroy();
      server.close();
      await closed(server);
    });
  });

  it("a write made while connecting goes out after the 'connect' listeners added before it (test-net-connect-buffer)", async () => {
    await same(async (net, log) => {
      const server = await listening(net, (s) => s.resume());
      const c = net.connect(portOf(server), '127.0.0.1', () => log('connect callback'));
      c.write('hello', () => log('write callback', c.pending, c.bytesWritten));
      c.on('connect', () => log('connect listener added after the write'));
      await new Promise((r) => c.once('connect', r));
      c.destroy();
      server.close();
      await closed(server);
    });
  });

  it('a paused socket whose peer answered a late write with a reset hears nothing until it reads: then end and close, no error', async () => {
    await same(async (net, log) => {
      const server = await listening(net, (s) => s.destroy());
      const c = net.connect({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
      c.pause();
      for (const e of ['end', 'finish', 'close']) c.on(e, () => log(e));
      c.on('error', (e: Error) => log('error', describeError(e)));
      await new Promise((r) => c.once('connect', r));
      await new Promise((r) => setTimeout(r, 50));
      // The server's socket is closed: this write is answered by a reset, which a socket that
      // neither reads nor has writes waiting does not hear (libuv watches nothing then).
      c.write('late', () => log('write callback'));
      await new Promise((r) => setTimeout(r, 50));
      log('destroyed while paused', c.destroyed);
      c.resume();
      c.on('end', () => c.end());
      await closed(c);
      server.close();
      await closed(server);
    });
  });
});
