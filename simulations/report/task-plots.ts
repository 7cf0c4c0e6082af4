/** The task plots of a run folder: a binary model's calibration and a regression model's predicted-against-true values. */
import type { TopLevelSpec } from 'vega-lite';
import type { CalibrationBin } from '../../node-agent/train/metrics.js';
import { renderSvg } from './plot.js';

const PANEL = { width: 380, height: 320 };
const POINT_COLOR = '#1f77b4';
const REFERENCE_COLOR = '#555555';
const CONFIG = { view: { stroke: '#cccccc' }, axis: { titleFontSize: 12, labelFontSize: 11, gridColor: '#eeeeee' } };

/**
 * A reliability diagram: each non-empty bin's mean predicted probability against its observed positive rate (point
 * size: rows in the bin), with the diagonal of perfect calibration dashed.
 * @example writeFileSync('calibration.svg', await calibrationSvg(calibrationBins(p, y), 'test set, 400 rows'))
 */
export async function calibrationSvg(bins: readonly CalibrationBin[], title: string): Promise<string> {
  const points = bins
    .filter((b) => b.count > 0)
    .map((b) => ({ predicted: b.meanPredicted, observed: b.observed, rows: b.count, bin: `${b.from.toFixed(1)}-${b.to.toFixed(1)}` }));
  const unit = { type: 'quantitative' as const, scale: { domain: [0, 1], nice: false } };
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 15, anchor: 'middle', offset: 14 },
    background: 'white',
    padding: 12,
    config: CONFIG,
    ...PANEL,
    layer: [
      {
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [6, 4], color: REFERENCE_COLOR, strokeWidth: 1.5 },
        encoding: {
          x: { field: 'x', ...unit, title: 'Mean predicted probability' },
          y: { field: 'y', ...unit, title: 'Observed positive rate' },
        },
      },
      {
        data: { values: points },
        mark: { type: 'line', point: { filled: true, color: POINT_COLOR }, color: POINT_COLOR },
        encoding: {
          x: { field: 'predicted', ...unit },
          y: { field: 'observed', ...unit },
          size: { field: 'rows', type: 'quantitative', title: 'rows' },
        },
      },
    ],
  } as unknown as TopLevelSpec);
}

/**
 * Predicted against true values of one regression target, with the identity line dashed.
 * @example writeFileSync('predicted-vs-true.svg', await predictedVsTrueSvg(pred, truth, 'y'))
 */
export async function predictedVsTrueSvg(
  predicted: ArrayLike<number>,
  truth: ArrayLike<number>,
  target: string,
  title: string,
): Promise<string> {
  const values = Array.from({ length: predicted.length }, (_, i) => ({
    truth: truth[i] as number,
    predicted: predicted[i] as number,
  })).filter((d) => Number.isFinite(d.predicted) && Number.isFinite(d.truth));
  const all = values.flatMap((d) => [d.truth, d.predicted]);
  const domain = all.length > 0 ? [Math.min(...all), Math.max(...all)] : [0, 1];
  const axis = { type: 'quantitative' as const, scale: { domain, nice: true, zero: false } };
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 15, anchor: 'middle', offset: 14 },
    background: 'white',
    padding: 12,
    config: CONFIG,
    ...PANEL,
    layer: [
      {
        data: {
          values: [
            { x: domain[0], y: domain[0] },
            { x: domain[1], y: domain[1] },
          ],
        },
        mark: { type: 'line', strokeDash: [6, 4], color: REFERENCE_COLOR, strokeWidth: 1.5 },
        encoding: { x: { field: 'x', ...axis, title: `True ${target}` }, y: { field: 'y', ...axis, title: `Predicted ${target}` } },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 20, opacity: 0.6, color: POINT_COLOR },
        encoding: { x: { field: 'truth', ...axis }, y: { field: 'predicted', ...axis } },
      },
    ],
  } as unknown as TopLevelSpec);
}
