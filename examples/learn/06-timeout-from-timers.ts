/**
 * Lesson 6 — how long does the loop sleep? Until the nearest timer, or until an fd wakes it.
 *
 *   node dist/examples/learn/06-timeout-from-timers.js [--quick] [--json] [--trace-json PATH]
 *
 * An event loop has two kinds of things to wait for: fds (the kernel tells it, through epoll) and
 * timers (nobody tells it: it has to wake up on its own). So before each epoll_wait it computes
 * the timeout from its timer heap — "the nearest deadline minus now" — and sleeps at most that
 * long. An fd that becomes ready ends the sleep early; the next sleep is computed again.
 *
 * Here: a Loop with three timers (A 10 ms, B 25 ms, C 80 ms) and a pipe watcher; a child process
 * writes to the pipe about 45 ms in. The loop's flight recorder (loop.trace) records, for every
 * iteration, the timeout it passed to epoll_pwait2, which timer chose it, how long it really
 * slept and what woke it. `--trace-json PATH` also writes it for https://ui.perfetto.dev.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Loop, sys, type TracedIteration } from '../../lib/index';
import { fmt, type LessonIO, main } from './course';

export interface Result {
  /** The timers: name, delay, and the number the trace knows them by. */
  timers: { name: string; delay: number; seq: number }[];
  pipeFd: number;
  /** What loop.nextTimeout() said before run(): the first wait's timeout, from timer A. */
  firstTimeout: number;
  iterations: TracedIteration[];
  text: string;
  /** Per iteration: the timer that chose its timeout (name), and what ended the sleep. */
  explained: { timeout: number; chosenBy: string; slept: number; wokenBy: string }[];
  childPid: number;
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const loop = new Loop(); // a loop of our own: its own epoll instance, its own timer heap
  const [r, w] = sys.pipe2(sys.O_NONBLOCK);
  let child: ReturnType<typeof spawn> | null = null;
  try {
    // The writer: a shell with our pipe as its stdout, writing one byte after ~45 ms, then
    // holding the pipe open (so that no hang-up comes with the byte) until we are done. Started
    // first: starting a process takes a few milliseconds, which we do not want in the timeline.
    child = spawn('/bin/sh', ['-c', 'sleep 0.045; printf x; exec sleep 10'], { stdio: ['ignore', w, 'inherit'] });
    sys.close(w); // the child has its own copy (if it failed, we would see EPOLLHUP, not wait for ever)
    say(`child ${child.pid} writes to the pipe after ~45 ms.`);
    // Printing and Node's first turn cost a few milliseconds the first time (stdout is set up,
    // the child is registered): pay them now, before the timers start, or timer A would be late.
    await new Promise((done) => setImmediate(done));

    // ── what the loop waits for ─────────────────────────────────────────────────────────────
    const fired: string[] = [];
    const defs = [
      { name: 'A', delay: 10 },
      { name: 'B', delay: 25 },
      { name: 'C', delay: 80 },
    ];
    const timers = defs.map((d) => {
      const t = loop.setTimeout(() => fired.push(d.name), d.delay);
      return { ...d, seq: t.seq }; // the trace names a timer by this number: "timer #0"
    });
    const watcher = loop.watch(r, sys.EPOLLIN, () => {
      sys.read(r, Buffer.alloc(16)); // one byte from the child
      fired.push(`pipe fd ${r}`);
      watcher.close(); // EPOLL_CTL_DEL: done with it
    });

    const firstTimeout = loop.nextTimeout(); // what the first epoll_pwait2 would be given now

    // ── run, recording every iteration ──────────────────────────────────────────────────────
    loop.trace.start();
    await loop.run(); // returns when no timer and no watcher is left
    loop.trace.stop();

    say(`timers: ${timers.map((t) => `${t.name} = timer #${t.seq} (${t.delay} ms)`).join(', ')}; pipe watcher on fd ${r}.`);
    say(`loop.nextTimeout() just before run(): ${fmt(firstTimeout, 3)} ms — timer A is the nearest.`);
    say();

    const iterations = loop.trace.records();
    const text = loop.trace.toText();
    say('loop.trace.toText():');
    say(text);
    say();

    // ── the same, in words ──────────────────────────────────────────────────────────────────
    const nameOf = (seq: number) => timers.find((t) => t.seq === seq)?.name ?? `#${seq}`;
    const explained = iterations.map((it) => {
      const chosenBy =
        it.reason === 'timer'
          ? `timer ${nameOf(it.timerSeq)} (${it.timerDelay} ms), ending ${fmt(it.lead, 3)} ms before its deadline`
          : it.reason === 'due'
            ? `timer ${nameOf(it.timerSeq)} (${it.timerDelay} ms)`
            : it.reason;
      // The loop's alarm (a timerfd in its epoll set) rings at the end of a timer's sleep.
      const woke = it.callbacks.some((c) => c.kind === 'alarm') ? 'the alarm' : 'the timeout';
      const due = it.callbacks.filter((c) => c.kind === 'timer').map((c) => nameOf(c.id));
      const wokenBy =
        it.events.length > 0
          ? `fd ${it.events[0]} became ready, ${fmt(it.timeout - it.slept, 3)} ms before the timeout`
          : it.reason === 'peek'
            ? `nothing: it did not sleep but polled${due.length > 0 ? ` until timer ${due.join(', ')} was due` : ''}`
            : due.length > 0
              ? `${woke}: timer ${due.join(', ')} due`
              : woke;
      return { timeout: it.timeout, chosenBy, slept: it.slept, wokenBy };
    });
    say('Each sleep, explained:');
    explained.forEach((e, i) => {
      const timeout = e.timeout === -1 ? 'no timeout (-1)' : `timeout ${fmt(e.timeout, 3)} ms`;
      say(`  ${i + 1}. ${timeout}, chosen by ${e.chosenBy}; slept ${fmt(e.slept, 3)} ms; woken by ${e.wokenBy}.`);
    });
    say();
    say(`callbacks, in order: ${fired.join(', ')}`);

    if (io.options['trace-json'] !== undefined) {
      const path = resolve(io.options['trace-json']);
      writeFileSync(path, JSON.stringify(loop.trace.toChromeTrace()));
      say(`Chrome trace written to ${path} (open it in https://ui.perfetto.dev)`);
    }
    const c = child;
    const exited = new Promise((done) => (c.exitCode !== null || c.signalCode !== null ? done(null) : c.once('exit', done)));
    c.kill();
    await exited;
    return { timers, pipeFd: r, firstTimeout, iterations, text, explained, childPid: child.pid! };
  } finally {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    loop.close({ force: true });
    sys.close(r);
  }
}

main(module, run, {
  about:
    'Lesson 6 — the loop sleeps until the nearest timer, or until an fd wakes it: the flight\nrecorder shows each sleep\'s timeout, the timer that chose it, and what ended it.',
  flags: { 'trace-json': { value: 'PATH', help: 'also write the trace as Chrome/Perfetto JSON' } },
});
