/** `cohort stats`: federated descriptive statistics, against a running coordinator or simulated on loopback from one CSV. */
import { Command } from 'commander';
import { StatsRequestSchema, type StatsRequest } from '../../coordinator/analytics/index.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatsCheckResult, StatsResult } from '../../protocol/index.js';
import { checkSummary } from '../stats/check-summary.js';
import { simulateStats } from '../stats/simulate-stats.js';
import { statsSummary, writeStatsRun } from '../stats/write-run.js';
import { collect, int, positive } from '../../protocol/cli/options.js';

interface StatsOptions {
  coordinator?: string;
  token?: string;
  federation?: string;
  dataset?: string;
  partition?: string;
  minCell?: number;
  columns?: string;
  bins?: number;
  edges: string[];
  quantiles?: string;
  crosstab: string[];
  label?: string;
  survival?: string;
  group?: string;
  grid?: string;
  timeout?: number;
  epsilon?: number;
  budget?: number;
  secure?: boolean;
  check?: boolean;
  dictionary?: string;
  out?: string;
  json: boolean;
}

const numbers = (text: string, flag: string): number[] =>
  text.split(',').map((x) => {
    const v = Number(x);
    if (x.trim() === '' || !Number.isFinite(v)) throw new Error(`${flag}: "${x}" is not a number`);
    return v;
  });

/**
 * The REST body from the flags (validated by the same schema the coordinator uses).
 * @example requestFrom({ survival: 'days,died', group: 'arm', edges: ['age=0,50,100'], crosstab: [], json: false })
 */
export function requestFrom(o: StatsOptions, remote: boolean): StatsRequest {
  const [time, event, ...rest] = o.survival?.split(',') ?? [];
  if (o.survival && (!time || !event || rest.length > 0)) throw new Error(`--survival takes TIME,EVENT, got "${o.survival}"`);
  if (o.group && !o.survival) throw new Error('--group needs --survival');
  const request = {
    ...(o.columns ? { columns: o.columns.split(',') } : {}),
    ...(o.bins ? { bins: o.bins } : {}),
    ...(o.edges.length
      ? {
          edges: Object.fromEntries(
            o.edges.map((e) => {
              const [c, list] = e.split('=');
              if (!c || !list) throw new Error(`--edges takes COLUMN=E1,E2,..., got "${e}"`);
              return [c, numbers(list, '--edges')];
            }),
          ),
        }
      : {}),
    ...(o.quantiles ? { quantiles: numbers(o.quantiles, '--quantiles') } : {}),
    ...(o.crosstab.length
      ? {
          crosstabs: o.crosstab.map((x) => {
            const [rows, cols] = x.split(':');
            if (!rows || !cols) throw new Error(`--crosstab takes ROWS:COLS, got "${x}"`);
            return { rows, cols };
          }),
        }
      : {}),
    ...(o.label ? { label: o.label } : {}),
    ...(o.survival
      ? { survival: { time, event, ...(o.group ? { group: o.group } : {}), ...(o.grid ? { grid: numbers(o.grid, '--grid') } : {}) } }
      : {}),
    ...(remote && o.minCell ? { minCellSize: o.minCell } : {}),
    ...(o.timeout ? { timeoutMs: o.timeout } : {}),
    ...(o.epsilon ? { epsilon: o.epsilon } : {}),
    ...(o.secure ? { secure: true } : {}),
    ...(o.check ? { check: true } : {}),
  };
  const parsed = StatsRequestSchema.safeParse(request);
  if (!parsed.success)
    throw new Error(`bad stats request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

async function remoteStats(o: StatsOptions, request: StatsRequest): Promise<StatsResult | StatsCheckResult> {
  const token = o.token ?? process.env.COHORT_TOKEN;
  if (!token || !o.federation)
    throw new Error(
      'against a coordinator, cohort stats needs --federation and --token (or COHORT_TOKEN); or simulate with --dataset csv:FILE --partition column:NAME',
    );
  const res = await fetch(`${(o.coordinator as string).replace(/\/$/, '')}/api/federations/${encodeURIComponent(o.federation)}/stats`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const body = (await res.json().catch(() => ({}))) as StatsResult & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`stats query refused: ${res.status} ${body.error ? `${body.error.code}: ${body.error.message}` : ''}`);
  return body;
}

export function statsCommand(): Command {
  return new Command('stats')
    .description(
      'federated descriptive statistics with per-site small-cell suppression: counts, missingness, moments, histograms, quantiles, crosstabs, Kaplan-Meier and log-rank',
    )
    .option('--coordinator <url>', "a running coordinator's URL", 'http://127.0.0.1:8080')
    .option('--token <token>', 'an admin API token (default: $COHORT_TOKEN)')
    .option('--federation <id>', 'the federation to ask')
    .option('--dataset <csv:FILE>', 'simulate instead: one CSV split into sites by --partition, a real coordinator and agents on loopback')
    .option('--partition <column:NAME>', 'simulated: the column whose values are the sites (column:site)')
    .option(
      '--min-cell <k>',
      "simulated: each site's consent minimum cell size (default 5); against a coordinator: ask for at least k",
      int(1),
    )
    .option('--columns <list>', 'columns to describe (default: all)')
    .option('--bins <n>', 'histogram bins over the pooled range (default 10)', int(1, 200))
    .option('--edges <column=e1,e2,...>', 'histogram edges for a column (repeatable)', collect, [])
    .option('--quantiles <list>', 'quantiles besides 0.25,0.5,0.75 (e.g. 0.1,0.9)')
    .option('--crosstab <rows:cols>', 'a crosstab of two categorical columns (repeatable)', collect, [])
    .option('--label <column>', 'the label: per-site class balance and every categorical column against it')
    .option('--survival <time,event>', 'Kaplan-Meier of the event column (1/0, yes/no, true/false) over the time column')
    .option('--group <column>', 'survival curves per value of this column, and the log-rank test between them')
    .option('--grid <t1,t2,...>', 'the survival time grid (default: 20 steps over the pooled time range)')
    .option(
      '--epsilon <e>',
      "DP noise on the counts at this epsilon per site (a site's consent may add more), charged to its ledger",
      positive,
    )
    .option('--budget <e>', "simulated: each site's privacy budget (consent maxEpsilon; default 10 with --epsilon)", positive)
    .option('--secure', 'secure aggregation of the counts: the coordinator sees only pooled histograms and survival counts', false)
    .option(
      '--check',
      "instead: each site's columns against the study's data dictionary (names, types, ranges, categories, missingness)",
      false,
    )
    .option('--dictionary <file>', 'simulated: the data dictionary the study carries (cohort data dictionary), for --check')
    .option('--timeout <ms>', 'how long each phase waits for the sites (default 15000)', int(100, 120_000))
    .option('--out <dir>', 'write stats.json and SVG plots here')
    .option('--json', 'print stats.json instead of the summary', false)
    .action(async (o: StatsOptions) => {
      const simulated = o.dataset !== undefined;
      const request = requestFrom(o, !simulated);
      let stats: StatsResult | StatsCheckResult;
      if (simulated) {
        if (!o.dataset?.startsWith('csv:') || !o.partition?.startsWith('column:'))
          throw new Error('simulated stats take --dataset csv:FILE --partition column:NAME');
        stats = await simulateStats({
          csv: o.dataset.slice(4),
          partition: o.partition.slice(7),
          minCell: o.minCell,
          ...(o.epsilon || o.budget ? { budget: o.budget ?? 10 } : {}),
          request,
          out: o.out ?? 'runs/stats',
          ...(o.dictionary ? { dictionary: o.dictionary } : {}),
        });
      } else stats = await remoteStats(o, request);
      if (stats.format === 'cohort-stats-check/v1') {
        process.stdout.write(o.json ? `${JSON.stringify(stats, null, 2)}\n` : checkSummary(stats));
        if (o.out) writeFileSync(join(o.out, 'check.json'), `${JSON.stringify(stats, null, 2)}\n`);
        return;
      }
      const dir = o.out ?? (simulated ? 'runs/stats' : undefined);
      const files = dir ? await writeStatsRun(dir, stats) : [];
      process.stdout.write(o.json ? `${JSON.stringify(stats, null, 2)}\n` : statsSummary(stats));
      if (dir && !o.json) process.stdout.write(`written to ${dir}: ${files.join(', ')}\n`);
    });
}
