/**
 * Lesson 3 — O_NONBLOCK hands the waiting back to you, and busy polling burns a core.
 *
 *   node dist/examples/learn/03-nonblocking-busy-poll.js [--quick] [--json]
 *
 * The same empty pipe as in lesson 2, with O_NONBLOCK set on the read end. Now read() does not
 * sleep: the kernel answers "nothing yet" (EAGAIN) at once and the thread keeps the CPU. If you
 * want the data anyway, you have to ask again, and again: that is busy polling. We measure it
 * against the same wait done two other ways: a blocking read (lesson 2) and poll(2), which waits
 * for a non-blocking fd without spinning. The kernel's wait queue is back in charge.
 */
import { spawn } from 'node:child_process';
import { sys } from '../../lib/index';
import { fmt, type LessonIO, main, schedstat, stopwatch, table } from './course';

export interface Measured {
  wallMs: number;
  cpuMs: number;
  cpuShare: number;
  /** Time this thread was runnable but not running: every core busy with other processes. */
  queuedMs: number;
  /** read(2) calls made until the data came. */
  reads: number;
}

export interface Result {
  /** The first non-blocking read on the empty pipe: what it returned and how long it took (µs). */
  firstRead: number;
  eagain: boolean;
  firstReadUs: number;
  nextReadUs: number;
  delayMs: number;
  busy: Measured;
  blocking: Measured;
  poll: Measured;
  childPids: number[];
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const delayMs = io.quick ? 200 : 1000;
  const buf = Buffer.alloc(64);
  const childPids: number[] = [];

  // ── 1. The non-blocking read of an empty pipe ──────────────────────────────────────────
  const [r, w] = sys.pipe2(0);
  try {
    sys.setNonBlocking(r, true); // fcntl(F_GETFL), then fcntl(F_SETFL, flags | O_NONBLOCK)
    const t0 = process.hrtime.bigint();
    const firstRead = sys.read(r, buf); // nothing there: returns at once
    const firstReadUs = Number(process.hrtime.bigint() - t0) / 1000;
    // The first call pays for warming up (code paths, caches); the next thousand show the norm.
    const t1 = process.hrtime.bigint();
    let eagains = 0;
    for (let i = 0; i < 1000; i++) if (sys.read(r, buf) === sys.EAGAIN) eagains++;
    const nextReadUs = Number(process.hrtime.bigint() - t1) / 1000 / 1000;
    say(`O_NONBLOCK set on fd ${r}: ${sys.isNonBlocking(r)}`);
    say(
      `read(${r}) on the empty pipe returned ${firstRead}` +
        `${firstRead === sys.EAGAIN ? ' (= -EAGAIN: "try again")' : ''} after ${fmt(firstReadUs, 1)} µs: no sleep.`,
    );
    say(`1,000 more reads: ${fmt(nextReadUs, 2)} µs each; ${eagains} of them returned EAGAIN.`);
    say();

    // ── 2. Busy polling: ask until the answer is yes ───────────────────────────────────────
    say(`Waiting ${delayMs} ms for a child's write, three ways (a fresh pipe each time):`);
    const busy = await waitFor(delayMs, true, childPids, (fd) => {
      let reads = 1;
      while (sys.read(fd, buf) === sys.EAGAIN) reads++; // on the CPU the whole time
      return reads;
    });

    // ── 3. For comparison: the blocking read of lesson 2 ───────────────────────────────────
    const blocking = await waitFor(delayMs, false, childPids, (fd) => {
      sys.read(fd, buf); // the thread sleeps on the pipe's wait queue
      return 1;
    });

    // ── 4. Non-blocking fd, and a call whose job is to wait: poll(2) ──────────────────────
    // poll() puts the thread on the pipe's wait queue (like the blocking read), then the read
    // that follows finds data and returns at once. This is how every event loop waits.
    const poll = await waitFor(delayMs, true, childPids, (fd) => {
      sys.poll(new Int32Array([fd, sys.POLLIN, 0]), -1); // sleeps until POLLIN
      const got = sys.read(fd, buf);
      return got === sys.EAGAIN ? 2 : 1;
    });

    table(say, [
      ['how', 'wall ms', 'CPU ms', 'CPU / wall', 'queued ms', 'read() calls'],
      ...(
        [
          ['busy poll: read() until not EAGAIN', busy],
          ['blocking read() (lesson 2)', blocking],
          ['poll(fd, POLLIN, -1), then read()', poll],
        ] as const
      ).map(([how, m]) => [how, fmt(m.wallMs), fmt(m.cpuMs), `${fmt(100 * m.cpuShare)} %`, fmt(m.queuedMs), m.reads.toLocaleString('en-US')]),
    ]);
    say();
    say('queued ms: runnable, but every core was busy with another process (from /proc/thread-self/schedstat).');
    say(
      `Busy poll: CPU + queued = ${fmt(busy.cpuMs + busy.queuedMs)} ms of ${fmt(busy.wallMs)} ms wall — ` +
        'it never waited for anything but a free core.',
    );
    say();
    say(`Busy polling kept one of this machine's cores busy for ${fmt(busy.cpuMs, 0)} ms to learn one fact: "data is here".`);
    say(`Its ${busy.reads.toLocaleString('en-US')} reads cost ${fmt((busy.cpuMs * 1000) / busy.reads, 2)} µs of CPU each; all but the last said EAGAIN.`);
    return { firstRead, eagain: firstRead === sys.EAGAIN, firstReadUs, nextReadUs, delayMs, busy, blocking, poll, childPids };
  } finally {
    sys.close(r);
    sys.close(w);
  }
}

/**
 * Makes a pipe (read end non-blocking or not), starts a child that writes one byte to it after
 * `delayMs`, and times `wait(readFd)` — which returns once the byte has been read — in wall and
 * CPU time. Our copy of the write end is closed at once: if the child failed, reads would see
 * end-of-file (0) instead of waiting for ever.
 */
async function waitFor(delayMs: number, nonBlocking: boolean, pids: number[], wait: (fd: number) => number): Promise<Measured> {
  const [r, w] = sys.pipe2(0);
  sys.setNonBlocking(r, nonBlocking);
  const child = spawn('/bin/sh', ['-c', `sleep ${delayMs / 1000}; printf x`], { stdio: ['ignore', w, 'inherit'] });
  sys.close(w);
  pids.push(child.pid!);
  try {
    const sched0 = schedstat();
    const clock = stopwatch();
    const reads = wait(r);
    const { wallMs, cpuMs } = clock.stop();
    const queuedMs = schedstat().queuedMs - sched0.queuedMs;
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    return { wallMs, cpuMs, cpuShare: cpuMs / wallMs, queuedMs, reads };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    sys.close(r);
  }
}

main(module, run, {
  about:
    'Lesson 3 — O_NONBLOCK hands the waiting back to you: read(2) says EAGAIN at once, asking again\nfor a second burns a core, and poll(2) waits for free.',
});
