// Child processes: sys.posix_spawn / pidfd_open / waitid / pidfd_send_signal / socketpair, and
// childProcess.spawn against real programs, checked against Node's own child_process.
import * as nodeCp from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, expectArgError, expectSystemError, onLoop, packageDir, pkg, sys } from './helpers';

const { childProcess } = pkg;
/** Ours seen through Node's type: the tests use only what both have. */
type Child = nodeCp.ChildProcess;
type Spawn = (file: string, args?: readonly string[], options?: Record<string, unknown>) => Child;
const oursOn =
  (loop: InstanceType<typeof pkg.Loop>): Spawn =>
  (file, args, options) =>
    childProcess.spawn(file, args ?? [], { ...options, loop }) as unknown as Child;
const nodes: Spawn = (file, args, options) => nodeCp.spawn(file, args ?? [], options ?? {});

/** Every event of the child and of its stdio, in order, until the child's 'close'. */
function record(ofEither: Child | InstanceType<typeof childProcess.ChildProcess>): Promise<{ events: string[]; out: Buffer; err: Buffer }> {
  const child = ofEither as Child;
  const events: string[] = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(Buffer.from(d)));
  child.stderr?.on('data', (d: Buffer) => err.push(Buffer.from(d)));
  child.stdout?.on('close', () => events.push('stdout.close'));
  child.stderr?.on('close', () => events.push('stderr.close'));
  return new Promise((resolve) => {
    child.on('spawn', () => events.push('spawn'));
    child.on('exit', (code, signal) => events.push(`exit ${code} ${signal}`));
    child.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.message}`));
    child.on('close', (code, signal) => {
      events.push(`close ${code} ${signal}`);
      resolve({ events, out: Buffer.concat(out), err: Buffer.concat(err) });
    });
  });
}

/** The child's own events (not its streams'). */
const own = (events: string[]): string[] => events.filter((e) => !e.includes('.'));

/** The child has been reaped: waitid finds no such child, and /proc has no entry for it. */
function expectReaped(pid: number): void {
  let errno = 0;
  try {
    sys.waitid(sys.P_PID, pid, sys.WEXITED | sys.WNOHANG);
  } catch (e) {
    errno = (e as { errno: number }).errno;
  }
  expect(errno).toBe(-sys.errno.ECHILD!);
  expect(existsSync(`/proc/${pid}`)).toBe(false);
}

checkFdsEachTest();

describe('sys: posix_spawn, pidfd_open, waitid, pidfd_send_signal, socketpair', () => {
  it('spawns with a dup2 onto stdout and a chdir, sees the exit through the pidfd, reaps it', () => {
    const [ours, theirs] = sys.socketpair(sys.AF_UNIX, sys.SOCK_STREAM);
    expect(sys.isCloseOnExec(ours) && sys.isCloseOnExec(theirs)).toBe(true);
    const pid = sys.posix_spawn('/bin/sh', ['sh', '-c', 'pwd; exit 3'], [], [['dup2', theirs, 1], ['chdir', '/usr']], sys.POSIX_SPAWN_SETSIGDEF | sys.POSIX_SPAWN_SETSIGMASK);
    sys.close(theirs);
    const pidfd = sys.pidfd_open(pid);
    expect(sys.isCloseOnExec(pidfd)).toBe(true);
    expect(sys.poll(new Int32Array([pidfd, sys.POLLIN, 0]), 10_000)).toBe(1);
    expect(sys.waitid(sys.P_PIDFD, pidfd, sys.WEXITED | sys.WNOHANG)).toEqual({ pid, code: sys.CLD_EXITED, status: 3 });
    const buf = Buffer.alloc(64);
    expect(buf.toString('utf8', 0, sys.read(ours, buf))).toBe('/usr\n');
    expectSystemError(() => sys.pidfd_send_signal(pidfd, 15), 'ESRCH', 'pidfd_send_signal');
    sys.close(pidfd);
    sys.close(ours);
    expectReaped(pid);
  });

  it('reports a signal death as CLD_KILLED with the signal number, and null before any exit', () => {
    const pid = sys.posix_spawn('/bin/sleep', ['sleep', '30'], []);
    const pidfd = sys.pidfd_open(pid, sys.PIDFD_NONBLOCK);
    try {
      expect(sys.waitid(sys.P_PIDFD, pidfd, sys.WEXITED | sys.WNOHANG)).toBeNull();
      expectSystemError(() => sys.waitid(sys.P_PIDFD, pidfd, sys.WEXITED), 'EAGAIN', 'waitid');
      sys.pidfd_send_signal(pidfd, 9);
      sys.poll(new Int32Array([pidfd, sys.POLLIN, 0]), 10_000);
      expect(sys.waitid(sys.P_PIDFD, pidfd, sys.WEXITED | sys.WNOHANG)).toEqual({ pid, code: sys.CLD_KILLED, status: 9 });
    } finally {
      sys.close(pidfd);
    }
    expectReaped(pid);
  });

  it('turns a failed exec or chdir into a SystemError, leaving no child and no fd', () => {
    expectSystemError(() => sys.posix_spawn('/no/such/program', ['x'], []), 'ENOENT', 'posix_spawn');
    expectSystemError(() => sys.posix_spawn('/bin/true', ['true'], [], [['chdir', '/no/such/dir']]), 'ENOENT', 'posix_spawn');
    expectSystemError(() => sys.posix_spawn('/etc/passwd', ['x'], []), 'EACCES', 'posix_spawn');
    expectSystemError(() => sys.posix_spawn('/bin/true', ['true'], [], [['dup2', 100_000, 1]]), 'EBADF', 'posix_spawn');
    // not this process's child, and no such process
    // (libuv, hence Node, has no name for ECHILD: its code reads 'Unknown system error -10')
    expect(() => sys.waitid(sys.P_PID, 1, sys.WEXITED | sys.WNOHANG)).toThrow(expect.objectContaining({ errno: -sys.errno.ECHILD!, syscall: 'waitid' }));
    expectSystemError(() => sys.pidfd_open(2 ** 31 - 1), 'ESRCH', 'pidfd_open');
  });

  it('checks its arguments before any syscall', () => {
    expectArgError(() => sys.posix_spawn(1 as never, [], []), TypeError, 'path');
    expectArgError(() => sys.posix_spawn('/bin/true', 'true' as never, []), TypeError, 'argv');
    expectArgError(() => sys.posix_spawn('/bin/true', ['tr\0ue'], []), TypeError, 'argv');
    expectArgError(() => sys.posix_spawn('/bin/true', [1 as never], []), TypeError, 'argv');
    expectArgError(() => sys.posix_spawn('/bin/true', ['true'], {} as never), TypeError, 'envp');
    expectArgError(() => sys.posix_spawn('/bin/true', ['true'], [], {} as never), TypeError, 'actions');
    expectArgError(() => sys.posix_spawn('/bin/true', ['true'], [], [['fork'] as never]), RangeError, 'actions[i][0]');
    expectArgError(() => sys.posix_spawn('/bin/true', ['true'], [], [['dup2', -1, 1]]), RangeError, 'fd');
    expectArgError(() => sys.posix_spawn('/bin/true', ['true'], [], [['dup2', 3, 'x' as never]]), TypeError, 'newfd');
    expectArgError(() => sys.posix_spawn('/bin/true', ['true'], [], [['chdir', 5 as never]]), TypeError, 'path');
    expectArgError(() => sys.posix_spawn('/bin/true', ['true'], [], [], -1), RangeError, 'flags');
    expectArgError(() => sys.pidfd_open(0), RangeError, 'pid');
    expectArgError(() => sys.pidfd_open('1' as never), TypeError, 'pid');
    expectArgError(() => sys.pidfd_send_signal(-1, 15), RangeError, 'pidfd');
    expectArgError(() => sys.pidfd_send_signal(0, -1), RangeError, 'sig');
    expectArgError(() => sys.waitid(sys.P_PIDFD, -1, sys.WEXITED), RangeError, 'id');
    expectArgError(() => sys.socketpair('x' as never, sys.SOCK_STREAM), TypeError, 'domain');
    // an fd that is not a pidfd
    const [a, b] = sys.socketpair(sys.AF_UNIX, sys.SOCK_STREAM);
    expectSystemError(() => sys.pidfd_send_signal(a, 0), 'EBADF', 'pidfd_send_signal');
    expectSystemError(() => sys.waitid(sys.P_PIDFD, a, sys.WEXITED | sys.WNOHANG), 'EBADF', 'waitid');
    sys.close(a);
    sys.close(b);
  });
});

describe('childProcess.spawn against real programs', () => {
  for (const driver of ['attached', 'standalone'] as const) {
    it(`sh -c 'exit 3': 'spawn', 'exit' (3, null), 'close' (3, null), reaped (${driver})`, async () => {
      const { got, child } = await onLoop(driver, async (loop) => {
        const child = oursOn(loop)('sh', ['-c', 'exit 3']) as unknown as InstanceType<typeof childProcess.ChildProcess>;
        expect(child.pid).toBeGreaterThan(0);
        return { got: await record(child), child };
      });
      expect(own(got.events)).toEqual(['spawn', 'exit 3 null', 'close 3 null']);
      expect([child.exitCode, child.signalCode, child.killed]).toEqual([3, null, false]);
      expect(child.kill()).toBe(false); // reaped: nothing to signal
      expectReaped(child.pid!);
    });

    it(`cat echoes 1 MB through stdin and stdout byte for byte (${driver})`, async () => {
      const data = randomBytes(1 << 20);
      const got = await onLoop(driver, async (loop) => {
        const child = oursOn(loop)('cat');
        expect((child.stdin as unknown as { readable: boolean }).readable).toBe(false);
        const done = record(child);
        child.stdin!.end(data);
        return done;
      });
      expect(got.out.length).toBe(data.length);
      expect(got.out.equals(data)).toBe(true);
      expect(own(got.events)).toEqual(['spawn', 'exit 0 null', 'close 0 null']);
    });

    it(`a child killed by SIGKILL reports the signal, exit code null (${driver})`, async () => {
      const { got, child } = await onLoop(driver, async (loop) => {
        const child = oursOn(loop)('sleep', ['30']) as unknown as InstanceType<typeof childProcess.ChildProcess>;
        const done = record(child);
        child.once('spawn', () => expect(child.kill('SIGKILL')).toBe(true));
        return { got: await done, child };
      });
      expect(own(got.events)).toEqual(['spawn', 'exit null SIGKILL', 'close null SIGKILL']);
      expect([child.exitCode, child.signalCode, child.killed]).toEqual([null, 'SIGKILL', true]);
      expectReaped(child.pid!);
    });

    it(`a child that ignores SIGTERM survives kill(), then SIGKILL ends it (${driver})`, async () => {
      const got = await onLoop(driver, async (loop) => {
        const child = oursOn(loop)('sh', ['-c', "trap '' TERM; echo ready; read line; echo alive; read line"]);
        const done = record(child);
        let text = '';
        child.stdout!.on('data', (d: Buffer) => {
          text += d.toString();
          if (text === 'ready\n') {
            expect(child.kill()).toBe(true); // SIGTERM, ignored: the pending signal is acted on before the read returns
            child.stdin!.write('go\n');
          } else if (text === 'ready\nalive\n') {
            expect(child.kill('SIGKILL')).toBe(true);
          }
        });
        return done;
      });
      expect(got.out.toString()).toBe('ready\nalive\n');
      expect(own(got.events)).toEqual(['spawn', 'exit null SIGKILL', 'close null SIGKILL']);
    });
  }

  it('a missing command: the same error and events as Node (error, then close with -2; no exit)', async () => {
    const theirs = await record(nodes('nosuchcmd', ['a', 'b']));
    const [got, err] = await onLoop('attached', async (loop) => {
      const child = oursOn(loop)('nosuchcmd', ['a', 'b']);
      let err: NodeJS.ErrnoException & { path?: string; spawnargs?: string[] } = new Error();
      child.on('error', (e) => {
        err = e as typeof err;
      });
      expect(child.pid).toBeUndefined();
      return [await record(child), err] as const;
    });
    expect(own(got.events)).toEqual(own(theirs.events));
    expect(own(got.events)).toEqual(['error spawn nosuchcmd ENOENT', 'close -2 null']);
    expect({ message: err.message, errno: err.errno, code: err.code, syscall: err.syscall, path: err.path, spawnargs: err.spawnargs }).toEqual({
      message: 'spawn nosuchcmd ENOENT',
      errno: -2,
      code: 'ENOENT',
      syscall: 'spawn nosuchcmd',
      path: 'nosuchcmd',
      spawnargs: ['a', 'b'],
    });
  });

  it('a bad cwd, a file that is not executable, an empty PATH: the same errors as Node', async () => {
    const cases: [string, string[], Record<string, unknown>][] = [
      ['ls', [], { cwd: '/no/such/dir' }],
      ['/etc/passwd', [], {}],
      ['/tmp', [], {}],
      ['./no-such-file', [], {}],
      ['ls', [], { env: { PATH: '/no/such/dir' } }],
    ];
    for (const [file, args, options] of cases) {
      const theirs = await record(nodes(file, args, options));
      const got = await onLoop('attached', (loop) => record(oursOn(loop)(file, args, options)));
      expect(own(got.events), `${file} ${JSON.stringify(options)}`).toEqual(own(theirs.events));
    }
  });

  it("the events of a child writing to stdout and stderr, in Node's order", async () => {
    const script = 'echo out; echo err >&2; exit 7';
    const theirs = await record(nodes('sh', ['-c', script]));
    const got = await onLoop('attached', (loop) => record(oursOn(loop)('sh', ['-c', script])));
    expect(own(got.events)).toEqual(own(theirs.events));
    expect(got.out.toString()).toBe(theirs.out.toString());
    expect(got.err.toString()).toBe(theirs.err.toString());
    // both streams closed, in both; 'close' is emitted from inside the last stream's 'close'
    // (its listener is registered first), so a listener added later sees it after 'close'
    for (const r of [theirs, got]) {
      expect(r.events).toContain('stdout.close');
      expect(r.events).toContain('stderr.close');
    }
  });

  it('cwd, env, argv0, shell, and stdio ignore / an fd number, as Node does them', async () => {
    const runs: [string, string[], Record<string, unknown>][] = [
      ['sh', ['-c', 'echo $0 $FOO; pwd'], { cwd: '/tmp', env: { FOO: 'bar' }, argv0: 'zz' }],
      ['echo $((6 * 7))', [], { shell: true }],
      ['sh', ['-c', 'echo out; echo err >&2'], { stdio: ['ignore', 'pipe', 'ignore'] }],
      ['sh', ['-c', 'cat; echo err >&2'], { stdio: ['ignore', 'pipe', 1] }],
      // detached: the child leads a session of its own (field 6 of /proc/PID/stat)
      ['sh', ['-c', 'read -r a b c d e sid rest < /proc/$$/stat; [ "$sid" = "$$" ] && echo leader || echo member'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }],
      ['sh', ['-c', 'read -r a b c d e sid rest < /proc/$$/stat; [ "$sid" = "$$" ] && echo leader || echo member'], {}],
      // an fd number is read as Int32 (1.5 is fd 1)
      ['sh', ['-c', 'echo to-fd-1'], { stdio: ['ignore', 'pipe', { fd: 1.5 }] }],
      // no signal left ignored or blocked in the child (Node ignores SIGPIPE; exec keeps that)
      ['grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], {}],
    ];
    for (const [file, args, options] of runs) {
      const theirs = await record(nodes(file, args, options));
      const got = await onLoop('attached', (loop) => record(oursOn(loop)(file, args, options)));
      expect(got.out.toString(), `${file} ${JSON.stringify(options)}`).toBe(theirs.out.toString());
      expect(own(got.events)).toEqual(own(theirs.events));
    }
    const loop = new pkg.Loop();
    try {
      const child = childProcess.spawn('true', { loop, stdio: ['ignore', 'pipe', 'inherit'] });
      expect([child.stdin, child.stderr, child.stdio.length]).toEqual([null, null, 3]);
      expect(child.stdout).toBe(child.stdio[1]);
      loop.attach();
      await record(child);
    } finally {
      loop.close();
    }
  });

  it('ref/unref: an unref-ed child does not keep the loop alive; timeout kills with killSignal', async () => {
    const got = await onLoop('attached', async (loop) => {
      const child = childProcess.spawn('sleep', ['30'], { loop, stdio: 'ignore', timeout: 20, killSignal: 'SIGKILL' });
      expect(loop.alive).toBe(true);
      child.unref();
      // the timeout's timer is what keeps the loop alive now
      child.ref();
      return record(child);
    });
    expect(own(got.events)).toEqual(['spawn', 'exit null SIGKILL', 'close null SIGKILL']);
    const loop = new pkg.Loop();
    const child = childProcess.spawn('sleep', ['30'], { loop, stdio: 'ignore' });
    child.unref();
    expect(loop.alive).toBe(false);
    child.ref();
    expect(loop.alive).toBe(true);
    child.kill('SIGKILL');
    loop.attach();
    await record(child);
    loop.close();
  });

  it('an AbortSignal kills the child and reports an AbortError, as in Node', async () => {
    for (const spawnFn of ['node', 'ours'] as const) {
      const ac = new AbortController();
      const loop = new pkg.Loop().attach();
      const child = spawnFn === 'node' ? nodes('sleep', ['30'], { signal: ac.signal }) : oursOn(loop)('sleep', ['30'], { signal: ac.signal });
      const errors: string[] = [];
      child.on('error', (e) => errors.push(`${e.name} ${(e as NodeJS.ErrnoException).code}`));
      const done = record(child);
      child.once('spawn', () => ac.abort());
      const got = await done;
      loop.close();
      expect(errors, spawnFn).toEqual(['AbortError ABORT_ERR']);
      expect(own(got.events).at(-1)).toBe('close null SIGTERM');
    }
  });
});

describe('childProcess.spawn: many children, extra fds, a full fd table', () => {
  for (const driver of ['attached', 'standalone'] as const) {
    it(`20 children at once, each its own exit code, every one reaped (${driver})`, async () => {
      const results = await onLoop(driver, async (loop) => {
        const children = Array.from({ length: 20 }, (_, i) =>
          childProcess.spawn('sh', ['-c', `echo ${i}; exit ${i}`], { loop }),
        );
        const got = await Promise.all(children.map((c) => record(c)));
        return got.map((g, i) => ({ i, out: g.out.toString(), close: own(g.events).at(-1), pid: children[i]!.pid! }));
      });
      for (const r of results) {
        expect(r.out).toBe(`${r.i}\n`);
        expect(r.close).toBe(`close ${r.i} null`);
        expectReaped(r.pid);
      }
    });
  }

  it("Node's children and ours side by side: each side reaps only its own", async () => {
    const loop = new pkg.Loop().attach();
    try {
      const mine = Array.from({ length: 5 }, (_, i) => oursOn(loop)('sh', ['-c', `exit ${10 + i}`]));
      const theirs = Array.from({ length: 5 }, (_, i) => nodes('sh', ['-c', `exit ${20 + i}`]));
      const got = await Promise.all([...mine, ...theirs].map((c) => record(c)));
      expect(got.map((g) => own(g.events).at(-1))).toEqual([10, 11, 12, 13, 14, 20, 21, 22, 23, 24].map((n) => `close ${n} null`));
    } finally {
      loop.close();
    }
  });

  it("a 'pipe' at fd 3 is a fourth socket, as in Node", async () => {
    const script = 'echo three >&3';
    const options = { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] };
    const collect = async (child: Child | InstanceType<typeof childProcess.ChildProcess>): Promise<string> => {
      let text = '';
      (child.stdio[3] as unknown as NodeJS.ReadableStream).on('data', (d: Buffer) => {
        text += d.toString();
      });
      const r = await record(child);
      return `${text}|${own(r.events).join(',')}`;
    };
    const theirs = await collect(nodes('sh', ['-c', script], options));
    const got = await onLoop('attached', (loop) => collect(oursOn(loop)('sh', ['-c', script], options)));
    expect(got).toBe(theirs);
    expect(got).toBe('three\n|spawn,exit 0 null,close 0 null');
  });

  it("EMFILE: 'error' (spawn true EMFILE) then 'close' (-24, null), as Node's; nothing leaks", () => {
    // In a process of its own with `ulimit -n 64` and every fd taken; one process per module.
    // (Node's own spawn leaves a /dev/null fd open after this: only ours is checked for fds.)
    const script = `
      const pkg = require(${JSON.stringify(packageDir)});
      const fs = require('node:fs');
      const list = () => fs.readdirSync('/proc/self/fd').map((f) => { try { return f + ' -> ' + fs.readlinkSync('/proc/self/fd/' + f); } catch { return f; } });
      const before = new Set(list());
      const held = [];
      try { for (;;) held.push(...pkg.sys.pipe2(pkg.sys.O_NONBLOCK)); } catch (e) { if (e.code !== 'EMFILE') throw e; }
      const spawn = process.argv[1] === 'node' ? require('node:child_process').spawn : pkg.childProcess.spawn;
      const events = [];
      const c = spawn('true');
      c.on('spawn', () => events.push('spawn'));
      c.on('exit', (a, b) => events.push('exit ' + a + ' ' + b));
      c.on('error', (e) => events.push('error ' + e.message + ' ' + e.errno + ' ' + e.syscall));
      c.on('close', (a, b) => {
        events.push('close ' + a + ' ' + b + (c.stdout ? ' with stdout' : ''));
        held.forEach((fd) => pkg.sys.close(fd));
        console.log(JSON.stringify({ events, fds: list().filter((f) => !before.has(f)) }));
      });`;
    const run = (which: string): { events: string[]; fds: string[] } =>
      JSON.parse(nodeCp.execFileSync('sh', ['-c', 'ulimit -n 64; exec "$0" -e "$1" "$2"', process.execPath, script, which], { timeout: 20_000 }).toString());
    const theirs = run('node');
    const ours = run('ours');
    expect(ours.events).toEqual(theirs.events);
    expect(ours.events).toEqual(['error spawn true EMFILE -24 spawn true', 'close -24 null']);
    expect(ours.fds).toEqual([]);
  });
});

describe('childProcess.spawn with bad input', () => {
  it("throws Node's errors (class, code, message) before starting anything", () => {
    const bad: unknown[][] = [
      [1],
      [''],
      ['ls\0x'],
      ['ls', 5],
      ['ls', [], null],
      ['ls', [], 'x'],
      ['ls', ['a\0b']],
      ['ls', [], { cwd: 5 }],
      ['ls', [], { cwd: '/tmp\0x' }],
      ['ls', [], { stdio: 'foo' }],
      ['ls', [], { stdio: 5 }],
      ['ls', [], { stdio: [{}] }],
      ['ls', [], { detached: 'yes' }],
      ['ls', [], { argv0: 5 }],
      ['ls', [], { shell: 5 }],
      ['ls', [], { env: { A: 'x\0y' } }],
      ['ls', [], { timeout: -1 }],
      ['ls', [], { timeout: 'x' }],
      ['ls', [], { killSignal: 'SIGFOO' }],
      ['ls', [], { killSignal: {} }],
      ['ls', [], { signal: 'x' }],
      ['true', [], { stdio: [99_999] }],
      ['true', [], { stdio: ['pipe', 'pipe', 'pipe', 99_999] }],
    ];
    const describeThrow = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        return `${(e as Error).constructor.name} ${(e as NodeJS.ErrnoException).code}: ${(e as Error).message}`;
      }
      return 'no throw';
    };
    for (const args of bad) {
      const theirs = describeThrow(() => (nodeCp.spawn as (...a: unknown[]) => unknown)(...args));
      const got = describeThrow(() => (childProcess.spawn as (...a: unknown[]) => unknown)(...args));
      expect(theirs, JSON.stringify(args)).not.toBe('no throw');
      expect(got, JSON.stringify(args)).toBe(theirs);
    }
  });

  it("kill() with an unknown signal throws Node's ERR_UNKNOWN_SIGNAL; a name in any case works", async () => {
    const loop = new pkg.Loop().attach();
    const ours = oursOn(loop)('sleep', ['30'], { stdio: 'ignore' });
    const theirs = nodes('sleep', ['30'], { stdio: 'ignore' });
    try {
      for (const sig of ['SIGFOO', 999, 1.5, {}, null]) {
        let a = '';
        let b = '';
        try {
          theirs.kill(sig as never);
        } catch (e) {
          a = `${(e as NodeJS.ErrnoException).code} ${(e as Error).message}`;
        }
        try {
          ours.kill(sig as never);
        } catch (e) {
          b = `${(e as NodeJS.ErrnoException).code} ${(e as Error).message}`;
        }
        expect(b, String(sig)).toBe(a);
        expect(b).toMatch(/^ERR_UNKNOWN_SIGNAL /);
      }
      expect(ours.kill(0)).toBe(true);
    } finally {
      expect(ours.kill('sigkill' as never)).toBe(true);
      theirs.kill('SIGKILL');
      await Promise.all([record(ours), record(theirs)]);
      loop.close();
    }
  });

  it('force-closing the loop under a running child closes the pidfd and the stdio sockets', async () => {
    const loop = new pkg.Loop();
    const child = childProcess.spawn('sleep', ['30'], { loop }) as InstanceType<typeof childProcess.ChildProcess>;
    const pid = child.pid!;
    loop.close({ force: true });
    expect((child as unknown as { _pidfd: number })._pidfd).toBe(-1); // internal
    // ours to clean up: the child itself is still running, unreaped
    process.kill(pid, 'SIGKILL');
    sys.waitid(sys.P_PID, pid, sys.WEXITED);
    await new Promise((r) => setImmediate(r));
  });
});
