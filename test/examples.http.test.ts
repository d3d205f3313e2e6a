// The framework examples (Express, Fastify, HTTPS, a ws chat), each run as a user would
// (`node dist/examples/<name>.js --port 0`), under both drivers, answered by real clients.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { packageDir } from './helpers';

const running: ChildProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
});

/** Starts an example and resolves once it prints `listening on HOST:PORT`. */
function start(name: string, args: string[]): Promise<{ port: number; output: () => string }> {
  const proc = spawn(process.execPath, [join(packageDir, 'dist/examples', `${name}.js`), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/listening on .*:(\d+)/);
      if (m) resolve({ port: Number(m[1]), output: () => out });
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

const curl = async (...args: string[]) => (await promisify(execFile)('curl', ['-s', ...args])).stdout;

describe.each(['standalone', 'node'])('framework examples (--driver %s)', (driver) => {
  it('express-app and fastify-app answer routes, parameters and JSON bodies', async () => {
    for (const name of ['express-app', 'fastify-app']) {
      const { port } = await start(name, ['--driver', driver]);
      const base = `http://127.0.0.1:${port}`;
      expect(await curl(`${base}/`), name).toMatch(/^Hello from (Express|Fastify) on epoll-reactor\n$/);
      expect(JSON.parse(await curl(`${base}/users/7`)), name).toEqual({ id: 7, ip: '127.0.0.1' });
      expect(JSON.parse(await curl('-H', 'content-type: application/json', '-d', '{"a":[1,2]}', `${base}/echo`)), name).toEqual({ a: [1, 2] });
      expect(await curl('-o', '/dev/null', '-w', '%{http_code}', `${base}/nowhere`), name).toBe('404');
    }
  });

  it('https-server makes its certificate on the first run, reuses it after, and curl verifies it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'er-https-ex-'));
    try {
      const first = await start('https-server', ['--driver', driver, '--cert-dir', dir]);
      expect(first.output()).toContain(`made a self-signed certificate: ${join(dir, 'cert.pem')}`);
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      expect(await curl('--cacert', join(dir, 'cert.pem'), `https://localhost:${first.port}/hi`)).toMatch(/^Hello over TLSv1\.3 from epoll-reactor: GET \/hi\n$/);
      const second = await start('https-server', ['--driver', driver, '--cert-dir', dir]);
      expect(second.output()).not.toContain('made a self-signed certificate');
      expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe(cert);
      expect(await curl('--cacert', join(dir, 'cert.pem'), `https://127.0.0.1:${second.port}/`)).toMatch(/^Hello over TLS/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('websocket-chat: a message from one client reaches both, the page is served', async () => {
    const { port } = await start('websocket-chat', ['--driver', driver]);
    expect(await curl(`http://127.0.0.1:${port}/`)).toContain("new WebSocket('ws://'");
    const join = (): Promise<{ ws: WebSocket; lines: string[] }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
        const lines: string[] = [];
        ws.on('message', (d) => lines.push(String(d)));
        ws.on('open', () => resolve({ ws, lines }));
        ws.on('error', reject);
      });
    const a = await join();
    const b = await join();
    const waitFor = async (lines: string[], text: string) => {
      while (!lines.includes(text)) await new Promise((r) => setTimeout(r, 10));
    };
    await waitFor(a.lines, '* user2 joined');
    a.ws.send('hello everyone');
    await waitFor(a.lines, 'user1: hello everyone');
    await waitFor(b.lines, 'user1: hello everyone');
    expect(a.lines.slice(0, 2)).toEqual(['* you are user1', '* user1 joined']);
    expect(b.lines[0]).toBe('* you are user2');
    b.ws.close();
    await waitFor(a.lines, '* user2 left');
    a.ws.close();
  });
});
