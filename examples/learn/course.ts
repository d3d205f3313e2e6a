/**
 * The plumbing every lesson shares, kept out of the lessons so that they read as the story they
 * tell: command-line flags, measuring CPU and wall time, printing tables. No syscall lives here;
 * each lesson makes its own through `sys`, where you can see them.
 *
 * A lesson is a module exporting `run(io)`, which does the experiment, prints what it measured
 * through `io.say`, and returns the key figures. `main(module, run)` at the bottom of each lesson
 * runs it when the file is started with node:
 *
 *   node dist/examples/learn/NN-name.js            the full lesson, printed for people
 *   node dist/examples/learn/NN-name.js --quick    the same, smaller: a few seconds at most
 *   node dist/examples/learn/NN-name.js --json     one JSON line with the measurements
 *   node dist/examples/learn/NN-name.js --help     the flags
 *
 * The tests (test/learn.test.ts) import the same `run` and check what it measured.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fdShortfall, openFdCount, parseCommandLine } from '../cli';

export interface LessonIO {
  /** Smaller sizes and shorter waits (the tests use it). */
  quick: boolean;
  /** Print a line for the student (silent under --json and in the tests). */
  say: (line?: string) => void;
  /** Lesson-specific flags (`--svg PATH`, `--trace-json PATH`, …), as strings. */
  options: Record<string, string | undefined>;
}

/** What a lesson tells `--help`: its title, and its own flags beside --quick and --json. */
export interface LessonCommand {
  /** The lesson's title and what it measures, in a line or three. */
  about: string;
  /** The lesson's own flags (all take a value), e.g. `svg: { value: 'PATH', help: '…' }`. */
  flags?: Record<string, { value: string; help: string }>;
}

/**
 * Runs `run` when `mod` is the script node was started with (not when a test imports it), with
 * the flags every lesson takes (`--quick`, `--json`, `--help`) and `command.flags`. A bad
 * command line gets a message and exit code 2.
 */
export function main<R>(mod: NodeJS.Module, run: (io: LessonIO) => Promise<R>, command: LessonCommand): void {
  if (require.main !== mod) return;
  const extra = command.flags ?? {};
  const values = parseCommandLine({
    about: command.about,
    flags: {
      quick: { type: 'boolean', default: false, help: 'smaller sizes and shorter waits: a few seconds at most' },
      json: { type: 'boolean', default: false, help: 'print one JSON line with the measurements instead of the text' },
      ...Object.fromEntries(Object.entries(extra).map(([name, f]) => [name, { type: 'string' as const, ...f }])),
    },
    notes: ['The course: docs/learn/README.md.'],
  });
  const json = values.json === true;
  const options: Record<string, string | undefined> = {};
  for (const name of Object.keys(extra)) options[name] = values[name] as string | undefined;
  run({ quick: values.quick === true, say: json ? () => {} : (line = '') => console.log(line), options }).then(
    (result) => {
      if (json) console.log(JSON.stringify(result));
    },
    (e) => {
      // A lesson that cannot run here (see LessonError) says why in a line; anything else is a bug: the stack.
      console.error(e instanceof LessonError ? e.message : e);
      process.exitCode = 1;
    },
  );
}

/** A lesson that cannot run on this machine as it is (too few fds, …): the message says what to do. */
export class LessonError extends Error {}

/**
 * Throws a {@link LessonError} saying what to run (`ulimit -n …`, or the flags in `smaller`)
 * when this process cannot open `more` fds beside those open now.
 */
export function requireFdsFor(lesson: string, more: number, what: string, smaller?: string): void {
  const message = fdShortfall(lesson, more, what, smaller === undefined ? undefined : () => smaller);
  if (message !== null) throw new LessonError(message);
}

/** Starts a stopwatch for wall time (hrtime: CLOCK_MONOTONIC) and this process's CPU time. */
export function stopwatch(): { stop(): { wallMs: number; cpuMs: number; userMs: number; systemMs: number } } {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  return {
    stop() {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu = process.cpuUsage(cpu0); // µs since cpu0, every thread of the process
      return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, systemMs: cpu.system / 1000 };
    },
  };
}

/** Keeps this thread busy for `ms` milliseconds (what a loop does while it runs callbacks). */
export function spin(ms: number): void {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  while (process.hrtime.bigint() < end) {
    // busy: on the CPU, in no syscall, not waiting for anything
  }
}

/** How often the kernel has put this thread to sleep (it waited) or preempted it, so far. */
export function contextSwitches(): { voluntary: number; involuntary: number } {
  const status = readFileSync('/proc/thread-self/status', 'latin1');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
}

/**
 * This thread's scheduler accounting (/proc/thread-self/schedstat), in ms: time on a CPU, and
 * time runnable but waiting in a run queue because every core was busy with something else.
 * Updated at scheduler events (about every millisecond): good for spells of 100 ms and more.
 */
export function schedstat(): { onCpuMs: number; queuedMs: number } {
  const [onCpu, queued] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ');
  return { onCpuMs: Number(onCpu) / 1e6, queuedMs: Number(queued) / 1e6 };
}

export { openFdCount };

/**
 * CPU time of each thread of this process so far (ms, from /proc/self/task/<tid>/schedstat) and
 * its name. The main thread — the one running JavaScript — has tid = pid. The kernel brings a
 * running thread's figure up to date only at scheduler events (about every millisecond), so this
 * is for totals over a second or more, not for timing a single call.
 */
export function threadCpu(): { tid: number; name: string; ms: number }[] {
  const out: { tid: number; name: string; ms: number }[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const onCpu = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0];
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
      out.push({ tid: Number(tid), name, ms: Number(onCpu) / 1e6 });
    } catch {
      // the thread ended while we looked
    }
  }
  return out;
}

/** CPU time each thread used between two `threadCpu()` readings: the main thread's, and the others'. */
export function threadCpuSince(before: { tid: number; ms: number }[]): {
  mainMs: number;
  othersMs: number;
  others: { tid: number; name: string; ms: number }[];
} {
  const start = new Map(before.map((t) => [t.tid, t.ms]));
  const spent = threadCpu().map((t) => ({ ...t, ms: t.ms - (start.get(t.tid) ?? 0) }));
  const others = spent.filter((t) => t.tid !== process.pid).sort((a, b) => b.ms - a.ms);
  return {
    mainMs: spent.find((t) => t.tid === process.pid)?.ms ?? 0,
    othersMs: others.reduce((a, t) => a + t.ms, 0),
    others,
  };
}

/** A number with `digits` decimals and thousands separators: 12,345.6 */
export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Prints rows as an aligned text table (the first row is the header). */
export function table(say: (line?: string) => void, rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  // numbers line up on the right, words on the left
  const numeric = (c: string) => /^[-+]?[\d,.]+( ?[%×a-zµ]+)?$/.test(c);
  const line = (r: string[]) => r.map((c, i) => (numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  say(`  ${line(cells[0]!)}`.trimEnd());
  say(`  ${widths.map((w) => '─'.repeat(w)).join('  ')}`);
  for (const r of cells.slice(1)) say(`  ${line(r)}`.trimEnd());
}
