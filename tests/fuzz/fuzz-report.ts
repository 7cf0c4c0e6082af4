/** What every fuzz suite shares: hostile-value generators, a heap measure after a real GC, and a summary of the inputs tried. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { ErrorCode } from '../../protocol/index.js';

/** Every wire error code: a refusal must carry one of these. */
export const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Seeded, so a failure replays; CI sets FUZZ_SEED to vary it, FUZZ_SCALE to run longer. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const scale = Number(process.env.FUZZ_SCALE ?? 1);
/** `n` scaled by FUZZ_SCALE (at least 1). */
export const runs = (n: number): number => Math.max(1, Math.round(n * scale));

/**
 * Records how many inputs a suite tried, in the test output and in runs/fuzz/<suite>.json (for the README).
 * @example reportFuzz('codec', { decodeTensors: 3000 })
 */
export function reportFuzz(suite: string, counts: Record<string, number>, extra: Record<string, unknown> = {}): void {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const dir = join(process.cwd(), 'runs', 'fuzz');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${suite}.json`),
    `${JSON.stringify({ suite, seed: FUZZ_SEED, total, counts, ...extra, at: new Date().toISOString() }, null, 2)}\n`,
  );
  console.log(
    `[fuzz] ${suite}: ${total} inputs (${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
  );
}

let gcFn: (() => void) | undefined;
/** heapUsed after a full garbage collection (V8's gc, enabled at run time). */
export function heapAfterGc(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

/** Values no schema expects: wrong types, special numbers, huge and odd strings, prototype keys, deep nesting, bytes. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    undefined,
    true,
    false,
    0,
    -0,
    -1,
    1.5,
    -1e9,
    2 ** 31,
    2 ** 32 + 1,
    2 ** 53 + 2,
    1e308,
    -1e308,
    Number.NaN,
    Infinity,
    -Infinity,
  ),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    'NaN',
    '1e400',
    '__proto__',
    'constructor',
    'a'.repeat(70_000),
    '\u{1F600}'.repeat(3000),
    '==',
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.uint8Array({ maxLength: 600 }),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 20 }),
  fc.constant(JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}') as unknown),
  // JSON that breaks String(value) and template literals: toString and valueOf that are not functions.
  fc.constantFrom<unknown>({ toString: 1 }, { toString: {}, valueOf: {} }, { toJSON: 1, length: -1 }),
  fc.constant(Array.from({ length: 50 }).reduce<unknown>((inner) => ({ inner }), 1)),
  fc.anything({ maxDepth: 3, withTypedArray: true, withNullPrototype: true, withBigInt: false }),
);

/**
 * A valid payload with one field (at any depth) replaced by a weird value, deleted, or an extra field added;
 * or the payload swapped for anything at all.
 * @example fc.sample(mutated({ round: 1, code: 'X' }), 5)
 */
export function mutated(base: unknown): fc.Arbitrary<unknown> {
  const paths = leafPaths(base);
  const edit = fc
    .tuple(fc.constantFrom(...(paths.length > 0 ? paths : [[]])), fc.oneof(weirdValue, fc.constant(DELETE)), fc.boolean())
    .map(([path, value, extraKey]) => {
      const copy = structuredClone(base) as Record<string, unknown>;
      const out = setAt(copy, path, value);
      if (extraKey && path.length > 0 && out && typeof out === 'object')
        (out as Record<string, unknown>)[`x${path.length}`] = value === DELETE ? 1 : value;
      return out;
    });
  return fc.oneof({ weight: 4, arbitrary: edit }, { weight: 1, arbitrary: weirdValue });
}

const DELETE = Symbol('delete');

function leafPaths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value)) {
    const path = [...prefix, Array.isArray(value) ? Number(k) : k];
    out.push(path);
    if (path.length < 6) leafPaths(v, path, out);
  }
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value === DELETE ? undefined : value;
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (value === DELETE) delete node[last];
  else node[last] = value;
  return root;
}
