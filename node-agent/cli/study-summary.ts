/** What a site agrees to when it signs a study manifest, in words, and the checks `cohort consent grant` makes before it signs. */
import { manifestHash, type StudyManifest } from '../../protocol/index.js';

const list = (xs: readonly (string | number)[], max = 12): string =>
  xs.length > max ? `${xs.slice(0, max).join(', ')}, … (${xs.length} in all)` : xs.join(', ');

/**
 * The manifest as the lines a site reads before it signs: purpose, data, model, training, strategy, privacy, rounds,
 * the enrolled institutions (when known) and who coordinates.
 * @example process.stdout.write(describeStudy(manifest, ['hospital-a', 'hospital-b']).join('\n'))
 */
export function describeStudy(manifest: StudyManifest, institutions?: readonly string[]): string[] {
  const { data, model, training, privacy } = manifest;
  const params = Object.entries(manifest.strategyParams).map(([k, v]) => `${k}=${v}`);
  const dp = privacy.dp
    ? Object.entries(privacy.dp)
        .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(', ')
    : 'none';
  return [
    `study:            ${manifest.title} (federation ${manifest.federation})`,
    `purpose:          ${manifest.purpose}`,
    `data categories:  ${manifest.dataCategories.join(', ')}`,
    `data used:        ${data.features ? `features ${list(data.features)}` : `inputs of shape ${data.inputShape.join('x')}`}; classes ${list(data.classes)}`,
    `model:            ${model.arch}${model.hidden ? ` (hidden layers ${model.hidden.join(', ')})` : ''}, ${model.parameters.toLocaleString('en-US')} parameters, architecture hash ${model.specHash.slice(0, 16)}…`,
    `training:         per round ${training.localEpochs} local epoch${training.localEpochs === 1 ? '' : 's'}, batch size ${training.batchSize}, learning rate ${training.learningRate}${training.proximalMu !== undefined ? `, FedProx mu ${training.proximalMu}` : ''}`,
    `strategy:         ${manifest.strategy}${params.length > 0 ? ` (${params.join(', ')})` : ''}`,
    `rounds:           at most ${manifest.rounds}`,
    `secure aggregation: ${privacy.secureAggregation ? 'yes (the coordinator sees only the sum of the updates)' : 'no (the coordinator sees each update)'}`,
    `differential privacy: ${dp}`,
    `institutions:     ${institutions ? `${list(institutions)} (${institutions.length} enrolled)` : 'not listed'}`,
    `coordinator:      ${manifest.coordinator.id} (model signing key ${manifest.coordinator.signPublicKey.slice(0, 12)}…)`,
    `manifest hash:    ${manifestHash(manifest)}`,
  ];
}

/**
 * Throws unless `expires` (YYYY-MM-DD) is a real date whose end (UTC) has not passed: an approval that has expired
 * cannot be consented under.
 * @example assertNotExpired('2020-01-01', new Date()) // throws: --expires 2020-01-01 is already past …
 */
export function assertNotExpired(expires: string, now: Date): void {
  const end = Date.parse(`${expires}T23:59:59.999Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(expires) || Number.isNaN(end) || new Date(end).toISOString().slice(0, 10) !== expires) {
    throw new Error(`--expires ${expires} is not a date as YYYY-MM-DD`);
  }
  if (end < now.getTime()) {
    throw new Error(
      `--expires ${expires} is already past (today is ${now.toISOString().slice(0, 10)}): a consent under an expired ethics approval would be refused by every agent and coordinator; renew the approval first`,
    );
  }
}

/**
 * A warning when the enrolled institutions cannot meet the consent's fewest other institutions (every round would
 * leave this site out); null when they can or when the enrolment is unknown.
 * @example minOthersWarning(2, ['a', 'b']) // 'warning: only 2 institutions are enrolled (a, b) …'
 */
export function minOthersWarning(minOthers: number, institutions: readonly string[] | undefined): string | null {
  if (!institutions || institutions.length - 1 >= minOthers) return null;
  return (
    `warning: only ${institutions.length} institutions are enrolled (${list(institutions)}): a round can include at most ${Math.max(0, institutions.length - 1)} other institutions, ` +
    `so this consent (--min-others ${minOthers}) can never be met and no round will include this site until more institutions enrol (or sign with --min-others ${Math.max(0, institutions.length - 1)})`
  );
}
