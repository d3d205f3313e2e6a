#!/usr/bin/env node
'use strict';
/**
 * Node's own net tests as referee (issue #27, part 5): runs each test/parallel/test-net-*.js and
 * test-socket-*.js of a Node source tree's test/ directory with `require('net')` (and
 * `'node:net'`, and `import 'net'`) answered by this project's dist/lib/net, one child process
 * per test, and prints each test's outcome and "N of M applicable passed".
 *
 *   node scripts/node-net-tests.cjs <node's test/ directory> [options] [name filter…]
 *     --jobs N      tests run at once (default 2)
 *     --timeout S   seconds before a test is killed and failed (default 30)
 *     --verbose     print the output of failing tests
 *     --json FILE   write the results as JSON
 *     --control     run them on Node's own net instead (what fails there fails for other reasons)
 *
 * Nothing is downloaded and nothing of Node's is kept here: the test/ directory is a copy of
 * Node 20.11.1's (Node's repository, or denoland/node_test at be77956923934fee955d80a3e53c4fa493fe1be0).
 * Needs `npm run build` first. Tests that poke Node's internals are listed below as not
 * applicable, with the reason; they are reported, not run.
 *
 * Run as a preload (`--require` this file with NODE_NET_TESTS_DIST set, which the runner does
 * through NODE_OPTIONS so that children a test spawns get it too), it is the redirection itself.
 */
const path = require('node:path');
const fs = require('node:fs');

/** Tests judged out of scope, with why. */
const NOT_APPLICABLE = {
  'test-net-after-close.js': 'asserts socket._handle === null (Node internal handle)',
  'test-net-timeout-no-handle.js': 'asserts socket._handle === null (Node internal handle)',
  'test-net-connect-keepalive.js': 'replaces socket._handle.setKeepAlive (Node internal handle)',
  'test-net-connect-nodelay.js': 'replaces socket._handle.setNoDelay (Node internal handle)',
  'test-net-server-keepalive.js': 'replaces server._handle.onconnection (Node internal handle)',
  'test-net-server-nodelay.js': 'replaces server._handle.onconnection (Node internal handle)',
  'test-net-socket-write-after-close.js': 'closes socket._handle directly (Node internal handle)',
  'test-net-socket-setnodelay.js': 'new Socket({ handle }) with a fake handle object (Node internal handle)',
  'test-socket-address.js': 'replaces server._handle.getsockname (Node internal handle)',
  'test-net-socket-constructor.js': 'new Socket({ handle }) passed to a cluster worker (handle passing)',
  'test-net-listen-exclusive-random-ports.js': 'cluster workers sharing listen handles (handle passing)',
  'test-net-connect-options-fd.js': '--expose-internals: internalBinding(pipe_wrap) handles',
  'test-net-end-close.js': '--expose-internals: internalBinding(stream_wrap)',
  'test-net-normalize-args.js': '--expose-internals: internal/net normalizedArgsSymbol',
  'test-net-persistent-nodelay.js': '--expose-internals: internalBinding(tcp_wrap) TCP prototype',
  'test-net-persistent-ref-unref.js': '--expose-internals: internalBinding(tcp_wrap) TCP prototype',
  'test-net-server-listen-handle.js': '--expose-internals: listen({ _handle }) with tcp_wrap/pipe_wrap handles',
  'test-net-perf_hooks.js': "performance entries of type 'net' are made by Node's internal perf_hooks only (no public API enqueues one)",
};

const NET_NAMES = new Set(['net', 'node:net']);

if (process.env.NODE_NET_TESTS_DIST && require.main !== module) {
  preload(process.env.NODE_NET_TESTS_DIST);
} else if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/** In the test process: 'net' resolves to ours everywhere but inside our own library. */
function preload(dist) {
  const Module = require('node:module');
  const ours = path.join(dist, 'lib', 'net', 'index.js');
  const inside = dist + path.sep;
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, ...rest) {
    if (NET_NAMES.has(request) && !parent?.filename?.startsWith(inside)) return ours;
    return resolve.call(this, request, parent, ...rest);
  };
  // 'node:' requests skip _resolveFilename (Module._load serves them straight): catch them there.
  const load = Module._load;
  Module._load = function (request, parent, ...rest) {
    if (request === 'node:net' && !parent?.filename?.startsWith(inside)) return load.call(this, ours, parent, ...rest);
    return load.call(this, request, parent, ...rest);
  };
  // ES modules (an .mjs test): a resolve hook doing the same (a loader thread: only when needed).
  if (process.env.NODE_NET_TESTS_ESM === '1' && typeof Module.register === 'function') {
    const hook = `
      const ours = ${JSON.stringify(require('node:url').pathToFileURL(ours).href)};
      const inside = ${JSON.stringify(require('node:url').pathToFileURL(inside).href)};
      export async function resolve(specifier, context, next) {
        if ((specifier === 'net' || specifier === 'node:net') && !(context.parentURL || '').startsWith(inside)) {
          return { url: ours, shortCircuit: true };
        }
        return next(specifier, context);
      }`;
    Module.register(`data:text/javascript,${encodeURIComponent(hook)}`);
  }
}

function parseArgs(argv) {
  const o = { control: false, dir: null, jobs: 2, timeout: 30, verbose: false, json: null, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--jobs') o.jobs = Math.max(1, Number(argv[++i]) | 0);
    else if (a === '--timeout') o.timeout = Number(argv[++i]);
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--control') o.control = true;
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (o.dir === null) o.dir = a;
    else o.filters.push(a);
  }
  return o;
}

/** The flags a test asks for in its `// Flags:` line (as Node's test runner reads them). */
function testFlags(file) {
  const head = fs.readFileSync(file, 'utf8').slice(0, 1500);
  const m = /\/\/ Flags:\s+(--[^\r\n]*)/.exec(head);
  return m ? m[1].split(/\s+/).filter(Boolean) : [];
}

function runOne(file, opts, dist) {
  const { spawn } = require('node:child_process');
  return new Promise((resolve) => {
    const started = Date.now();
    const env = { ...process.env, NODE_NET_TESTS_DIST: dist, NODE_NET_TESTS_ESM: file.endsWith('.mjs') ? '1' : '0' };
    if (!opts.control) env.NODE_OPTIONS = `${env.NODE_OPTIONS ? `${env.NODE_OPTIONS} ` : ''}--require ${JSON.stringify(__filename)}`;
    // Each test its own temporary directory (Node's tmpdir helper reads NODE_TEST_DIR).
    env.NODE_TEST_DIR = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'node-net-test-'));
    const child = spawn(process.execPath, [...testFlags(file), file], {
      cwd: path.dirname(path.dirname(path.dirname(file))),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, opts.timeout * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid, 'SIGKILL'); // anything the test left behind
      } catch {}
      fs.rmSync(env.NODE_TEST_DIR, { recursive: true, force: true });
      const ms = Date.now() - started;
      const skipped = code === 0 && /^1\.\.0 # Skipped/m.test(out);
      resolve({ pass: code === 0 && !timedOut, skipped, code, signal, timedOut, ms, out });
    });
  });
}

async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.help || opts.dir === null) {
    console.log('usage: node scripts/node-net-tests.cjs <node test/ dir> [--jobs N] [--timeout S] [--verbose] [--json FILE] [filter…]');
    process.exit(opts.help ? 0 : 2);
  }
  const dist = path.resolve(__dirname, '..', 'dist');
  if (!fs.existsSync(path.join(dist, 'lib', 'net', 'index.js'))) throw new Error('dist/lib/net/index.js is missing: run npm run build first');
  const parallel = path.resolve(opts.dir, 'parallel');
  if (!fs.existsSync(path.join(opts.dir, 'common', 'index.js'))) throw new Error(`${opts.dir} is not Node's test/ directory (no common/index.js)`);
  const names = fs
    .readdirSync(parallel)
    .filter((n) => /^test-(net|socket)-.*\.m?js$/.test(n))
    .filter((n) => opts.filters.length === 0 || opts.filters.some((f) => n.includes(f)))
    .sort();
  const results = {};
  const queue = names.filter((n) => !(n in NOT_APPLICABLE));
  for (const n of names) if (n in NOT_APPLICABLE) console.log(`n/a   ${n} — ${NOT_APPLICABLE[n]}`);
  let next = 0;
  async function worker() {
    while (next < queue.length) {
      const name = queue[next++];
      const r = await runOne(path.join(parallel, name), opts, dist);
      results[name] = r;
      const tag = r.pass ? (r.skipped ? 'skip ' : 'pass ') : r.timedOut ? 'TIME ' : 'FAIL ';
      console.log(`${tag} ${name} (${r.ms} ms)`);
      if (!r.pass && opts.verbose) console.log(r.out.replace(/^/gm, '      | ').trimEnd());
    }
  }
  await Promise.all(Array.from({ length: Math.min(opts.jobs, queue.length) }, worker));
  const ran = Object.values(results);
  const passed = ran.filter((r) => r.pass && !r.skipped).length;
  const skipped = ran.filter((r) => r.skipped).length;
  const applicable = ran.length - skipped;
  const na = names.length - queue.length;
  console.log(`\n${passed} of ${applicable} applicable passed (${na} not applicable, ${skipped} skipped by the test itself on this machine)`);
  if (opts.json) {
    const rows = {};
    for (const n of names) rows[n] = n in NOT_APPLICABLE ? { na: NOT_APPLICABLE[n] } : { pass: results[n].pass, skipped: results[n].skipped, timedOut: results[n].timedOut, code: results[n].code };
    fs.writeFileSync(opts.json, `${JSON.stringify({ passed, applicable, notApplicable: na, skipped, tests: rows }, null, 2)}\n`);
  }
  process.exitCode = passed === applicable ? 0 : 1;
}
