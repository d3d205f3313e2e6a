/**
 * Lesson 2 — a blocking read sleeps: the kernel does the waiting, and waiting costs no CPU.
 *
 *   node dist/examples/learn/02-blocking-read-sleeps.js [--quick] [--json]
 *
 * This thread calls read(2) on an empty pipe — a blocking one, without O_NONBLOCK. The kernel
 * finds no data, puts the thread on the pipe's wait queue and takes it off the CPU. A child
 * process writes to the pipe a little later; the write walks the wait queue, wakes us, and
 * read() returns. We measure the wall time the read took and the CPU time the whole process used
 * meanwhile. Before writing, the child looks at us through /proc: what state are we in, and in
 * which kernel function are we waiting?
 */
import { spawn } from 'node:child_process';
import { sys } from '../../lib/index';
import { contextSwitches, fmt, type LessonIO, main, stopwatch } from './course';

export interface Result {
  /** How long the child waited before writing (ms). */
  delayMs: number;
  /** The blocking read: wall time, CPU time of the whole process, and their ratio. */
  wallMs: number;
  cpuMs: number;
  cpuShare: number;
  bytes: number;
  /** What the child saw in /proc/<our pid>/task/<our tid>/: our state and wait channel. */
  state: string;
  wchan: string;
  /** How often the kernel took this thread off the CPU because it waited. */
  voluntarySwitches: number;
  childPid: number;
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const delayMs = io.quick ? 200 : 1000;

  // A pipe, both ends blocking (no O_NONBLOCK): read() on an empty pipe will wait.
  const [r, w] = sys.pipe2(0);
  say(`pipe: read end fd ${r}, O_NONBLOCK ${sys.isNonBlocking(r)}`);

  // The writer: a shell whose stdout is our pipe's write end (Node dup2()s it to the child's fd 1).
  // It sleeps, then reads our thread's state and wait channel from /proc, and writes that to us.
  const me = `/proc/${process.pid}/task/${process.pid}`; // the main thread: the one about to block
  const script =
    `sleep ${delayMs / 1000}; ` +
    `state=$(sed 's/.*) //' ${me}/stat | cut -d' ' -f1); wchan=$(cat ${me}/wchan); ` +
    `printf 'state=%s wchan=%s' "$state" "$wchan"`;
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', w, 'inherit'] });
  sys.close(w); // the child holds its own copy of the write end
  try {
    say(`child ${child.pid} will write in ${delayMs} ms; this thread calls read(${r}) now and blocks…`);

    const buf = Buffer.alloc(256);
    const switches0 = contextSwitches(); // this thread's
    const clock = stopwatch(); // wall time, and CPU time of the whole process
    const bytes = sys.read(r, buf); // ← the thread sleeps here, on the pipe's wait queue
    const { wallMs, cpuMs, userMs, systemMs } = clock.stop();
    const switches = contextSwitches().voluntary - switches0.voluntary;

    const said = buf.toString('latin1', 0, bytes);
    const state = /state=(\S*)/.exec(said)?.[1] ?? '?';
    const wchan = /wchan=(\S*)/.exec(said)?.[1] ?? '?';
    say(`read() returned ${bytes} bytes: "${said}"`);
    say();
    say(`  wall time in read():     ${fmt(wallMs)} ms`);
    say(`  CPU time, whole process: ${fmt(cpuMs, 3)} ms  (user ${fmt(userMs, 3)}, system ${fmt(systemMs, 3)})`);
    say(`  CPU / wall:              ${fmt((100 * cpuMs) / wallMs, 2)} %`);
    say(`  voluntary context switches of this thread: +${switches}  (each one is "went to sleep waiting")`);
    say();
    say(`While we waited, the child saw this thread in state "${state}" (S = sleeping, interruptibly),`);
    say(`waiting in the kernel function "${wchan}".`);

    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    return { delayMs, wallMs, cpuMs, cpuShare: cpuMs / wallMs, bytes, state, wchan, voluntarySwitches: switches, childPid: child.pid! };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    sys.close(r);
  }
}

main(module, run, {
  about:
    'Lesson 2 — a blocking read sleeps: a 1 s wait in read(2) costs next to no CPU; a child process\nsees this thread asleep (state S) in the pipe\'s read function.',
});
