// fs.watch over inotify: Node's event names and errors, bursts coalesced, both drivers, no fd left.
import * as nodeFs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdSnapshot, pkg, sys } from './helpers';

const { Loop, fs } = pkg;

// Node's own fs.watch (called below to compare errors) opens libuv's inotify fd on first use and
// keeps it for the life of the process: open it now, before any test's fd snapshot.
nodeFs.watch(tmpdir()).close();
type Ev = [string, string | Buffer | null];

let dir: string;
let fds: ReturnType<typeof fdSnapshot>;
let loop: InstanceType<typeof Loop>;
beforeEach(() => {
  fds = fdSnapshot();
  loop = new Loop();
  dir = mkdtempSync(join(tmpdir(), 'er-watch-'));
});
afterEach(() => {
  loop.close({ force: true });
  rmSync(dir, { recursive: true, force: true });
  fds.check();
});

/** Runs `act`, then the loop until `done(events)` or 2 s; returns the events. */
async function collect(w: InstanceType<typeof fs.FSWatcher>, act: () => void, done: (e: Ev[]) => boolean): Promise<Ev[]> {
  const events: Ev[] = [];
  w.on('change', (t: string, f: string | Buffer | null) => {
    events.push([t, f]);
    if (done(events)) w.close();
  });
  const guard = loop.setTimeout(() => w.close(), 2000);
  guard.unref();
  act();
  await loop.run();
  guard.close();
  return events;
}

describe('fs.watch (inotify)', () => {
  for (const driver of ['standalone', 'attached'] as const) {
    it(`a directory: created, written, renamed, deleted — Node's event names (${driver})`, async () => {
      if (driver === 'attached') loop.attach();
      const w = fs.watch(dir, { loop });
      const act = () => {
        nodeFs.writeFileSync(join(dir, 'a'), 'x');
        nodeFs.renameSync(join(dir, 'a'), join(dir, 'b'));
        nodeFs.unlinkSync(join(dir, 'b'));
      };
      let events: Ev[];
      if (driver === 'attached') {
        events = [];
        const all = new Promise<void>((resolve) =>
          w.on('change', (t, f) => {
            events.push([t, f]);
            if (events.some(([t2, f2]) => t2 === 'rename' && f2 === 'b')) resolve();
          }),
        );
        act();
        await all;
        w.close();
      } else {
        events = await collect(w, act, (e) => e.some(([t, f]) => t === 'rename' && f === 'b'));
      }
      expect(events).toContainEqual(['rename', 'a']);
      expect(events).toContainEqual(['change', 'a']);
      expect(events).toContainEqual(['rename', 'b']);
      expect(events.every(([t]) => t === 'rename' || t === 'change')).toBe(true);
    });
  }

  it('coalesces a burst: 500 appends in one iteration are one change', async () => {
    const file = join(dir, 'f');
    nodeFs.writeFileSync(file, '');
    const w = fs.watch(file, { loop });
    const events: Ev[] = [];
    w.on('change', (t, f) => events.push([t, f]));
    for (let i = 0; i < 500; i++) {
      nodeFs.appendFileSync(file, 'x'); // IN_MODIFY each
      nodeFs.chmodSync(file, i % 2 ? 0o600 : 0o644); // IN_ATTRIB between them: the kernel cannot merge them itself
    }
    loop.runNoWait();
    expect(events).toEqual([['change', 'f']]);
    w.close();
  });

  it('coalesceMs gathers events over a window, each (type, name) once', async () => {
    const w = fs.watch(dir, { loop, coalesceMs: 60 });
    const events: Ev[] = [];
    const times: number[] = [];
    w.on('change', (t, f) => {
      events.push([t, f]);
      times.push(loop.now());
    });
    const start = loop.now();
    let n = 0;
    const writer = loop.setInterval(() => {
      nodeFs.appendFileSync(join(dir, 'log'), 'x');
      if (++n === 5) writer.close();
    }, 5);
    loop.setTimeout(() => w.close(), 200);
    await loop.run();
    expect(events).toEqual([
      ['rename', 'log'],
      ['change', 'log'],
    ]);
    expect(times[0]! - start).toBeGreaterThanOrEqual(60); // held for the window, not per write
  });

  it("a watched file deleted: Node's change then rename, the watcher stays open until close()", async () => {
    const file = join(dir, 'gone');
    nodeFs.writeFileSync(file, '1');
    const w = fs.watch(file, { loop });
    const events = await collect(
      w,
      () => nodeFs.unlinkSync(file),
      (e) => e.some(([t]) => t === 'rename'),
    );
    expect(events.at(-1)).toEqual(['rename', 'gone']);
    expect(w.closed).toBe(true);
  });

  it('filename as a Buffer with encoding "buffer"; close() emits close on the next tick, once', async () => {
    const w = fs.watch(dir, { loop, encoding: 'buffer' });
    const events = await collect(
      w,
      () => nodeFs.writeFileSync(join(dir, 'bin'), ''),
      () => true,
    );
    expect(Buffer.isBuffer(events[0]![1])).toBe(true);
    expect(String(events[0]![1])).toBe('bin');
    let closes = 0;
    const w2 = fs.watch(dir, { loop });
    w2.on('close', () => closes++);
    w2.close();
    w2.close();
    expect(closes).toBe(0);
    await new Promise((r) => process.nextTick(r));
    expect(closes).toBe(1);
  });

  it('keeps the loop alive unless persistent: false or unref(); an AbortSignal closes it', async () => {
    const w = fs.watch(dir, { loop, persistent: false });
    expect(loop.alive).toBe(false);
    w.ref();
    expect(loop.alive).toBe(true);
    w.unref();
    expect(loop.alive).toBe(false);
    w.close();
    const ac = new AbortController();
    const w2 = fs.watch(dir, { loop, signal: ac.signal });
    expect(loop.alive).toBe(true);
    loop.setTimeout(() => ac.abort(), 5);
    await loop.run(); // returns: the abort closed the watcher
    expect(w2.closed).toBe(true);
  });

  it("two watchers of one path share the kernel's watch; closing one leaves the other hearing", async () => {
    const a = fs.watch(dir, { loop });
    const b = fs.watch(dir, { loop });
    const wd = (w: unknown) => (w as { wd: number }).wd; // internal: the kernel's watch descriptor
    expect(wd(a)).toBe(wd(b));
    a.close();
    const events = await collect(
      b,
      () => nodeFs.writeFileSync(join(dir, 'x'), ''),
      () => true,
    );
    expect(events[0]).toEqual(['rename', 'x']);
  });

  it("bad input gets Node's errors, and no fd is left behind", () => {
    const node = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
      throw new Error('did not throw');
    };
    const missing = join(dir, 'no', 'such');
    const ours = node(() => fs.watch(missing, { loop }));
    const theirs = node(() => nodeFs.watch(missing));
    for (const k of ['message', 'code', 'errno', 'syscall', 'path'] as const) expect(ours[k]).toEqual(theirs[k]);
    for (const [args, code] of [
      [[123], 'ERR_INVALID_ARG_TYPE'],
      [[dir, { recursive: 1 }], 'ERR_INVALID_ARG_TYPE'],
      [[dir, {}, 5], 'ERR_INVALID_ARG_TYPE'],
    ] as const) {
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose
      const e1 = node(() => (fs.watch as any)(...args));
      // biome-ignore lint/suspicious/noExplicitAny: the same on Node's
      const e2 = node(() => (nodeFs.watch as any)(...args));
      expect(e1.code).toBe(code);
      expect(e1.message).toBe(e2.message);
    }
    expect(() => fs.watch(dir, { loop, coalesceMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => fs.watch(dir, { loop, encoding: 'nope' as BufferEncoding })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('epoll refuses a regular file itself: EPERM (why watching goes through inotify)', () => {
    const file = join(dir, 'plain');
    nodeFs.writeFileSync(file, 'data');
    const fd = nodeFs.openSync(file, 'r');
    try {
      expect(() => loop.watch(fd, sys.EPOLLIN, () => {})).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'epoll_ctl' }));
    } finally {
      nodeFs.closeSync(fd);
    }
  });
});
