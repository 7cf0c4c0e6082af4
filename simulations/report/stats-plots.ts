/** SVG plots of stats.json: one histogram per numeric column, Kaplan-Meier curves with their bands (vega-lite, rendered headless). */
import type { TopLevelSpec } from 'vega-lite';
import type { NumericResult, SurvivalResult } from '../../protocol/index.js';
import { renderSvg } from './plot.js';

const FRAME = {
  background: 'white',
  padding: 12,
  config: { view: { stroke: '#cccccc' }, axis: { titleFontSize: 12, labelFontSize: 11, gridColor: '#eeeeee' } },
} as const;

/**
 * A histogram over the agreed bins (values below or above the edges are named in the subtitle), with the sites that withheld a part.
 * @example await writeFile('age.svg', await histogramSvg('age', result.columns.age))
 */
export async function histogramSvg(column: string, r: NumericResult): Promise<string> {
  const values = r.histogram.counts.map((count, i) => ({ lo: r.histogram.edges[i], hi: r.histogram.edges[i + 1], count }));
  const notes = [
    `n = ${r.count}, missing ${r.missing}`,
    r.mean !== null ? `mean ${r.mean.toFixed(2)}, sd ${r.std?.toFixed(2) ?? '-'}` : '',
    r.histogram.below + r.histogram.above > 0 ? `${r.histogram.below} below, ${r.histogram.above} above the edges` : '',
    r.incomplete ? `lacks withheld cells of ${r.incompleteSites?.join(', ')}` : '',
  ].filter(Boolean);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...FRAME,
    title: { text: column, subtitle: notes.join('; '), fontSize: 15 },
    width: 420,
    height: 240,
    data: { values },
    mark: { type: 'bar', color: '#1f77b4', stroke: 'white', strokeWidth: 0.5 },
    encoding: {
      x: { field: 'lo', type: 'quantitative', title: column, scale: { zero: false } },
      x2: { field: 'hi' },
      y: { field: 'count', type: 'quantitative', title: 'rows (pooled)' },
    },
  };
  return renderSvg(spec);
}

/**
 * Kaplan-Meier step curves per group with their 95% log-log bands, and the log-rank test in the subtitle.
 * @example await writeFile('survival.svg', await survivalSvg(result.survival))
 */
export async function survivalSvg(s: SurvivalResult): Promise<string> {
  const curves = s.group ? s.curves.filter((c) => c.group !== '(all)') : s.curves;
  const values = curves.flatMap((c) => [
    { group: c.group, time: 0, survival: 1, lower: 1, upper: 1 },
    ...c.times.map((time, j) => ({ group: c.group, time, survival: c.survival[j], lower: c.lower[j], upper: c.upper[j] })),
  ]);
  const test = s.logRank
    ? `log-rank chi-square ${s.logRank.chiSquare.toFixed(2)}, df ${s.logRank.df}, p = ${s.logRank.pValue.toPrecision(3)}`
    : '';
  const lacking = [...new Set(curves.flatMap((c) => c.incompleteSites ?? []))];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...FRAME,
    title: {
      text: `Kaplan-Meier: ${s.event} over ${s.time}${s.group ? ` by ${s.group}` : ''}`,
      subtitle: [test, lacking.length ? `lacks withheld steps of ${lacking.join(', ')}` : ''].filter(Boolean).join('; '),
      fontSize: 15,
    },
    width: 460,
    height: 280,
    data: { values },
    encoding: {
      x: { field: 'time', type: 'quantitative', title: s.time },
      color: { field: 'group', type: 'nominal', title: s.group ?? 'curve' },
    },
    layer: [
      {
        mark: { type: 'area', opacity: 0.15, interpolate: 'step-after' },
        encoding: { y: { field: 'lower', type: 'quantitative', title: 'survival', scale: { domain: [0, 1] } }, y2: { field: 'upper' } },
      },
      { mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 }, encoding: { y: { field: 'survival', type: 'quantitative' } } },
    ],
  };
  return renderSvg(spec);
}
