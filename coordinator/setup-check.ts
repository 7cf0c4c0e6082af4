/** A resumed federation's stored setup against the one given at start: the store is the source of truth, so a change is refused. */
import { isDeepStrictEqual } from 'node:util';
import type { Federation } from './store/index.js';
import { RoundRulesSchema, type FederationSetup } from './config.js';

/** One field whose given value differs from the stored one. */
export interface SetupDifference {
  field: string;
  stored: unknown;
  given: unknown;
}

/** JSON's view of a value: what the store keeps (undefined members dropped). */
const asStored = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function compare(
  prefix: string,
  stored: Record<string, unknown>,
  given: Record<string, unknown>,
  skip: (key: string) => boolean = () => false,
): SetupDifference[] {
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(given)])].sort();
  return keys
    .filter((key) => !skip(key) && !isDeepStrictEqual(asStored(stored[key]), asStored(given[key])))
    .map((key) => ({ field: `${prefix}${key}`, stored: stored[key], given: given[key] }));
}

/** The stored spec without the values the coordinator pooled itself (imputation, channel mean and std), when the given spec states none. */
function withoutPooled(stored: FederationSetup['spec'], given: FederationSetup['spec']): FederationSetup['spec'] {
  let spec = stored;
  if (spec.channelNormalization?.mean && !given.channelNormalization?.mean)
    spec = { ...spec, channelNormalization: { source: spec.channelNormalization.source } };
  if (!spec.preprocessing?.impute || given.preprocessing?.impute) return spec;
  return { ...spec, preprocessing: { columns: spec.preprocessing.columns } };
}

/**
 * The fields of `setup` (name, rules, model spec, study) that differ from the stored federation. The spec's
 * normalisation (and the preprocessing's imputation values) are compared only when `setup` gives them: the
 * coordinator adds the sites' pooled statistics itself.
 * The policy is not compared here: a changed policy is applied and audited as `policy.changed`.
 * @example const diffs = setupDifferences(store.getFederation(id)!, setup); // [{ field: 'rules.strategy', stored: 'fedavg', given: 'fedadam' }]
 */
export function setupDifferences(stored: Federation, setup: FederationSetup): SetupDifference[] {
  // Rules stored by an older version lack later defaults: they are compared as the schema reads them today.
  const parsed = RoundRulesSchema.safeParse(stored.config);
  const rules = (parsed.success ? parsed.data : stored.config) as Record<string, unknown>;
  const manifest = stored.manifest;
  return [
    ...compare('', { name: stored.name }, { name: setup.name }),
    ...compare('rules.', rules, setup.rules as Record<string, unknown>),
    ...compare(
      'spec.',
      withoutPooled(stored.spec, setup.spec) as Record<string, unknown>,
      setup.spec as Record<string, unknown>,
      (key) => key === 'normalization' && setup.spec.normalization === undefined,
    ),
    ...compare(
      'study.',
      { title: manifest.title, purpose: manifest.purpose, dataCategories: manifest.dataCategories },
      { title: setup.study.title, purpose: setup.study.purpose, dataCategories: setup.study.dataCategories },
    ),
  ];
}

/**
 * The error a coordinator refuses to start with when the given setup differs from the stored one.
 * @example if (diffs.length > 0) throw setupChangedError(id, diffs)
 */
export function setupChangedError(federation: string, diffs: readonly SetupDifference[]): Error {
  const show = (v: unknown): string => {
    const text = v === undefined ? 'absent' : JSON.stringify(v);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  };
  const list = diffs.map((d) => `${d.field} (stored ${show(d.stored)}, given ${show(d.given)})`).join('; ');
  return new Error(
    `federation ${federation} is stored with another setup, and the store is the source of truth: ${list}. ` +
      'Start with the stored setup (the same flags or --config), or run the new setup as another federation id or data directory.',
  );
}
