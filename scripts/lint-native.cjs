// Lints native/: napi.h only (no v8.h / node.h), and warning-free under -Wall -Wextra -Werror.
'use strict';
const { execFileSync } = require('node:child_process');
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = join(__dirname, '..', 'native');
const sources = readdirSync(dir).filter((f) => /\.(cc|h)$/.test(f));
let bad = 0;
for (const f of sources) {
  const text = readFileSync(join(dir, f), 'utf8');
  for (const m of text.matchAll(/#include\s*<(v8\.h|node\.h|node_buffer\.h|node_object_wrap\.h)>/g)) {
    console.error(`native/${f}: includes <${m[1]}>; use napi.h (Node-API) only`);
    bad++;
  }
}
const include = execFileSync(process.execPath, ['-p', "require('node-addon-api').include_dir"]).toString().trim();
const nodeInclude = join(process.execPath, '..', '..', 'include', 'node');
for (const f of sources.filter((s) => s.endsWith('.cc'))) {
  try {
    execFileSync('g++', [
      '-std=c++17', '-fsyntax-only', '-Wall', '-Wextra', '-Werror',
      '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
      `-I${include}`, `-I${nodeInclude}`, join(dir, f),
    ], { stdio: 'inherit' });
  } catch {
    bad++;
  }
}
if (bad) {
  console.error(`lint-native: ${bad} problem(s)`);
  process.exit(1);
}
console.log(`lint-native: ${sources.length} files clean`);
