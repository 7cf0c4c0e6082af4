/** `npm run bench -- --quick` end to end: one child process runs every section checked here and writes finite numbers to bench.json and bench.md. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'cohort-bench-quick-'));
const SECTIONS = ['aggregation', 'ingest', 'round', 'cipher'];
const ALL = [...SECTIONS, 'privacy', 'scale', 'compression', 'imaging'];

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface BenchSectionJson {
  id: string;
  error?: string;
  result?: { title: string; columns: string[]; rows: { cells: string[]; values?: Record<string, unknown> }[]; notes: string[] };
}
interface BenchJson {
  quick: boolean;
  sections: BenchSectionJson[];
}

/** One `npm run bench -- --quick` over every section the tests below check (one start-up of npm, tsx and TF.js, not four). */
let json: BenchJson;
let stdout: string;
const sectionOf = (id: string): BenchSectionJson => json.sections.find((s) => s.id === id)!;
beforeAll(async () => {
  const started = Date.now();
  ({ stdout } = await run('npm', ['run', '--silent', 'bench', '--', '--quick', '--only', ALL.join(','), '--out', out], {
    timeout: 480_000,
    maxBuffer: 16 << 20,
  }));
  json = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchJson;
  console.info(`bench --quick took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 490_000);

describe('npm run bench -- --quick', () => {
  it('runs aggregation, ingest, round and cipher and writes every row with finite numbers', () => {
    expect(existsSync(join(out, 'bench.md'))).toBe(true);
    expect(json.quick).toBe(true);
    expect(json.sections.map((s) => s.id)).toEqual(ALL);
    for (const section of SECTIONS.map(sectionOf)) {
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
    for (const s of SECTIONS.map(sectionOf)) expect(stdout).toContain(s.result!.title);
    expect(stdout).toMatch(/Target .*(met|missed)/);
  });

  it('runs the privacy and scale sections through the real coordinator and agents, with finite ratios', () => {
    for (const s of ['privacy', 'scale'].map(sectionOf)) {
      expect(s.error, s.id).toBeUndefined();
      expect(s.result!.rows.length, s.id).toBeGreaterThan(0);
    }
    const privacy = sectionOf('privacy').result!.rows.map((r) => r.values ?? {});
    const secagg = privacy.filter((v) => v.part === 'secagg');
    expect(secagg.length).toBeGreaterThan(0);
    for (const v of secagg) expect(v.completeRatio as number).toBeGreaterThan(0);
    const dp = privacy.filter((v) => v.part === 'dp');
    expect(dp.map((v) => v.accuracy as number).every((a) => a > 0 && a <= 1)).toBe(true);
  });

  it('runs the compression section: fp16 sends half the bytes of none, int8 a quarter, topk:0.1 a fifth, each with a final accuracy', () => {
    const compression = sectionOf('compression');
    expect(compression.error).toBeUndefined();
    const rows = compression.result!.rows.map((r) => r.values ?? {});
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
    expect(compression.result!.notes.join(' ')).toMatch(/Target int8 .* (met|missed)/);
  });

  it('runs the imaging section: decode, augment and ResNet training rates, each finite and positive', () => {
    const imaging = sectionOf('imaging');
    expect(imaging.error).toBeUndefined();
    const steps = imaging.result!.rows.map((r) => r.values ?? {});
    expect(steps.map((v) => String(v.what).split(' ')[0])).toEqual(['decode', 'augment', 'decode', 'augment', 'train', 'train']);
    for (const v of steps) expect(Number.isFinite(v.perSec) && (v.perSec as number) > 0, String(v.what)).toBe(true);
  });
});
