import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests exercise the compiled package (dist/), loaded by Node itself, exactly as users
    // load it: one module instance, one default loop.
    server: { deps: { external: [/\/dist\//] } },
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
