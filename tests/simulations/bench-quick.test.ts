/** `npm run bench -- --quick` end to end: every section of this issue runs in a child process and writes finite numbers to bench.json and bench.md. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'cohort-bench-quick-'));
const SECTIONS = ['aggregation', 'ingest', 'round', 'cipher'];

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface BenchJson {
  quick: boolean;
  sections: {
    id: string;
    error?: string;
    result?: { title: string; columns: string[]; rows: { cells: string[]; values?: Record<string, unknown> }[]; notes: string[] };
  }[];
}

describe('npm run bench -- --quick', () => {
  it('runs aggregation, ingest, round and cipher and writes every row with finite numbers', async () => {
    const started = Date.now();
    const { stdout } = await run('npm', ['run', '--silent', 'bench', '--', '--quick', '--only', SECTIONS.join(','), '--out', out], {
      timeout: 170_000,
      maxBuffer: 16 << 20,
    });
    const seconds = (Date.now() - started) / 1000;

    expect(existsSync(join(out, 'bench.md'))).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchJson;
    expect(json.quick).toBe(true);
    expect(json.sections.map((s) => s.id)).toEqual(SECTIONS);
    for (const section of json.sections) {
      expect(section.error, section.id).toBeUndefined();
      const result = section.result!;
      expect(result.rows.length, section.id).toBeGreaterThan(0);
      expect(result.notes.length, section.id).toBeGreaterThan(0);
      for (const row of result.rows) {
        expect(row.cells, section.id).toHaveLength(result.columns.length);
        const numbers = Object.values(row.values ?? {}).filter((v) => typeof v === 'number');
        expect(numbers.length, `${section.id}: ${row.cells[0]}`).toBeGreaterThan(0);
        for (const v of numbers) expect(Number.isFinite(v), `${section.id}: ${row.cells.join(' | ')}`).toBe(true);
      }
    }
    // Each section's table and notes reach the markdown printed on stdout.
    for (const section of json.sections) expect(stdout).toContain(section.result!.title);
    expect(stdout).toMatch(/Target .*(met|missed)/);
    console.info(`bench --quick took ${seconds.toFixed(1)} s`);
  }, 180_000);

  it('runs the privacy and scale sections through the real coordinator and agents, with finite ratios', async () => {
    const dir = join(out, 'federated');
    await run('npm', ['run', '--silent', 'bench', '--', '--quick', '--only', 'privacy,scale', '--out', dir], {
      timeout: 230_000,
      maxBuffer: 16 << 20,
    });

    const json = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchJson;
    expect(json.sections.map((s) => s.id)).toEqual(['privacy', 'scale']);
    for (const section of json.sections) {
      expect(section.error, section.id).toBeUndefined();
      expect(section.result!.rows.length, section.id).toBeGreaterThan(0);
    }
    const privacy = json.sections[0]!.result!.rows.map((r) => r.values ?? {});
    const secagg = privacy.filter((v) => v.part === 'secagg');
    expect(secagg.length).toBeGreaterThan(0);
    for (const v of secagg) expect(v.completeRatio as number).toBeGreaterThan(0);
    const dp = privacy.filter((v) => v.part === 'dp');
    expect(dp.map((v) => v.accuracy as number).every((a) => a > 0 && a <= 1)).toBe(true);
  }, 240_000);

  it('runs the compression section: fp16 sends half the bytes of none, int8 a quarter, topk:0.1 a fifth, each with a final accuracy', async () => {
    const dir = join(out, 'compression');
    await run('npm', ['run', '--silent', 'bench', '--', '--quick', '--only', 'compression', '--out', dir], {
      timeout: 170_000,
      maxBuffer: 16 << 20,
    });

    const json = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchJson;
    const section = json.sections[0]!;
    expect(section.error).toBeUndefined();
    const rows = section.result!.rows.map((r) => r.values ?? {});
    expect(rows.map((v) => `${v.model} ${v.compress}`)).toEqual(
      ['mlp', 'cnn'].flatMap((m) => ['none', 'fp16', 'int8', 'topk:0.1'].map((c) => `${m} ${c}`)),
    );
    const expected: Record<string, number> = { none: 1, fp16: 0.5, int8: 0.25, 'topk:0.1': 0.2 };
    for (const v of rows) {
      expect(v.bytesRatio as number, `${v.model} ${v.compress}`).toBeGreaterThan(expected[v.compress as string]! - 0.01);
      expect(v.bytesRatio as number, `${v.model} ${v.compress}`).toBeLessThan(expected[v.compress as string]! + 0.02);
      expect(v.accuracy as number).toBeGreaterThan(0);
      expect(v.accuracy as number).toBeLessThanOrEqual(1);
      // fp16 and int8 send the same training, rounded: the final models agree with none's to within 2 points.
      if (v.compress === 'fp16' || v.compress === 'int8') expect(Math.abs(v.pointsVsNone as number)).toBeLessThan(2);
    }
    expect(section.result!.notes.join(' ')).toMatch(/Target int8 .* (met|missed)/);
  }, 180_000);

  it('runs the imaging section: decode, augment and ResNet training rates, each finite and positive', async () => {
    const dir = join(out, 'imaging');
    await run('npm', ['run', '--silent', 'bench', '--', '--quick', '--only', 'imaging', '--out', dir], {
      timeout: 110_000,
      maxBuffer: 16 << 20,
    });

    const json = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchJson;
    const section = json.sections[0]!;
    expect(section.error).toBeUndefined();
    const steps = section.result!.rows.map((r) => r.values ?? {});
    expect(steps.map((v) => String(v.what).split(' ')[0])).toEqual(['decode', 'augment', 'decode', 'augment', 'train', 'train']);
    for (const v of steps) expect(Number.isFinite(v.perSec) && (v.perSec as number) > 0, String(v.what)).toBe(true);
  }, 120_000);
});
