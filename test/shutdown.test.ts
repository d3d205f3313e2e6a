// Graceful shutdown of the example servers (examples/common.ts shutdownOnSignals, docs/signals.md):
// each server, run as a user runs it, is kept busy by real clients; SIGTERM (or SIGINT) comes in
// the middle; every request begun before the signal must be answered, no client may see an
// error, and the process must exit 0 — within a bound that only catches a hang.
import { type ChildProcess, spawn } from 'node:child_process';
import * as nodeDgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageDir } from './helpers';
import { HttpClient, OK_CLOSE, sleep, straggler } from './load-clients';

/** A shutdown that takes longer than this is hung (the quiet period is 200 ms). */
const BOUND_MS = 10_000;

const running: ChildProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

interface Server {
  proc: ChildProcess;
  port: number;
  output: () => string;
  /** Resolves with the exit code (or the signal's name) and the ms from `signal()` to the exit. */
  exited: Promise<{ code: number | string | null; ms: number }>;
  /** Sends the signal and notes the time. */
  signal(name: NodeJS.Signals): void;
}

/** Starts an example; resolves once it prints `listening on HOST:PORT` (or matches `ready`). */
function start(name: string, args: string[], ready = /listening on .*:(\d+)/): Promise<Server> {
  const proc = spawn(process.execPath, [join(packageDir, 'dist/examples', `${name}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let out = '';
  let signalledAt = 0;
  const exited = new Promise<{ code: number | string | null; ms: number }>((r) =>
    proc.on('exit', (code, signal) => r({ code: code ?? signal, ms: Date.now() - signalledAt })),
  );
  return new Promise((resolve, reject) => {
    const look = (d: Buffer): void => {
      out += d;
      const m = out.match(ready);
      if (m)
        resolve({
          proc,
          port: Number(m[1]),
          output: () => out,
          exited,
          signal(sig) {
            signalledAt = Date.now();
            proc.kill(sig);
          },
        });
    };
    proc.stdout!.on('data', look);
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    void exited.then((e) => reject(new Error(`${name} exited with ${e.code} before it was ready: ${out}`)));
  });
}

describe.each(['standalone', 'node'])('graceful shutdown under load (--driver %s)', (driver) => {
  it('http-server: SIGTERM amid keep-alive requests — every request answered 200, the last with Connection: close, exit 0', async () => {
    const server = await start('http-server', ['--port', '0', '--driver', driver]);
    const clients = Array.from({ length: 16 }, () => new HttpClient(server.port));
    await sleep(400);
    let sentBefore: number[] = [];
    const late = await straggler(server.port, 'GET /late HTTP/1.1\r\nHo', 'st: x\r\n\r\n', () => {
      sentBefore = clients.map((c) => c.sent);
      server.signal('SIGTERM');
    });
    const { code, ms } = await server.exited;
    await Promise.all(clients.map((c) => c.closed));
    expect(late).toEqual({ got: OK_CLOSE, errors: [] });
    expect(code).toBe(0);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(server.output()).toMatch(/SIGTERM: shutting down[^\n]*\nshut down cleanly\n$/);
    expect(clients.flatMap((c) => c.errors)).toEqual([]);
    expect([...new Set(clients.flatMap((c) => [...c.statuses]))]).toEqual([200]);
    clients.forEach((c, i) => {
      expect(c.sent).toBeGreaterThan(0);
      expect(c.answered).toBe(c.sent); // every request, before the signal and after it
      expect(c.answered).toBeGreaterThanOrEqual(sentBefore[i]!);
      expect(c.closedByServer).toBe(true);
    });
  });

  it('echo-server: SIGINT amid echoes — every byte sent before it echoed, then EOF, exit 0', async () => {
    const server = await start('echo-server', ['--port', '0', '--driver', driver]);
    let stopped = false;
    const clients = Array.from({ length: 16 }, (_, k) => {
      const c = { sent: 0, echoed: 0, errors: [] as string[], ended: false, closed: Promise.resolve() };
      const message = Buffer.alloc(100 + k * 37, 97 + k); // sizes differ: reads and writes split differently
      let pending = 0;
      const socket = nodeNet.connect(server.port, '127.0.0.1', () => {
        pending = message.length;
        c.sent += message.length;
        socket.write(message);
      });
      socket.on('data', (d) => {
        c.echoed += d.length;
        pending -= d.length;
        if (pending === 0 && !stopped) {
          pending = message.length;
          c.sent += message.length;
          socket.write(message);
        }
      });
      socket.on('end', () => {
        c.ended = true;
      });
      socket.on('error', (e) => c.errors.push(e.message));
      c.closed = new Promise((r) => socket.on('close', () => r()));
      return c;
    });
    await sleep(400);
    const late = await straggler(server.port, 'half a mess', 'age', () => {
      stopped = true; // no new message from now on; those on their way must come back
      server.signal('SIGINT');
    });
    const { code, ms } = await server.exited;
    expect(late).toEqual({ got: 'half a message', errors: [] });
    await Promise.all(clients.map((c) => c.closed));
    expect(code).toBe(0);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(server.output()).toContain('SIGINT: shutting down');
    for (const c of clients) {
      expect(c.errors).toEqual([]);
      expect(c.sent).toBeGreaterThan(0);
      expect(c.echoed).toBe(c.sent);
      expect(c.ended).toBe(true); // the server's FIN, after the last echo
    }
  });

  it('chat-server: SIGTERM amid chatter — every line sent before it reaches every other client, then a goodbye, exit 0', async () => {
    const server = await start('chat-server', ['--port', '0', '--driver', driver]);
    let stopped = false;
    const N = 4;
    const clients = await Promise.all(
      Array.from(
        { length: N },
        () =>
          new Promise<{ socket: nodeNet.Socket; got: string }>((resolve) => {
            const socket = nodeNet.connect(server.port, '127.0.0.1');
            socket.setEncoding('utf8');
            const c = { socket, got: '' };
            socket.once('data', (d: string) => {
              c.got = d.slice(d.indexOf('\n') + 1); // after the welcome line
              socket.on('data', (more: string) => {
                c.got += more;
              });
              resolve(c);
            });
          }),
      ),
    );
    // each client has an id ([1]…[N], in connection order): learn it from what the others receive
    const errors: string[] = [];
    const closed = clients.map((c) => {
      c.socket.on('error', (e) => errors.push(e.message));
      return new Promise<void>((r) => c.socket.on('close', () => r()));
    });
    const sent = clients.map(() => 0);
    const tick = setInterval(() => {
      if (stopped) return;
      clients.forEach((c, i) => {
        c.socket.write(`line ${++sent[i]!} from client ${i}\n`);
      });
    }, 2);
    await sleep(400);
    const late = await straggler(server.port, 'a line begun before', ' the signal\n', () => {
      stopped = true;
      clearInterval(tick);
      server.signal('SIGTERM');
    });
    const { code, ms } = await server.exited;
    await Promise.all(closed);
    expect(late.errors).toEqual([]);
    expect(late.got).toMatch(/\(server shutting down\)\n$/);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(errors).toEqual([]);
    clients.forEach((c, i) => {
      const lines = c.got.split('\n');
      expect(lines.pop()).toBe(''); // nothing after the last newline
      expect(lines.pop()).toBe('(server shutting down)');
      expect(lines.filter((l) => l.includes('dropped'))).toEqual([]);
      expect(lines.filter((l) => l.endsWith('] a line begun before the signal'))).toHaveLength(1);
      for (let j = 0; j < N; j++) {
        if (j === i) continue;
        const fromJ = lines.filter((l) => l.endsWith(` from client ${j}`)).map((l) => Number(/line (\d+) from/.exec(l)![1]));
        expect(fromJ, `client ${i} hears client ${j}`).toEqual(Array.from({ length: sent[j]! }, (_, k) => k + 1));
      }
    });
  });

  it('udp-echo: SIGTERM amid datagrams — every datagram sent before it echoed, exit 0', async () => {
    const server = await start('udp-echo', ['--port', '0', '--driver', driver]);
    let stopped = false;
    const sockets = await Promise.all(
      Array.from({ length: 4 }, async (_, k) => {
        const s = nodeDgram.createSocket('udp4');
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
        const c = { s, sent: 0, echoed: 0, errors: [] as string[] };
        s.on('error', (e) => c.errors.push(e.message));
        const next = (): void => {
          c.sent++;
          s.send(`${k}:${c.sent}`, server.port, '127.0.0.1');
        };
        s.on('message', () => {
          c.echoed++;
          if (!stopped) next();
        });
        for (let i = 0; i < 8; i++) next(); // 8 in flight per socket
        return c;
      }),
    );
    await sleep(400);
    stopped = true;
    server.signal('SIGTERM');
    const { code, ms } = await server.exited;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(BOUND_MS);
    // the last echoes left before the server closed: they are in our sockets' buffers, unread yet
    for (let i = 0; i < 100 && sockets.some((c) => c.echoed < c.sent); i++) await sleep(20);
    for (const c of sockets) {
      expect(c.errors).toEqual([]);
      expect(c.sent).toBeGreaterThan(8);
      expect(c.echoed).toBe(c.sent);
      await new Promise<void>((r) => c.s.close(() => r()));
    }
  });
});

describe('c10k', () => {
  it('SIGTERM while it holds its connections: the listener closes, the client process is stopped, exit 0', async () => {
    const server = await start('c10k', ['--connections', '300', '--seconds', '60'], /^(300) connections held\.$/m);
    const pid = server.proc.pid!;
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    expect(kids).toHaveLength(1);
    server.signal('SIGTERM');
    const { code, ms } = await server.exited;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(BOUND_MS);
    // the client was waited for: no orphan left (its pid, if reused already, is not a node of ours)
    expect(existsSync(`/proc/${kids[0]}`) && readFileSync(`/proc/${kids[0]}/cmdline`, 'latin1').includes('c10k.js')).toBe(false);
  }, 60_000);
});

describe('what a shutdown will not wait for', () => {
  /** An echo client that sends and never reads: the server's queue for it never empties. */
  async function stuckClient(port: number): Promise<nodeNet.Socket> {
    const s = nodeNet.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.pause();
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 128; i++) s.write(chunk);
    await sleep(300);
    return s;
  }

  it('a second signal during the shutdown exits at once with 128 + its number (130 for SIGINT)', async () => {
    const server = await start('echo-server', ['--port', '0']);
    const s = await stuckClient(server.port);
    server.signal('SIGTERM');
    await sleep(500);
    expect(server.proc.exitCode).toBe(null); // still waiting for the stuck client
    server.signal('SIGINT');
    const { code, ms } = await server.exited;
    expect(code).toBe(130);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(server.output()).toContain('echo-server: SIGINT during the shutdown (after SIGTERM): exiting now\n');
    s.destroy();
  });

  it('--drain-timeout: a shutdown still busy after it gives up, exit 1', async () => {
    const server = await start('echo-server', ['--port', '0', '--drain-timeout', '500']);
    const s = await stuckClient(server.port);
    server.signal('SIGTERM');
    const { code, ms } = await server.exited;
    expect(code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(server.output()).toContain('echo-server: still busy 500 ms after SIGTERM; exiting\n');
    s.destroy();
  });
});
