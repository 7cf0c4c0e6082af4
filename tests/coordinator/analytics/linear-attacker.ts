/**
 * The party who reads the answers (the coordinator, or an analyst with the API), as an attacker: it writes down every
 * linear relation the published counts of one answer obey (a total equals its parts) and solves them for the withheld
 * cells (Gauss-Jordan over the unknowns). A withheld cell it can solve for is recovered by subtraction.
 */
import {
  MISSING_CATEGORY,
  OTHER_CATEGORY,
  type CategoricalAnswer,
  type CountCell,
  type CrosstabAnswer,
  type NumericAnswer,
  type SurvivalAnswer,
} from '../../../protocol/index.js';

/** What one answer publishes: a site's signed body (plain path) or the pooled answer (secure path). */
export interface Published {
  rows: CountCell;
  numeric?: readonly NumericAnswer[] | undefined;
  categorical?: readonly CategoricalAnswer[] | undefined;
  crosstabs?: readonly CrosstabAnswer[] | undefined;
  survival?: SurvivalAnswer | undefined;
}

/** Variables (a published value, or null: withheld or never published) and relations `sum(plus) = sum(minus)`. */
export class Relations {
  readonly names: string[] = [];
  readonly values: (number | null)[] = [];
  /** Variables that are withheld cells (the others with a null value are margins nobody published). */
  readonly withheld = new Set<number>();
  readonly equations: { plus: number[]; minus: number[] }[] = [];

  cell(name: string, c: CountCell): number {
    this.names.push(name);
    this.values.push(c.suppressed ? null : c.n);
    if (c.suppressed) this.withheld.add(this.names.length - 1);
    return this.names.length - 1;
  }

  unknown(name: string): number {
    this.names.push(name);
    this.values.push(null);
    return this.names.length - 1;
  }

  equal(plus: readonly number[], minus: readonly number[]): void {
    this.equations.push({ plus: [...plus], minus: [...minus] });
  }
}

/** Every relation the published figures of one answer obey, as the attacker knows them from the format. */
export function relationsOf(a: Published): Relations {
  const r = new Relations();
  const rows = r.cell('rows', a.rows);
  for (const n of a.numeric ?? []) {
    const present = r.cell(`${n.column} present`, n.present);
    const missing = r.cell(`${n.column} missing`, n.missing);
    r.equal([present, missing], [rows]);
    r.equal(
      n.histogram.map((c, i) => r.cell(`${n.column} bin ${i}`, c)),
      [present],
    );
  }
  const margins = new Map<string, Map<string, number>>();
  const margin = (column: string, name: string) => {
    const m = margins.get(column) ?? new Map<string, number>();
    margins.set(column, m);
    if (!m.has(name)) m.set(name, r.unknown(`${column}=${name} (unpublished margin)`));
    return m.get(name) as number;
  };
  for (const c of a.categorical ?? []) {
    const m = new Map<string, number>();
    for (const { name, count } of c.categories) m.set(name, r.cell(`${c.column}=${name}`, count));
    m.set(OTHER_CATEGORY, r.cell(`${c.column}=${OTHER_CATEGORY}`, c.other));
    m.set(MISSING_CATEGORY, r.cell(`${c.column}=${MISSING_CATEGORY}`, c.missing));
    margins.set(c.column, m);
    r.equal([...m.values()], [rows]);
  }
  for (const x of a.crosstabs ?? []) {
    const v = x.cells.map((row, i) => row.map((c, j) => r.cell(`${x.rows}=${x.rowNames[i]} x ${x.cols}=${x.colNames[j]}`, c)));
    v.forEach((row, i) => r.equal(row, [margin(x.rows, x.rowNames[i] as string)]));
    x.colNames.forEach((name, j) =>
      r.equal(
        v.map((row) => row[j] as number),
        [margin(x.cols, name)],
      ),
    );
    r.equal(v.flat(), [rows]);
  }
  if (a.survival) {
    const sizes = a.survival.groups.map((g) => r.cell(`survival ${g.group} at risk at the first step`, g.atRisk[0] as CountCell));
    r.equal([...sizes, r.cell('survival excluded', a.survival.excluded)], [rows]);
  }
  return r;
}

/**
 * The withheld cells the relations determine, by name, with their recovered value: Gauss-Jordan over the unknown
 * variables (published values moved to the right-hand side); an unknown is determined when a reduced row holds it alone.
 * @example recoverWithheld(relationsOf(body)) // Map { 'survival excluded' => 3 }
 */
export function recoverWithheld(r: Relations): Map<string, number> {
  const unknown = r.values.flatMap((v, i) => (v === null ? [i] : []));
  const column = new Map(unknown.map((v, j) => [v, j]));
  const rows = r.equations.map(({ plus, minus }) => {
    const coef = new Array<number>(unknown.length + 1).fill(0);
    const add = (v: number, s: number) => {
      const j = column.get(v);
      if (j === undefined) coef[unknown.length] = (coef[unknown.length] as number) - s * (r.values[v] as number);
      else coef[j] = (coef[j] as number) + s;
    };
    plus.forEach((v) => add(v, 1));
    minus.forEach((v) => add(v, -1));
    return coef;
  });
  let lead = 0;
  for (let j = 0; j < unknown.length && lead < rows.length; j++) {
    let pivot = lead;
    for (let i = lead + 1; i < rows.length; i++)
      if (Math.abs((rows[i] as number[])[j] as number) > Math.abs((rows[pivot] as number[])[j] as number)) pivot = i;
    if (Math.abs((rows[pivot] as number[])[j] as number) < 1e-9) continue;
    [rows[lead], rows[pivot]] = [rows[pivot] as number[], rows[lead] as number[]];
    const p = rows[lead] as number[];
    const scale = p[j] as number;
    for (let c = 0; c < p.length; c++) p[c] = (p[c] as number) / scale;
    rows.forEach((row, i) => {
      const f = row[j] as number;
      if (i !== lead && Math.abs(f) > 1e-12) for (let c = 0; c < row.length; c++) row[c] = (row[c] as number) - f * (p[c] as number);
    });
    lead++;
  }
  const found = new Map<string, number>();
  for (const row of rows) {
    const nonZero = unknown.map((_, j) => j).filter((j) => Math.abs(row[j] as number) > 1e-9);
    if (nonZero.length !== 1) continue;
    const v = unknown[nonZero[0] as number] as number;
    if (r.withheld.has(v))
      found.set(r.names[v] as string, Math.round((row[unknown.length] as number) / (row[nonZero[0] as number] as number)));
  }
  return found;
}
