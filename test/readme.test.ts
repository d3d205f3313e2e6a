// The README's first program, run as the README shows it: its code block is read from README.md
// and started in a node process of its own. Two substitutions only: the package is imported
// from this build (dist/lib/index.mjs, what `import … from 'epoll-reactor'` loads), and it
// listens on a free port instead of 7000. The README says it "keeps serving" when a client
// resets its connection; a client here resets one, and another is served after it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fdSnapshot, once, packageDir } from './helpers';

const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');

/** The first ```ts block under the heading that starts with `heading`. */
function codeUnder(heading: string): string {
  const at = readme.indexOf(`\n## ${heading}`);
  if (at < 0) throw new Error(`README.md has no "## ${heading}…" section`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (m === null) throw new Error(`no ts block under "## ${heading}"`);
  return m[1]!;
}

const running: ChildProcess[] = [];
let fds: ReturnType<typeof fdSnapshot>;
beforeEach(() => {
  fds = fdSnapshot();
});
afterEach(async () => {
  // the children's stdio pipes are fds of this process: gone once 'close' has been emitted
  await Promise.all(
    running.splice(0).map((p) => {
      const closed = new Promise((r) => (p.stdout?.closed && p.stderr?.closed && (p.exitCode !== null || p.signalCode !== null) ? r(null) : p.once('close', r)));
      p.kill('SIGKILL');
      return closed;
    }),
  );
  fds.check();
});
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'readme-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts `code` as an ES module; resolves with the port it printed once it listens. */
function start(code: string, name: string): Promise<{ proc: ChildProcess; port: number; output: () => string; exited: Promise<number | null> }> {
  const file = join(tmp, `${name}.mjs`);
  writeFileSync(file, code);
  const proc = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let out = '';
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening .*port: (\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]), output: () => out, exited });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    void exited.then((c) => reject(new Error(`exited with ${c} before listening: ${out}`)));
  });
}

/** Connects, sends `text`, resolves with the first bytes that come back, still connected. */
function echoOnce(port: number, text: string): Promise<{ socket: nodeNet.Socket; got: string }> {
  return new Promise((resolve, reject) => {
    const socket = nodeNet.connect(port, '127.0.0.1', () => socket.write(text));
    socket.once('data', (d) => resolve({ socket, got: String(d) }));
    socket.once('error', reject);
  });
}

describe("the README's TCP server", () => {
  const code = codeUnder('A TCP server');
  const runnable = code
    .replace("from 'epoll-reactor'", `from ${JSON.stringify(pathToFileURL(join(packageDir, 'dist/lib/index.mjs')).href)}`)
    .replace('listen(7000,', 'listen(0,');

  it('is the code the README shows, with only the import and the port changed', () => {
    expect(code).toContain("from 'epoll-reactor'");
    expect(code).toContain('listen(7000,');
    expect(runnable).not.toBe(code);
    expect(runnable.split('\n').length).toBe(code.split('\n').length);
  });

  it('echoes, survives a client that resets its connection, and serves the next one', async () => {
    const server = await start(runnable, 'server');
    const a = await echoOnce(server.port, 'first');
    expect(a.got).toBe('first');
    a.socket.resetAndDestroy(); // RST: the server's next read fails with ECONNRESET
    await once(a.socket, 'close');
    await expect.poll(server.output, { timeout: 10_000 }).toMatch(/client gone: (read|write) ECONNRESET/);
    const b = await echoOnce(server.port, 'second');
    expect(b.got).toBe('second');
    b.socket.destroy();
    await once(b.socket, 'close');
    expect(server.proc.exitCode).toBeNull(); // still serving
  });

  it("without its 'error' line, the same reset ends the process (what the line is for)", async () => {
    const lines = runnable.split('\n');
    const withoutHandler = lines.filter((l) => !l.includes("socket.on('error'")).join('\n');
    expect(withoutHandler.split('\n').length).toBe(lines.length - 1);
    const server = await start(withoutHandler, 'no-handler');
    const a = await echoOnce(server.port, 'x');
    a.socket.resetAndDestroy();
    await once(a.socket, 'close');
    expect(await server.exited).not.toBe(0);
    expect(server.output()).toMatch(/ECONNRESET/);
  });
});

describe("the README's Express app on epoll-reactor", () => {
  const code = codeUnder('Run your Express');
  const runnable = code
    .replace("from 'epoll-reactor'", `from ${JSON.stringify(pathToFileURL(join(packageDir, 'dist/lib/index.mjs')).href)}`)
    .replace("from 'express'", `from ${JSON.stringify(pathToFileURL(join(packageDir, 'node_modules/express/index.js')).href)}`)
    .replace('listen(3000,', 'listen(0,');

  it('is the code the README shows, with only the imports and the port changed', () => {
    expect(code).toContain('http.createServer(app).listen(3000,');
    expect(runnable.split('\n').length).toBe(code.split('\n').length);
    expect(runnable).not.toContain("'epoll-reactor'");
    expect(runnable).not.toContain("'express'");
  });

  it('serves the app through our http.createServer', async () => {
    const server = await start(runnable, 'express');
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = nodeNet.connect(server.port, '127.0.0.1', () => socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let got = '';
      socket.on('data', (d) => {
        got += d;
      });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*X-Powered-By: Express[\s\S]*\r\n\r\nhello 127\.0\.0\.1\n$/);
  });
});
