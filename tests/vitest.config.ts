import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Tests of one module or one in-process component (no child process, no socket on loopback, no TF.js training): two
 * files at a time, one per core. Everything else (tests/e2e, tests/simulations, tests/docs, tests/browser and the
 * files of SEQUENTIAL: federations on loopback, `cohort` processes, deadlines, seconds of TF.js training) runs one
 * file at a time after them, as before. (Two CNN steps side by side under outside load once
 * took 63 s instead of 4 s: CPU-bound training stays alone.)
 */
const IN_PROCESS = ['tests/{coordinator,crypto,fuzz,node-agent,protocol}/**/*.test.ts'];
const SEQUENTIAL = [
  'tests/node-agent/train/**/*.test.ts',
  'tests/node-agent/data/image-folder.test.ts',
  'tests/coordinator/console/live.test.ts',
  'tests/coordinator/http/api-server.test.ts',
  'tests/coordinator/models/predict.test.ts',
  'tests/coordinator/realtime/rate-limit.test.ts',
  'tests/fuzz/agent-events.test.ts',
  'tests/fuzz/socket-events.test.ts',
  'tests/fuzz/updates.test.ts',
  'tests/node-agent/transport/upload-window.test.ts',
  'tests/protocol/chunked-transport.test.ts',
  'tests/protocol/codec.test.ts',
  'tests/protocol/secagg-wire.test.ts',
];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'in-process',
          include: IN_PROCESS,
          exclude: ['**/node_modules/**', ...SEQUENTIAL],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: ['tests/{e2e,simulations,docs,browser}/**/*.test.ts', ...SEQUENTIAL],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
          // One compiled copy of the sources for every `cohort` process these tests start (COHORT_TEST_FROM_SOURCE=1: tsx instead).
          globalSetup: ['tests/compiled-cli.ts'],
        },
      },
    ],
  },
});
