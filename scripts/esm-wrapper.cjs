// Writes dist/lib/index.mjs: an ES module face over the CommonJS build. One implementation
// serves both `import` and `require`, so there is exactly one default loop per process (no
// dual-package hazard).
'use strict';
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist', 'lib');
const names = Object.keys(require(join(dist, 'index.js'))).filter((n) => n !== 'default' && n !== '__esModule');
const lines = [
  "import cjs from './index.js';",
  ...names.map((n) => `export const ${n} = cjs.${n};`),
  'export default cjs;',
  '',
];
writeFileSync(join(dist, 'index.mjs'), lines.join('\n'));
