import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromBase64, readPublicIdentityFile, verifyModel } from '../../crypto/index.js';
import { runCli } from './cli-helpers.js';
import { agentFlags, createToken, enroll, grantConsent, startCoordinator, useDeploymentFolder } from './deployment-fixtures.js';

const deployment = useDeploymentFolder({ prefix: 'cohort-deploy-', ids: ['coordinator', 'site-a', 'site-b', 'site-x'] });
/** `cohort ...` in the deployment folder, as the README tells an operator to type it. */
const cohort = (args: string[]) => deployment.cohort(args);
/** A coordinator's flags for federation `id` on the logreg model with one local epoch, data directory data-ID. */
const logreg = (id: string) => ['--data-dir', `data-${id}`, '--federation', id, '--model', 'logreg', '--local-epochs', '1'];

describe('a real deployment with the cohort CLI alone (separate processes)', () => {
  it('coordinator + two enrolled agents complete 2 rounds; the API shows it; the coordinator stops cleanly', async () => {
    const { url, proc: coordinator } = await startCoordinator(deployment, [
      ...logreg('demo'),
      ...enroll('site-a', 'site-b'),
      ...['--rounds', '2', '--min-participants', '2'],
    ]);
    expect(await coordinator.waitFor(/no admin API token yet/)).toContain(
      'cohort tokens create --role admin --data-dir data-demo --key keys/coordinator.key.json',
    );
    const token = await createToken(deployment, 'data-demo', 'admin');
    const headers = { authorization: `Bearer ${token}` };
    await Promise.all(
      ['site-a', 'site-b'].map((site) => grantConsent(deployment, { url, federation: 'demo', site, out: `${site}.consent.json`, token })),
    );
    const agent = (site: string, data: string) =>
      cohort(['agent', 'start', ...agentFlags({ url, federation: 'demo', site, data, consent: `${site}.consent.json` })]);

    const [a, b] = await Promise.all([agent('site-a', 'mnist:1/2').exited, agent('site-b', 'mnist:2/2').exited]);

    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stdout).toMatch(/federation complete; agent exits/);
    // Each agent keeps its own hash-chained audit log, even when both run in one folder.
    expect(readFileSync(join(deployment.dir, '.cohort', 'site-a.agent-audit.jsonl'), 'utf8')).toContain('site-a');
    expect(readFileSync(join(deployment.dir, '.cohort', 'site-b.agent-audit.jsonl'), 'utf8')).not.toContain('site-a');
    const fed = (await (await fetch(`${url}/api/federations/demo`, { headers })).json()) as Record<string, any>;
    expect(fed).toMatchObject({ id: 'demo', status: 'completed', roundsPublished: 2, latestModel: { version: 2 } });
    expect(fed.institutions.map((i: { id: string }) => i.id).sort()).toEqual(['site-a', 'site-b']);
    const { rounds } = (await (await fetch(`${url}/api/federations/demo/rounds`, { headers })).json()) as {
      rounds: Array<Record<string, any>>;
    };
    expect(
      rounds.map((r) => [r.round, r.state, r.participations.filter((p: { status: string }) => p.status === 'accepted').length]),
    ).toEqual([
      [1, 'published', 2],
      [2, 'published', 2],
    ]);
    const samples = rounds[1]!.participations.map((p: { samples: number }) => p.samples);
    expect(rounds[1]!.metrics.samples).toBe(samples[0] + samples[1]);
    expect(samples.every((n: number) => n > 4000 && n < 5000)).toBe(true); // 5,000 rows at each site, less its local validation rows

    // Anyone holding coordinator.pub.json can check the published model offline.
    const res = await fetch(`${url}/api/federations/demo/models/2/weights`, { headers });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const digest = createHash('sha256')
      .update(bytes.subarray(0, bytes.length - 32))
      .digest('hex');
    const pub = readPublicIdentityFile(join(deployment.dir, 'keys', 'coordinator.pub.json'));
    expect(digest).toBe(res.headers.get('x-cohort-digest'));
    expect(
      verifyModel(
        { federation: 'demo', version: 2, specHash: res.headers.get('x-cohort-spec-hash')!, weightsDigest: digest },
        fromBase64(res.headers.get('x-cohort-signature')!),
        pub.signPublicKey,
      ),
    ).toBe(true);

    const stopped = await coordinator.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/"round":2,"version":2.*round published/);
    expect(stopped.stdout).toMatch(/federation complete; still serving the API/);
  });

  it('refuses an agent whose key is not enrolled (UNKNOWN_INSTITUTION), while agents started from an agent file and from flags complete', async () => {
    const { url, proc: coordinator } = await startCoordinator(deployment, [
      ...logreg('demo2'),
      ...enroll('site-a', 'site-b'),
      ...['--rounds', '1', '--min-participants', '2'],
    ]);
    mkdirSync(join(deployment.dir, 'site-a'), { recursive: true });
    const auditor = await createToken(deployment, 'data-demo2', 'auditor');
    await grantConsent(deployment, { url, federation: 'demo2', site: 'site-a', out: 'site-a/consent.json', token: auditor });
    await grantConsent(deployment, { url, federation: 'demo2', site: 'site-b', out: 'site-b.demo2.consent.json', token: auditor });
    const configFile = join(deployment.dir, 'site-a', 'agent.json');
    writeFileSync(
      configFile,
      JSON.stringify(
        {
          coordinator: url,
          coordinatorKey: '../keys/coordinator.pub.json',
          federation: 'demo2',
          key: '../keys/site-a.key.json',
          data: 'mnist:1/4',
          consent: 'consent.json',
          auditLog: 'audit.jsonl',
          logLevel: 'info',
        },
        null,
        2,
      ),
    );

    const stranger = cohort(['agent', 'start', ...agentFlags({ url, federation: 'demo2', site: 'site-x', data: 'mnist:2/4' })]);
    const fromFile = deployment.cohort(['agent', 'start', '--config', configFile], { cwd: tmpdir() });
    const fromFlags = cohort([
      ...['agent', 'start'],
      ...agentFlags({ url, federation: 'demo2', site: 'site-b', data: 'mnist:3/4', consent: 'site-b.demo2.consent.json' }),
    ]);
    const [refused, completed, other] = await Promise.all([stranger.exited, fromFile.exited, fromFlags.exited]);

    expect(refused.code).not.toBe(0);
    expect(refused.code).not.toBeNull();
    expect(`${refused.stdout}\n${refused.stderr}`).toMatch(/UNKNOWN_INSTITUTION/);
    expect(refused.stderr).toMatch(/site-x is not enrolled in demo2/);
    expect(completed.code, completed.stderr).toBe(0);
    expect(other.code, other.stderr).toBe(0);
    expect(completed.stdout).toMatch(/federation complete; agent exits/);
    expect(existsSync(join(deployment.dir, 'site-a', 'audit.jsonl'))).toBe(true); // paths in the agent file are relative to it
    const fed = (await (await fetch(`${url}/api/federations/demo2`, { headers: { authorization: `Bearer ${auditor}` } })).json()) as Record<
      string,
      any
    >;
    expect(fed).toMatchObject({ status: 'completed', roundsPublished: 1 });
    expect((await coordinator.stop('SIGTERM')).code).toBe(0);
  });

  it('ends an agent with exit code 1 and the reason on one line when the federation fails, instead of leaving it waiting', async () => {
    // Two sites needed and one ever online: each round fails at its one-second wait deadline, the third ends the federation.
    const rules = ['--rounds', '1', '--min-participants', '2', '--wait-timeout', '1'];
    const { url, proc: coordinator } = await startCoordinator(deployment, [...logreg('demo3'), ...enroll('site-a', 'site-b'), ...rules]);

    const agent = await cohort(['agent', 'start', ...agentFlags({ url, federation: 'demo3', site: 'site-a', data: 'mnist:1/4' })]).exited;

    expect(agent.code, agent.stderr).toBe(1);
    expect(agent.stderr.split('\n').filter((l) => l.startsWith('cohort'))).toEqual([
      'cohort agent: FEDERATION_FAILED: federation demo3 failed: 3 consecutive rounds failed or were withheld',
    ]);
    expect(await coordinator.waitFor(/federation failed/)).toContain('3 consecutive rounds failed');

    // Restarted on the same data directory with another strategy: refused, naming the field, exit code 1.
    expect((await coordinator.stop('SIGTERM')).code).toBe(0);
    const changed = await cohort([
      ...['coordinator', 'start', '--key', 'keys/coordinator.key.json', ...logreg('demo3'), '--port', '0'],
      ...[...enroll('site-a'), ...rules, '--strategy', 'fedadam'],
    ]).exited;
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(
      /^cohort: federation demo3 is stored with another setup, and the store is the source of truth: rules\.strategy \(stored "fedavg", given "fedadam"\)/m,
    );
  });
});

describe('operating a deployment: probes, go-live check, backup, offline model check, graceful stop, restore', () => {
  it('runs as services would: checks before go-live, an unusable agent exits 1 with its reason, backups while running, stops on SIGTERM with exit 0', async () => {
    const { url, proc: coordinator } = await startCoordinator(deployment, [
      ...logreg('ops'),
      ...enroll('site-a', 'site-b'),
      ...['--rounds', '2', '--min-participants', '2', '--log-format', 'json'],
    ]);
    const probes = await Promise.all(['/healthz', '/readyz'].map(async (path) => (await fetch(`${url}${path}`)).status));
    const token = await createToken(deployment, 'data-ops', 'auditor');
    await Promise.all(
      ['site-a', 'site-b'].map((site) =>
        grantConsent(deployment, { url, federation: 'ops', site, out: `${site}.ops.consent.json`, token }),
      ),
    );
    const site = (name: string, data: string, extra: string[] = []) => [
      ...agentFlags({ url, federation: 'ops', site: name, data, consent: `${name}.ops.consent.json` }),
      ...extra,
    ];
    writeFileSync(join(deployment.dir, 'wrong.csv'), 'age,outcome\n50,yes\n');

    const ready = await runCli(['agent', 'check', ...site('site-a', 'mnist:1/4')], { cwd: deployment.dir });
    const badCheck = await runCli(['agent', 'check', ...site('site-b', 'csv:wrong.csv', ['--label', 'outcome'])], { cwd: deployment.dir });
    const unusable = await cohort(['agent', 'start', ...site('site-b', 'csv:wrong.csv', ['--label', 'outcome'])]).exited;
    const runs = await Promise.all([
      cohort(['agent', 'start', ...site('site-a', 'mnist:1/4')]).exited,
      cohort(['agent', 'start', ...site('site-b', 'mnist:2/4')]).exited,
    ]);
    const backup = await runCli(['backup', '--data-dir', 'data-ops', '--out', 'backup-ops'], { cwd: deployment.dir });
    const verified = await runCli(['model', 'verify', 'data-ops/models/ops/v2.cohort', '--key', 'keys/coordinator.pub.json'], {
      cwd: deployment.dir,
    });
    const tampered = readFileSync(join(deployment.dir, 'data-ops/models/ops/v2.cohort'));
    tampered[tampered.length - 100] = (tampered[tampered.length - 100] as number) ^ 1;
    writeFileSync(join(deployment.dir, 'v2-tampered.cohort'), tampered);
    const refused = await runCli(
      ['model', 'verify', 'v2-tampered.cohort', '--key', 'keys/coordinator.pub.json', '--card', 'data-ops/models/ops/v2.card.json'],
      { cwd: deployment.dir },
    );
    writeFileSync(
      join(deployment.dir, 'digits.csv'),
      `${Array.from({ length: 784 }, (_, i) => `p${i}`).join(',')}\n${Array(784).fill('0').join(',')}\n${Array(784).fill('0.5').join(',')}\n`,
    );
    const offline = await runCli(
      ['predict', '--model', 'data-ops/models/ops/v2.cohort', '--key', 'keys/coordinator.pub.json', '--data', 'digits.csv', '--json'],
      { cwd: deployment.dir },
    );
    const offlineTampered = await runCli(
      ['predict', '--model', 'v2-tampered.cohort', '--key', 'keys/coordinator.pub.json', '--data', 'digits.csv'],
      { cwd: deployment.dir },
    );
    const stopped = await coordinator.stop('SIGTERM');
    const restored = await runCli(
      ['restore', '--from', 'backup-ops', '--data-dir', 'data-ops-restored', '--key', 'keys/coordinator.pub.json'],
      { cwd: deployment.dir },
    );

    expect(probes).toEqual([200, 200]);
    expect(ready.code, ready.stdout + ready.stderr).toBe(0);
    expect(ready.stdout).toMatch(/^ok +coordinator .*site-a is enrolled in ops/m);
    expect(ready.stdout).toMatch(/^ok +consent /m);
    expect(ready.stdout).toMatch(/^ok +data +\d+ rows fit the federation's logreg model/m);
    expect(badCheck.code).toBe(1);
    expect(badCheck.stdout).toMatch(/^FAILED data .*wrong\.csv/m);
    expect(badCheck.stdout).toMatch(/not ready: data/);
    expect(unusable.code).toBe(1);
    expect(unusable.stderr.trim().split('\n').at(-1)).toMatch(/^cohort agent: .*wrong\.csv/);
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/backup written to backup-ops: the database \(\d+ audit events.* and 3 model files/);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(/ops v2, [\d,]+ parameters, verified/);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toMatch(/FAILED {2}frame .*NOT VERIFIED/s);
    expect(offline.code, offline.stderr).toBe(0);
    const predicted = JSON.parse(offline.stdout) as { probabilities: number[][] };
    expect(predicted.probabilities.map((p) => Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5)).toEqual([true, true]);
    expect(offlineTampered.code).toBe(1);
    expect(offlineTampered.stderr).toMatch(/v2-tampered\.cohort does not verify with keys\/coordinator\.pub\.json/);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/SIGTERM received: stopping/);
    expect(stopped.stdout).toMatch(/coordinator stopped; database closed/);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/audit chain intact: \d+ events, every signature valid/);
  });
});
