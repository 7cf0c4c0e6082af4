/** Option parsers shared by the CLI's commands: numbers that fail loudly instead of turning into NaN. */
import { existsSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parseCompression, type TrainConfig } from '../index.js';

export const int =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got "${text}"`);
    return n;
  };

export const positive = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${text}"`);
  return n;
};

export const fraction = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError(`expected a number in (0, 1], got "${text}"`);
  return n;
};

export const choice =
  <T extends string>(values: readonly T[]) =>
  (text: string): T => {
    if (!(values as readonly string[]).includes(text))
      throw new InvalidArgumentError(`expected one of ${values.join(', ')}, got "${text}"`);
    return text as T;
  };

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export const ARCHS = ['logreg', 'mlp', 'cnn'] as const;

/** `--dp-noise`, `--dp-clip` and `--dp-delta` as the rules' DP settings (both or neither of the first two). */
export function dpFromFlags(o: {
  dpNoise?: unknown;
  dpClip?: unknown;
  dpDelta?: unknown;
}): { noiseMultiplier: number; clipNorm: number; delta: number } | undefined {
  if ((o.dpNoise === undefined) !== (o.dpClip === undefined)) throw new Error('differential privacy needs both --dp-noise and --dp-clip');
  return o.dpNoise === undefined
    ? undefined
    : { noiseMultiplier: o.dpNoise as number, clipNorm: o.dpClip as number, delta: (o.dpDelta as number | undefined) ?? 1e-5 };
}

/** `--secagg [graph]`, `--secagg-threat-model`, `--secagg-threshold` and `--secagg-clip` as the rules' secure-aggregation settings. */
export function secaggFromFlags(o: {
  secagg?: unknown;
  secaggThreatModel?: unknown;
  secaggThreshold?: unknown;
  secaggClip?: unknown;
}):
  | { graph: 'complete' | 'harary'; threatModel: 'malicious' | 'semi-honest'; threshold?: number; clipNorm: number; stepTimeoutMs: number }
  | undefined {
  if (o.secagg === undefined || o.secagg === false) {
    if (o.secaggThreshold !== undefined || o.secaggClip !== undefined || o.secaggThreatModel !== undefined)
      throw new Error('--secagg-threshold, --secagg-threat-model and --secagg-clip need --secagg');
    return undefined;
  }
  const graph = o.secagg === true ? 'complete' : String(o.secagg);
  if (graph !== 'complete' && graph !== 'harary')
    throw new Error(`--secagg takes complete (Bonawitz et al.) or harary (SecAgg+), not ${graph}`);
  const threshold = o.secaggThreshold as number | undefined;
  if (threshold !== undefined && !(threshold > 0.5 && threshold <= 1))
    throw new Error(`--secagg-threshold is a fraction of the participants above one half, up to 1; got ${threshold}`);
  const threatModel = o.secaggThreatModel === undefined ? 'malicious' : String(o.secaggThreatModel);
  if (threatModel !== 'malicious' && threatModel !== 'semi-honest')
    throw new Error(`--secagg-threat-model takes malicious (t > 2/3) or semi-honest (t > 1/2), not ${threatModel}`);
  return {
    graph,
    threatModel,
    ...(threshold !== undefined ? { threshold } : {}),
    clipNorm: (o.secaggClip as number | undefined) ?? 100,
    stepTimeoutMs: 30_000,
  };
}

/** `--dp-adaptive-clip [quantile]` as the rules' adaptive-clipping settings (needs DP). */
export function adaptiveFromFlags(o: {
  dpAdaptiveClip?: unknown;
  dpNoise?: unknown;
}): { targetQuantile: number; learningRate: number } | undefined {
  if (o.dpAdaptiveClip === undefined || o.dpAdaptiveClip === false) return undefined;
  if (o.dpNoise === undefined) throw new Error('--dp-adaptive-clip needs --dp-noise and --dp-clip');
  const q = o.dpAdaptiveClip === true ? 0.5 : Number(o.dpAdaptiveClip);
  if (!(q >= 0 && q <= 1)) throw new Error(`--dp-adaptive-clip takes a quantile in [0, 1], got ${String(o.dpAdaptiveClip)}`);
  return { targetQuantile: q, learningRate: 0.2 };
}

/** `--missing NA,?` as a token list (the empty cell is always one); undefined when the flag is absent. */
export function missingTokens(text: unknown): string[] | undefined {
  if (text === undefined) return undefined;
  return [
    '',
    ...String(text)
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  ];
}

/** `--columns a,b` as a list of names; undefined when absent. */
export function nameList(text: unknown): string[] | undefined {
  if (text === undefined) return undefined;
  const names = String(text)
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error('expected comma-separated column names');
  return names;
}

export const TASKS = ['classification', 'binary', 'multilabel', 'regression'] as const;
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;

/** A number in [0, 1]. */
export const unitInterval = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`expected a number in [0, 1], got "${text}"`);
  return n;
};

/** Adds the task and local-training flags `simulate` and `coordinator start` share (see docs/tasks.md). */
export function withTaskFlags(cmd: Command): Command {
  return cmd
    .option('--task <task>', `what the model predicts: ${TASKS.join(' | ')} (default: inferred from the label)`, choice(TASKS))
    .option('--optimizer <name>', `local optimizer: ${OPTIMIZERS.join(' | ')} (new each round)`, choice(OPTIMIZERS))
    .option('--momentum <m>', 'momentum of --optimizer momentum (default 0.9)', unitInterval)
    .option(
      '--weight-decay <lambda>',
      'weight decay: decoupled (AdamW) with adam, an L2 term (lambda/2)·||w||² with sgd and momentum',
      unitInterval,
    )
    .option(
      '--class-weight <scheme>',
      "balanced: weight each row n / (k · n_c) by its class, from the site's own label counts",
      choice(['balanced'] as const),
    )
    .option(
      '--compress <mode>',
      'what sites send of each update (a study term): none | fp16 | int8 (stochastic rounding) | topk:FRACTION (with error feedback); see docs/performance-communication.md',
      compressionFlag,
    );
}

/** A `--compress` value, checked (protocol/compression.ts). */
function compressionFlag(text: string): string {
  try {
    parseCompression(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return text;
}

/** The training terms of `withTaskFlags` as TrainConfig fields (only those given). */
export function trainingTermsFromFlags(o: {
  optimizer?: unknown;
  momentum?: unknown;
  weightDecay?: unknown;
  classWeight?: unknown;
  compress?: unknown;
}): Pick<TrainConfig, 'optimizer' | 'momentum' | 'weightDecay' | 'classWeight' | 'compress'> {
  if (o.momentum !== undefined && o.optimizer !== 'momentum') throw new Error('--momentum needs --optimizer momentum');
  return {
    ...(o.optimizer !== undefined ? { optimizer: o.optimizer as (typeof OPTIMIZERS)[number] } : {}),
    ...(o.optimizer === 'momentum' ? { momentum: (o.momentum as number | undefined) ?? 0.9 } : {}),
    ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay as number } : {}),
    ...(o.classWeight !== undefined ? { classWeight: 'balanced' as const } : {}),
    ...(o.compress !== undefined && o.compress !== 'none' ? { compress: o.compress as string } : {}),
  };
}

/**
 * Adds the privacy flags `simulate` and `coordinator start` share: client-level DP (noise, clip, delta, adaptive clipping)
 * and secure aggregation (graph, threat model, threshold, fixed-point clip); read back with dpFromFlags,
 * adaptiveFromFlags and secaggFromFlags. See docs/privacy.md.
 * @example withPrivacyFlags(new Command('simulate')).parse(['--dp-noise', '1.1', '--dp-clip', '1'])
 */
export function withPrivacyFlags(cmd: Command): Command {
  return cmd
    .option(
      '--dp-noise <z>',
      'client-level differential privacy: noise multiplier z (Gaussian noise of std z*C on the sum of clipped updates)',
      positive,
    )
    .option('--dp-clip <c>', 'client-level differential privacy: L2 clip norm C of each update', positive)
    .option('--dp-delta <d>', 'differential privacy delta', positive, 1e-5)
    .option(
      '--dp-adaptive-clip [quantile]',
      'adaptive clipping (Andrew et al. 2021): the clip norm follows this quantile of update norms (default 0.5); --dp-clip is its start',
    )
    .option(
      '--secagg [graph]',
      'secure aggregation: the coordinator learns only the sum; graph complete (default, Bonawitz et al.) or harary (SecAgg+)',
    )
    .option(
      '--secagg-threat-model <model>',
      'secure aggregation: malicious (default; threshold above 2/3 of share holders, resists an active coordinator) or semi-honest (smallest majority)',
    )
    .option(
      '--secagg-threshold <fraction>',
      "secure aggregation: share holders needed to unmask, as a fraction above 1/2 (default and floor: the threat model's minimum)",
      positive,
    )
    .option('--secagg-clip <norm>', 'secure aggregation: L2 bound on each update for fixed-point encoding (default 100)', positive);
}

export type Preset = (typeof ARCHS)[number];

/** The depths the resnet preset builds (node-agent/train/resnet.ts). */
export type ResNetDepth = 10 | 18 | 34;

/**
 * `--model resnet[:DEPTH[xWIDTH]]`: the preset's depth and first-stage width (resnet = ResNet-18 at width 64); null for
 * another model; a malformed resnet name throws naming the forms.
 * @example parseResNet('resnet:10x8') // { depth: 10, width: 8 }
 */
export function parseResNet(text: string): { depth: ResNetDepth; width: number } | null {
  if (text === 'resnet') return { depth: 18, width: 64 };
  const m = /^resnet:(\d+)(?:x(\d+))?$/.exec(text);
  if (!m) {
    if (text.startsWith('resnet'))
      throw new Error(`--model ${text}: use resnet, resnet:DEPTH or resnet:DEPTHxWIDTH (e.g. resnet:18, resnet:10x8)`);
    return null;
  }
  const depth = Number(m[1]);
  const width = m[2] === undefined ? 64 : Number(m[2]);
  if (![10, 18, 34].includes(depth)) throw new Error(`--model ${text}: ResNet depth ${depth}; use 10, 18 or 34`);
  if (!(width >= 1 && width <= 512)) throw new Error(`--model ${text}: width ${width}; use 1 to 512 filters in the first stage`);
  return { depth: depth as ResNetDepth, width };
}

/**
 * `--model`: a preset name (logreg, mlp, cnn, resnet[:DEPTH[xWIDTH]]), or a path to a model.json (it must exist).
 * @example modelChoice('cnn') // 'cnn'; modelChoice('net/model.json') // 'net/model.json'
 */
export function modelChoice(text: string): string {
  if ((ARCHS as readonly string[]).includes(text)) return text;
  if (text.startsWith('resnet')) {
    try {
      parseResNet(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
    return text;
  }
  if (!text.endsWith('.json'))
    throw new InvalidArgumentError(
      `expected ${ARCHS.join(', ')}, resnet[:DEPTH[xWIDTH]] or a path to a TF.js Layers model.json, got "${text}"`,
    );
  if (!existsSync(text)) throw new InvalidArgumentError(`no model file ${text}`);
  return text;
}

/**
 * True when `--model` names a preset rather than a model file.
 * @example isPreset('mlp') // true
 */
export function isPreset(model: string): model is Preset {
  return (ARCHS as readonly string[]).includes(model);
}

/** The flags' values as commander (or an agent file) gives them: strings, numbers from a file, booleans. */
export interface ImageFlagValues {
  imageSize?: unknown;
  channels?: unknown;
  onBadFile?: unknown;
  maxMemoryMb?: unknown;
  augment?: unknown;
  normalize?: unknown;
  streamImages?: unknown;
}
