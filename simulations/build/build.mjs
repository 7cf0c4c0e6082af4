// `npm run build`: compiles the sources to dist/ (JavaScript the `cohort` bin runs without tsx) and copies the files
// the compiled code reads beside itself (migrations, console assets, scripts), then stamps the build.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'dist');
const ASSETS = [
  'coordinator/store/migrations',
  'coordinator/console/assets',
  'simulations/bench/aggregation-numpy.py',
  'simulations/audit/verify-with-openssl.sh',
];

const started = Date.now();
rmSync(dist, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'simulations/build/tsconfig.build.json')], { stdio: 'inherit' });
for (const rel of ASSETS) {
  if (existsSync(join(root, rel))) cpSync(join(root, rel), join(dist, rel), { recursive: true });
}
writeFileSync(join(dist, 'BUILD'), `${new Date().toISOString()}\n`);
process.stdout.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
