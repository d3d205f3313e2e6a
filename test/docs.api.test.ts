// `npm run docs`: the API reference TypeDoc builds from the TSDoc, written to a scratch folder
// (with its JSON model beside it) and checked: no warning, every name the package exports is
// there (the classes as classes), and nothing internal is (`@internal`, names starting with _).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageDir, pkg, runChild } from './helpers';

const typedoc = join(packageDir, 'scripts/api-docs/node_modules/typedoc/bin/typedoc');

interface Node {
  name: string;
  kind: number;
  children?: Node[];
}
const CLASS = 128;

describe.skipIf(!existsSync(typedoc))('npm run docs', () => {
  const out = mkdtempSync(join(tmpdir(), 'api-docs-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('builds without a warning, lists every export, and leaves internals out', async () => {
    const r = await runChild('npm', ['run', '--silent', 'docs', '--', '--out', join(out, 'html'), '--json', join(out, 'api.json'), '--treatWarningsAsErrors'], {
      cwd: packageDir,
      timeoutMs: 120_000,
    });
    expect({ code: r.code, warnings: `${r.stdout}${r.stderr}`.match(/warning.*/g) ?? [] }).toEqual({ code: 0, warnings: [] });
    expect(existsSync(join(out, 'html/index.html'))).toBe(true);

    const project = JSON.parse(readFileSync(join(out, 'api.json'), 'utf8')) as Node;
    const all: { path: string; node: Node }[] = [];
    const walk = (n: Node, path: string) => {
      for (const c of n.children ?? []) {
        const p = path === '' ? c.name : `${path}.${c.name}`;
        all.push({ path: p, node: c });
        walk(c, p);
      }
    };
    walk(project, '');
    const top = (project.children ?? []).map((c) => c.name);
    for (const name of Object.keys(pkg)) if (name !== 'default') expect(top, name).toContain(name);
    for (const cls of ['Loop', 'Timer', 'Watcher', 'Immediate', 'Tracer', 'LoopError', 'net.Socket', 'net.Server']) {
      expect(all.find((e) => e.path === cls)?.node.kind, cls).toBe(CLASS);
    }
    expect(all.map((e) => e.path)).toEqual(expect.arrayContaining(['Loop.run', 'Loop.watch', 'net.Socket.connect', 'sys.epoll_wait', 'sys.accept4']));
    // internals: underscore names (e.g. Loop._turn, Socket._onRead) and @internal ones (Timer.heapIndex)
    expect(all.filter((e) => e.node.name.startsWith('_')).map((e) => e.path)).toEqual([]);
    expect(all.map((e) => e.path)).not.toContain('Timer.heapIndex');
    // the syscalls are documented as functions, with their signatures
    expect(all.find((e) => e.path === 'sys.epoll_wait')?.node.kind).toBe(64);
  });
});
