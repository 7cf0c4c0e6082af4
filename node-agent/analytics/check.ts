/** `cohort stats --check` at the site: its columns against the signed study's data dictionary, counts suppressed at k. */
import { isMissingToken, protectCells, type DictionaryColumn, type StatsCheck, type StatsCheckColumn } from '../../protocol/index.js';
import { numericCell } from './site-counts.js';
import { columnCells, type Table } from './table.js';

type Kind = 'fits' | 'notNumber' | 'belowMin' | 'aboveMax' | 'unlisted' | 'missing';
const KINDS: Kind[] = ['fits', 'notNumber', 'belowMin', 'aboveMax', 'unlisted', 'missing'];

/** Which rule a present cell breaks, or 'fits'. */
function classify(c: DictionaryColumn, cell: string): Kind {
  if (c.type === 'number') {
    const v = numericCell(cell);
    if (v === null) return 'notNumber';
    if (c.min !== undefined && v < c.min) return 'belowMin';
    if (c.max !== undefined && v > c.max) return 'aboveMax';
    return 'fits';
  }
  const value = cell.trim();
  return c.categories.includes(value) || (c.other ?? []).includes(value) || c.unlisted === 'other' ? 'fits' : 'unlisted';
}

/**
 * One dictionary column at this site: the cells per rule as one line whose total (the row count) is published, so a
 * count below k and enough others are withheld; unlisted category values named only when at least k rows hold them.
 * @example checkColumn(table, { name: 'age', type: 'number', min: 0, max: 120, missing: false }, 5).status // 'ok'
 */
export function checkColumn(table: Table, c: DictionaryColumn, k: number): StatsCheckColumn {
  const cells = columnCells(table, c.name);
  if (!cells) {
    const none = Object.fromEntries(KINDS.map((kind) => [kind, { n: 0 }])) as StatsCheckColumn['cells'];
    return { name: c.name, status: 'absent', cells: none, missingNotAllowed: false, unlistedValues: [] };
  }
  const raw = new Map<Kind, number>(KINDS.map((kind) => [kind, 0]));
  const unlisted = new Map<string, number>();
  for (const cell of cells) {
    const kind = isMissingToken(cell) ? 'missing' : classify(c, cell);
    raw.set(kind, (raw.get(kind) as number) + 1);
    if (kind === 'unlisted') unlisted.set(cell.trim(), (unlisted.get(cell.trim()) ?? 0) + 1);
  }
  const counts = KINDS.map((kind) => raw.get(kind) as number);
  const out = protectCells(counts, [counts.map((_, i) => i)], k);
  const missingNotAllowed = !c.missing && (raw.get('missing') as number) > 0;
  const differs = missingNotAllowed || KINDS.some((kind) => kind !== 'fits' && kind !== 'missing' && (raw.get(kind) as number) > 0);
  return {
    name: c.name,
    status: differs ? 'differs' : 'ok',
    cells: Object.fromEntries(KINDS.map((kind, i) => [kind, out[i]])) as StatsCheckColumn['cells'],
    missingNotAllowed,
    unlistedValues: [...unlisted]
      .filter(([, n]) => n >= k)
      .map(([v]) => v)
      .sort()
      .slice(0, 100),
  };
}

/**
 * Every dictionary column checked, and the columns this site holds that the dictionary does not name.
 * @example checkAgainstDictionary(table, manifest.data.dictionary, 5).columns.filter((c) => c.status !== 'ok')
 */
export function checkAgainstDictionary(table: Table, dictionary: readonly DictionaryColumn[], k: number): StatsCheck {
  const named = new Set(dictionary.map((c) => c.name));
  return { columns: dictionary.map((c) => checkColumn(table, c, k)), extra: table.header.filter((h) => !named.has(h)) };
}
