// threads across real worker_threads: four workers, each serving TCP on its own Loop while the
// main thread feeds it through a MessageQueue; and many producer threads into one consumer.
import { randomBytes } from 'node:crypto';
import * as nodeNet from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { fdSnapshot, packageDir, pkg, runChild } from './helpers';

const { threads } = pkg;
const SERVE = join(packageDir, 'test/fixtures/threads/serve.cjs');
const PRODUCE = join(packageDir, 'test/fixtures/threads/produce.cjs');

type FromWorker =
  | { type: 'ready'; port: number; inbox: InstanceType<typeof threads.MessageQueue>['handle']; epfd: number }
  | { type: 'done'; received: number; disorder: number; echoed: number; iterations: number; owned: number[] }
  | { type: 'dump'; driver: string; stats: unknown; trace: string }
  | { type: 'full' }
  | { type: 'sent'; full: number; owned: number[] };

/** The next message of `type` from `w`; rejects on the worker's error or exit first. */
function next<T extends FromWorker['type']>(w: Worker, type: T): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type !== type) return;
      off();
      resolve(m as Extract<FromWorker, { type: T }>);
    };
    const onError = (e: unknown) => {
      off();
      reject(e);
    };
    const onExit = (code: number) => {
      off();
      reject(new Error(`worker exited (${code}) before '${type}'`));
    };
    const off = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}

/**
 * `promise`, or, after `ms`, an error carrying each worker's loop stats and trace (asked for on
 * parentPort, which Node's loop serves even when ours is stuck): what a hang looks like.
 */
async function within<T>(ms: number, promise: Promise<T>, workers: Worker[]): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      const dumps = workers.map((w) => Promise.race([next(w, 'dump'), new Promise((r) => setTimeout(r, 1000, 'no answer'))]));
      for (const w of workers) w.postMessage('dump');
      const got = await Promise.all(dumps.map((d) => d.catch((e: Error) => e.message)));
      reject(new Error(`not done within ${ms} ms; the workers' loops:\n${JSON.stringify(got, null, 1)}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `count` messages `{ from, seq }` through `sender`, waiting a turn whenever the ring is full. */
async function feed(sender: InstanceType<typeof threads.QueueSender>, from: string, count: number): Promise<number> {
  let full = 0;
  for (let seq = 0; seq < count; ) {
    if (sender.send({ from, seq })) seq++;
    else {
      full++;
      await new Promise((r) => setImmediate(r));
    }
  }
  return full;
}

/** One Node client: sends `data`, half-closes, resolves with everything echoed back. */
function echo(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = nodeNet.connect(port, '127.0.0.1', () => c.end(data));
    c.on('data', (d) => chunks.push(d));
    c.on('end', () => resolve(Buffer.concat(chunks)));
    c.on('error', reject);
  });
}

describe('four workers, each serving on its own loop, fed from the main thread', () => {
  it('loses nothing, and every worker ends with no fd left behind', async () => {
    const fds = fdSnapshot();
    const MESSAGES = 3000;
    const CLIENTS = 3;
    const drivers = ['attached', 'standalone', 'default', 'standalone'];
    const workers = drivers.map((driver) => new Worker(SERVE, { workerData: { driver } }));
    const exits = workers.map((w) => new Promise<number>((r) => w.once('exit', r)));
    const readies = await within(20_000, Promise.all(workers.map((w) => next(w, 'ready'))), workers);
    expect(new Set(readies.map((r) => r.epfd)).size).toBe(4); // four epoll fds, one per loop
    const senders = readies.map((r) => threads.MessageQueue.connect(r.inbox));
    const payloads = workers.map(() => Array.from({ length: CLIENTS }, () => randomBytes(100_000)));
    // Messages and client bytes at the same time, to every worker.
    const [fulls, echoes] = await within(
      20_000,
      Promise.all([
        Promise.all(senders.map((s) => feed(s, 'main', MESSAGES))),
        Promise.all(readies.map((r, i) => Promise.all(payloads[i]!.map((p) => echo(r.port, p))))),
      ]),
      workers,
    );
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < CLIENTS; c++) expect(echoes[i]![c]!.equals(payloads[i]![c]!)).toBe(true);
    }
    // 4 KiB rings: the main thread outran each worker and waited for room at least once.
    expect(fulls.every((n) => n > 0)).toBe(true);
    const dones = workers.map((w) => next(w, 'done'));
    for (const s of senders) expect(s.send({ cmd: 'stop' })).toBe(true);
    for (const done of await within(20_000, Promise.all(dones), workers)) {
      // owned: [] — the worker closed every fd itself; its teardown had nothing left to close.
      expect(done).toMatchObject({ received: MESSAGES, disorder: 0, echoed: CLIENTS * 100_000, owned: [] });
    }
    expect(await within(20_000, Promise.all(exits), workers)).toEqual([0, 0, 0, 0]);
    for (const s of senders) s.close();
    fds.check();
  });
});

describe('many producer threads, one consumer', () => {
  it('delivers every message once, in order per producer; send() is false while full, true once drained', async () => {
    const fds = fdSnapshot();
    const PRODUCERS = 4;
    const COUNT = 2000;
    const loop = new pkg.Loop();
    const queue = new threads.MessageQueue({ loop, capacity: 2048 });
    const got = new Map<number, number[]>();
    let total = 0;
    let allIn!: () => void;
    const complete = new Promise<void>((r) => {
      allIn = r;
    });
    queue.on('message', (m: { from: number; seq: number; pad: string }) => {
      expect(m.pad).toBe('x'.repeat(m.seq % 50));
      const seqs = got.get(m.from) ?? [];
      seqs.push(m.seq);
      got.set(m.from, seqs);
      if (++total === PRODUCERS * COUNT) allIn();
    });
    const producers = Array.from({ length: PRODUCERS }, (_, from) => new Worker(PRODUCE, { workerData: { from, count: COUNT, queue: queue.handle } }));
    const sent = producers.map((w) => next(w, 'sent'));
    const exits = producers.map((w) => new Promise<number>((r) => w.once('exit', r)));
    // The consumer's loop does not run until every producer has found the ring full.
    await Promise.all(producers.map((w) => next(w, 'full')));
    expect(total).toBe(0);
    loop.attach();
    await complete;
    for (const s of await Promise.all(sent)) {
      expect(s.full).toBeGreaterThan(0);
      expect(s.owned).toEqual([]); // the producer closed its fds itself
    }
    expect(await Promise.all(exits)).toEqual(Array(PRODUCERS).fill(0));
    const inOrder = Array.from({ length: COUNT }, (_, i) => i);
    for (let from = 0; from < PRODUCERS; from++) expect(got.get(from)).toEqual(inOrder);
    expect(total).toBe(PRODUCERS * COUNT);
    queue.close();
    loop.detach();
    loop.close();
    fds.check();
  });
});

describe('bench/threads-wake (docs/decisions/030-thread-queue.md)', () => {
  it('runs every consumer and payload, and prints both tables', async () => {
    const r = await runChild(process.execPath, [join(packageDir, 'dist/bench/threads-wake.js'), '--rounds', '1', '--messages', '2000', '--pings', '20'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    for (const mode of ['queue-attached', 'queue-standalone', 'port']) {
      for (const payload of ['object', 'bytes', 'string']) expect(r.stdout).toMatch(new RegExp(`\\| ${mode} \\| ${payload} \\| \\d`));
      expect(r.stdout).toMatch(new RegExp(`\\| ${mode} \\| [\\d.]+ \\(`));
    }
    for (const payload of ['object', 'bytes', 'string']) expect(r.stdout).toMatch(new RegExp(`\\| ${payload} \\| \\d+ \\(\\d+–\\d+\\) \\| \\d+`));
  });
});
