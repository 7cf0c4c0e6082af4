/** A deployment over HTTPS and WSS with the CLI alone: `coordinator start --tls-cert/--tls-key`, agents with `--ca` or `--pin-sha256`. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startCli, type CliProcess } from './cli-helpers.js';

let dir: string;
const running: CliProcess[] = [];
const cohort = (args: string[], timeoutMs = 90_000): CliProcess => {
  const p = startCli(args, { cwd: dir, timeoutMs });
  running.push(p);
  return p;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-deploy-tls-'));
  const results = await Promise.all(
    ['coordinator', 'site-a', 'site-b'].map((id) => runCli(['keys', 'generate', '--id', id, '--out', 'keys'], { cwd: dir })),
  );
  expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
  for (const name of ['tls', 'other']) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.crt`),
      ],
      { stdio: 'ignore' },
    );
  }
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a deployment over TLS with the cohort CLI alone', () => {
  it('serves HTTPS/WSS; agents trusting it by --ca and by --pin-sha256 complete a round; a wrong pin is refused with a clear error', async () => {
    const port = await freePort();
    const coordinator = cohort([
      'coordinator',
      'start',
      '--key',
      'keys/coordinator.key.json',
      '--data-dir',
      'data',
      '--federation',
      'tls',
      '--model',
      'logreg',
      '--local-epochs',
      '1',
      '--port',
      String(port),
      '--tls-cert',
      'tls.crt',
      '--tls-key',
      'tls.key',
      '--enroll',
      'keys/site-a.pub.json',
      '--enroll',
      'keys/site-b.pub.json',
      '--rounds',
      '1',
      '--min-participants',
      '2',
    ]);
    const pinLine = await coordinator.waitFor(/serving HTTPS and WSS/, 30_000);
    await coordinator.waitFor(/coordinator ready/, 30_000);
    const pin = /"tlsCertSha256":"([0-9A-F:]{95})"/.exec(pinLine)![1] as string;
    const url = `https://127.0.0.1:${port}`;
    const token = /^cohort_\S+$/m.exec(
      (await runCli(['tokens', 'create', '--data-dir', 'data', '--key', 'keys/coordinator.key.json', '--role', 'admin'], { cwd: dir }))
        .stdout,
    )![0];
    // Node's own clients (the consent command's fetch) trust the certificate through NODE_EXTRA_CA_CERTS.
    process.env.NODE_EXTRA_CA_CERTS = join(dir, 'tls.crt');
    const grants = await Promise.all(
      ['site-a', 'site-b'].map((site) =>
        runCli(
          [
            'consent',
            'grant',
            '--key',
            `keys/${site}.key.json`,
            '--study',
            `${url}/api/federations/tls/study`,
            '--token',
            token,
            '--ethics-ref',
            'IRB-1',
            '--expires',
            '2099-12-31',
            '--out',
            `${site}.consent.json`,
          ],
          { cwd: dir },
        ),
      ),
    );
    delete process.env.NODE_EXTRA_CA_CERTS;
    expect(grants.map((g) => [g.code, g.stderr.slice(0, 300)])).toEqual([
      [0, ''],
      [0, ''],
    ]);
    const agent = (site: string, slice: string, trust: string[]) =>
      cohort([
        'agent',
        'start',
        '--coordinator',
        url,
        '--coordinator-key',
        'keys/coordinator.pub.json',
        '--federation',
        'tls',
        '--key',
        `keys/${site}.key.json`,
        '--data',
        slice,
        '--consent',
        `${site}.consent.json`,
        ...trust,
      ]);

    const wrongPin = await agent('site-a', 'mnist:1/8', ['--pin-sha256', 'AB'.repeat(32)]).exited;
    const [a, b] = await Promise.all([
      agent('site-a', 'mnist:1/8', ['--ca', 'tls.crt']).exited,
      agent('site-b', 'mnist:2/8', ['--pin-sha256', pin]).exited,
    ]);
    const noTrust = await agent('site-a', 'mnist:1/8', ['--ca', 'other.crt']).exited;

    expect(pin).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(wrongPin.code).not.toBe(0);
    expect(`${wrongPin.stdout}${wrongPin.stderr}`).toMatch(/not trusted over TLS \(ERR_COHORT_PIN_MISMATCH\)/);
    expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
    expect(a.stdout).toMatch(/federation complete; agent exits/);
    expect(noTrust.code).not.toBe(0);
    expect(`${noTrust.stdout}${noTrust.stderr}`).toMatch(/not trusted over TLS \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    expect((await coordinator.stop('SIGTERM')).stdout).toMatch(/"round":1,"version":1.*round published/);
  });
});
