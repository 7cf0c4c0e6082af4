/** `cohort model inspect`: the layers, parameters and per-round upload of a published version or a TF.js Layers model file. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTensors, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import { generateIdentity, sealEnvelope } from '../../crypto/index.js';
import type { LayerSummary } from '../train/index.js';

/** Reads a published model file (model-command's `readPublishedModel`, with or without a key). */
export type PublishedReader = (file: string) => { spec: ModelSpec; tensors: NamedTensor[]; meta: Record<string, unknown> };

export interface ModelInspection {
  source: string;
  kind: 'published' | 'layers-model';
  federation?: string;
  version?: number;
  layers: LayerSummary[];
  parameters: number;
  trainableParameters: number;
  /** What a site uploads each round: the travelling tensors' count, their raw bytes, the encoded update frame and the sealed envelope. */
  perRound: { tensors: number; parameters: number; tensorBytes: number; updateBytes: number; envelopeBytes: number };
}

/**
 * The file a target names: a path as given, or VERSION under `<dataDir>/models/<federation>/v<VERSION>.cohort`
 * (the federation may be left out when the data dir holds one).
 * @example modelTarget('3', { dataDir: 'run' }) // 'run/models/simulation/v3.cohort'
 */
export function modelTarget(target: string, o: { federation?: string; dataDir?: string }): string {
  if (!/^\d+$/.test(target) || existsSync(target)) return target;
  const dataDir = o.dataDir ?? '.cohort/coordinator';
  const models = join(dataDir, 'models');
  let federation = o.federation;
  if (!federation) {
    const feds = existsSync(models)
      ? readdirSync(models, { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => d.name)
      : [];
    if (feds.length !== 1)
      throw new Error(`name the federation with --federation (${models} holds ${feds.length === 0 ? 'no federation' : feds.join(', ')})`);
    federation = feds[0];
  }
  const file = join(models, federation as string, `v${target}.cohort`);
  if (!existsSync(file)) throw new Error(`no model v${target} of federation ${federation} under ${dataDir} (looked for ${file})`);
  return file;
}

/** The bytes of one update carrying `tensors`: the codec's frame with an agent's metadata, sealed as agents seal it. */
function uploadBytes(tensors: NamedTensor[]): ModelInspection['perRound'] {
  const meta = {
    kind: 'weights',
    federation: 'federation',
    round: 1,
    institution: 'institution',
    baseVersion: 0,
    samples: 1000,
    metrics: { trainLoss: 0.5, trainAccuracy: 0.5, epochs: 1, durationMs: 1000 },
  };
  const frame = encodeTensors(tensors, meta);
  const sender = generateIdentity('site');
  const coordinator = generateIdentity('coordinator');
  const envelope = sealEnvelope({
    payload: frame,
    context: { federation: 'federation', round: 1, institution: 'site' },
    recipientBoxPublicKey: coordinator.boxPublicKey,
    senderSignSecretKey: sender.signSecretKey,
  });
  const parameters = tensors.reduce((n, t) => n + t.data.length, 0);
  return { tensors: tensors.length, parameters, tensorBytes: parameters * 4, updateBytes: frame.length, envelopeBytes: envelope.length };
}

/**
 * Inspects a published model file (.cohort: the model its spec describes, holding the file's tensors, all of which
 * travel) or a TF.js Layers model.json (trainable weights and trainable BatchNormalization statistics travel).
 * @example const report = await inspectModel('run/models/simulation/v1.cohort', (f) => readPublishedModel(f)); report.trainableParameters
 */
export async function inspectModel(file: string, readPublished: PublishedReader): Promise<ModelInspection> {
  const { buildServingModel, readLayersFile, readUserModel, selectBackend, summarizeModel } = await import('../train/index.js');
  const { tf } = await selectBackend('cpu', () => undefined);
  if (file.endsWith('.json')) {
    // What travels is what a federation would send: the 'trained' tensors of the model's roles (docs/models.md).
    const { initial } = await readUserModel(tf, file);
    const { model } = await readLayersFile(tf, file);
    try {
      return { source: file, kind: 'layers-model', ...summarizeModel(model), perRound: uploadBytes(initial) };
    } finally {
      model.dispose();
    }
  }
  const published = readPublished(file);
  const model = await buildServingModel(tf, published.spec, published.tensors);
  try {
    const { federation, version } = published.meta;
    return {
      source: file,
      kind: 'published',
      ...(typeof federation === 'string' ? { federation } : {}),
      ...(typeof version === 'number' ? { version } : {}),
      ...summarizeModel(model),
      perRound: uploadBytes(published.tensors),
    };
  } finally {
    model.dispose();
  }
}

const n = (v: number): string => v.toLocaleString('en');
const shape = (s: LayerSummary['outputShape']): string => JSON.stringify(s).replace(/null/g, 'N').replace(/,/g, ', ');

/**
 * The inspection as a table: one line per layer, then the totals and the per-round upload.
 * @example process.stdout.write(formatInspection(await inspectModel(file)))
 */
export function formatInspection(r: ModelInspection): string {
  const rows = [
    ['layer', 'class', 'output shape', 'parameters', 'trainable'],
    ...r.layers.map((l) => [
      l.name,
      l.className,
      shape(l.outputShape),
      n(l.parameters),
      l.parameters === 0
        ? '-'
        : l.trainableParameters === l.parameters
          ? 'yes'
          : l.trainableParameters === 0
            ? 'no'
            : n(l.trainableParameters),
    ]),
  ];
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((row) => row[j]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, j) => (j === 3 ? cell.padStart(widths[j]!) : cell.padEnd(widths[j]!)))
      .join('  ')
      .trimEnd(),
  );
  const title = r.kind === 'published' ? `${r.source}: ${r.federation ?? '?'} v${r.version ?? '?'}` : `${r.source}: TF.js Layers model`;
  const p = r.perRound;
  return [
    title,
    ...lines,
    `parameters: ${n(r.parameters)} (trainable ${n(r.trainableParameters)}, frozen ${n(r.parameters - r.trainableParameters)})`,
    `a site sends per round: ${n(p.envelopeBytes)} bytes sealed (update frame ${n(p.updateBytes)} bytes: ${p.tensors} tensors, ${n(p.parameters)} float32 values = ${n(p.tensorBytes)} bytes)`,
    '',
  ].join('\n');
}
