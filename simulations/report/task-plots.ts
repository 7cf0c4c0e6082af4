/** The task plots of a run folder: a binary model's calibration and a regression model's predicted-against-true values. */
import type { TopLevelSpec } from 'vega-lite';
import type { CalibrationBin } from '../../node-agent/train/metrics.js';
import { renderSvg } from './plot.js';

const PANEL = { width: 380, height: 320 };
const POINT_COLOR = '#1f77b4';
const REFERENCE_COLOR = '#555555';
const CONFIG = { view: { stroke: '#cccccc' }, axis: { titleFontSize: 12, labelFontSize: 11, gridColor: '#eeeeee' } };

type Axis = { type: 'quantitative'; scale: Record<string, unknown> };

/**
 * Both plots' frame: a titled panel whose first layer is the dashed identity line from `lo` to `hi` (perfect
 * calibration, or prediction equal to truth), under the given layer of points.
 */
function identityPlot(title: string, range: { lo: number; hi: number; axis: Axis; x: string; y: string }, points: object): Promise<string> {
  const { lo, hi, axis } = range;
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
            { x: lo, y: lo },
            { x: hi, y: hi },
          ],
        },
        mark: { type: 'line', strokeDash: [6, 4], color: REFERENCE_COLOR, strokeWidth: 1.5 },
        encoding: { x: { field: 'x', ...axis, title: range.x }, y: { field: 'y', ...axis, title: range.y } },
      },
      points,
    ],
  } as unknown as TopLevelSpec);
}

/**
 * A reliability diagram: each non-empty bin's mean predicted probability against its observed positive rate (point
 * size: rows in the bin), with the diagonal of perfect calibration dashed.
 * @example writeFileSync('calibration.svg', await calibrationSvg(calibrationBins(p, y), 'test set, 400 rows'))
 */
export async function calibrationSvg(bins: readonly CalibrationBin[], title: string): Promise<string> {
  const points = bins
    .filter((b) => b.count > 0)
    .map((b) => ({ predicted: b.meanPredicted, observed: b.observed, rows: b.count, bin: `${b.from.toFixed(1)}-${b.to.toFixed(1)}` }));
  const unit: Axis = { type: 'quantitative', scale: { domain: [0, 1], nice: false } };
  return identityPlot(
    title,
    { lo: 0, hi: 1, axis: unit, x: 'Mean predicted probability', y: 'Observed positive rate' },
    {
      data: { values: points },
      mark: { type: 'line', point: { filled: true, color: POINT_COLOR }, color: POINT_COLOR },
      encoding: {
        x: { field: 'predicted', ...unit },
        y: { field: 'observed', ...unit },
        size: { field: 'rows', type: 'quantitative', title: 'rows' },
      },
    },
  );
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
  const axis: Axis = { type: 'quantitative', scale: { domain, nice: true, zero: false } };
  const [lo, hi] = domain as [number, number];
  return identityPlot(
    title,
    { lo, hi, axis, x: `True ${target}`, y: `Predicted ${target}` },
    {
      data: { values },
      mark: { type: 'point', filled: true, size: 20, opacity: 0.6, color: POINT_COLOR },
      encoding: { x: { field: 'truth', ...axis }, y: { field: 'predicted', ...axis } },
    },
  );
}
