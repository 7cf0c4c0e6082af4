import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect } from 'vitest';
import { SignedConsentSchema } from '../../protocol/index.js';
import {
  publicIdentityOf,
  serializePublicIdentity,
  signRevocation,
  verifyChain,
  verifyDocument,
  writePublicIdentityFile,
} from '../../crypto/index.js';
import { exportAudit, parseExport, verifyAuditTable } from '../../coordinator/audit/index.js';
import { lineage } from '../../coordinator/models/index.js';
import { parsePolicy } from '../../coordinator/policy/index.js';
import { revocationPath } from '../../node-agent/mods/consent-guard.js';
import { e2e, startAgent, type Cohort, type Federation } from './helpers.js';

const quick = { localEpochs: 1, batchSize: 50, learningRate: 0.1 };
const consentFileOf = (f: Federation, i: number) => join(f.dir, 'sites', f.institutions[i]!.id, 'consent.json');

describe('consent gates every round', () => {
  e2e('holds a round while too few eligible institutions remain, since each consent asks for others in the round', async ({ cohort }) => {
    const fed = await cohort.federation(2, { rounds: 2, minParticipants: 1, joinGraceMs: 20_000, train: quick }, 'logreg', 150);
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));
    const f = fed;
    const blocked = new Promise((resolve) => f.coordinator.runner.once('round:blocked', resolve));
    cohort.agents[1]!.events.once('uploaded', () => {
      const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(consentFileOf(f, 1), 'utf8')));
      cohort.agents[1]!.presentRevocation(signRevocation(consent, 'withdrawn', f.institutions[1]!.signSecretKey)).catch(() => undefined);
    });

    const event = await blocked;

    expect(event).toMatchObject({
      round: 2,
      eligible: 0,
      excluded: expect.arrayContaining([
        expect.objectContaining({ institution: 'site-1', code: 'CONSENT_TOO_FEW_INSTITUTIONS' }),
        expect.objectContaining({ institution: 'site-2', code: 'CONSENT_REVOKED' }),
      ]),
    });
    expect(f.coordinator.store.getRound('e2e', 2)?.state).toBe('waiting');
  });

  e2e('never selects an institution that has not consented, and starts with those that have', async ({ cohort }) => {
    const fed = await cohort.federation(3, { rounds: 1, minParticipants: 2, joinGraceMs: 20_000, train: quick }, 'logreg', 150);
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1), startAgent(fed, 2, { consentFile: join(fed.dir, 'nowhere.json') }));

    await Promise.all(cohort.agents.slice(0, 2).map((a) => a.done));

    const { store } = fed.coordinator;
    expect(store.listParticipations('e2e', 1).map((p) => p.institutionId)).toEqual(['site-1', 'site-2']);
    const started = store.listAudit({ federationId: 'e2e' }).find((e) => e.kind === 'round.started');
    expect(started?.data.excluded).toEqual([
      { institution: 'site-3', code: 'CONSENT_MISSING', message: 'site-3 has presented no consent' },
    ]);
  });

  e2e('excludes an institution from the round after it revokes, and flags the models its data fed', async ({ cohort }) => {
    const fed = await cohort.federation(3, { rounds: 3, minParticipants: 2, joinGraceMs: 20_000, train: quick }, 'logreg', 150);
    cohort.agents.push(...[0, 1, 2].map((i) => startAgent(fed, i)));
    const f = fed;
    const site2 = f.institutions[1]!;
    cohort.agents[1]!.events.once('uploaded', () => {
      const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(consentFileOf(f, 1), 'utf8')));
      cohort.agents[1]!.presentRevocation(signRevocation(consent, 'withdrawn by the data protection officer', site2.signSecretKey)).catch(
        () => undefined,
      );
    });

    await Promise.all([cohort.agents[0]!.done, cohort.agents[2]!.done]);

    const { store } = f.coordinator;
    const contributors = (round: number) =>
      store
        .listParticipations('e2e', round)
        .filter((p) => p.status === 'accepted')
        .map((p) => p.institutionId);
    expect(contributors(1)).toEqual(['site-1', 'site-2', 'site-3']);
    expect(contributors(2)).toEqual(['site-1', 'site-3']);
    expect(contributors(3)).toEqual(['site-1', 'site-3']);
    const consent = store.latestConsent('e2e', 'site-2');
    expect(consent).toMatchObject({ status: 'revoked', revokedFromRound: 2 });
    const l = lineage(store, 'e2e', 3);
    expect(l.flagged).toBe(true);
    expect(l.institutions.find((i) => i.institution === 'site-2')).toMatchObject({
      rounds: [1],
      revoked: { fromRound: 2, reason: 'withdrawn by the data protection officer' },
    });
    const card = store.getModel('e2e', 3)!;
    expect(
      (card.card as { contributors: { institution: string; consent: string }[] }).contributors.find((c) => c.institution === 'site-2')
        ?.consent,
    ).toMatch(/^revoked /);
    expect(
      store
        .listAudit({ federationId: 'e2e' })
        .filter((e) => e.kind === 'consent.revoked')
        .map((e) => e.actor),
    ).toEqual(['site-2']);
  });

  e2e(
    'is enforced by the agent itself: a revocation written at the site makes it refuse the next task with a reason code, and the coordinator records it',
    async ({ cohort }) => {
      const fed = await cohort.federation(3, { rounds: 2, minParticipants: 1, joinGraceMs: 20_000, train: quick }, 'logreg', 150);
      cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1), startAgent(fed, 2));
      const f = fed;
      const declined: string[] = [];
      cohort.agents[1]!.events.on('declined', (d) => declined.push(d.code));
      cohort.agents[1]!.events.once('uploaded', () => {
        // What `cohort consent revoke` does at the site, without telling anyone.
        const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(consentFileOf(f, 1), 'utf8')));
        writeFileSync(
          revocationPath(consentFileOf(f, 1)),
          JSON.stringify(signRevocation(consent, 'local decision', f.institutions[1]!.signSecretKey)),
        );
      });

      await cohort.agents[0]!.done;

      const { store } = f.coordinator;
      // The agent refused the first task it saw after the revocation (the candidate's evaluation or round 2).
      expect(declined[0]).toBe('CONSENT_REVOKED');
      expect(store.getParticipation('e2e', 2, 'site-2')?.status ?? 'not selected').not.toBe('accepted');
      expect(
        store
          .listParticipations('e2e', 2)
          .filter((p) => p.status === 'accepted')
          .map((p) => p.institutionId),
      ).toEqual(['site-1', 'site-3']);
      expect(store.latestConsent('e2e', 'site-2')?.status).toBe('revoked');
      // The agent's own log: what it sent and what it refused, chained and signed with the institution key.
      const entries = parseExport(readFileSync(join(f.dir, 'sites', 'site-2', 'audit.jsonl'), 'utf8'));
      expect(verifyChain(entries, f.institutions[1]!.signPublicKey)).toMatchObject({ ok: true });
      const kinds = entries.map((e) => (JSON.parse(e.body) as { kind: string }).kind);
      expect(kinds).toEqual(expect.arrayContaining(['session.ready', 'update.sent', 'consent.revoked', 'task.refused']));
    },
  );
});

describe('policies gate publication', () => {
  e2e('withholds a model that fails a rule, records which rule failed with its values, and publishes nothing', async ({ cohort }) => {
    const policy = parsePolicy({
      format: 'cohort-policy/v1',
      version: 3,
      minInstitutionsPerRound: 1,
      allowedArchitectures: ['mlp'],
      dp: { maxEpsilon: 4, maxDelta: 1e-5 },
    });
    const fed = await cohort.federation(
      2,
      { rounds: 1, minParticipants: 1, maxConsecutiveFailures: 2, train: quick },
      'logreg',
      150,
      policy,
    );
    const failed = new Promise<string>((resolve) => fed.coordinator.runner.once('federation:failed', ({ reason }) => resolve(reason)));
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));

    const reason = await failed;

    const { store } = fed.coordinator;
    expect(reason).toMatch(/2 consecutive rounds failed or were withheld/);
    const rounds = store.listRounds('e2e');
    expect(rounds.map((r) => r.state)).toEqual(['withheld', 'withheld']);
    const failing = rounds[0]!.decisions!.filter((d) => !d.passed);
    expect(failing).toEqual([
      expect.objectContaining({ rule: 'dpBudget', value: 'no DP', limit: 4 }),
      expect.objectContaining({ rule: 'allowedArchitectures', value: 'logreg', limit: 'mlp' }),
    ]);
    expect(rounds[0]!.reason).toMatch(/^withheld by policy: dpBudget: .*allowedArchitectures: /);
    expect(rounds[0]!.policyHash).toBe(store.getFederation('e2e')!.policyHash);
    expect(store.listModels('e2e').map((m) => m.version)).toEqual([0]);
    const decision = store.listAudit({ federationId: 'e2e' }).find((e) => e.kind === 'policy.decision');
    expect(decision?.data).toMatchObject({ round: 1, outcome: 'withhold' });
  });

  e2e('publishes a model that passes every rule with a signed card holding per-site metrics and the fairness gap', async ({ cohort }) => {
    const policy = parsePolicy({
      format: 'cohort-policy/v1',
      version: 1,
      minInstitutionsPerRound: 2,
      minSamplesPerInstitution: 50,
      fairness: { metric: 'valAccuracy', maxGap: 0.5 },
    });
    const fed = await cohort.federation(2, { rounds: 1, minParticipants: 2, train: quick }, 'logreg', 150, policy);
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));

    await Promise.all(cohort.agents.map((a) => a.done));

    const { store } = fed.coordinator;
    const round = store.getRound('e2e', 1)!;
    expect(round.state).toBe('published');
    expect(round.decisions!.every((d) => d.passed)).toBe(true);
    expect(round.decisions!.map((d) => d.rule)).toEqual(
      expect.arrayContaining(['minInstitutionsPerRound', 'minSamplesPerInstitution', 'fairness', 'maxRounds']),
    );
    const model = store.getModel('e2e', 1)!;
    const card = model.card as {
      siteMetrics: { institution: string; valAccuracy: number }[];
      fairnessGap: number;
      model: { digest: string };
    };
    expect(card.siteMetrics.map((m) => m.institution).sort()).toEqual(['site-1', 'site-2']);
    expect(card.fairnessGap).toBeGreaterThanOrEqual(0);
    expect(card.model.digest).toBe(model.digest);
    expect(verifyDocument(card, model.cardSignature!, fed.coordinatorIdentity.signPublicKey)).toBe(true);
    expect(existsSync(join(fed.dir, 'models', 'e2e', 'v1.card.md'))).toBe(true);
  });
});

describe('the audit trail', () => {
  const runSmall = async (cohort: Cohort) => {
    const fed = await cohort.federation(2, { rounds: 1, minParticipants: 2, train: quick }, 'logreg', 100);
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));
    await Promise.all(cohort.agents.map((a) => a.done));
    await fed.coordinator.close();
    return fed;
  };

  e2e('verifies, then names the event when a byte of the table is edited, a row removed, or two rows swapped', async ({ cohort }) => {
    const f = await runSmall(cohort);
    const key = f.coordinatorIdentity.signPublicKey;
    expect(verifyAuditTable(f.coordinator.store, key)).toMatchObject({ ok: true });
    const db = new Database(join(f.dir, 'coordinator.db'));
    try {
      db.prepare(
        "UPDATE audit SET data = replace(data, '\"round\":1', '\"round\":2') WHERE id = (SELECT min(id) FROM audit WHERE kind = 'update.accepted')",
      ).run();
      const edited = db.prepare("SELECT id FROM audit WHERE kind = 'update.accepted' ORDER BY id LIMIT 1").get() as { id: number };
      expect(verifyAuditTable(f.coordinator.store, key)).toMatchObject({ ok: false, seq: edited.id, problem: 'HASH' });

      db.prepare('UPDATE audit SET data = replace(data, \'"round":2\', \'"round":1\') WHERE id = ?').run(edited.id);
      db.prepare('UPDATE audit SET actor = ? WHERE id = 3').run('someone-else');
      expect(verifyAuditTable(f.coordinator.store, key)).toMatchObject({ ok: false, seq: 3, problem: 'HASH' });
      db.prepare("UPDATE audit SET actor = 'coordinator' WHERE id = 3").run();
      expect(verifyAuditTable(f.coordinator.store, key)).toMatchObject({ ok: true });

      db.prepare('UPDATE audit SET data = ? WHERE id = 4').run(
        ' ' + (db.prepare('SELECT data FROM audit WHERE id = 4').get() as { data: string }).data,
      );
      expect(verifyAuditTable(f.coordinator.store, key)).toMatchObject({ ok: false, seq: 4 });
    } finally {
      db.close();
    }
  });

  e2e('is checked by `cohort audit verify`, and an export by a script with OpenSSL and no Cohort code', async ({ cohort }) => {
    const f = await runSmall(cohort);
    const pubFile = join(f.dir, 'coordinator.pub.json');
    writePublicIdentityFile(pubFile, publicIdentityOf(f.coordinatorIdentity));
    const exportFile = join(f.dir, 'audit.jsonl');
    writeFileSync(exportFile, [...exportAudit(f.coordinator.store)].join('\n') + '\n');
    const cli = (...args: string[]) => spawnSync(process.execPath, ['simulations/bin/cohort.js', ...args], { encoding: 'utf8' });

    const intact = cli('audit', 'verify', '--data-dir', f.dir, '--key', pubFile);
    const script = execFileSync('bash', ['simulations/audit/verify-with-openssl.sh', exportFile, pubFile], { encoding: 'utf8' });
    const db = new Database(join(f.dir, 'coordinator.db'));
    db.prepare('DELETE FROM audit WHERE id = 5').run();
    db.close();
    const broken = cli('audit', 'verify', '--data-dir', f.dir, '--key', pubFile);
    const lines = readFileSync(exportFile, 'utf8').split('\n');
    const seventh = JSON.parse(lines[6]!) as { body: string };
    lines[6] = JSON.stringify({ ...seventh, body: seventh.body.replace(/"ts":\d/, '"ts":9') });
    writeFileSync(exportFile, lines.join('\n'));
    const tampered = spawnSync('bash', ['simulations/audit/verify-with-openssl.sh', exportFile, pubFile], { encoding: 'utf8' });

    expect(intact.status).toBe(0);
    expect(intact.stdout).toMatch(/audit chain intact: \d+ events/);
    expect(script).toMatch(/^OK: \d+ events, chain intact, every signature verified by OpenSSL/);
    expect(broken.status).toBe(2);
    expect(broken.stdout).toMatch(/AUDIT CHAIN BROKEN at event #6 .*removed, inserted or reordered/);
    expect(tampered.status).not.toBe(0);
    expect(tampered.stderr).toMatch(/line 7: event #7 was edited/);
    expect(serializePublicIdentity(publicIdentityOf(f.coordinatorIdentity))).toContain('signPublicKey');
  });
});
