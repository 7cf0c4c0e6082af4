/** Seeds a federation's store with a long history (rounds, participations, decisions, models with cards, audit events) for the console's load test. */
import { signDocument, sha256Hex, type Identity } from '../../crypto/index.js';
import type { Store } from '../../coordinator/index.js';
import type { RuleDecision } from '../../coordinator/policy/rules.js';

const enc = new TextEncoder();

/**
 * Writes `rounds` published rounds in which every enrolled institution took part, one model per
 * round with a signed card, and the audit events a real run leaves; round 1 may already be open.
 * @example seedHistory(fed.coordinator.store, 'e2e', coordinatorIdentity, 100)
 */
export function seedHistory(store: Store, federation: string, identity: Identity, rounds: number): void {
  const institutions = store.listInstitutions(federation).map((i) => i.id);
  const fed = store.getFederation(federation)!;
  const t0 = Date.now() - rounds * 60_000;
  store.transaction(() => {
    store.insertModel({
      federationId: federation,
      version: 0,
      round: null,
      parentVersion: null,
      digest: sha256Hex(enc.encode('v0')),
      specHash: sha256Hex(enc.encode('spec')),
      signature: 'seeded',
      path: 'seeded/v0.cohort',
      bytes: 31_400,
      createdAt: t0,
    });
    for (let round = 1; round <= rounds; round++) {
      const startedAt = t0 + (round - 1) * 60_000;
      const accuracy = 0.93 - 0.6 * Math.exp(-round / 12);
      const loss = 0.25 + 1.8 * Math.exp(-round / 10);
      const decisions: RuleDecision[] = [
        {
          stage: 'selection',
          rule: 'minInstitutionsPerRound',
          passed: true,
          value: institutions.length,
          limit: 3,
          message: `${institutions.length} eligible institutions, at least 3 required`,
        },
        {
          stage: 'publication',
          rule: 'minContributors',
          passed: true,
          value: institutions.length,
          limit: 3,
          message: `${institutions.length} contributors`,
        },
        {
          stage: 'publication',
          rule: 'fairness',
          passed: round % 17 !== 0,
          value: round % 17 === 0 ? 0.31 : 0.08,
          limit: 0.25,
          message: 'valAccuracy gap between the best and the worst site',
        },
      ];
      const published = decisions.every((d) => d.passed);
      const metrics = {
        participants: institutions.length,
        samples: institutions.length * 300,
        trainLoss: loss * 0.9,
        trainAccuracy: accuracy + 0.01,
        valLoss: loss,
        valAccuracy: accuracy,
      };
      const existing = store.getRound(federation, round);
      if (!existing)
        store.createRound({
          federationId: federation,
          round,
          state: 'waiting',
          baseVersion: round - 1,
          deadline: startedAt + 600_000,
          minParticipants: 3,
          selected: [],
          startedAt,
          policyHash: fed.policyHash,
        });
      for (const state of ['training', 'aggregating', 'evaluating'] as const) store.updateRound(federation, round, { state });
      store.appendAudit({
        federationId: federation,
        kind: 'round.started',
        actor: 'coordinator',
        subject: `round:${round}`,
        data: { round, participants: institutions },
      });
      for (const [k, institution] of institutions.entries()) {
        const local = {
          trainLoss: loss * (0.85 + (k % 7) * 0.04),
          trainAccuracy: Math.min(1, accuracy + (k % 5) * 0.01),
          valLoss: loss * (0.9 + (k % 3) * 0.05),
          valAccuracy: Math.min(1, accuracy - (k % 4) * 0.01),
          valSamples: 60,
          epochs: 2,
          durationMs: 1200 + k * 10,
        };
        const digest = sha256Hex(enc.encode(`${round}/${institution}`));
        store.addParticipation({
          federationId: federation,
          round,
          institutionId: institution,
          status: 'accepted',
          samples: 300,
          digest,
          bytes: 31_500,
          metrics: local,
          updatedAt: startedAt + 20_000 + k,
        });
        store.appendAudit({
          federationId: federation,
          kind: 'update.accepted',
          actor: institution,
          subject: `round:${round}`,
          data: { round, digest, bytes: 31_500, samples: 300 },
        });
      }
      store.appendAudit({
        federationId: federation,
        kind: 'policy.decision',
        actor: 'coordinator',
        subject: `round:${round}`,
        data: { round, outcome: published ? 'publish' : 'withhold', decisions },
      });
      const version = (store.latestModel(federation)?.version ?? 0) + 1;
      if (!published) {
        store.updateRound(federation, round, {
          state: 'withheld',
          closedAt: startedAt + 40_000,
          metrics,
          decisions,
          reason: 'withheld by policy: fairness',
        });
        continue;
      }
      const digest = sha256Hex(enc.encode(`model ${version}`));
      const card = {
        format: 'cohort-model-card/v1',
        federation,
        version,
        parentVersion: version - 1,
        round,
        publishedAt: new Date(startedAt + 40_000).toISOString(),
        study: {
          title: fed.manifest.title,
          purpose: fed.manifest.purpose,
          manifestHash: fed.manifestHash,
          dataCategories: fed.manifest.dataCategories,
        },
        strategy: 'fedavg',
        roundsInLineage: version,
        model: { arch: fed.spec.arch, parameters: 7850, digest, specHash: sha256Hex(enc.encode('spec')), signature: 'seeded' },
        contributors: institutions.map((institution) => ({
          institution,
          samples: 300 * version,
          rounds: Array.from({ length: round }, (_, i) => i + 1),
          consent: 'in force',
        })),
        policy: { version: 1, hash: fed.policyHash, decisions },
        privacy: { ...fed.manifest.privacy, epsilonSpent: null },
        siteMetrics: institutions.map((institution, k) => ({ institution, valAccuracy: Math.min(1, accuracy - (k % 4) * 0.01) })),
        fairnessGap: 0.03,
        coordinator: fed.manifest.coordinator,
      };
      store.insertModel({
        federationId: federation,
        version,
        round,
        parentVersion: version - 1,
        digest,
        specHash: card.model.specHash,
        signature: 'seeded',
        path: `seeded/v${version}.cohort`,
        bytes: 31_400,
        createdAt: startedAt + 40_000,
        card,
        cardSignature: signDocument(card, identity.signSecretKey),
      });
      store.updateRound(federation, round, {
        state: 'published',
        resultVersion: version,
        closedAt: startedAt + 40_000,
        metrics,
        decisions,
      });
      store.appendAudit({
        federationId: federation,
        kind: 'model.published',
        actor: 'coordinator',
        subject: `round:${round}`,
        data: { round, version, digest, metrics },
      });
    }
    store.updateFederationStatus(federation, 'completed');
  });
}
