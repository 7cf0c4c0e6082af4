/** Docs stay true: every shell block that README.md or docs/ marks as runnable (a fence opened with "```sh runnable") runs and exits 0. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COHORT, ROOT } from '../simulations/cli-helpers.js';

/** What a block may use from the repository: linked into a fresh folder, so what a block writes (runs/, keys/) lands there. */
const LINKED = [
  'package.json',
  'package-lock.json',
  'node_modules',
  'tsconfig.json',
  'protocol',
  'crypto',
  'coordinator',
  'node-agent',
  'simulations',
  'docs',
];
const BLOCK_TIMEOUT_MS = 40_000;
/**
 * The one file whose blocks run `npx cohort` through npm itself, proving that a clone's `npx cohort` finds the bin.
 * Every other block's `npx cohort ...` runs the same bin straight (`node <bin> ...`, the command npx ends in), which
 * spares npm's start-up and its per-folder install of the clone into the npx cache (2 to 3 s a call).
 */
const REAL_NPX_FILE = 'docs/simulate.md';
/** Defines `npx` for a block (one line, so the ERR trap's line arithmetic stays right): `npx cohort` runs the bin straight. */
const NPX_SHIM = `npx() { if [ "$1" = cohort ]; then shift; node ${JSON.stringify(COHORT)} "$@"; else command npx "$@"; fi; }`;

interface Block {
  file: string;
  line: number;
  script: string;
}

/** README.md and every Markdown file under docs/, relative to the repository root. */
function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    );
  return ['README.md', ...walk('docs').sort()];
}

/**
 * The runnable blocks of one Markdown file, with the line of each opening fence; throws on a fence that says
 * "runnable" in another form (so a misspelt marker does not silently drop a block from the test).
 * @example runnableBlocks('docs/deploy.md') // [{ file: 'docs/deploy.md', line: 8, script: 'npx cohort keys generate ...' }]
 */
function runnableBlocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  let open: { line: number; runnable: boolean; body: string[] } | null = null;
  lines.forEach((text, i) => {
    if (open === null && text.startsWith('```')) {
      const info = text.slice(3).trim();
      if (/runnable/.test(info) && info !== 'sh runnable')
        throw new Error(`${file}:${i + 1}: write a runnable block's fence as "\`\`\`sh runnable", not "\`\`\`${info}"`);
      open = { line: i + 1, runnable: info === 'sh runnable', body: [] };
    } else if (open !== null && text.trim() === '```') {
      if (open.runnable) blocks.push({ file, line: open.line, script: open.body.join('\n') });
      open = null;
    } else if (open !== null) {
      open.body.push(text);
    }
  });
  return blocks;
}

const files = markdownFiles();
const byFile = files.map((file) => ({ file, blocks: runnableBlocks(file) })).filter((f) => f.blocks.length > 0);

describe('runnable blocks in the docs', () => {
  it('exist: the docs mark some blocks runnable, so this test checks something', () => {
    expect(byFile.map((f) => f.file)).toEqual(
      expect.arrayContaining(['docs/consent-policy-audit.md', 'docs/reference/signatures.md', REAL_NPX_FILE]),
    );
    expect(byFile.find((f) => f.file === REAL_NPX_FILE)!.blocks.some((b) => /^npx cohort /m.test(b.script))).toBe(true);
  });
});

for (const { file, blocks } of byFile) {
  describe(`runnable blocks of ${file}`, () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'cohort-docs-blocks-'));
      for (const name of LINKED) symlinkSync(join(ROOT, name), join(dir, name));
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const block of blocks) {
      it(
        `${file}:${block.line} runs and exits 0`,
        () => {
          const scriptFile = join(dir, `.block-${block.line}.sh`);
          // The ERR trap names the failing command by its line in the Markdown file (the body starts 2 lines into the script).
          const trap = `trap 'echo "${file}:$((LINENO - 2 + ${block.line})): this command failed (exit $?)" >&2' ERR`;
          const shim = file === REAL_NPX_FILE ? '' : `; ${NPX_SHIM}`;
          writeFileSync(scriptFile, `set -euo pipefail${shim}\n${trap}\n${block.script}\n`);

          const run = spawnSync('bash', [scriptFile], {
            cwd: dir,
            encoding: 'utf8',
            timeout: BLOCK_TIMEOUT_MS,
            env: { ...process.env, FORCE_COLOR: '0' },
          });

          const tail = (s: string | null) => (s ?? '').split('\n').slice(-15).join('\n');
          const why = run.error ? `${run.error.message}` : run.signal ? `killed by ${run.signal}` : `exit code ${run.status}`;
          if (run.status !== 0) {
            throw new Error(
              `${file}:${block.line}: the block failed (${why}) in ${dir}\n--- block ---\n${block.script}\n--- stdout ---\n${tail(run.stdout)}\n--- stderr ---\n${tail(run.stderr)}`,
            );
          }
          expect(run.status).toBe(0);
        },
        BLOCK_TIMEOUT_MS + 5_000,
      );
    }
  });
}
