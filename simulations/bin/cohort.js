#!/usr/bin/env node
// The `cohort` command. It runs the compiled CLI (dist/, made by `npm run build` and shipped in the package) when that
// build is at least as new as every TypeScript source beside it; otherwise it registers tsx and runs the sources as
// they are, so a developer never runs a stale build.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const stamp = join(root, 'dist', 'BUILD');

/** The newest modification time of the .ts files under `dir` (0 when there are none, as in an installed package). */
function newest(dir) {
  let latest = 0;
  if (!existsSync(dir)) return latest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else if (entry.name.endsWith('.ts')) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

const fresh =
  existsSync(stamp) &&
  ['protocol', 'crypto', 'coordinator', 'node-agent', 'simulations'].every((d) => newest(join(root, d)) <= statSync(stamp).mtimeMs);
if (fresh && process.env.COHORT_FROM_SOURCE !== '1') {
  await import('../../dist/simulations/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
