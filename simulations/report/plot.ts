/** Renders per-round test accuracy and loss as a static SVG (vega-lite compiled, vega rendered headless). */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { RoundRow } from './rounds-csv.js';

/** Options of `plotRoundsSvg`. */
export interface PlotOptions {
  /** Title above both panels. */
  title: string;
  /** A centrally trained model's test accuracy, drawn as a dashed horizontal rule. */
  baseline?: { accuracy: number; label: string };
  /** The left panel's metric: test accuracy (default) or, for a regression task, test R2 (mean over targets). */
  metric?: 'accuracy' | 'r2';
}

const PANEL = { width: 380, height: 260 };
const ACCURACY_COLOR = '#1f77b4';
const LOSS_COLOR = '#d62728';
const BASELINE_COLOR = '#555555';

/** Lower end of the accuracy axis: a little under the lowest value shown, clamped to [0, 0.95]. */
function accuracyFloor(values: number[]): number {
  if (values.length === 0) return 0;
  const floor = Math.floor((Math.min(...values) - 0.05) * 20) / 20; // down to a multiple of 0.05
  return Math.min(0.95, Math.max(0, floor));
}

/**
 * The vega-lite spec behind `plotRoundsSvg`: two panels side by side, sharing the round axis.
 * Save it as `.vl.json` beside the SVG to reopen the chart in a vega-lite editor.
 * @example
 * await writeFile('rounds.vl.json', JSON.stringify(roundsSpec(rows, { title: 'MNIST' }), null, 2));
 */
export function roundsSpec(rows: readonly RoundRow[], opts: PlotOptions): TopLevelSpec {
  const r2 = opts.metric === 'r2';
  const accuracy = rows
    .map((r) => ({ round: r.round, accuracy: r2 ? (r.r2 ?? Number.NaN) : r.accuracy }))
    .filter((r) => Number.isFinite(r.accuracy));
  const loss = rows.filter((r) => Number.isFinite(r.loss)).map((r) => ({ round: r.round, loss: r.loss }));
  const baseline = opts.baseline && Number.isFinite(opts.baseline.accuracy) ? opts.baseline : undefined;
  const floor = accuracyFloor([...accuracy.map((d) => d.accuracy), ...(baseline ? [baseline.accuracy] : [])]);
  const rounds = rows.map((r) => r.round);
  const roundAxis = {
    field: 'round',
    type: 'quantitative',
    title: 'Round',
    scale: { domain: rounds.length ? [Math.min(...rounds), Math.max(...rounds)] : [0, 1], nice: false },
    axis: { tickMinStep: 1, format: 'd' },
  } as const;
  const lineAndPoints = (color: string) => ({ type: 'line', point: { filled: true, size: 45, color }, color }) as const;

  const baselineLayers = baseline
    ? [
        {
          data: { values: [baseline] },
          mark: { type: 'rule', strokeDash: [6, 4], color: BASELINE_COLOR, strokeWidth: 1.5 },
          encoding: { y: { field: 'accuracy', type: 'quantitative' } },
        },
        {
          data: { values: [baseline] },
          mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, color: BASELINE_COLOR, fontSize: 11 },
          encoding: {
            x: { value: 0 },
            y: { field: 'accuracy', type: 'quantitative' },
            text: { value: `${baseline.label} (${baseline.accuracy.toFixed(4)})` },
          },
        },
      ]
    : [];

  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: opts.title, fontSize: 15, anchor: 'middle', offset: 14 },
    background: 'white',
    padding: 12,
    config: { view: { stroke: '#cccccc' }, axis: { titleFontSize: 12, labelFontSize: 11, gridColor: '#eeeeee' } },
    hconcat: [
      {
        ...PANEL,
        title: r2 ? 'Test R2 per round' : 'Test accuracy per round',
        layer: [
          {
            data: { values: accuracy },
            mark: lineAndPoints(ACCURACY_COLOR),
            encoding: {
              x: roundAxis,
              y: {
                field: 'accuracy',
                type: 'quantitative',
                title: r2 ? 'Test R2' : 'Test accuracy',
                scale: r2 ? { zero: false, nice: true } : { domain: [floor, 1], nice: false, zero: false },
                axis: { format: '.2f' },
              },
            },
          },
          ...baselineLayers,
        ],
      },
      {
        ...PANEL,
        title: 'Test loss per round',
        data: { values: loss },
        mark: lineAndPoints(LOSS_COLOR),
        encoding: {
          x: roundAxis,
          y: { field: 'loss', type: 'quantitative', title: 'Test loss', scale: { zero: false, nice: true } },
        },
      },
    ],
  } as TopLevelSpec;
}

/**
 * Draws test accuracy and test loss per round as two panels of one SVG document, with the
 * optional centralized baseline as a dashed rule on the accuracy panel. Non-finite values are left out.
 * @example
 * const svg = await plotRoundsSvg(rows, { title: 'MNIST, 5 hospitals', baseline: { accuracy: 0.97, label: 'centralized' } });
 * await writeFile('rounds.svg', svg);
 */
export async function plotRoundsSvg(rows: readonly RoundRow[], opts: PlotOptions): Promise<string> {
  return renderSvg(roundsSpec(rows, opts));
}

/**
 * Compiles a vega-lite spec and renders it headless to an SVG document.
 * @example writeFileSync('plot.svg', await renderSvg({ data: { values }, mark: 'line', encoding }))
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
