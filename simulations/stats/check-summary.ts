/** `cohort stats --check` as a table: per site, each dictionary column's status and its cells per rule (withheld below k). */
import type { StatsCheckResult } from '../../protocol/index.js';

const HEAD = ['column', 'status', 'fits', 'not-number', 'below-min', 'above-max', 'unlisted', 'missing', 'note'];
const KEYS = ['fits', 'notNumber', 'belowMin', 'aboveMax', 'unlisted', 'missing'] as const;

/**
 * Aligned text: one block per site (rows, k, a line per column, the columns the dictionary does not name), then refusals.
 * @example process.stdout.write(checkSummary(result))
 */
export function checkSummary(r: StatsCheckResult): string {
  const out: string[] = [];
  for (const [site, s] of Object.entries(r.sites)) {
    const differing = s.columns.filter((c) => c.status !== 'ok').length;
    out.push(
      `${site}: ${s.suppressed ? '<k' : s.rows} rows, k=${s.minCellSize}: ${differing === 0 ? 'fits the dictionary' : `${differing} column(s) differ`}`,
    );
    const rows = s.columns.map((c) => [
      c.name,
      c.status,
      ...KEYS.map((k) => (c.cells[k].suppressed ? '<k' : String(c.cells[k].n))),
      [
        ...(c.missingNotAllowed ? ['missing cells not allowed'] : []),
        ...(c.unlistedValues.length ? [`unlisted: ${c.unlistedValues.join(', ')}`] : []),
      ].join('; '),
    ]);
    const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
    for (const row of [HEAD, ...rows]) out.push(`  ${row.map((c, i) => c.padEnd(widths[i] as number)).join('  ')}`.trimEnd());
    if (s.extra.length > 0) out.push(`  not in the dictionary: ${s.extra.join(', ')}`);
  }
  for (const [site, e] of Object.entries(r.refused)) out.push(`${site}: not checked: ${e.code} ${e.message}`);
  return `${out.join('\n')}\n`;
}
