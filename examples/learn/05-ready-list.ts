/**
 * Lesson 5 — readiness arrives while nobody waits: the ready list keeps it.
 *
 *   node dist/examples/learn/05-ready-list.js [--quick] [--json]
 *
 * k pipes are registered with one epoll instance. Then this thread gets busy — it spins, as a
 * loop does while it runs callbacks — and is in no epoll_wait at all. Meanwhile a child process
 * writes to the pipes, one after another. Each write runs the pipe's wake-up, which calls the
 * callback epoll_ctl hooked onto the pipe's wait queue (ep_poll_callback), which links the pipe
 * onto the epoll's ready list. Nobody is woken: nobody is waiting. When the thread is done
 * spinning, a single epoll_wait — with a timeout of 0, it does not even sleep — returns them all.
 *
 * Each write carries its own timestamp (CLOCK_MONOTONIC, one clock for the whole machine), so we
 * can print when each fd became ready against when we asked.
 */
import { spawn } from 'node:child_process';
import { sys } from '../../lib/index';
import { fmt, type LessonIO, main, spin, table } from './course';

export interface Result {
  k: number;
  /** epoll_wait(timeout 0) before the writes: nothing ready. */
  before: number;
  /** The one epoll_wait after the busy spell: how many events, in what order (pipe numbers). */
  returned: number;
  order: number[];
  /** When each pipe was written (ms after the spin began), and when the wait was called. */
  writtenAtMs: number[];
  waitAtMs: number;
  /** How long that epoll_wait took (µs). */
  waitUs: number;
  /** epoll_wait(timeout 0) once the pipes were read: nothing ready again (level-triggered). */
  afterDrain: number;
  childPid: number;
}

/** The child: writes its clock into each pipe, `gapMs` apart (started with --writer K GAP). */
function writer(k: number, gapMs: number): void {
  // Our fds: 0 = a pipe from the parent (EOF tells us to exit), 3 … 3+k−1 = the k pipes' write
  // ends, 3+k = the control pipe. Node placed them there for us (stdio: […]).
  const control = 3 + k;
  sys.write(control, Buffer.from('R')); // "I'm running": the parent starts its busy spell now
  for (let i = 0; i < k; i++) {
    sys.poll(new Int32Array(0), gapMs); // poll on no fds at all: a plain sleep of gapMs
    sys.write(3 + i, Buffer.from(String(sys.clock_gettime(sys.CLOCK_MONOTONIC))));
  }
  sys.read(0, Buffer.alloc(1)); // hold the pipes open (no hang-up) until the parent is done
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const k = 8;
  const gapMs = io.quick ? 5 : 25; // between two writes of the child
  const busyMs = io.quick ? 150 : 500; // the spin: longer than all of the child's writes

  const pipes: [number, number][] = [];
  let control: [number, number] | null = null;
  let epfd = -1;
  let child: ReturnType<typeof spawn> | null = null;
  try {
    // ── register k pipes with one epoll instance: token i for pipe i ────────────────────────
    epfd = sys.epoll_create1();
    for (let i = 0; i < k; i++) {
      const [r, w] = sys.pipe2(sys.O_NONBLOCK);
      pipes.push([r, w]);
      sys.epoll_ctl(epfd, sys.EPOLL_CTL_ADD, r, sys.EPOLLIN, i);
    }
    control = sys.pipe2(0); // blocking read end: we sleep on it until the child is up
    const events = new Uint32Array(2 * 64);
    const before = sys.epoll_wait(epfd, events, 0);
    say(`${k} pipes registered with epoll fd ${epfd}; epoll_wait(timeout 0) now → ${before} events.`);

    // ── the writer: a child process, given the write ends as its fds 3 … 3+k−1 ──────────────
    child = spawn(process.execPath, [__filename, '--writer', String(k), String(gapMs)], {
      stdio: ['pipe', 'inherit', 'inherit', ...pipes.map(([, w]) => w), control[1]],
    });
    for (const [, w] of pipes) sys.close(w); // the child has them now
    sys.close(control[1]);
    const up = Buffer.alloc(1);
    sys.read(control[0], up); // sleeps until the child says it is running

    // ── busy: this thread spins and calls no epoll_wait while the child writes ─────────────
    const t0 = sys.clock_gettime(sys.CLOCK_MONOTONIC);
    say(`child ${child.pid} writes to one pipe every ${gapMs} ms; this thread spins for ${busyMs} ms, in no syscall…`);
    spin(busyMs);

    // ── one wait, and everything that happened meanwhile is there ──────────────────────────
    const tWait = sys.clock_gettime(sys.CLOCK_MONOTONIC);
    const returned = sys.epoll_wait(epfd, events, 0);
    const waitUs = (sys.clock_gettime(sys.CLOCK_MONOTONIC) - tWait) / 1000;
    const order: number[] = [];
    const writtenAtMs: number[] = new Array(k).fill(Number.NaN);
    const buf = Buffer.alloc(64);
    for (let i = 0; i < returned; i++) {
      const pipe = events[2 * i + 1]!;
      order.push(pipe);
      const got = sys.read(pipes[pipe]![0], buf); // the payload is the write's timestamp
      writtenAtMs[pipe] = (Number(buf.toString('latin1', 0, got)) - t0) / 1e6;
    }
    const waitAtMs = (tWait - t0) / 1e6;
    say(`epoll_wait(timeout 0) at +${fmt(waitAtMs)} ms → ${returned} events, without sleeping:`);
    say();
    table(say, [
      ['returned', 'pipe', 'written at', 'waited unnoticed'],
      ...order.map((pipe, i) => [`#${i + 1}`, pipe, `+${fmt(writtenAtMs[pipe]!)} ms`, `${fmt(waitAtMs - writtenAtMs[pipe]!)} ms`]),
    ]);
    say();
    say(`All ${k} became ready while no thread was in epoll_wait; the ready list kept each one,`);
    say('in the order they became ready, until this single call collected the batch.');

    // Level-triggered: the pipes are reported as long as they hold data. Read, and they are gone.
    const afterDrain = sys.epoll_wait(epfd, events, 0);
    say(`After reading each pipe once: epoll_wait(timeout 0) → ${afterDrain} events.`);
    return { k, before, returned, order, writtenAtMs, waitAtMs, waitUs, afterDrain, childPid: child.pid! };
  } finally {
    if (child !== null) {
      const c = child;
      c.stdin?.end(); // EOF on the child's fd 0: it exits
      const exited = new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once('exit', resolve)));
      const killer = setTimeout(() => c.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(killer);
    }
    if (epfd >= 0) sys.close(epfd);
    for (const [r, w] of pipes) {
      sys.close(r);
      if (child === null) sys.close(w);
    }
    if (control !== null) {
      sys.close(control[0]);
      if (child === null) sys.close(control[1]);
    }
  }
}

if (require.main === module && process.argv[2] === '--writer') writer(Number(process.argv[3]), Number(process.argv[4]));
else main(module, run, {
  about:
    'Lesson 5 — readiness arrives while nobody waits: 8 pipes become ready while this thread spins,\nand one epoll_wait(…, 0) returns all 8, in the order they became ready.',
});
