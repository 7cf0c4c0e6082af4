/** Model cards: what a published model is, where it came from, what rules it passed, signed by the coordinator. */
import type { PrivacySettings, StudyManifest } from '../../protocol/index.js';
import type { RuleDecision } from '../policy/index.js';
import type { Lineage } from './lineage.js';

export interface ModelCard {
  format: 'cohort-model-card/v1';
  federation: string;
  version: number;
  parentVersion: number | null;
  round: number;
  publishedAt: string;
  study: { title: string; purpose: string; manifestHash: string; dataCategories: string[] };
  strategy: string;
  roundsInLineage: number;
  model: { arch: string; parameters: number; digest: string; specHash: string; signature: string };
  contributors: { institution: string; samples: number; rounds: number[]; consent: string }[];
  policy: { version: number; hash: string; decisions: RuleDecision[] };
  privacy: PrivacySettings & { epsilonSpent: number | null };
  siteMetrics: { institution: string; valAccuracy: number; valLoss?: number; valSamples?: number }[];
  fairnessGap: number | null;
  coordinator: { id: string; signPublicKey: string };
}

export interface CardFacts {
  manifest: StudyManifest;
  manifestHash: string;
  version: number;
  parentVersion: number | null;
  round: number;
  model: ModelCard['model'];
  lineage: Lineage;
  policy: ModelCard['policy'];
  siteMetrics: ModelCard['siteMetrics'];
  epsilonSpent: number | null;
}

/**
 * Assembles a card from the facts recorded at publication.
 * @example const card = buildModelCard(facts); const signature = signDocument(card, coordinator.signSecretKey)
 */
export function buildModelCard(f: CardFacts): ModelCard {
  const values = f.siteMetrics.map((m) => m.valAccuracy);
  return {
    format: 'cohort-model-card/v1',
    federation: f.manifest.federation,
    version: f.version,
    parentVersion: f.parentVersion,
    round: f.round,
    publishedAt: new Date().toISOString(),
    study: { title: f.manifest.title, purpose: f.manifest.purpose, manifestHash: f.manifestHash, dataCategories: f.manifest.dataCategories },
    strategy: f.manifest.strategy,
    roundsInLineage: f.lineage.steps.filter((s) => s.round !== null).length,
    model: f.model,
    contributors: f.lineage.institutions.map((i) => ({ institution: i.institution, samples: i.samples, rounds: i.rounds, consent: i.revoked ? `revoked ${i.revoked.at}` : 'in force' })),
    policy: f.policy,
    privacy: { ...f.manifest.privacy, epsilonSpent: f.epsilonSpent },
    siteMetrics: [...f.siteMetrics].sort((a, b) => a.institution.localeCompare(b.institution)),
    fairnessGap: values.length > 0 ? Math.max(...values) - Math.min(...values) : null,
    coordinator: f.manifest.coordinator,
  };
}

/** A page a person reads: the card as Markdown. */
export function modelCardMarkdown(card: ModelCard, signature: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  const rows = (header: string[], body: (string | number)[][]): string =>
    [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  return [
    `# Model card: ${card.federation} v${card.version}`,
    '',
    `**Study:** ${card.study.title}  `,
    `**Purpose:** ${card.study.purpose}  `,
    `**Manifest:** \`${card.study.manifestHash}\`  `,
    `**Published:** ${card.publishedAt}, round ${card.round}, parent v${card.parentVersion ?? '-'}, ${card.roundsInLineage} rounds in its lineage  `,
    `**Model:** ${card.model.arch}, ${card.model.parameters.toLocaleString('en')} parameters, digest \`${card.model.digest}\`  `,
    `**Strategy:** ${card.strategy}  `,
    `**Privacy:** secure aggregation ${card.privacy.secureAggregation ? 'on' : 'off'}; ${card.privacy.dp ? `client-level DP, budget epsilon ${card.privacy.dp.epsilon} (delta ${card.privacy.dp.delta}), spent so far ${card.privacy.epsilonSpent ?? '-'}` : 'no differential privacy'}`,
    '',
    '## Contributing institutions',
    '',
    rows(['institution', 'samples', 'rounds', 'consent'], card.contributors.map((c) => [c.institution, c.samples, c.rounds.join(', '), c.consent])),
    '',
    '## Per-site validation (measured by each site on its own data)',
    '',
    rows(['institution', 'accuracy', 'samples'], card.siteMetrics.map((m) => [m.institution, pct(m.valAccuracy), m.valSamples ?? '-'])),
    '',
    `Fairness gap (best - worst): ${card.fairnessGap === null ? 'not measured' : pct(card.fairnessGap)}`,
    '',
    `## Policy v${card.policy.version} (\`${card.policy.hash.slice(0, 16)}…\`)`,
    '',
    rows(['stage', 'rule', 'result', 'value', 'limit'], card.policy.decisions.map((d) => [d.stage, d.rule, d.passed ? 'pass' : '**FAIL**', String(d.value), String(d.limit)])),
    '',
    `Signed by ${card.coordinator.id} (\`${card.coordinator.signPublicKey}\`): \`${signature}\``,
    '',
  ].join('\n');
}
