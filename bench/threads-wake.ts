/**
 * Waking a loop in another thread: `threads.MessageQueue` (a SharedArrayBuffer ring and an
 * eventfd) against Node's MessagePort (`worker.postMessage`). docs/decisions/030-thread-queue.md
 * reads the figures.
 *
 *   npm run build:ts && node dist/bench/threads-wake.js [--rounds 5] [--messages 200000] [--pings 2000]
 *
 * One worker per variant and round, rounds interleaved (A B C A B C …); medians and min–max over
 * rounds. The consumer variants:
 *   queue-attached    MessageQueue on the worker's default loop (attached: libuv sleeps)
 *   queue-standalone  MessageQueue on a Loop under `await loop.run()` (we sleep)
 *   port              parentPort.on('message') (libuv's uv_async_t)
 * Throughput, for each payload: `--messages` small objects `{ seq }` (structured clones on both
 * sides: v8.serialize for the queue), 64-byte Uint8Arrays, or 32-character strings, sent by the
 * main thread as fast as it can (retrying at once when the ring is full); the clock stops when
 * the worker has the last one (process.hrtime is one CLOCK_MONOTONIC for every thread).
 * Wake-up latency: `--pings` single short strings, each sent to a worker that is asleep (the
 * main thread waits for the previous one's acknowledgement, then 200 µs more), measured in the
 * worker from the send instant the string carries. Last, in one thread (no wake-up): ns per
 * message to send and to take out, per payload, and a MessageChannel's round trip.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type * as Lib from '../lib/index';
import { quantileSorted, type Summary, summarize } from './lib/stats';

type Mode = 'queue-attached' | 'queue-standalone' | 'port';
const MODES: Mode[] = ['queue-attached', 'queue-standalone', 'port'];

const PAYLOADS = ['object', 'bytes', 'string'] as const;
type Payload = (typeof PAYLOADS)[number];

interface Setup {
  mode: Mode;
  messages: number;
  /** [0]: throughput phases complete, [1]: pings answered; Atomics.notify on each step. */
  ack: SharedArrayBuffer;
  /** [phase]: hrtime (ns) of the arrival of the phase's last message. */
  times: SharedArrayBuffer;
}

interface Report {
  latenciesNs: number[];
}

/** Throughput payloads; a ping is 'p' and the send instant in ns; 'end' ends. */
type Message = { seq: number } | Uint8Array | string;

const now = (): bigint => process.hrtime.bigint();

// ── The worker: a consumer ──────────────────────────────────────────────────────────────────
function consumer(): void {
  const lib = require('../lib/index') as typeof Lib;
  const setup = workerData as Setup & { queue?: Lib.threads.QueueHandle };
  const ack = new Int32Array(setup.ack);
  const times = new BigInt64Array(setup.times);
  const latencies: number[] = [];
  let received = 0;
  let finish = (): void => {};
  const onMessage = (m: Message): void => {
    if (typeof m === 'string' && m.charCodeAt(0) === 112 /* p */) {
      latencies.push(Number(now() - BigInt(m.slice(1))));
      Atomics.add(ack, 1, 1);
      Atomics.notify(ack, 1);
    } else if (m === 'end') {
      finish();
    } else if (++received % setup.messages === 0) {
      times[received / setup.messages - 1] = now();
      Atomics.add(ack, 0, 1);
      Atomics.notify(ack, 0);
    }
  };
  if (setup.mode === 'port') {
    parentPort!.on('message', onMessage);
    finish = () => {
      parentPort!.postMessage({ latenciesNs: latencies } satisfies Report);
      parentPort!.close();
    };
  } else {
    const standalone = setup.mode === 'queue-standalone';
    const loop = standalone ? new lib.Loop() : lib.loop;
    const queue = new lib.threads.MessageQueue({ loop, capacity: 1 << 20 });
    queue.on('message', onMessage);
    finish = () => {
      queue.close();
      parentPort!.postMessage({ latenciesNs: latencies } satisfies Report);
    };
    parentPort!.postMessage({ queue: queue.handle });
    if (standalone) void loop.run().then(() => loop.close());
  }
}

// ── The main thread: producer and judge ─────────────────────────────────────────────────────
interface Round {
  perSecond: Record<Payload, number>;
  p50us: number;
  p99us: number;
}

function waitFor(ack: Int32Array, cell: number, value: number): void {
  for (let v = Atomics.load(ack, cell); v < value; v = Atomics.load(ack, cell)) {
    if (Atomics.wait(ack, cell, v, 30_000) === 'timed-out') throw new Error('the consumer did not answer within 30 s');
  }
}

function payloads(kind: Payload, count: number): Message[] {
  const bytes = new Uint8Array(64).fill(7);
  const text = 'x'.repeat(32);
  return Array.from({ length: count }, (_, seq) => (kind === 'object' ? { seq } : kind === 'bytes' ? bytes : text));
}

function sleepUs(us: number, cell: Int32Array): void {
  Atomics.wait(cell, 0, 0, us / 1000);
}

async function round(lib: typeof Lib, mode: Mode, messages: number, pings: number): Promise<Round> {
  const setup: Setup = { mode, messages, ack: new SharedArrayBuffer(8), times: new SharedArrayBuffer(8 * PAYLOADS.length) };
  const worker = new Worker(__filename, { workerData: setup });
  const ack = new Int32Array(setup.ack);
  const idle = new Int32Array(new SharedArrayBuffer(4));
  let send: (m: Message) => void;
  let sender: Lib.threads.QueueSender | null = null;
  if (mode === 'port') {
    await new Promise((resolve) => worker.once('online', resolve));
    send = (m) => worker.postMessage(m);
  } else {
    const { queue } = await new Promise<{ queue: Lib.threads.QueueHandle }>((resolve) => worker.once('message', resolve));
    const s = lib.threads.MessageQueue.connect(queue);
    sender = s;
    send = (m) => {
      while (!s.send(m)) {
        // the ring is full: the consumer, on another core, is draining it
      }
    };
  }
  const report = new Promise<Report>((resolve) => worker.on('message', (m: Report | object) => 'latenciesNs' in m && resolve(m)));
  const exit = new Promise((resolve) => worker.once('exit', resolve));

  const perSecond = {} as Record<Payload, number>;
  for (const [phase, kind] of PAYLOADS.entries()) {
    const batch = payloads(kind, messages); // made before the clock starts
    const t0 = now();
    for (const m of batch) send(m);
    waitFor(ack, 0, phase + 1);
    perSecond[kind] = messages / (Number(new BigInt64Array(setup.times)[phase]! - t0) / 1e9);
  }
  for (let i = 1; i <= pings; i++) {
    sleepUs(200, idle); // let the consumer fall asleep again
    send(`p${now()}`);
    waitFor(ack, 1, i);
  }
  send('end');
  const { latenciesNs } = await report;
  sender?.close();
  await exit;
  const sorted = Float64Array.from(latenciesNs).sort();
  return { perSecond, p50us: quantileSorted(sorted, 0.5) / 1000, p99us: quantileSorted(sorted, 0.99) / 1000 };
}

/** ns per message in this thread: send() all of a batch, then take them (one runOnce()). */
function inThreadCosts(lib: typeof Lib, messages: number): Record<string, { send: number[]; take: number[] }> {
  const loop = new lib.Loop();
  const queue = new lib.threads.MessageQueue({ loop, capacity: 1 << 26 });
  queue.on('message', () => {});
  const out: Record<string, { send: number[]; take: number[] }> = {};
  for (const kind of PAYLOADS) {
    const batch = payloads(kind, messages);
    const costs = { send: [] as number[], take: [] as number[] };
    for (let pass = 0; pass < 3; pass++) {
      let t = now();
      for (const m of batch) queue.send(m);
      costs.send.push(Number(now() - t) / messages);
      t = now();
      loop.runOnce();
      costs.take.push(Number(now() - t) / messages);
    }
    out[kind] = costs;
  }
  queue.close();
  loop.close();
  return out;
}

/** ns per `{ seq }` object through a MessageChannel in this thread, post to 'message'. */
function channelRoundTrip(messages: number): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    let got = 0;
    const t0 = now();
    port2.on('message', () => {
      if (++got < messages) return;
      port2.close();
      resolve(Number(now() - t0) / messages);
    });
    for (let seq = 0; seq < messages; seq++) port1.postMessage({ seq });
  });
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const fmt = (s: Summary | null, digits: number): string =>
  s === null ? '—' : `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

async function main(): Promise<void> {
  const lib = require('../lib/index') as typeof Lib;
  const rounds = arg('--rounds', 5);
  const messages = arg('--messages', 200_000);
  const pings = arg('--pings', 2000);
  const results = new Map<Mode, Round[]>(MODES.map((m) => [m, []]));
  for (let r = 1; r <= rounds; r++) {
    for (const mode of MODES) {
      const res = await round(lib, mode, messages, pings);
      results.get(mode)!.push(res);
      const rates = PAYLOADS.map((k) => `${k} ${Math.round(res.perSecond[k] / 1000)}k/s`).join(', ');
      console.error(`round ${r}/${rounds} ${mode}: ${rates}; wake p50 ${res.p50us.toFixed(1)} µs, p99 ${res.p99us.toFixed(1)} µs`);
    }
  }
  const port = results.get('port')!;
  console.log(`\n${rounds} rounds, ${messages} messages and ${pings} wake-ups each; median (min–max over rounds)\n`);
  console.log('| consumer | payload | messages / s (thousands) | × port |');
  console.log('| --- | --- | --- | --- |');
  for (const kind of PAYLOADS) {
    for (const mode of MODES) {
      const rs = results.get(mode)!;
      const ratio = summarize(rs.map((x, i) => x.perSecond[kind] / port[i]!.perSecond[kind]));
      console.log(`| ${mode} | ${kind} | ${fmt(summarize(rs.map((x) => x.perSecond[kind] / 1000)), 0)} | ${fmt(ratio, 2)} |`);
    }
  }
  console.log('\n| consumer | wake-up p50 (µs) | wake-up p99 (µs) |');
  console.log('| --- | --- | --- |');
  for (const mode of MODES) {
    const rs = results.get(mode)!;
    console.log(`| ${mode} | ${fmt(summarize(rs.map((x) => x.p50us)), 1)} | ${fmt(summarize(rs.map((x) => x.p99us)), 1)} |`);
  }
  const costs = inThreadCosts(lib, messages);
  const channel = await channelRoundTrip(messages);
  console.log('\nIn one thread, no wake-up: ns per message, median (min–max) of 3 passes\n');
  console.log('| payload | queue send() | queue take | MessageChannel post to message |');
  console.log('| --- | --- | --- | --- |');
  for (const kind of PAYLOADS) {
    const c = costs[kind]!;
    console.log(`| ${kind} | ${fmt(summarize(c.send), 0)} | ${fmt(summarize(c.take), 0)} | ${kind === 'object' ? channel.toFixed(0) : '—'} |`);
  }
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  consumer();
}
