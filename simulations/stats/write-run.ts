/** Writes a stats run folder: stats.json, one histogram SVG per numeric column, survival.svg; and a short text summary. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NumericResult, StatsResult } from '../../protocol/index.js';
import { histogramSvg, survivalSvg } from '../report/stats-plots.js';

/**
 * Writes the files and returns their names.
 * @example await writeStatsRun('runs/stats', result) // ['stats.json', 'hist-age.svg', 'survival.svg']
 */
export async function writeStatsRun(dir: string, stats: StatsResult): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files = ['stats.json'];
  writeFileSync(join(dir, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
  for (const [column, r] of Object.entries(stats.columns)) {
    if (r.kind !== 'numeric') continue;
    const name = `hist-${column.replace(/[^A-Za-z0-9._-]+/g, '_')}.svg`;
    writeFileSync(join(dir, name), await histogramSvg(column, r));
    files.push(name);
  }
  if (stats.survival) {
    writeFileSync(join(dir, 'survival.svg'), await survivalSvg(stats.survival));
    files.push('survival.svg');
  }
  return files;
}

const fmt = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? '-' : v.toFixed(digits));

/**
 * A few lines per site and per column for the terminal.
 * @example process.stdout.write(statsSummary(result))
 */
export function statsSummary(s: StatsResult): string {
  const lines = [
    `sites answered: ${
      Object.entries(s.sites)
        .map(
          ([id, v]) =>
            `${id}${s.siteNames?.[id] && s.siteNames[id] !== id ? ` (${s.siteNames[id]})` : ''} ${v.suppressed ? '<k' : v.rows} rows, k=${s.minCellSize[id]}`,
        )
        .join('; ') || 'none'
    }`,
  ];
  for (const [id, r] of Object.entries(s.refused)) lines.push(`not answered: ${id}: ${r.code} ${r.message}`);
  for (const [column, r] of Object.entries(s.columns)) {
    const tail = r.incomplete ? `  [lacks withheld cells of ${r.incompleteSites?.join(', ')}]` : '';
    if (r.kind === 'numeric') {
      const q = (r as NumericResult).quantiles.map((x) => `p${Math.round(x.p * 100)} ${fmt(x.value)}±${fmt(x.errorBound)}`).join(', ');
      lines.push(
        `${column}: n ${r.count}, missing ${r.missing}, mean ${fmt(r.mean)}, sd ${fmt(r.std)}, range ${fmt(r.min)}..${fmt(r.max)}, ${q}${tail}`,
      );
    } else
      lines.push(
        `${column}: n ${r.count}, missing ${r.missing}, ${Object.entries(r.counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}${tail}`,
      );
  }
  if (s.survival?.logRank)
    lines.push(
      `log-rank (${s.survival.group}): chi-square ${s.survival.logRank.chiSquare.toFixed(3)}, df ${s.survival.logRank.df}, p ${s.survival.logRank.pValue.toPrecision(3)}`,
    );
  for (const [id, d] of Object.entries(s.dp ?? {}))
    lines.push(`dp: ${id} added Gaussian noise, epsilon ${d.epsilon} (delta ${d.delta}), sigma ${d.sigma.toFixed(2)} per count`);
  if (s.secure)
    lines.push(
      `secure aggregation: ${s.secure.rows} rows pooled over ${s.secure.sites.join(', ')} (attempts ${s.secure.attempts}); pooled cells below k=${s.secure.minCellSize} withheld`,
    );
  for (const note of s.notes ?? []) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}
