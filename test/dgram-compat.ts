// Differential testing against Node's own dgram: the same scenario runs on Node's module and on
// ours, each writing what it sees to a log; the logs must be equal — events, their order, errors
// (name, code, message, errno, syscall, address, port) and bytes.
import * as nodeDgram from 'node:dgram';
import { inspect } from 'node:util';
import { pkg } from './helpers';

export type Dgram = typeof nodeDgram;
export const ours = pkg.dgram as unknown as Dgram;
export const impls: [string, Dgram][] = [
  ['node', nodeDgram],
  ['ours', ours],
];

export interface Run {
  dgram: Dgram;
  /** Appends an entry; ports and addresses registered with `label` are replaced by their names. */
  log(...entry: unknown[]): void;
  /** Calls `fn`, logging what it throws (or 'ok' and what it returns). */
  attempt(what: string, fn: () => unknown): void;
  /** Ports that differ from run to run are logged under a name. */
  label(port: number, name: string): void;
  /** A listener that logs its arguments under `what`. */
  logger(what: string): (...args: unknown[]) => void;
  done(): void;
}

/** What of a value goes into a log: errors by their visible fields, buffers by their bytes. */
export function describe(v: unknown): unknown {
  if (v instanceof Error) {
    const e = v as Error & Record<string, unknown>;
    const out: Record<string, unknown> = { name: e.name, message: e.message, string: String(e) };
    for (const k of ['code', 'errno', 'syscall', 'address', 'port', 'info']) if (k in e) out[k] = e[k];
    return out;
  }
  if (Buffer.isBuffer(v)) return { buffer: v.toString('latin1') };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return JSON.parse(JSON.stringify(v));
  return v;
}

/** Runs `scenario` on one implementation; resolves with its log once it calls done() (or after `ms`). */
export function runOn(dgram: Dgram, scenario: (r: Run) => void, ms = 5000): Promise<unknown[]> {
  return new Promise((resolve) => {
    const entries: unknown[] = [];
    const labels = new Map<string, string>();
    const scrub = (x: unknown): unknown => {
      let s = JSON.stringify(x === undefined ? null : x);
      for (const [from, to] of labels) s = s.split(from).join(to);
      return JSON.parse(s);
    };
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve(entries.map(scrub));
    };
    const timer = setTimeout(() => {
      entries.push('TIMEOUT');
      finish();
    }, ms);
    const r: Run = {
      dgram,
      log: (...entry) => entries.push(entry.map(describe)),
      attempt: (what, fn) => {
        try {
          const v = fn();
          entries.push([what, 'ok', describe(v === undefined ? null : v)]);
        } catch (e) {
          entries.push([what, 'threw', describe(e)]);
        }
      },
      label: (port, name) => {
        labels.set(`"port":${port}`, `"port":"${name}"`);
        labels.set(`:${port}`, `:${name}`);
        labels.set(`(${port})`, `(${name})`);
        labels.set(`,${port}]`, `,"${name}"]`);
        labels.set(`,${port},`, `,"${name}",`);
      },
      logger:
        (what) =>
        (...args) =>
          entries.push([what, ...args.map(describe)]),
      done: () => setImmediate(finish),
    };
    try {
      scenario(r);
    } catch (e) {
      entries.push(['scenario threw', describe(e)]);
      finish();
    }
  });
}

/** The log of `scenario` on Node's dgram and on ours. */
export async function both(scenario: (r: Run) => void, ms?: number): Promise<{ node: unknown[]; ours: unknown[] }> {
  const node = await runOn(nodeDgram, scenario, ms);
  const o = await runOn(ours, scenario, ms);
  return { node, ours: o };
}

export const show = (v: unknown): string => inspect(v, { depth: 6 });
