// Cluster tests: a real control plane (test/cluster/control-plane.ts). Not part of `npm test`
// (whose include is test/**/*.test.ts); run with
//   PATH=$PWD/node_modules/.bin:$PATH vitest run --config test/cluster/vitest.config.ts
// after `bash test/cluster/build.sh`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/cluster/**/*.cluster.ts', 'test/chart/**/*.cluster.ts'],
    setupFiles: ['test/support/net-guard-setup.ts'],
    // One control plane at a time: four Go servers already fill two cores while they start.
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 240_000,
  },
});
