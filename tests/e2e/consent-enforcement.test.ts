/** Consent enforced before the fact: against the sites actually aggregated, against a revocation made while training, and said at once when it blocks a round. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { SignedConsentSchema } from '../../protocol/index.js';
import { parseExport } from '../../coordinator/audit/index.js';
import { latestRoundSnapshot, redactSnapshot } from '../../coordinator/console/index.js';
import { signRevocation } from '../../crypto/index.js';
import { revocationPath } from '../../node-agent/mods/consent-guard.js';
import type { Agent, CustomTrainer } from '../../node-agent/index.js';
import { e2e, type Federation, grantConsent, startAgent } from './helpers.js';

const quick = { localEpochs: 1, batchSize: 50, learningRate: 0.1 };
const consentFileOf = (f: Federation, i: number) => join(f.dir, 'sites', f.institutions[i]!.id, 'consent.json');

/** Returns the global weights unchanged after running `during` (the site's "training"). */
const slowTrainer =
  (during: () => Promise<void> | void): CustomTrainer =>
  async ({ weights, samples }) => {
    await during();
    return { weights, trainSamples: samples, metrics: { trainLoss: 0, trainAccuracy: 0, epochs: 1, durationMs: 0 } };
  };

describe("each contributor's minimum of other institutions", () => {
  e2e(
    'is checked against the sites actually aggregated: a dropout that leaves too few fails the round before anything is released',
    async ({ cohort }) => {
      const fed = await cohort.federation(
        3,
        { rounds: 1, minParticipants: 2, joinGraceMs: 20_000, roundTimeoutMs: 4_000, train: quick },
        'logreg',
        150,
      );
      for (const i of [0, 1, 2]) grantConsent(fed, i, 2);
      const f = fed;
      const outcome = new Promise<string>((resolve) => {
        f.coordinator.runner.once('round:failed', ({ round, reason }) => resolve(`failed ${round}: ${reason}`));
        f.coordinator.runner.once('round:published', ({ round }) => resolve(`published ${round}`));
      });
      // Selected with two others (the consent's limit is met at selection), then site-3 never sends its update.
      cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1), startAgent(fed, 2, { trainer: () => new Promise(() => undefined) }));

      const result = await outcome;

      const { store } = f.coordinator;
      expect(result).toBe(
        "failed 1: withheld before aggregation by consent (CONSENT_TOO_FEW_INSTITUTIONS): 2 of 2 contributors' consents require more than the 1 other institution in the aggregate",
      );
      expect(store.getRound('e2e', 1)?.state).toBe('failed');
      expect(store.listModels('e2e').map((m) => m.version)).toEqual([0]);
      const decision = store.listAudit({ federationId: 'e2e' }).find((e) => e.kind === 'policy.decision');
      expect(decision?.data).toMatchObject({ round: 1, stage: 'aggregation', outcome: 'withhold' });
      expect((decision?.data.decisions as { message: string }[])[0]?.message).toBe(
        "site-1's consent requires at least 2 other institutions in the aggregate, 1 contributed (CONSENT_TOO_FEW_INSTITUTIONS)",
      );
      expect(
        store
          .getRound('e2e', 1)
          ?.decisions?.filter((d) => !d.passed)
          .map((d) => [d.rule, d.value, d.limit]),
      ).toEqual([
        ['consentMinOtherInstitutions', 1, 2],
        ['consentMinOtherInstitutions', 1, 2],
      ]);
      // No candidate went out for evaluation: the two contributors never saw an aggregate of one other site.
      expect(store.listAudit({ federationId: 'e2e' }).some((e) => e.kind === 'round.evaluating')).toBe(false);
    },
  );

  e2e('names the consent rule, the institutions and that it can never be met as soon as a round is blocked', async ({ cohort }) => {
    const fed = await cohort.federation(2, { rounds: 1, minParticipants: 2, waitTimeoutMs: 600_000, train: quick }, 'logreg', 100);
    for (const i of [0, 1]) grantConsent(fed, i, 2);
    const f = fed;
    const blocked = new Promise<{ reason: string }>((resolve) => f.coordinator.runner.once('round:blocked', resolve));
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));

    const event = await blocked;

    expect(event.reason).toMatch(
      /^waiting: 0 of 2 required institutions eligible; site-1: CONSENT_TOO_FEW_INSTITUTIONS \(.*minOtherInstitutions.*only 2 institutions are enrolled, so this consent can never be met\); site-2: CONSENT_TOO_FEW_INSTITUTIONS/,
    );
    expect(f.coordinator.store.getRound('e2e', 1)).toMatchObject({ state: 'waiting', reason: event.reason });
    const audit = f.coordinator.store.listAudit({ federationId: 'e2e' }).find((e) => e.kind === 'round.blocked');
    expect(audit?.data.reason).toBe(event.reason);
    // The console shows it to staff; an institution's console is not told which other site holds the round back.
    const snap = latestRoundSnapshot(f.coordinator.store, 'e2e')!;
    expect(snap.reason).toBe(event.reason);
    expect(redactSnapshot(snap, { role: 'institution', institution: 'site-1' }).reason).toBe('waiting: too few eligible institutions');
  });
});

describe('a revocation made while the site trains', () => {
  e2e(
    'keeps the update at the site: the agent reads its consent again before sealing, drops the update and tells the coordinator',
    async ({ cohort }) => {
      const fed = await cohort.federation(3, { rounds: 1, minParticipants: 2, joinGraceMs: 20_000, train: quick }, 'logreg', 150);
      const f = fed;
      // What `cohort consent revoke` does at the site, while the agent is training.
      const revokeAtSite = () => {
        const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(consentFileOf(f, 1), 'utf8')));
        writeFileSync(
          revocationPath(consentFileOf(f, 1)),
          JSON.stringify(signRevocation(consent, 'revoked while training', f.institutions[1]!.signSecretKey)),
        );
      };
      cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1, { trainer: slowTrainer(revokeAtSite) }), startAgent(fed, 2));
      const uploaded: number[] = [];
      cohort.agents[1]!.events.on('uploaded', ({ round }) => uploaded.push(round));

      await cohort.agents[0]!.done;

      const { store } = f.coordinator;
      expect(uploaded).toEqual([]);
      expect(
        store
          .listParticipations('e2e', 1)
          .filter((p) => p.status === 'accepted')
          .map((p) => p.institutionId),
      ).toEqual(['site-1', 'site-3']);
      expect(store.getParticipation('e2e', 1, 'site-2')).toMatchObject({ status: 'declined', code: 'CONSENT_REVOKED' });
      expect(store.latestConsent('e2e', 'site-2')).toMatchObject({ status: 'revoked', revokedFromRound: 1 });
      const kinds = parseExport(readFileSync(join(f.dir, 'sites', 'site-2', 'audit.jsonl'), 'utf8')).map(
        (e) => (JSON.parse(e.body) as { kind: string }).kind,
      );
      expect(kinds).toContain('update.dropped');
      expect(kinds).not.toContain('update.sent');
    },
  );

  e2e(
    'is refused by the coordinator, with CONSENT_REVOKED, from a site that uploads after its revocation was recorded',
    async ({ cohort }) => {
      const fed = await cohort.federation(3, { rounds: 1, minParticipants: 2, joinGraceMs: 20_000, train: quick }, 'logreg', 150);
      const f = fed;
      // A site that signs and sends its revocation mid-training but uploads its update anyway (its consent file is untouched).
      let site2: Agent | undefined;
      const revokeThenUpload = async () => {
        const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(consentFileOf(f, 1), 'utf8')));
        await site2!.presentRevocation(signRevocation(consent, 'told the coordinator only', f.institutions[1]!.signSecretKey));
      };
      site2 = startAgent(fed, 1, { trainer: slowTrainer(revokeThenUpload) });
      cohort.agents.push(startAgent(fed, 0), site2, startAgent(fed, 2));
      const refused = new Promise<string>((resolve) => site2.events.once('refused', ({ code }) => resolve(code)));

      const [code] = await Promise.all([refused, cohort.agents[0]!.done]);

      const { store } = f.coordinator;
      expect(code).toBe('CONSENT_REVOKED');
      expect(
        store
          .listParticipations('e2e', 1)
          .filter((p) => p.status === 'accepted')
          .map((p) => p.institutionId),
      ).toEqual(['site-1', 'site-3']);
      const refusal = store.listAudit({ federationId: 'e2e' }).find((e) => e.kind === 'update.refused' && e.actor === 'site-2');
      expect(refusal?.data).toMatchObject({ round: 1, code: 'CONSENT_REVOKED' });
    },
  );
});
