/** What `cohort pretrain` records in model.json (`userDefinedMetadata.cohort`), and reading it back. */
import { readFileSync } from 'node:fs';

/** What `cohort pretrain` writes into model.json's `userDefinedMetadata.cohort`: how to find its held-out rows again. */
export interface PretrainMetadata {
  dataset: string;
  classes: string[];
  seed: number;
  testFraction: number;
  epochs?: number;
  testAccuracy?: number;
}

/**
 * `userDefinedMetadata.cohort` of a model.json written by `cohort pretrain`; null for any other file.
 * @example readPretrainMetadata('pretrained/model.json')?.classes // ['0', '1', '2', '3', '4']
 */
export function readPretrainMetadata(modelJson: string): PretrainMetadata | null {
  const json = JSON.parse(readFileSync(modelJson, 'utf8')) as { userDefinedMetadata?: { cohort?: PretrainMetadata } };
  const meta = json.userDefinedMetadata?.cohort;
  return meta && Array.isArray(meta.classes) ? meta : null;
}
