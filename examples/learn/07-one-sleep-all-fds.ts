/**
 * Lesson 7 — one sleep, all fds: 10,000 connections, one thread, and how often it woke up.
 *
 *   node dist/examples/learn/07-one-sleep-all-fds.js [--quick] [--json] [--max-events N]
 *
 * A TCP server on a Loop of its own, in this process; a child process (this same file, started
 * with --client) opens 10,000 connections to it (--quick: 1,000) and echoes whatever it gets.
 * The server's thread goes through four phases:
 *
 *   connect   accept the 10,000 connections as they arrive
 *   idle      hold them all, doing nothing, for 2 s
 *   traffic   every 10 ms, send "ping" on 20 of them; the child echoes each one back
 *   hang-up   kill the child: the kernel closes its 10,000 sockets, we see 10,000 ends
 *
 * Every loop iteration is one epoll_pwait2 and what the loop did with its result
 * (`loop.stats().iterations`); every event is one (fd, mask) it returned. We count both, per phase. Compare the iterations with the
 * connections: each wait covers all the fds at once, and returns only the ones that are ready.
 * docs/learn/07-one-sleep-all-fds.md checks the count against strace.
 *
 * One wait returns at most the loop's `maxEvents` events (64 by default: the size of the array
 * epoll_pwait2 fills), so 10,000 ends take at least 157 wake-ups; `--max-events 1024` lets each
 * one carry up to 1,024. Each side of a connection is an fd: this process and the child each
 * need one per connection, and the lesson checks `ulimit -n` before it starts.
 */
import { spawn } from 'node:child_process';
import { Loop, loop as defaultLoop, type LoopStatsSnapshot, net, sys } from '../../lib/index';
import { fmt, LessonError, type LessonIO, main, openFdCount, requireFdsFor, table, threadCpu, threadCpuSince } from './course';

export interface Phase {
  name: string;
  wallMs: number;
  cpuMs: number;
  /** Loop iterations: one epoll_pwait2 each. */
  iterations: number;
  /** Events handed to callbacks. */
  events: number;
  asleepMs: number;
}

export interface Result {
  connections: number;
  /** The most events one wait may return (the loop's `maxEvents`). */
  maxEvents: number;
  /** The most connections held at once, and the fds open in this process then. */
  held: number;
  fdsOpen: number;
  pings: number;
  echoes: number;
  phases: Phase[];
  total: { iterations: number; events: number; wallMs: number; cpuMs: number };
  /** CPU time of the main thread (the loop) and of all the other threads of the process, ms. */
  mainThreadCpuMs: number;
  otherThreadsCpuMs: number;
  pid: number;
  childPid: number;
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const N = io.quick ? 1000 : 10_000;
  const idleMs = io.quick ? 300 : 2000;
  const talkers = io.quick ? 10 : 20; // connections that get traffic
  const rounds = io.quick ? 20 : 100; // one ping on each talker per round, 10 ms apart
  const maxEvents = io.options['max-events'] === undefined ? 64 : Number(io.options['max-events']);
  if (!Number.isInteger(maxEvents) || maxEvents < 1 || maxEvents > 65536) {
    throw new LessonError(`--max-events must be an integer from 1 to 65536, got ${io.options['max-events']}`);
  }
  // Each connection is an fd here and one in the child (which has the same limit).
  requireFdsFor('lesson 7', N, `${N.toLocaleString('en-US')} connections`, io.quick ? undefined : '--quick (1,000 connections)');

  const loop = new Loop({ maxEvents }); // the server's loop: one epoll instance, run on this thread
  let held = 0;
  let maxHeld = 0;
  let fdsOpen = 0;
  let pings = 0;
  let echoed = 0; // bytes

  const sockets: net.Socket[] = [];

  // ── phase bookkeeping: a snapshot of the loop's counters and the clocks at each boundary ──
  const phases: Phase[] = [];
  let mark = { stats: loop.stats(), t: process.hrtime.bigint(), cpu: process.cpuUsage() };
  const endPhase = (name: string): void => {
    const now = { stats: loop.stats(), t: process.hrtime.bigint(), cpu: process.cpuUsage() };
    const d = (f: (s: LoopStatsSnapshot) => number) => f(now.stats) - f(mark.stats);
    const cpu = process.cpuUsage(mark.cpu);
    phases.push({
      name,
      wallMs: Number(now.t - mark.t) / 1e6,
      cpuMs: (cpu.user + cpu.system) / 1000,
      iterations: d((s) => s.iterations),
      events: d((s) => s.events.delivered),
      asleepMs: d((s) => s.time.asleep),
    });
    mark = now;
  };

  // ── the server ──────────────────────────────────────────────────────────────────────────
  const server = net.createServer({ loop }, (socket) => {
    sockets.push(socket);
    held++;
    socket.on('data', (chunk) => {
      echoed += chunk.length;
    });
    socket.on('error', () => {}); // a reset during hang-up is fine
    socket.on('close', () => {
      held--;
      if (held === 0) {
        loop.setImmediate(() => endPhase('hang-up')); // after this iteration's I/O is counted
        server.close(); // nothing left: run() returns
      }
    });
    if (held > maxHeld) maxHeld = held;
    if (held === N) loop.setImmediate(idle); // after this iteration's I/O is counted
  });
  server.listen(0, '127.0.0.1', 4096); // bind + listen happen now; the backlog absorbs the bursts
  const { port } = server.address() as sys.SocketAddress;
  const child = spawn(process.execPath, [__filename, '--client', String(port), String(N)], { stdio: 'inherit' });
  // The child ends only when we kill it, in the hang-up phase; before that, it failed.
  let childFailed: string | null = null;
  child.on('exit', (code, signal) => {
    if (phases.length < 3) {
      childFailed = `the client process exited early (${signal ?? `code ${code}`}), after ${maxHeld.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} connections`;
      loop.stop();
    }
  });
  say(`server pid ${process.pid} on 127.0.0.1:${port}; child ${child.pid} opens ${N.toLocaleString('en-US')} connections…`);

  function idle(): void {
    endPhase('connect');
    fdsOpen = openFdCount();
    loop.setTimeout(traffic, idleMs); // the only thing the loop waits for, besides the fds
  }

  function traffic(): void {
    endPhase('idle');
    const step = Math.floor(N / talkers);
    let round = 0;
    const tick = loop.setInterval(() => {
      for (let i = 0; i < talkers; i++) sockets[i * step]!.write('ping\n');
      pings += talkers;
      if (++round === rounds) {
        tick.close();
        // Give the last echoes a moment, then hang up.
        loop.setTimeout(() => {
          endPhase('traffic');
          child.kill('SIGKILL'); // the kernel closes every socket the child held
        }, 50);
      }
    }, 10);
  }

  // If something goes wrong (the child dies, a connection fails), do not wait forever.
  let stuck = false;
  loop
    .setTimeout(
      () => {
        stuck = true;
        loop.stop();
      },
      io.quick ? 30_000 : 120_000,
    )
    .unref(); // unref: it does not keep the loop alive by itself

  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const threads0 = threadCpu();
  try {
    await loop.run(); // this thread sleeps in epoll_pwait2 between events, and only there
    if (childFailed !== null) throw new LessonError(`lesson 7: ${childFailed}`);
    if (stuck) throw new Error(`lesson 7 stuck: ${held} of ${N} connections held, phases done: ${phases.map((p) => p.name).join(', ')}`);
    if (phases.map((p) => p.name).join() !== 'connect,idle,traffic,hang-up') throw new Error(`lesson 7: phases ${phases.map((p) => p.name)}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    loop.close({ force: true });
  }
  await new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done(null) : child.once('exit', done)));
  const cpu = process.cpuUsage(cpu0);
  const echoes = echoed / 'ping\n'.length;
  const total = {
    iterations: phases.reduce((a, p) => a + p.iterations, 0),
    events: phases.reduce((a, p) => a + p.events, 0),
    wallMs: Number(process.hrtime.bigint() - t0) / 1e6,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
  // Which thread did the work? The loop runs on the main thread (its tid is the pid).
  const threads = threadCpuSince(threads0);
  const mainThreadCpuMs = threads.mainMs;
  const otherThreadsCpuMs = threads.othersMs;

  say(`held ${maxHeld.toLocaleString('en-US')} connections at once; ${fdsOpen.toLocaleString('en-US')} fds open in this process then.`);
  say(`traffic: ${pings} pings sent on ${talkers} of them, ${echoes} echoes back.`);
  say();
  table(say, [
    ['phase', 'wall ms', 'CPU ms', 'iterations', 'events', 'events / iteration', 'asleep'],
    ...[...phases, { name: 'total', ...total, asleepMs: phases.reduce((a, p) => a + p.asleepMs, 0) }].map((p) => [
      p.name,
      fmt(p.wallMs, 0),
      fmt(p.cpuMs, 0),
      p.iterations.toLocaleString('en-US'),
      p.events.toLocaleString('en-US'),
      p.iterations > 0 ? fmt(p.events / p.iterations) : '-',
      `${fmt((100 * p.asleepMs) / p.wallMs, 0)} %`,
    ]),
  ]);
  say();
  say(`${total.iterations.toLocaleString('en-US')} loop iterations — each one epoll_pwait2 over all the fds — for ${N.toLocaleString('en-US')} connections:`);
  say(`${fmt(total.iterations / N, 2)} per connection over its whole life (connect, idle, traffic, hang-up).`);
  const hangUp = phases[3]!;
  say(
    `Hang-up: ${hangUp.events.toLocaleString('en-US')} ends in ${hangUp.iterations.toLocaleString('en-US')} wake-ups; one wait returns at most ${maxEvents} ` +
      `(the loop's maxEvents), so no fewer than ${Math.ceil(N / maxEvents).toLocaleString('en-US')}.`,
  );
  say('(run() also takes a zero-timeout look before each sleep: strace counts those too; see docs/learn/07.)');
  say(
    `CPU by thread: the main thread (the loop) ${fmt(mainThreadCpuMs, 0)} ms; ` +
      `Node's ${threads.others.length} other threads (V8 and libuv helpers: garbage collection, compilation) ${fmt(otherThreadsCpuMs, 0)} ms.`,
  );
  return {
    connections: N,
    maxEvents,
    held: maxHeld,
    fdsOpen,
    pings,
    echoes,
    phases,
    total,
    mainThreadCpuMs,
    otherThreadsCpuMs,
    pid: process.pid,
    childPid: child.pid!,
  };
}

/**
 * The child: open `n` connections to `port`, at most 256 connecting at a time (the listen
 * backlog is finite), echo whatever arrives, and hold them until killed. Raw `sys` calls on the
 * default loop, as in examples/c10k.ts.
 */
function client(port: number, n: number): void {
  let open = 0;
  let connecting = 0;
  const buf = Buffer.alloc(4096);
  // Any failure ends the child with one line; the server sees it exit and says so.
  const fail = (what: string, e: unknown): never => {
    console.error(`lesson 7 client: ${what} failed after ${open} connections: ${(e as Error).message}`);
    process.exit(1);
  };
  const more = (): void => {
    while (open + connecting < n && connecting < 256) {
      let fd = -1;
      try {
        fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
        sys.connect(fd, '127.0.0.1', port); // EINPROGRESS: writable once the handshake is done
      } catch (e) {
        fail('socket/connect', e);
      }
      connecting++;
      const w = defaultLoop.watch(fd, sys.EPOLLOUT, () => {
        connecting--;
        const err = sys.getsockopt(fd, sys.SOL_SOCKET, sys.SO_ERROR);
        if (err !== 0) {
          fail('connect', sys.makeSystemError(err, 'connect'));
        } else {
          open++;
          w.modify(sys.EPOLLIN); // connected: from now on, wait for data to echo
          w.callback = () => {
            const got = sys.read(fd, buf);
            if (got > 0) sys.write(fd, buf, 0, got);
            else if (got === 0) {
              w.close();
              sys.close(fd);
            }
          };
        }
        more();
      });
    }
  };
  more();
  void defaultLoop.run();
}

if (require.main === module && process.argv[2] === '--client') client(Number(process.argv[3]), Number(process.argv[4]));
else main(module, run, {
  about:
    'Lesson 7 — one sleep, all fds: 10,000 connections on one thread (--quick: 1,000), and how many\ntimes the loop woke up to connect, idle, talk and hang up.',
  flags: { 'max-events': { value: 'N', help: 'the most events one wait returns (the loop\'s maxEvents; default 64)' } },
});
