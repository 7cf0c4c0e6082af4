/** Model cards: what a published model is, where it came from, what rules it passed, signed by the coordinator. */
import { headlineMetric, type PrivacySettings, type StudyManifest, type Task } from '../../protocol/index.js';
import type { RuleDecision } from '../policy/index.js';
import type { Lineage } from './lineage.js';

export interface CardSiteMetric {
  institution: string;
  valAccuracy?: number;
  valLoss?: number;
  valSamples?: number;
  valAuc?: number;
  valSensitivity?: number;
  valSpecificity?: number;
  valBrier?: number;
  valMacroF1?: number;
  valMae?: number;
  valRmse?: number;
  valR2?: number;
}

/** The card's per-site columns for a task: the headline metric first, then the task's scores. */
const SITE_COLUMNS: Record<Task, [keyof CardSiteMetric, string][]> = {
  classification: [['valAccuracy', 'accuracy']],
  binary: [
    ['valAccuracy', 'accuracy'],
    ['valAuc', 'AUC'],
    ['valSensitivity', 'sensitivity'],
    ['valSpecificity', 'specificity'],
    ['valBrier', 'Brier'],
  ],
  multilabel: [
    ['valAccuracy', 'mean label accuracy'],
    ['valMacroF1', 'macro F1'],
    ['valAuc', 'macro AUC'],
  ],
  regression: [
    ['valLoss', 'MSE'],
    ['valMae', 'MAE'],
    ['valRmse', 'RMSE'],
    ['valR2', 'R2'],
  ],
};

/** The fairness gap a card states: as the fairness rule measures it for the task. */
function gapOf(task: Task | undefined, siteMetrics: readonly CardSiteMetric[]): number | null {
  const metric = headlineMetric({ task });
  const values = siteMetrics.flatMap((m) => (m[metric.name] === undefined ? [] : [m[metric.name] as number]));
  if (values.length === 0) return null;
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return metric.higherIsBetter ? hi - lo : hi > 0 ? (hi - lo) / hi : 0;
}

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
  /** What the model predicts (absent in cards of classification models made before tasks existed). */
  task?: Task;
  contributors: { institution: string; samples: number; rounds: number[]; consent: string }[];
  policy: { version: number; hash: string; decisions: RuleDecision[] };
  privacy: PrivacySettings & { epsilonSpent: number | null };
  /** What each site reported: accuracy (absent for regression), loss, and the task's scores (AUC, MAE, R2...). */
  siteMetrics: CardSiteMetric[];
  /** Best minus worst site accuracy (R2 for regression), as the fairness rule measures it. */
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
  task?: Task;
}

/**
 * Assembles a card from the facts recorded at publication.
 * @example const card = buildModelCard(facts); const signature = signDocument(card, coordinator.signSecretKey)
 */
export function buildModelCard(f: CardFacts): ModelCard {
  return {
    format: 'cohort-model-card/v1',
    federation: f.manifest.federation,
    version: f.version,
    parentVersion: f.parentVersion,
    round: f.round,
    publishedAt: new Date().toISOString(),
    study: {
      title: f.manifest.title,
      purpose: f.manifest.purpose,
      manifestHash: f.manifestHash,
      dataCategories: f.manifest.dataCategories,
    },
    strategy: f.manifest.strategy,
    roundsInLineage: f.lineage.steps.filter((s) => s.round !== null).length,
    model: f.model,
    ...(f.task ? { task: f.task } : {}),
    contributors: f.lineage.institutions.map((i) => ({
      institution: i.institution,
      samples: i.samples,
      rounds: i.rounds,
      consent: i.revoked ? `revoked ${i.revoked.at}` : 'in force',
    })),
    policy: f.policy,
    privacy: { ...f.manifest.privacy, epsilonSpent: f.epsilonSpent },
    siteMetrics: [...f.siteMetrics].sort((a, b) => a.institution.localeCompare(b.institution)),
    fairnessGap: gapOf(f.task, f.siteMetrics),
    coordinator: f.manifest.coordinator,
  };
}

/** A page a person reads: the card as Markdown. */
export function modelCardMarkdown(card: ModelCard, signature: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  const task = card.task ?? 'classification';
  const columns = SITE_COLUMNS[task];
  const cell = (key: keyof CardSiteMetric, v: number | string | undefined): string | number =>
    v === undefined
      ? '-'
      : typeof v === 'string'
        ? v
        : key === 'valAccuracy' || key === 'valSensitivity' || key === 'valSpecificity'
          ? pct(v)
          : v.toFixed(4);
  const gap =
    card.fairnessGap === null ? 'not measured' : task === 'regression' ? `${card.fairnessGap.toFixed(4)} (R2)` : pct(card.fairnessGap);
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
    `**Task:** ${task}  `,
    `**Strategy:** ${card.strategy}  `,
    `**Privacy:** secure aggregation ${card.privacy.secureAggregation ? 'on' : 'off'}; ${card.privacy.dp ? `client-level DP, budget epsilon ${card.privacy.dp.epsilon} (delta ${card.privacy.dp.delta}), spent so far ${card.privacy.epsilonSpent ?? '-'}` : 'no differential privacy'}`,
    '',
    '## Contributing institutions',
    '',
    rows(
      ['institution', 'samples', 'rounds', 'consent'],
      card.contributors.map((c) => [c.institution, c.samples, c.rounds.join(', '), c.consent]),
    ),
    '',
    '## Per-site validation (measured by each site on its own data)',
    '',
    rows(
      ['institution', ...columns.map(([, label]) => label), 'samples'],
      card.siteMetrics.map((m) => [m.institution, ...columns.map(([key]) => cell(key, m[key])), m.valSamples ?? '-']),
    ),
    '',
    `Fairness gap (best - worst): ${gap}`,
    '',
    `## Policy v${card.policy.version} (\`${card.policy.hash.slice(0, 16)}…\`)`,
    '',
    rows(
      ['stage', 'rule', 'result', 'value', 'limit'],
      card.policy.decisions.map((d) => [d.stage, d.rule, d.passed ? 'pass' : '**FAIL**', String(d.value), String(d.limit)]),
    ),
    '',
    `Signed by ${card.coordinator.id} (\`${card.coordinator.signPublicKey}\`): \`${signature}\``,
    '',
  ].join('\n');
}
