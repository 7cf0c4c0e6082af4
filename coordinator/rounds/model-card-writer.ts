/** Writes a published model's card: JSON and Markdown beside the weights, the signed JSON in the store. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parameterCount, type ModelSpec, type StudyManifest } from '../../protocol/index.js';
import { signDocument, type Identity } from '../../crypto/index.js';
import type { Store } from '../store/index.js';
import type { RuleDecision } from '../policy/index.js';
import { buildModelCard, lineage, modelCardMarkdown, type ModelCard } from '../models/index.js';
import type { CurrentModel } from './model-registry.js';

export interface CardInput {
  store: Store;
  dataDir: string;
  identity: Identity;
  manifest: StudyManifest;
  manifestHash: string;
  spec: ModelSpec;
  model: CurrentModel;
  modelPath: string;
  parentVersion: number;
  round: number;
  specHash: string;
  policy: { version: number; hash: string; decisions: RuleDecision[] };
  siteMetrics: ModelCard['siteMetrics'];
  epsilonSpent: number | null;
}

/**
 * Builds, signs and stores the card; returns it.
 * @example const card = writeModelCard({ store, dataDir, identity, manifest, ... })
 */
export function writeModelCard(c: CardInput): ModelCard {
  const card = buildModelCard({
    manifest: c.manifest,
    manifestHash: c.manifestHash,
    version: c.model.version,
    parentVersion: c.parentVersion,
    round: c.round,
    model: {
      arch: c.spec.arch,
      parameters: parameterCount(c.spec),
      digest: c.model.digest,
      specHash: c.specHash,
      signature: c.model.signed.signature,
    },
    lineage: lineage(c.store, c.manifest.federation, c.model.version),
    policy: c.policy,
    siteMetrics: c.siteMetrics,
    epsilonSpent: c.epsilonSpent,
    ...(c.spec.task ? { task: c.spec.task } : {}),
  });
  const signature = signDocument(card, c.identity.signSecretKey);
  c.store.setModelCard(c.manifest.federation, c.model.version, card as unknown as Record<string, unknown>, signature);
  const base = join(c.dataDir, c.modelPath.replace(/\.cohort$/, ''));
  writeFileSync(`${base}.card.json`, `${JSON.stringify({ card, signature }, null, 2)}\n`);
  writeFileSync(`${base}.card.md`, modelCardMarkdown(card, signature));
  return card;
}
