/** `npm run bench:convergence -- --quick` end to end: real coordinator, in-process agents, and the three report files. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { writeIdxSet } from '../node-agent/data/idx-files.js';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'cohort-bench-test-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface BenchJson {
  target?: number;
  results: {
    partition: string;
    config: { name: string };
    roundsRun: number;
    roundsToTarget: number | null;
    stoppedBy: string;
    bestAccuracy: number;
    curve: { round: number; accuracy: number }[];
  }[];
}

describe('bench:convergence --quick', () => {
  it('runs FedSGD and FedAvg on IID and shards:2 through the real federation and writes the table, JSON and plot', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'simulations/bench/convergence.ts', '--quick', '--out', out], {
      timeout: 150_000,
      maxBuffer: 16 << 20,
    });

    for (const f of ['convergence.md', 'convergence.json', 'convergence.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'convergence.json'), 'utf8')) as BenchJson;
    expect(json.target).toBeUndefined();
    expect(json.results.map((r) => `${r.partition} ${r.config.name}`)).toEqual([
      'iid FedSGD E=1 B=∞',
      'iid FedAvg E=1 B=10',
      'shards:2 FedSGD E=1 B=∞',
      'shards:2 FedAvg E=1 B=10',
    ]);
    for (const r of json.results) {
      expect(r.roundsRun).toBeGreaterThanOrEqual(1);
      expect(r.curve.map((p) => p.round)).toEqual(Array.from({ length: r.roundsRun }, (_, i) => i + 1));
      expect(r.roundsToTarget).toBeNull();
      expect(['round-cap', 'time-cap']).toContain(r.stoppedBy);
    }
    // The federation really trains: FedAvg on IID digits is far above chance (0.1) after its first round.
    expect(json.results[1]!.bestAccuracy).toBeGreaterThan(0.3);

    const md = readFileSync(join(out, 'convergence.md'), 'utf8');
    const table = md.split('\n').filter((l) => l.startsWith('|'));
    expect(table[0]).toBe('| 2NN | E | B | u | lr | iid: rounds | iid: best acc. | shards:2: rounds | shards:2: best acc. |');
    expect(table).toHaveLength(4);
    expect(table[2]).toMatch(/^\| FedSGD \| 1 \| ∞ \| 1 \| 0\.5 \| > \d+ \((round|time) cap\) \|/);
    expect(table[3]).toMatch(/^\| FedAvg \| 1 \| 10 \| 40 \| 0\.2 \| > \d+ \((round|time) cap\)/);
    expect(md).toContain('Target: none (quick mode)');

    const svg = readFileSync(join(out, 'convergence.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('FedAvg E=1 B=10');
    expect(stdout).toContain('[iid FedAvg E=1 B=10] round 1: accuracy');

    // --direct computes the same federations in-process: the same accuracy, round by round, to the last digit.
    const direct = join(out, 'direct');
    await run(process.execPath, ['--import', 'tsx', 'simulations/bench/convergence.ts', '--quick', '--direct', '--out', direct], {
      timeout: 150_000,
      maxBuffer: 16 << 20,
    });
    const dj = JSON.parse(readFileSync(join(direct, 'convergence.json'), 'utf8')) as BenchJson;
    expect(dj.results.map((r) => `${r.partition} ${r.config.name}`)).toEqual(json.results.map((r) => `${r.partition} ${r.config.name}`));
    dj.results.forEach((r, i) => {
      const fed = json.results[i]!.curve;
      const rounds = Math.min(fed.length, r.curve.length); // a time cap on a slow machine may cut either short
      expect(rounds).toBeGreaterThanOrEqual(1);
      expect(r.curve.slice(0, rounds).map((p) => p.accuracy)).toEqual(fed.slice(0, rounds).map((p) => p.accuracy));
    });
    expect(readFileSync(join(direct, 'convergence.md'), 'utf8')).toContain('Computed in-process (--direct)');
  }, 240_000);

  it('runs on the full MNIST (mnist-full): the published 10,000 test digits, and 300 digits per site at 200 institutions', async () => {
    const dir = join(out, 'full');
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'simulations/bench/convergence.ts',
        '--quick',
        '--dataset',
        'mnist-full',
        '--institutions',
        '200',
        '--fraction',
        '0.01',
        '--partitions',
        'iid',
        '--out',
        dir,
      ],
      { timeout: 150_000, maxBuffer: 16 << 20 },
    );
    const json = JSON.parse(readFileSync(join(dir, 'convergence.json'), 'utf8')) as BenchJson & {
      dataset: string;
      testRows: number;
      meanRows: number;
    };
    expect(json.dataset).toBe('mnist-full');
    expect(json.testRows).toBe(10_000);
    expect(json.meanRows).toBe(300);
    expect(json.results.map((r) => r.config.name)).toEqual(['FedSGD E=1 B=∞', 'FedAvg E=1 B=10']);
    expect(json.results[1]!.bestAccuracy).toBeGreaterThan(0.3);
    const md = readFileSync(join(dir, 'convergence.md'), 'utf8');
    expect(md).toContain('on the 10000 held-out test digits');
    expect(md).toContain('Data set mnist-full; 200 institutions');
    expect(md).toContain('test accuracy (2NN, mnist-full)');
    expect(stdout).toContain('Convergence bench on mnist-full: 200 institutions (300 rows each on average)');
  }, 180_000);

  it('runs on another data set in IDX format, keeping its published test split', async () => {
    const files = writeIdxSet(join(out, 'idx-data'), { train: 400, test: 100, h: 8, w: 8, classes: 4 });
    const dir = join(out, 'idx');
    const dataset = `idx:${files.trainImages},${files.trainLabels},${files.testImages},${files.testLabels}`;
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'simulations/bench/convergence.ts',
        '--quick',
        '--dataset',
        dataset,
        '--institutions',
        '10',
        '--fraction',
        '0.5',
        '--partitions',
        'iid',
        '--out',
        dir,
      ],
      { timeout: 150_000, maxBuffer: 16 << 20 },
    );
    const json = JSON.parse(readFileSync(join(dir, 'convergence.json'), 'utf8')) as BenchJson & { testRows: number; meanRows: number };
    expect(json.testRows).toBe(100);
    expect(json.meanRows).toBe(40);
    // Four well-separated classes: FedAvg learns them well above chance (0.25) within its 3 rounds.
    expect(json.results[1]!.bestAccuracy).toBeGreaterThan(0.5);
    const md = readFileSync(join(dir, 'convergence.md'), 'utf8');
    expect(md).toContain('test accuracy (2NN, train-images-idx3-ubyte.gz)');
    expect(readFileSync(join(dir, 'convergence.svg'), 'utf8')).toContain('2NN on train-images-idx3-ubyte.gz');
  }, 180_000);
});
