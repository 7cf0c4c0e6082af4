/** The reader's arithmetic, done first: which withheld cells the published lines still determine exactly. */

/**
 * A published relation between cells: a plain list's sum is published elsewhere (a row count, a margin), and
 * `{ total, parts }` says that cell `total` (published or withheld like any other) is the sum of the `parts`.
 */
export type Line = readonly number[] | { readonly total: number; readonly parts: readonly number[] };

/** Every cell a line relates. */
export function lineCells(line: Line): readonly number[] {
  return 'total' in line ? [line.total, ...line.parts] : line;
}

/**
 * The withheld cells that someone reading the published cells can solve for: each line is a linear equation (a plain
 * line's cells sum to a known total; a `{ total, parts }` line's total minus its parts is 0), the published cells move
 * to the right-hand side, and Gauss-Jordan elimination over the withheld cells leaves a cell determined when one
 * reduced equation holds it alone.
 * @example determinedCells([true, false, true], [[0, 1, 2], [0, 1]]) // [0, 2]: x0 = T1 - c1, then x2 = T0 - c1 - x0
 */
export function determinedCells(hidden: readonly boolean[], lines: readonly Line[]): number[] {
  const unknown = hidden.flatMap((h, i) => (h ? [i] : []));
  if (unknown.length === 0) return [];
  const column = new Map(unknown.map((cell, j) => [cell, j]));
  const rows = lines.map((line) => {
    const row = new Array<number>(unknown.length).fill(0);
    const add = (cell: number, sign: number) => {
      const j = column.get(cell);
      if (j !== undefined) row[j] = (row[j] as number) + sign;
    };
    if ('total' in line) {
      add(line.total, -1);
      line.parts.forEach((cell) => add(cell, 1));
    } else line.forEach((cell) => add(cell, 1));
    return row;
  });
  let lead = 0;
  for (let j = 0; j < unknown.length && lead < rows.length; j++) {
    let pivot = lead;
    for (let i = lead + 1; i < rows.length; i++) if (Math.abs(rows[i]?.[j] as number) > Math.abs(rows[pivot]?.[j] as number)) pivot = i;
    const p = rows[pivot] as number[];
    if (Math.abs(p[j] as number) < 1e-9) continue;
    rows[pivot] = rows[lead] as number[];
    rows[lead] = p;
    const scale = p[j] as number;
    for (let c = 0; c < p.length; c++) p[c] = (p[c] as number) / scale;
    for (const row of rows) {
      const f = row[j] as number;
      if (row !== p && Math.abs(f) > 1e-12) for (let c = 0; c < row.length; c++) row[c] = (row[c] as number) - f * (p[c] as number);
    }
    lead++;
  }
  const determined: number[] = [];
  for (const row of rows.slice(0, lead)) {
    const held = row.flatMap((v, j) => (Math.abs(v) > 1e-9 ? [j] : []));
    if (held.length === 1) determined.push(unknown[held[0] as number] as number);
  }
  return determined.sort((a, b) => a - b);
}
