/** `npm run bench`: runs every bench section in order and writes one bench.json and one bench.md, all ratios from one run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import type { BenchResult, BenchSection } from './section.js';
import { sections as allSections } from './sections.js';

export interface BenchRunOptions {
  quick: boolean;
  only?: string[];
  outDir: string;
  rounds?: number;
  log?: (line: string) => void;
}

export interface BenchSectionOutcome {
  id: string;
  title: string;
  seconds: number;
  result?: BenchResult;
  error?: string;
}

export interface BenchReport {
  startedAt: string;
  quick: boolean;
  machine: { node: string; platform: string; cpus: number; cpuModel: string; memoryGiB: number; loadBefore: number[]; loadAfter: number[] };
  sections: BenchSectionOutcome[];
}

/**
 * Picks the sections named in `only` (all when absent), in the list's order; throws on an unknown id.
 * @example selectSections(sections, ['cipher']).map((s) => s.id) // ['cipher']
 */
export function selectSections(list: readonly BenchSection[], only?: string[]): BenchSection[] {
  if (!only || only.length === 0) return [...list];
  const known = new Set(list.map((s) => s.id));
  const unknown = only.filter((id) => !known.has(id));
  if (unknown.length) throw new Error(`unknown bench section ${unknown.join(', ')}: known are ${[...known].join(', ')}`);
  return list.filter((s) => only.includes(s.id));
}

const escapeCell = (cell: string): string => cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The markdown of a whole run: machine line, then per section a heading, its table and its notes.
 * @example console.log(formatBenchMarkdown(report));
 */
export function formatBenchMarkdown(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `Bench run ${report.startedAt}${report.quick ? ' (quick: tiny sizes, not representative)' : ''}: Node ${m.node}, ${m.platform}, ${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB,`,
    `load average ${m.loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${m.loadAfter.map((l) => l.toFixed(2)).join(' ')} after.`,
    '',
  ];
  for (const s of report.sections) {
    lines.push(`### ${s.title} (\`${s.id}\`, ${s.seconds.toFixed(0)} s)`, '');
    if (!s.result) {
      lines.push(`Failed: ${s.error ?? 'unknown error'}`, '');
      continue;
    }
    const { columns, rows, notes } = s.result;
    lines.push(`| ${columns.map(escapeCell).join(' | ')} |`, `|${columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const row of rows) lines.push(`| ${row.cells.map(escapeCell).join(' | ')} |`);
    lines.push('');
    for (const note of notes) lines.push(`- ${note}`);
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Runs the selected sections one after the other (a failing section is recorded, the others still run)
 * and writes `bench.json` and `bench.md` into `outDir`.
 * @example const report = await runBench({ quick: true, only: ['cipher'], outDir: 'runs/bench-test' });
 */
export async function runBench(opts: BenchRunOptions, list: readonly BenchSection[] = allSections): Promise<BenchReport> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const chosen = selectSections(list, opts.only);
  mkdirSync(opts.outDir, { recursive: true });
  const cpuList = cpus();
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    quick: opts.quick,
    machine: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadBefore: loadavg(),
      loadAfter: [],
    },
    sections: [],
  };
  for (const [i, section] of chosen.entries()) {
    log(`[${i + 1}/${chosen.length}] ${section.id}: ${section.title}`);
    const sectionDir = join(opts.outDir, section.id);
    mkdirSync(sectionDir, { recursive: true });
    const start = performance.now();
    const outcome: BenchSectionOutcome = { id: section.id, title: section.title, seconds: 0 };
    try {
      outcome.result = await section.run({
        quick: opts.quick,
        ...(opts.rounds ? { rounds: opts.rounds } : {}),
        outDir: sectionDir,
        log: (line) => log(`  ${section.id}: ${line}`),
      });
    } catch (err) {
      outcome.error = err instanceof Error ? err.message : String(err);
      log(`  ${section.id} FAILED: ${outcome.error}`);
    }
    outcome.seconds = (performance.now() - start) / 1000;
    log(`  ${section.id} done in ${outcome.seconds.toFixed(1)} s`);
    report.sections.push(outcome);
  }
  report.machine.loadAfter = loadavg();
  writeFileSync(join(opts.outDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(opts.outDir, 'bench.md'), `${formatBenchMarkdown(report)}\n`);
  return report;
}

const timestamp = (): string => new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const program = new Command()
    .name('npm run bench --')
    .description('Runs the bench sections and writes bench.json and bench.md (every ratio against a baseline measured in the same run).')
    .option('--quick', 'tiny sizes and few repetitions (seconds; what CI runs)', false)
    .option('--only <ids>', `comma-separated section ids: ${allSections.map((s) => s.id).join(', ')}`)
    .option('--out <dir>', 'output folder (default runs/bench-<timestamp>)')
    .option('--rounds <n>', 'rounds for the sections that run federated rounds (simulation: default 1)', (v) => Number.parseInt(v, 10))
    .parse();
  const flags = program.opts<{ quick: boolean; only?: string; out?: string; rounds?: number }>();
  const only = flags.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const outDir = flags.out ?? join('runs', `bench-${timestamp()}`);
  try {
    const report = await runBench({ quick: flags.quick, only, outDir, ...(flags.rounds ? { rounds: flags.rounds } : {}) });
    process.stdout.write(`${formatBenchMarkdown(report)}\n`);
    process.stderr.write(`wrote ${join(outDir, 'bench.json')} and ${join(outDir, 'bench.md')}\n`);
    process.exitCode = report.sections.some((s) => s.error) ? 1 : 0;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
