// scripts/node-net-tests.cjs, the harness that runs Node's own net tests against ours: checked
// on a small test/ directory of our own making (Node's is not part of the project) — that
// `require('net')`, `'node:net'` and `import 'net'` are ours in each test and not in --control,
// that a failing or hanging test fails, that the not-applicable list is reported and not run,
// and that the summary counts them right.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageDir, runChild } from './helpers';

const script = join(packageDir, 'scripts', 'node-net-tests.cjs');
let dir = '';

// Ours has the zero-copy `onread` accessor on the prototype; Node's Socket has none.
const isOurs = `'onread' in require('net').Socket.prototype`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'node-net-harness-'));
  mkdirSync(join(dir, 'common'));
  mkdirSync(join(dir, 'parallel'));
  writeFileSync(join(dir, 'common', 'index.js'), "'use strict';\nmodule.exports = { tmpdir: process.env.NODE_TEST_DIR };\n");
  const tests: Record<string, string> = {
    'test-net-ours.js': `require('../common'); if (!(${isOurs})) process.exit(1);`,
    'test-net-prefixed.js': `const a = require('node:net'); const b = require('net'); if (a !== b || !('onread' in a.Socket.prototype)) process.exit(1);`,
    'test-socket-esm.mjs': `import * as net from 'net'; if (!('onread' in net.Socket.prototype)) process.exit(1);`,
    'test-net-fails.js': `throw new Error('on purpose');`,
    'test-net-hangs.js': `setInterval(() => {}, 1000);`,
    'test-net-after-close.js': `process.exit(1); // listed as not applicable: never run`,
    'test-other.js': `process.exit(1); // not a net test: not picked`,
  };
  for (const [name, code] of Object.entries(tests)) writeFileSync(join(dir, 'parallel', name), `'use strict';\n${code}\n`.replace("'use strict';\nimport", 'import'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('scripts/node-net-tests.cjs', () => {
  it("runs each test with require('net') answered by ours, and counts", async () => {
    const r = await runChild(process.execPath, [script, dir, '--timeout', '2'], { timeoutMs: 30_000 });
    const lines = r.stdout.split('\n');
    const status = (name: string) => lines.find((l) => l.includes(name))?.split(/\s+/)[0];
    expect(status('test-net-ours.js')).toBe('pass');
    expect(status('test-net-prefixed.js')).toBe('pass');
    expect(status('test-socket-esm.mjs')).toBe('pass');
    expect(status('test-net-fails.js')).toBe('FAIL');
    expect(status('test-net-hangs.js')).toBe('TIME');
    expect(status('test-net-after-close.js')).toBe('n/a');
    expect(r.stdout).not.toContain('test-other.js');
    expect(r.stdout).toContain('3 of 5 applicable passed (1 not applicable');
    expect(r.code).toBe(1);
  });

  it('--control runs them on Node’s own net (ours is not there)', async () => {
    const r = await runChild(process.execPath, [script, dir, '--control', '--timeout', '2', 'ours', 'prefixed'], { timeoutMs: 30_000 });
    expect(r.stdout).toContain('FAIL  test-net-ours.js');
    expect(r.stdout).toContain('FAIL  test-net-prefixed.js');
    expect(r.stdout).toContain('0 of 2 applicable passed');
  });

  it('refuses a directory that is not Node’s test/ and an unknown option', async () => {
    const bad = await runChild(process.execPath, [script, join(dir, 'parallel')], { timeoutMs: 10_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("is not Node's test/ directory");
    const opt = await runChild(process.execPath, [script, dir, '--bogus'], { timeoutMs: 10_000 });
    expect(opt.code).toBe(1);
    expect(opt.stderr).toContain('unknown option --bogus');
  });
});
