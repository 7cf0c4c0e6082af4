/** Where an agent's private rows come from: the MNIST digits (simulation) or a site's CSV export. */
import { CohortError, type ModelSpec } from '../protocol/index.js';
import { loadCsv, loadMnist, partition, selectRows, type Dataset } from './data/index.js';

/** Loads the site's rows in the layout a model spec expects. Nothing here leaves the agent. */
export interface DataSource {
  readonly description: string;
  load(spec: ModelSpec): Dataset;
}

/**
 * The MNIST digits shipped with the `mnist` package, optionally only some rows (a simulated site's slice).
 * @example mnistSource([0, 5, 9]).load(spec).n // 3
 */
export function mnistSource(rows?: readonly number[]): DataSource {
  return {
    description: rows ? `mnist (${rows.length} rows)` : 'mnist (all 10,000 rows)',
    load(spec) {
      const all = loadMnist();
      const ds = rows ? selectRows(all, rows) : all;
      if (spec.classes.join() !== ds.classes.join()) {
        throw new CohortError('SHAPE_MISMATCH', `the federation's classes (${spec.classes.join(', ')}) are not MNIST's digits`);
      }
      return spec.arch === 'cnn' ? { ...ds, inputShape: [28, 28, 1] } : ds;
    },
  };
}

/**
 * A CSV file with a header and a named label column; the spec's feature names choose and order the columns.
 * @example csvSource('/data/export.csv', 'diagnosis', rows)
 */
export function csvSource(path: string, label: string, rows?: readonly number[]): DataSource {
  return {
    description: `csv ${path} (label ${label}${rows ? `, ${rows.length} rows` : ''})`,
    load(spec) {
      const ds = loadCsv(path, { label, features: spec.features, classes: spec.classes });
      return rows ? selectRows(ds, rows) : ds;
    },
  };
}

/**
 * Parses `mnist`, `mnist:K/N` (the K-th of N disjoint, seeded IID slices, for demos with several
 * sites on one machine) or `csv:PATH` (needs `label`).
 * @example parseDataSource('mnist:2/3')
 */
export function parseDataSource(text: string, label?: string): DataSource {
  if (text === 'mnist') return mnistSource();
  const slice = /^mnist:(\d+)\/(\d+)$/.exec(text);
  if (slice) {
    const [k, n] = [Number(slice[1]), Number(slice[2])];
    if (!(n >= 1 && k >= 1 && k <= n)) throw new Error(`bad MNIST slice ${text}: use mnist:K/N with 1 <= K <= N`);
    const parts = partition(loadMnist().y, n, { kind: 'iid' }, 0);
    return mnistSource(parts[k - 1]);
  }
  if (text.startsWith('csv:')) {
    if (!label) throw new Error('a csv data source needs --label COLUMN');
    return csvSource(text.slice(4), label);
  }
  throw new Error(`unknown data source "${text}": use mnist, mnist:K/N or csv:PATH`);
}
