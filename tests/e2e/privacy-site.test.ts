import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'socket.io';
import { describe, expect, it, vi } from 'vitest';
import { createCoordinator, openSqliteStore } from '../../coordinator/index.js';
import { generateIdentity, publicIdentityOf, verifyChain, writeIdentityFile } from '../../crypto/index.js';
import { parseExport } from '../../coordinator/audit/index.js';
import { ConsentRefusal, DpRefusal, manifestHash, type RoundTask } from '../../protocol/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import type { Agent } from '../../node-agent/index.js';
import { ledgerPath, readLedger } from '../../node-agent/privacy-ledger.js';
import { consentCommand } from '../../node-agent/cli/consent-command.js';
import { dpTerms, study } from '../coordinator/policy/fixtures.js';
import { e2e, type Federation, permissivePolicy, quiet, startAgent } from './helpers.js';

const quick = { localEpochs: 1, batchSize: 50, learningRate: 0.1 };
const declined = (agent: Agent) =>
  new Promise<{ round: number; code: string; message: string }>((resolve) => agent.events.once('declined', resolve));
const siteFile = (f: Federation, i: number, name: string) => join(f.dir, 'sites', f.institutions[i]!.id, name);
const auditKinds = (f: Federation, i: number) => {
  const entries = parseExport(readFileSync(siteFile(f, i, 'audit.jsonl'), 'utf8'));
  expect(verifyChain(entries, f.institutions[i]!.signPublicKey)).toMatchObject({ ok: true });
  return entries.map((e) => JSON.parse(e.body) as { kind: string; data: Record<string, unknown> });
};

/** What `cohort consent show FILE` prints. */
async function consentShow(file: string): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  try {
    await consentCommand().parseAsync(['show', file], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('distributed DP noise comes from the signed study terms', () => {
  e2e('a site refuses a task whose secure-aggregation terms ask for noise std 0, and sends nothing', async ({ cohort }) => {
    const fed = await cohort.federation(3, {
      rounds: 1,
      minParticipants: 3,
      secagg: { graph: 'complete', clipNorm: 50, stepTimeoutMs: 1_000 },
      dp: { noiseMultiplier: 2, clipNorm: 0.5 },
    });
    // The coordinator lies: every task it sends tells the sites to add no noise before masking.
    const emit = Socket.prototype.emit;
    cohort.defer(() => {
      Socket.prototype.emit = emit;
    });
    Socket.prototype.emit = function (this: Socket, event: string, ...args: unknown[]) {
      const task = args[0] as RoundTask;
      if (event === 'round:task' && task.secagg) args[0] = { ...task, secagg: { ...task.secagg, noiseStd: 0 } };
      return emit.call(this, event, ...args);
    } as typeof emit;
    for (let i = 0; i < 3; i++) cohort.agent(fed, i);

    const refusals = await Promise.all(cohort.agents.map(declined));

    expect(refusals.map((r) => r.code)).toEqual([DpRefusal.TERMS, DpRefusal.TERMS, DpRefusal.TERMS]);
    expect(refusals[0]!.message).toMatch(/noise std 0, the study's terms give/);
    await vi.waitFor(() =>
      expect(fed.coordinator.store.listParticipations('e2e', 1).map((p) => [p.status, p.code])).toEqual(
        Array(3).fill(['declined', DpRefusal.TERMS]),
      ),
    );
    const kinds = auditKinds(fed, 0);
    // Each copy of the task (the coordinator sends it again when a session is ready) is refused and audited.
    expect(new Set(kinds.filter((e) => e.kind === 'task.refused').map((e) => e.data.code))).toEqual(new Set([DpRefusal.TERMS]));
    expect(kinds.map((e) => e.kind)).not.toContain('update.sent');
    expect(existsSync(ledgerPath(siteFile(fed, 0, 'consent.json')))).toBe(false);
  });
});

describe("each site's own privacy ledger", () => {
  e2e('charges each update it sends, and refuses a coordinator that runs the same study again past the budget', async ({ cohort }) => {
    const rules = { rounds: 1, minParticipants: 2, train: quick, dp: { noiseMultiplier: 1.1, clipNorm: 0.5 } };
    const fed = await cohort.federation(2, rules, 'logreg', 120);
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));
    await Promise.all(cohort.agents.map((a) => a.done));
    cohort.agents.splice(0).forEach((a) => a.close());
    const manifest = fed.coordinator.store.getFederation('e2e')!.manifest;
    const consentFile = siteFile(fed, 0, 'consent.json');

    // The first run spent each site's whole budget (the study's epsilon): its ledger and audit log say so.
    expect(readLedger(ledgerPath(consentFile))).toEqual([
      expect.objectContaining({
        round: 1,
        manifestHash: manifestHash(manifest),
        noiseMultiplier: 1.1,
        samplingRate: 1,
        budget: manifest.privacy.dp!.epsilon,
      }),
    ]);
    const charged = auditKinds(fed, 0).find((e) => e.kind === 'privacy.charged')!;
    expect(charged.data).toMatchObject({ round: 1, contributions: 1, budget: manifest.privacy.dp!.epsilon });
    expect(charged.data.epsilonSpent as number).toBeCloseTo(manifest.privacy.dp!.epsilon, 5);
    expect(await consentShow(consentFile)).toMatch(
      /privacy ledger: {2}1 contributions \(rounds 1\), epsilon spent [\d.]+ of [\d.]+ \(remaining 0\.0000, delta 0\.00001\)/,
    );

    // The same study (same coordinator key and manifest) started again by a fresh coordinator with an empty store.
    const port = fed.coordinator.port;
    await fed.coordinator.close();
    const dir = join(fed.dir, 'rerun');
    mkdirSync(dir);
    const store = openSqliteStore(join(dir, 'coordinator.db'));
    const rerun = await createCoordinator({
      store,
      dataDir: dir,
      identity: fed.coordinatorIdentity,
      port,
      federation: {
        id: 'e2e',
        name: 'end-to-end test',
        spec: mnistSpec('logreg'),
        policy: permissivePolicy,
        study: { title: 'End-to-end test', purpose: 'Check the federation end to end.', dataCategories: ['handwritten-digit-images'] },
        rules: { joinGraceMs: 0, roundTimeoutMs: 60_000, ...rules },
      },
      institutions: fed.institutions.map(publicIdentityOf),
      log: quiet,
    });
    cohort.track(rerun);
    const first = fed.coordinator;
    fed.coordinator = rerun;
    expect(manifestHash(rerun.store.getFederation('e2e')!.manifest)).toBe(manifestHash(manifest));
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));

    const refusals = await Promise.all(cohort.agents.map(declined));

    fed.coordinator = first;
    expect(refusals.map((r) => r.code)).toEqual([ConsentRefusal.EPSILON, ConsentRefusal.EPSILON]);
    expect(refusals[0]!.message).toMatch(/1 contributions spent epsilon .* above its budget/);
    await vi.waitFor(() =>
      expect(rerun.store.listParticipations('e2e', 1).map((p) => [p.status, p.code])).toEqual(
        Array(2).fill(['declined', ConsentRefusal.EPSILON]),
      ),
    );
    expect(
      new Set(
        auditKinds(fed, 1)
          .filter((e) => e.kind === 'task.refused')
          .map((e) => e.data.code),
      ),
    ).toEqual(new Set([ConsentRefusal.EPSILON]));
    expect(readLedger(ledgerPath(consentFile))).toHaveLength(1);
    store.close();
  });
});

describe('cohort consent grant', () => {
  it('will not sign a study whose stated epsilon is below what its own DP terms spend', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cohort-grant-'));
    writeIdentityFile(join(dir, 'site.key.json'), generateIdentity('hospital-a'));
    const understated = study({ rounds: 10, privacy: { secureAggregation: false, dp: dpTerms(1) } }); // z = 1 for 10 rounds spends about 19
    writeFileSync(join(dir, 'study.json'), JSON.stringify(understated));
    const grant = (file: string) =>
      consentCommand().parseAsync(
        [
          'grant',
          '--key',
          join(dir, 'site.key.json'),
          '--study',
          file,
          '--ethics-ref',
          'IRB-1',
          '--expires',
          '2099-12-31',
          '--out',
          join(dir, 'consent.json'),
        ],
        { from: 'user' },
      );

    await expect(grant(join(dir, 'study.json'))).rejects.toThrow(
      /states epsilon 1, but 10 rounds of its DP terms spend 19\.\d+: not signing/,
    );
    expect(existsSync(join(dir, 'consent.json'))).toBe(false);
  });
});
