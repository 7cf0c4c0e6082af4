/**
 * Vitest global setup: compiles the sources once per `npm test` into a throwaway package laid out as the published one
 * (dist/ beside simulations/bin/cohort.js, node_modules linked), so the many tests that start the real `cohort` process
 * pay Node's start-up, not tsx's (about 1 s less per process, and each simulated institution's forked agent starts
 * compiled too). The transform is esbuild's, resolved from tsx: the same one tsx applies to each file when it runs
 * the sources, done ahead of time. `COHORT_TEST_FROM_SOURCE=1 npm test` runs every process from the sources through
 * tsx instead; tests/e2e/consent-policy.test.ts and the docs' `npx cohort` block of docs/simulate.md always do.
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCES = ['protocol', 'crypto', 'coordinator', 'node-agent', 'simulations'];

declare module 'vitest' {
  export interface ProvidedContext {
    /** The `cohort` bin the tests start: the compiled copy's, or the repository's own under COHORT_TEST_FROM_SOURCE=1. */
    cohortBin: string;
  }
}

/** Every file under `dir` (relative to ROOT), without simulations/build (the real build's own script). */
function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (rel === join('simulations', 'build')) return [];
    return e.isDirectory() ? filesUnder(rel) : [rel];
  });
}

/**
 * Builds the compiled package into a temporary folder and provides its bin as `cohortBin`; returns the teardown.
 * @example export default { test: { globalSetup: ['tests/compiled-cli.ts'] } }
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const sourceBin = join(ROOT, 'simulations', 'bin', 'cohort.js');
  if (process.env.COHORT_TEST_FROM_SOURCE === '1') {
    project.provide('cohortBin', sourceBin);
    return () => undefined;
  }
  const started = Date.now();
  const out = mkdtempSync(join(tmpdir(), 'cohort-test-build-'));
  const files = SOURCES.flatMap(filesUnder);
  const esbuild = (await import(
    createRequire(createRequire(import.meta.url).resolve('tsx/package.json')).resolve('esbuild')
  )) as typeof import('esbuild');
  const tsconfig = (await import(join(ROOT, 'tsconfig.json'), { with: { type: 'json' } })) as { default: { compilerOptions: object } };
  await esbuild.build({
    entryPoints: files.filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, f)),
    outdir: join(out, 'dist'),
    outbase: ROOT,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    tsconfigRaw: { compilerOptions: tsconfig.default.compilerOptions },
    logLevel: 'error',
  });
  // What the compiled code reads beside itself (migrations, console assets, scripts), as `npm run build` copies it.
  for (const f of files.filter((f) => !f.endsWith('.ts') && !f.startsWith(join('simulations', 'bin')))) {
    mkdirSync(dirname(join(out, 'dist', f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(out, 'dist', f));
  }
  cpSync(join(ROOT, 'simulations', 'bin'), join(out, 'simulations', 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  writeFileSync(join(out, 'dist', 'BUILD'), `${new Date().toISOString()}\n`);
  process.stdout.write(`tests/compiled-cli.ts: compiled ${files.length} files for the cohort processes in ${Date.now() - started} ms\n`);
  project.provide('cohortBin', join(out, 'simulations', 'bin', 'cohort.js'));
  return () => rmSync(out, { recursive: true, force: true });
}
