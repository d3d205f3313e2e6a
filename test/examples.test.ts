// The examples, each run as a user would (`node dist/examples/<name>.js --port N`), checked
// from the outside with real clients.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as nodeDgram from 'node:dgram';
import * as nodeNet from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { exchange, packageDir, runChild, sys, waitFd } from './helpers';

/** One request on a fresh connection to `host`:`port`; the first bytes that come back. */
function exchangeOn(host: string, port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = nodeNet.connect(port, host, () => c.write(data));
    c.once('data', (d) => {
      resolve(String(d));
      c.destroy();
    });
    c.once('error', reject);
  });
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
});

/** Starts an example and resolves once it prints `listening on HOST:PORT`. */
function start(name: string, args: string[] = []): Promise<{ proc: ChildProcess; port: number; output: () => string }> {
  const proc = spawn(process.execPath, [join(packageDir, 'dist/examples', `${name}.js`), '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/listening on .*:(\d+)/);
      if (m) resolve({ proc, port: Number(m[1]), output: () => out });
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!';

describe.each(['standalone', 'node'])('http-server (--driver %s)', (driver) => {
  it('serves keep-alive and pipelined requests with the exact bytes', async () => {
    const { port } = await start('http-server', ['--driver', driver]);
    const two = 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n';
    expect(await exchange(port, two, 300)).toBe(OK + OK);
    // a request split across reads, with a body announced by Content-Length
    const c = nodeNet.connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => {
      got += d;
    });
    await new Promise((r) => c.on('connect', r));
    c.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Le');
    await new Promise((r) => setTimeout(r, 30));
    c.write('ngth: 5\r\n\r\nhel');
    await new Promise((r) => setTimeout(r, 30));
    c.write('loGET / HTTP/1.0\r\n\r\n'); // HTTP/1.0: answered, then closed
    await new Promise((r) => c.on('close', r));
    expect(got).toBe(OK + OK.replace('keep-alive', 'close'));
  });

  it('answers malformed requests with 400, oversized heads with 431, bodies too large with 413, chunked with 501', async () => {
    const { port } = await start('http-server', ['--driver', driver]);
    expect(await exchange(port, 'HELLO\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Connection: close/);
    expect(await exchange(port, 'GET / HTTP/1.1\r\nBad Header\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await exchange(port, 'get / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await exchange(port, `GET / HTTP/1.1\r\nX: ${'a'.repeat(9000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await exchange(port, `GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await exchange(port, 'POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n')).toMatch(/^HTTP\/1\.1 413 /);
    expect(await exchange(port, 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatch(/^HTTP\/1\.1 501 /);
    // a good request before a bad one in the same packet is answered first
    expect(await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1 400 /);
  });

  it('closes a client that sends its head too slowly (408)', async () => {
    const { port } = await start('http-server', ['--driver', driver, '--header-timeout', '300']);
    const c = nodeNet.connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => {
      got += d;
    });
    const t0 = Date.now();
    const drip = setInterval(() => c.write('G'), 100); // slowloris: one byte at a time
    await new Promise((r) => c.on('close', r));
    clearInterval(drip);
    expect(got).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('npm start', () => {
  it('runs http-server and prints a one-line loop summary every second', async () => {
    const { port, output } = await start('http-server', ['--stats']);
    await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 200);
    await new Promise((r) => setTimeout(r, 2200));
    const line = output().split('\n').find((l) => l.startsWith('conns'));
    expect(line).toMatch(/^conns \d+ {2}req\/s \d+ {2}iterations \d+ {2}events\/wakeup [\d.]+ {2}asleep \d+% {2}rss [\d.]+ MiB$/);
  });
});

describe('echo-server and echo-client', () => {
  it('echo back, with byte counts', async () => {
    const { port } = await start('echo-server');
    const client = spawn(process.execPath, [join(packageDir, 'dist/examples/echo-client.js'), '--port', String(port), '--count', '3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(client);
    let out = '';
    client.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise((r) => client.on('exit', r));
    expect(code).toBe(0);
    expect(out).toMatch(/echo: hello 1\necho: hello 2\necho: hello 3\nclosed after 3 round trips/);
    expect(out).toMatch(/read 24 B, wrote 24 B/);
  });
});

describe('example flags', () => {
  const hasSs = spawnSync('ss', ['-V']).status === 0;
  it.skipIf(!hasSs)('--backlog sets the listen backlog (ss shows it as the listener’s Send-Q)', async () => {
    const { port } = await start('echo-server', ['--backlog', '7']);
    const ss = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
    // "LISTEN 0 7 127.0.0.1:PORT 0.0.0.0:*": state, Recv-Q (queued now), Send-Q (the backlog)
    expect(ss.stdout.trim().split(/\s+/).slice(0, 3)).toEqual(['LISTEN', '0', '7']);
  });

  it('a bad flag is refused with exit code 2 and a message naming it, not a stack trace', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [join(packageDir, 'dist/examples/echo-server.js'), '--port', '0', ...args], { encoding: 'utf8' });
    const bad = run('--backlog=-1');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')[0]).toBe('--backlog must be an integer from 0 up, got -1');
    const host = run('--host', 'example.com');
    expect(host.status).toBe(2);
    expect(host.stderr).toContain('--host must be an IPv4 or IPv6 address or localhost (names are not resolved), got example.com');
    const unknown = run('--bogus');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
    expect(unknown.stderr).not.toContain('    at ');
  });
});

// Every program in examples/ and examples/learn/ (the build's .js files, less the shared modules).
const programs = [
  ...readdirSync(join(packageDir, 'dist/examples')).filter((f) => f.endsWith('.js') && f !== 'common.js' && f !== 'cli.js'),
  ...readdirSync(join(packageDir, 'dist/examples/learn'))
    .filter((f) => /^\d\d-.*\.js$/.test(f))
    .map((f) => `learn/${f}`),
].sort();

describe('every example and lesson: --help, and unknown flags', () => {
  it('finds the programs', () => {
    expect(programs).toEqual(expect.arrayContaining(['c10k.js', 'echo-server.js', 'http-server.js', 'express-app.js', 'learn/07-one-sleep-all-fds.js', 'learn/08-every-kind-of-fd.js']));
    expect(programs).toHaveLength(10 + 8);
  });

  it.each(programs)('%s --help prints its usage and flags and exits 0; --bogus exits 2 with a one-line reason', async (file) => {
    const path = join(packageDir, 'dist/examples', file);
    const help = await runChild(process.execPath, [path, '--help'], { cwd: packageDir });
    expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(new RegExp(`^usage: node dist/examples/${file.replace('.', '\\.')} \\[flags\\]\n\n\\S`));
    expect(help.stdout).toMatch(/\n {2}--help +print this and exit\n/);
    // each flag the source declares is listed (the hidden child-process flags aside)
    const source = readFileSync(join(packageDir, 'examples', file.replace(/\.js$/, '.ts')), 'utf8');
    const declared = [...source.matchAll(/^\s+'?([a-z][a-z-]*)'?: \{ (?:type: '(?:string|boolean)'|value: )/gm)].map((m) => m[1]!);
    for (const flag of declared.filter((f) => f !== 'client')) expect(help.stdout, flag).toContain(`  --${flag}`);
    const bogus = await runChild(process.execPath, [path, '--bogus'], { cwd: packageDir });
    expect(bogus.code).toBe(2);
    expect(bogus.stdout).toBe('');
    expect(bogus.stderr).toBe("Unknown option '--bogus'\n(run with --help to see the flags)\n");
  });
});

describe('IPv6: --host :: and ::1', () => {
  it.each(['::1', '::'])('echo-server --host %s serves a client on [::1] (and on 127.0.0.1 when listening on ::)', async (host) => {
    const { port, output } = await start('echo-server', ['--host', host]);
    expect(output()).toContain(`listening on [${host}]:${port}`);
    const over6 = await exchangeOn('::1', port, 'six');
    expect(over6).toBe('six');
    if (host === '::') expect(await exchangeOn('127.0.0.1', port, 'four')).toBe('four'); // dual-stack, as Node's default
  });

  it('http-server --host ::1 answers curl -g http://[::1]:PORT/', async () => {
    const { port } = await start('http-server', ['--host', '::1']);
    const reply = await exchangeOn('::1', port, 'GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n');
    expect(reply).toBe(OK);
  });
});

describe.each(['standalone', 'node'])('udp-echo (--driver %s)', (driver) => {
  it('sends every datagram back to its sender, byte for byte', async () => {
    const { port } = await start('udp-echo', ['--driver', driver]);
    const c = nodeDgram.createSocket('udp4');
    const sent = ['one', '', 'x'.repeat(9000), 'four'];
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      c.on('message', (m, rinfo) => {
        expect(rinfo.port).toBe(port);
        got.push(m.toString());
        if (got.length === sent.length) resolve();
      }),
    );
    for (const m of sent) c.send(m, port, '127.0.0.1');
    await all;
    expect(got.sort()).toEqual([...sent].sort());
    await new Promise<void>((r) => c.close(() => r()));
  });
});

describe('chat-server', () => {
  it('broadcasts to the others, and a client that never reads costs bounded memory', async () => {
    const { port, output } = await start('chat-server', ['--max-backlog', '65536', '--stats']);
    const join = () =>
      new Promise<nodeNet.Socket>((resolve) => {
        const c = nodeNet.connect(port, '127.0.0.1');
        c.once('data', () => resolve(c)); // the welcome line
      });
    const a = await join();
    const b = await join();
    // `slow` never reads after the welcome line. Its receive buffer is made small before it
    // connects, so the kernel cannot take the flood off the server's hands (loopback's autotuned
    // buffers held all 4 MiB once, and the server had nothing to drop).
    const slow = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    sys.setsockopt(slow, sys.SOL_SOCKET, sys.SO_RCVBUF, 4096);
    sys.connect(slow, '127.0.0.1', port);
    expect(waitFd(slow, sys.POLLIN, 10_000) & sys.POLLIN).toBeTruthy(); // the welcome line
    sys.read(slow, Buffer.alloc(4096));
    // a floods 8 MiB of lines; b reads all the time, slow never does. b is not guaranteed to
    // keep up (under a loaded machine this test process can fall behind, and then b is a slow
    // reader for a moment too), so what is checked is the server's promise: every line reaches b
    // or is counted in the "(N messages dropped …)" notice b gets once it has drained.
    let bLines = 0;
    let bToldDropped = 0;
    const bGotAll = new Promise<void>((resolve) => {
      let tail = '';
      b.on('data', (d) => {
        const lines = (tail + d).split('\n');
        tail = lines.pop()!;
        for (const l of lines) {
          if (l.startsWith('[1] ')) bLines++;
          const m = l.match(/^\((\d+) messages dropped while you were not reading\)$/);
          if (m) bToldDropped += Number(m[1]);
        }
        if (bLines + bToldDropped >= 8192) resolve();
      });
    });
    const line = `${'x'.repeat(1000)}\n`;
    for (let i = 0; i < 8192; i++) a.write(line);
    // (a slow machine may take longer than the usual ~1 s; the server reports once a second)
    await Promise.race([bGotAll, new Promise((r) => setTimeout(r, 20_000))]);
    expect(bLines + bToldDropped).toBe(8192);
    expect(bLines).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500)); // one more summary line after the flood
    // the server's own summary: what it holds for `slow` stays under the cap plus one read's
    // lines (the check is made once per read: a read carries up to 64 KiB of lines)
    const stats = output()
      .split('\n')
      .filter((l) => l.startsWith('clients'))
      .at(-1)!;
    const queued = Number(stats.match(/queued bytes (\d+)/)![1]);
    const dropped = Number(stats.match(/dropped (\d+)/)![1]);
    expect(queued).toBeLessThanOrEqual(65536 + 65536 + 2048);
    expect(dropped).toBeGreaterThan(0);
    for (const c of [a, b]) c.destroy();
    sys.close(slow);
  });
});

describe('c10k', () => {
  it('checks the fd limit first: below it, one message saying what to run, exit 1, no child started', async () => {
    const r = await runChild('bash', ['-c', 'ulimit -n 600; exec "$0" "$1" --connections 1000', process.execPath, join(packageDir, 'dist/examples/c10k.js')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(''); // it never got as far as listening
    expect(r.stderr).toMatch(/^c10k: 1,000 connections need about 1,0\d\d fds, but this process may open 600 \(ulimit -n\)\.\n/);
    expect(r.stderr).toContain('\n  ulimit -n 2048\n');
    expect(r.stderr).toMatch(/or ask for less: --connections 5\d\d\n$/);
    expect(r.stderr).not.toContain('    at ');
  });

  it('holds the connections idle with no wake-ups but the timer’s', async () => {
    const proc = spawn(process.execPath, [join(packageDir, 'dist/examples/c10k.js'), '--connections', '2000', '--seconds', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(proc);
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.stderr.on('data', (d) => {
      out += d;
    });
    await new Promise((r) => proc.on('exit', r));
    expect(out).toMatch(/^2,000 connections held\.$/m);
    expect(out).toMatch(/^right after the accepts: RSS [\d.]+ MiB, \+\d+ B per connection \(JS heap \+\d+ B of it\)$/m);
    expect(out).toMatch(/^after 2 s idle: RSS [\d.]+ MiB, \+\d+ B per connection \(JS heap \+\d+ B of it\)$/m);
    const m = out.match(/(\d+) loop iterations \(timer (\d+), io (\d+), immediate (\d+), none (\d+)\)/);
    expect(m, out).not.toBeNull();
    const [, iterations, timer, io] = m!.map(Number);
    expect(io).toBe(0);
    expect(timer).toBeGreaterThanOrEqual(2);
    expect(iterations).toBeLessThanOrEqual(4);
  }, 60_000);
});
