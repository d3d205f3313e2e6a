// A thread's teardown closes the fds its loops, sockets and wakers still hold: a worker that
// ends, or is terminated (no JavaScript runs then), leaves no fd behind (native/fd.cc, own_fd).
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { expectArgError, expectSystemError, fdSnapshot, openFds, packageDir, pkg, sys } from './helpers';

const { threads } = pkg;
const PKG = join(packageDir, 'dist/lib/index.js');

interface Opened {
  fds: number[];
  owned: number[];
  waker?: InstanceType<typeof threads.Waker>['handle'];
}

/**
 * Runs `body` in a worker (with `pkg`, `post` in scope). `body` opens what it likes and calls
 * `post(extra)`, which reports the fds the worker's package has marked; then `end` ends it.
 */
async function inWorker(body: string, end: (w: Worker) => void): Promise<{ opened: Opened; code: number }> {
  const code = `
    const pkg = require(${JSON.stringify(PKG)});
    const { parentPort } = require('node:worker_threads');
    const post = (extra = {}) => parentPort.postMessage({ owned: pkg.sys.owned_fds(), ...extra });
    ${body}
  `;
  const w = new Worker(code, { eval: true });
  const exit = new Promise<number>((resolve) => w.once('exit', resolve));
  w.on('error', () => {});
  const opened = await new Promise<Opened>((resolve) => w.once('message', resolve));
  opened.fds = opened.owned.filter((fd) => openFds().has(fd));
  end(w);
  return { opened, code: await exit };
}

const busy = `
  const { Loop, net, threads, sys } = pkg;
  const a = new Loop();
  const b = new Loop();
  a.attach();
  const server = net.createServer({ loop: a }, (s) => s.pipe(s));
  const waker = new threads.Waker();
  const queue = new threads.MessageQueue({ loop: b });
  const sender = threads.MessageQueue.connect(queue.handle);
  server.listen(0, '127.0.0.1', () => {
    const client = net.connect({ loop: a, port: server.address().port, host: '127.0.0.1' }, () => {
      client.write('x');
      client.once('data', () => post({ waker: waker.handle }));
    });
  });
`;

describe('a worker with loops, a server, connections and wakers open', () => {
  it('terminated: its fds are closed by its teardown', async () => {
    const fds = fdSnapshot();
    const { opened, code } = await inWorker(busy, (w) => void w.terminate());
    // 2 loops × (epoll fd + alarm), the default loop's 2, a listener, a client and the accepted
    // socket, two eventfds (the waker's, the queue's) and the sender's dup: all open, all marked.
    expect(opened.fds).toHaveLength(opened.owned.length);
    expect(opened.owned.length).toBeGreaterThanOrEqual(12);
    expect(code).toBe(1);
    fds.check();
  });

  it('ending by process.exit(), or by itself with loops never closed: nothing left either', async () => {
    const fds = fdSnapshot();
    const exited = await inWorker(`${busy.replace("post({ waker: waker.handle })", "(post(), setTimeout(() => process.exit(0), 10))")}`, () => {});
    expect(exited.code).toBe(0);
    expect(exited.opened.owned.length).toBeGreaterThanOrEqual(12);
    const natural = await inWorker('const { Loop } = pkg; const l = new Loop(); l.setTimeout(() => {}, 1); post();', () => {});
    expect(natural.code).toBe(0);
    expect(natural.opened.owned).toHaveLength(4); // its loop's epoll fd and alarm, and the default loop's
    fds.check();
  });

  it('terminated inside a standalone run(): the same', async () => {
    const fds = fdSnapshot();
    const body = `
      const { Loop, net } = pkg;
      const loop = new Loop();
      const server = net.createServer({ loop }, () => {});
      server.listen(0, '127.0.0.1', () => post());
      const tick = () => loop.setTimeout(tick, 1);
      tick();
      loop.run();
    `;
    const { opened, code } = await inWorker(body, (w) => void w.terminate());
    expect(opened.fds).toHaveLength(5);
    expect(code).toBe(1);
    fds.check();
  });

  it("a Waker handle whose owner's thread was terminated: from() refuses it, whatever the number names now", async () => {
    const fds = fdSnapshot();
    const { opened } = await inWorker(`const w = new pkg.threads.Waker(); post({ waker: w.handle });`, (w) => void w.terminate());
    const handle = opened.waker!;
    expect(() => threads.Waker.from(handle)).toThrow(expect.objectContaining({ code: 'ERR_WAKER_CLOSED' }));
    // The number is free: take it with a pipe, which from() must not treat as the eventfd.
    const held: number[] = [];
    while (!held.includes(handle.fd)) held.push(...sys.pipe2(0));
    expect(() => threads.Waker.from(handle)).toThrow(expect.objectContaining({ code: 'ERR_WAKER_CLOSED' }));
    for (const fd of held) sys.close(fd);
    fds.check();
  });
});

describe('sys.own_fd / sys.owned_fds', () => {
  it('marks open fds until close(); refuses bad input', () => {
    const fds = fdSnapshot();
    const [r, w] = sys.pipe2(0);
    const before = sys.owned_fds();
    sys.own_fd(r);
    sys.own_fd(r); // twice is once
    expect(sys.owned_fds()).toEqual([...before, r].sort((x, y) => x - y));
    sys.close(r);
    expect(sys.owned_fds()).toEqual(before);
    sys.close(w);
    expectSystemError(() => sys.own_fd(w), 'EBADF', 'fcntl');
    expectArgError(() => sys.own_fd(-1), RangeError, 'fd');
    expectArgError(() => sys.own_fd('3' as never), TypeError, 'fd');
    expect(sys.owned_fds()).toEqual(before);
    fds.check();
  });
});
