/** The forward pass of a spec's model in plain TypeScript over Float32Arrays: inference without a training framework. */
import { CohortError, layersOf, tensorLayout, type ModelSpec, type NamedTensor } from '../../protocol/index.js';

/** A feature map: `rows` samples of `height × width × channels` values, channels last (as TensorFlow.js lays them out). */
interface Activations {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

function weightsByName(spec: ModelSpec, tensors: readonly NamedTensor[]): Map<string, Float32Array> {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const out = new Map<string, Float32Array>();
  for (const layout of tensorLayout(spec)) {
    const t = byName.get(layout.name);
    const size = layout.shape.reduce((a, b) => a * b, 1);
    if (!t || t.data.length !== size || t.shape.join() !== layout.shape.join()) {
      throw new CohortError('SHAPE_MISMATCH', `weight ${layout.name}: the spec needs shape [${layout.shape.join(', ')}], the model has ${t ? `[${t.shape.join(', ')}]` : 'none'}`);
    }
    out.set(layout.name, t.data);
  }
  return out;
}

/** y = x·W + b for every row, then relu (in place) or a numerically stable softmax per row. */
function dense(x: Float32Array, rows: number, inputs: number, kernel: Float32Array, bias: Float32Array, activation: 'relu' | 'softmax'): Float32Array {
  const units = bias.length;
  const out = new Float32Array(rows * units);
  const acc = new Float64Array(units);
  for (let r = 0; r < rows; r++) {
    acc.set(bias);
    const row = r * inputs;
    for (let i = 0; i < inputs; i++) {
      const v = x[row + i] as number;
      if (v === 0) continue;
      const k = i * units;
      for (let u = 0; u < units; u++) acc[u] = (acc[u] as number) + v * (kernel[k + u] as number);
    }
    if (activation === 'relu') {
      for (let u = 0; u < units; u++) out[r * units + u] = Math.max(0, acc[u] as number);
    } else {
      softmaxInto(acc, out, r * units, r);
    }
  }
  return out;
}

/**
 * Softmax by log-sum-exp, p_u = exp(z_u - m - ln Σ exp(z_v - m)) with m the largest logit, so no logit overflows
 * exp; logits at +Infinity share the mass equally. Throws NON_FINITE (naming the row) for a NaN logit.
 */
function softmaxInto(z: Float64Array, out: Float32Array, at: number, row: number): void {
  let max = -Infinity;
  for (const v of z) {
    if (Number.isNaN(v)) throw new CohortError('NON_FINITE', `rows[${row}]: the model's output is not a number (its weights or this input are out of range)`);
    max = Math.max(max, v);
  }
  if (!Number.isFinite(max)) {
    const top = z.filter((v) => v === max).length;
    z.forEach((v, u) => (out[at + u] = v === max ? 1 / top : 0));
    return;
  }
  let sum = 0;
  for (const v of z) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  z.forEach((v, u) => (out[at + u] = Math.exp(v - lse)));
}

/** A square `k × k` convolution, stride 1, 'same' padding (TensorFlow's: the extra pad goes after), then relu. */
function conv(a: Activations, rows: number, k: number, kernel: Float32Array, bias: Float32Array): Activations {
  const { height: h, width: w, channels: cin } = a;
  const cout = bias.length;
  const padBefore = Math.floor((k - 1) / 2);
  const out = new Float32Array(rows * h * w * cout);
  const acc = new Float64Array(cout);
  for (let r = 0; r < rows; r++) {
    const base = r * h * w * cin;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        acc.set(bias);
        for (let ky = 0; ky < k; ky++) {
          const iy = y + ky - padBefore;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = x + kx - padBefore;
            if (ix < 0 || ix >= w) continue;
            const pixel = base + (iy * w + ix) * cin;
            const kBase = (ky * k + kx) * cin * cout;
            for (let c = 0; c < cin; c++) {
              const v = a.data[pixel + c] as number;
              if (v === 0) continue;
              const kc = kBase + c * cout;
              for (let o = 0; o < cout; o++) acc[o] = (acc[o] as number) + v * (kernel[kc + o] as number);
            }
          }
        }
        const at = ((r * h + y) * w + x) * cout;
        for (let o = 0; o < cout; o++) out[at + o] = Math.max(0, acc[o] as number);
      }
    }
  }
  return { data: out, height: h, width: w, channels: cout };
}

/** `size × size` max pooling with stride `size`, 'valid' padding. */
function maxPool(a: Activations, rows: number, size: number): Activations {
  const { height: h, width: w, channels: c } = a;
  const ph = Math.floor(h / size);
  const pw = Math.floor(w / size);
  const out = new Float32Array(rows * ph * pw * c);
  for (let r = 0; r < rows; r++) {
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        for (let ch = 0; ch < c; ch++) {
          let max = -Infinity;
          for (let dy = 0; dy < size; dy++) {
            for (let dx = 0; dx < size; dx++) max = Math.max(max, a.data[((r * h + y * size + dy) * w + x * size + dx) * c + ch] as number);
          }
          out[((r * ph + y) * pw + x) * c + ch] = max;
        }
      }
    }
  }
  return { data: out, height: ph, width: pw, channels: c };
}

/**
 * Class probabilities (`rows × classes`, row-major) of the model `spec` describes, with weights
 * named as `tensorLayout(spec)`, for `rows` inputs laid out as `spec.inputShape` (already
 * normalised). Dense, conv ('same', relu), 2×2 max-pool and flatten layers, as the agent's
 * TensorFlow.js model computes them.
 * @example const p = forward(spec, decoded.tensors, x, 1); // p.length === spec.classes.length
 */
export function forward(spec: ModelSpec, tensors: readonly NamedTensor[], x: Float32Array, rows: number): Float32Array {
  if (spec.arch === 'layers') throw new CohortError('BAD_REQUEST', "the coordinator's forward pass runs the presets only; a user model ('layers') is served with TF.js");
  const width = spec.inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== rows * width) throw new CohortError('BAD_REQUEST', `expected ${rows} rows of ${width} values, got ${x.length} values`);
  const weights = weightsByName(spec, tensors);
  const [h = width, w = 1, c = 1] = spec.arch === 'cnn' ? spec.inputShape : [];
  let a: Activations = spec.arch === 'cnn' ? { data: x, height: h, width: w, channels: c } : { data: x, height: 1, width: 1, channels: width };
  for (const layer of layersOf(spec)) {
    if (layer.kind === 'dense') {
      const data = dense(a.data, rows, layer.inputUnits, weights.get(`${layer.name}/kernel`) as Float32Array, weights.get(`${layer.name}/bias`) as Float32Array, layer.activation);
      a = { data, height: 1, width: 1, channels: layer.units };
    } else if (layer.kind === 'conv') {
      a = conv(a, rows, layer.kernel, weights.get(`${layer.name}/kernel`) as Float32Array, weights.get(`${layer.name}/bias`) as Float32Array);
    } else if (layer.kind === 'pool') {
      a = maxPool(a, rows, layer.size);
    } else {
      a = { data: a.data, height: 1, width: 1, channels: a.height * a.width * a.channels };
    }
  }
  return a.data;
}
