/**
 * The command lines of the examples and the lessons: every flag has a line of help, `--help`
 * prints them and exits 0, and a bad command line is refused with a message naming the flag and
 * exit code 2 (a usage error, as Unix tools do), never a stack trace. Also the fd-limit check of
 * the programs that open thousands of sockets, so that they say what to run instead of failing
 * with EMFILE halfway.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface Flag {
  type: 'string' | 'boolean';
  default?: string | boolean;
  /** What the value is, for --help: `N`, `MS`, `PATH`, `ADDR`. */
  value?: string;
  /** One line for --help. */
  help: string;
  /** Left out of --help: a flag the program passes to its own child process. */
  hidden?: boolean;
}

export type Flags = Record<string, Flag>;

/** A program's command line: what it does (printed by --help) and its flags. */
export interface Command {
  /** One to three lines: what the program does. */
  about: string;
  flags: Flags;
  /** Lines printed after the flags (examples of use). */
  notes?: string[];
}

export type FlagValues = Record<string, string | boolean | undefined>;

const HELP: Flag = { type: 'boolean', help: 'print this and exit' };

/**
 * Parses `argv` against `command.flags` (plus `--help`). `--help` prints the usage and exits 0;
 * an unknown flag or a missing value prints a message and exits 2.
 */
export function parseCommandLine(command: Command, argv: string[] = process.argv.slice(2)): FlagValues {
  const flags = { ...command.flags, help: HELP };
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, f] of Object.entries(flags)) options[name] = f.default === undefined ? { type: f.type } : { type: f.type, default: f.default };
  let values: FlagValues;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: FlagValues });
  } catch (e) {
    usageError((e as Error).message);
  }
  if (values.help === true) {
    console.log(usage(command));
    process.exit(0);
  }
  return values;
}

/** The text `--help` prints. */
export function usage(command: Command): string {
  const path = process.argv[1] ?? 'program';
  const rel = relative(process.cwd(), path);
  const script = rel === '' || rel.startsWith('..') ? path : rel;
  const flags = Object.entries({ ...command.flags, help: HELP }).filter(([, f]) => !f.hidden);
  const left = flags.map(([name, f]) => `  --${name}${f.value !== undefined ? ` ${f.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = flags.map(([, f], i) => {
    const def = f.default === undefined || f.default === false ? '' : ` (default ${f.default})`;
    return `${left[i]!.padEnd(width)}${f.help}${def}`;
  });
  return [`usage: node ${script} [flags]`, '', command.about, '', 'flags:', ...lines, ...(command.notes ? ['', ...command.notes] : [])].join(
    '\n',
  );
}

/** A refused command line: the message, a pointer to --help, exit code 2. */
export function usageError(message: string): never {
  console.error(`${message}\n(run with --help to see the flags)`);
  process.exit(2);
}

/** The integer value of flag `name`, within [min, max]; a usage error otherwise. */
export function intFlag(values: FlagValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = values[name];
  const n = typeof text === 'string' && /^-?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    usageError(`--${name} must be an integer from ${min.toLocaleString('en-US')}${max < Number.MAX_SAFE_INTEGER ? ` to ${max.toLocaleString('en-US')}` : ' up'}, got ${String(text)}`);
  }
  return n;
}

/** This process's RLIMIT_NOFILE (`ulimit -n`), from /proc/self/limits; Infinity for "unlimited". */
export function fdLimit(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
  const num = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

/** The number of fds open in this process right now. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length - 1; // minus the one readdir itself used
}

/**
 * When this process cannot open `more` fds on top of those open now (plus a margin for Node's
 * own), the message saying what to run: `ulimit -n N` in the shell, or `smaller(room)` (the
 * flags that need fewer, given room for `room` fds). Null when there is room. `who` names the
 * program and `what` the fds. Node raises its soft limit to the hard one at start-up, so the
 * soft limit read here is the most this process can have; a child started from it inherits it.
 */
export function fdShortfall(who: string, more: number, what: string, smaller?: (room: number) => string): string | null {
  const { soft, hard } = fdLimit();
  const margin = 32; // Node's own, the listening socket, a child's pipes
  const open = openFdCount();
  const needed = open + more + margin;
  if (needed <= soft) return null;
  const suggest = Math.ceil(needed / 1024) * 1024;
  const lines = [
    `${who}: ${what} need about ${needed.toLocaleString('en-US')} fds, but this process may open ${soft.toLocaleString('en-US')} (ulimit -n).`,
    'Raise the limit in this shell, then run it again:',
    `  ulimit -n ${suggest}`,
  ];
  if (suggest > hard) {
    lines.push(
      `(the hard limit is ${hard.toLocaleString('en-US')}: going past it needs root, e.g. \`sudo prlimit --nofile=${suggest} --pid $$\`, or a nofile line in /etc/security/limits.conf)`,
    );
  }
  const room = soft - open - margin;
  if (smaller !== undefined && room > 0) lines.push(`or ask for less: ${smaller(room)}`);
  return lines.join('\n');
}

/** {@link fdShortfall}'s message on stderr and exit code 1, when there is no room. */
export function requireFds(who: string, more: number, what: string, smaller?: (room: number) => string): void {
  const message = fdShortfall(who, more, what, smaller);
  if (message === null) return;
  console.error(message);
  process.exit(1);
}
