// The package as a user gets it: `npm pack` (its `prepack` builds the linux-x64 prebuild), then
// `npm install` of the tarball into a scratch project, offline, and there the README's "Use it
// in your project" files — its tsconfig.json and echo.ts — type-checked with skipLibCheck false
// and run, once as an ES module and once as CommonJS.
//
// npm pack runs in a copy of the project (its tracked and untracked-but-not-ignored files, with
// this node_modules linked in): packing rebuilds dist/ (`prepare`) and moves build/Release into
// prebuilds/ (prebuildify), neither of which may happen under the other test files running now.
// The consumer's install needs no network and no npm cache: the package's two dependencies are
// packed from this node_modules and installed from their tarballs beside it.
//
// Skipped under `npm run test:asan` (EPOLL_REACTOR_ADDON set): this is about the package, not the
// addon build under test, and it compiles its own.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { fdSnapshot, packageDir, runChild } from './helpers';

const underAsan = process.env.EPOLL_REACTOR_ADDON !== undefined;
const pkgJson = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
};
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');

/** The first ```LANG block of the README section whose heading is `heading`. */
function readmeBlock(heading: string, lang: string, nth = 0): string {
  const at = readme.indexOf(`\n## ${heading}\n`);
  if (at < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const section = readme.slice(at + 1, readme.indexOf('\n## ', at + 1));
  const blocks = [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
  if (blocks[nth] === undefined) throw new Error(`no ${lang} block #${nth} under "## ${heading}"`);
  return blocks[nth];
}

/** Runs a command; throws with its output when it fails. */
async function run(command: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<string> {
  const r = await runChild(command, args, { cwd, timeoutMs });
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const npm = (args: string[], cwd: string) => run('npm', ['--no-audit', '--no-fund', '--no-update-notifier', ...args], cwd);

let tmp: string;
let tarball: string; // the packed package
let files: string[]; // what the tarball holds, without the leading package/
let app: string; // the scratch project it is installed into
let installed: string; // app/node_modules/epoll-reactor

describe.skipIf(underAsan)('npm pack, then npm install of the tarball in a scratch project (offline)', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pack-'));
    // ── a copy of the project to pack ───────────────────────────────────────────────────────
    const src = join(tmp, 'src');
    const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: packageDir, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '' && existsSync(join(packageDir, f)));
    for (const f of listed) {
      mkdirSync(dirname(join(src, f)), { recursive: true });
      cpSync(join(packageDir, f), join(src, f));
    }
    symlinkSync(join(packageDir, 'node_modules'), join(src, 'node_modules'));
    const out = await npm(['pack', '--pack-destination', tmp, '--foreground-scripts'], src);
    tarball = join(tmp, out.trim().split('\n').at(-1)!);
    files = (await run('tar', ['-tzf', tarball], tmp)).trim().split('\n').map((f) => f.replace(/^package\//, ''));

    // ── the scratch project: the tarball and its dependencies, installed without the network ──
    app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true }));
    const deps: string[] = [];
    for (const dep of Object.keys(pkgJson.dependencies)) {
      const packed = await npm(['pack', '--ignore-scripts', '--pack-destination', tmp, join(packageDir, 'node_modules', dep)], tmp);
      deps.push(join(tmp, packed.trim().split('\n').at(-1)!));
    }
    const cache = join(tmp, 'npm-cache'); // empty: nothing may come from a cache either
    await npm(['install', '--offline', '--cache', cache, '--foreground-scripts', tarball, ...deps], app);
    installed = join(app, 'node_modules', pkgJson.name);
    // typescript and @types/node, as the README asks a user to install them: this node_modules's
    symlinkSync(join(packageDir, 'node_modules', '@types'), join(app, 'node_modules', '@types'));
  }, 300_000);

  afterAll(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  let fds: ReturnType<typeof fdSnapshot>;
  beforeEach(() => {
    fds = fdSnapshot();
  });
  afterEach(() => fds.check());

  it('the tarball holds the build, the linux-x64 prebuild, the sources its maps name, and nothing else', () => {
    expect(files).toContain('prebuilds/linux-x64/epoll-reactor.node');
    for (const f of ['package.json', 'README.md', 'binding.gyp', 'dist/lib/index.js', 'dist/lib/index.mjs', 'dist/lib/index.d.ts', 'lib/index.ts']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(test|bench|build|scripts|docs|node_modules)\//.test(f) || f.startsWith('dist/bench/'))).toEqual([]);
    // every source map (.js.map, .d.ts.map) names sources that are in the tarball
    const maps = files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] };
      for (const s of sources) {
        const path = posix.normalize(posix.join(posix.dirname(map), s));
        if (!files.includes(path)) missing.push(`${map} → ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('installing it compiled nothing: the addon loaded is the prebuild', async () => {
    expect(existsSync(join(installed, 'build'))).toBe(false);
    expect(readdirSync(join(installed, 'prebuilds/linux-x64'))).toEqual(['epoll-reactor.node']);
    const code = `const { sys } = require('epoll-reactor'); sys.close(sys.epoll_create1()); console.log(sys.addonPath);`;
    const out = await run(process.execPath, ['-e', code], app);
    expect(out.trim()).toBe(join(installed, 'prebuilds/linux-x64/epoll-reactor.node'));
  });

  it('require() (CommonJS) and import (ES module) give the same module: one default loop per process', async () => {
    const code = [
      "import { createRequire } from 'node:module';",
      "import * as esm from 'epoll-reactor';",
      'const cjs = createRequire(import.meta.url)(`epoll-reactor`);',
      'const names = Object.keys(cjs).filter((n) => n !== "default").sort();',
      'console.log(JSON.stringify({ same: esm.loop === cjs.loop && esm.net === cjs.net && esm.default === cjs, names, esm: Object.keys(esm).filter((n) => n !== "default").sort() }));',
    ].join('\n');
    const r = JSON.parse(await run(process.execPath, ['--input-type=module', '-e', code], app));
    expect(r.same).toBe(true);
    expect(r.esm).toEqual(r.names);
    expect(r.names).toEqual(expect.arrayContaining(['Loop', 'loop', 'net', 'sys', 'Timer', 'Watcher']));
  });

  // The README's tsconfig.json and echo.ts, with skipLibCheck false said out loud (it is the
  // default) and two stricter checks on top, so that the package's .d.ts files are checked too.
  describe.each(['module', 'commonjs'])('the README’s echo.ts, as %s', (type) => {
    it('type-checks under strict, skipLibCheck false, and runs: echoed: hello', async () => {
      const dir = join(app, type);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
      const tsconfig = JSON.parse(readmeBlock('Use it in your project', 'json'));
      tsconfig.compilerOptions = { ...tsconfig.compilerOptions, skipLibCheck: false, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true };
      // every .d.ts the package ships, not only those echo.ts reaches
      tsconfig.include = ['*.ts', `../node_modules/${pkgJson.name}/dist/**/*.d.ts`];
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
      writeFileSync(join(dir, 'echo.ts'), readmeBlock('Use it in your project', 'ts'));
      const tsc = join(packageDir, 'node_modules/.bin/tsc');
      const listed = await run(tsc, ['-p', dir, '--listFilesOnly'], dir);
      expect(listed).toContain(`node_modules/${pkgJson.name}/dist/lib/net/socket.d.ts`);
      await run(tsc, ['-p', dir], dir);
      // the TypeScript 5/6 line too (TypeDoc's, in scripts/api-docs), which many projects still
      // use; as an ES module only (it is the slow one: ~6 s), where the .d.ts files are read as
      // CommonJS declarations imported from ESM, the case more likely to break
      const ts6 = join(packageDir, 'scripts/api-docs/node_modules/typescript/bin/tsc');
      if (type === 'module' && existsSync(ts6)) await run(process.execPath, [ts6, '-p', dir, '--noEmit'], dir);
      const compiled = readFileSync(join(dir, 'dist/echo.js'), 'utf8');
      expect(compiled).toMatch(type === 'module' ? /^import \{ net \} from 'epoll-reactor';/m : /require\("epoll-reactor"\)/);
      const r = await runChild(process.execPath, [join(dir, 'dist/echo.js')], { cwd: dir, timeoutMs: 20_000 });
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: 'echoed: hello\n', stderr: '' });
    });
  });
});
