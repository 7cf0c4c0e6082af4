/** A deployment over HTTPS and WSS with the CLI alone: `coordinator start --tls-cert/--tls-key`, agents with `--ca` or `--pin-sha256`. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  agentFlags,
  createToken,
  enroll,
  grantConsent,
  selfSignedCertificate,
  startCoordinator,
  useDeploymentFolder,
} from './deployment-fixtures.js';

const deployment = useDeploymentFolder({
  prefix: 'cohort-deploy-tls-',
  ids: ['coordinator', 'site-a', 'site-b'],
  timeoutMs: 90_000,
  prepare: (dir) => ['tls', 'other'].forEach((name) => selfSignedCertificate(dir, name)),
});

describe('a deployment over TLS with the cohort CLI alone', () => {
  it('serves HTTPS/WSS; agents trusting it by --ca and by --pin-sha256 complete a round; a wrong pin is refused with a clear error', async () => {
    const { url, proc: coordinator } = await startCoordinator(deployment, [
      ...['--data-dir', 'data', '--federation', 'tls', '--model', 'logreg', '--local-epochs', '1'],
      ...['--tls-cert', 'tls.crt', '--tls-key', 'tls.key', ...enroll('site-a', 'site-b'), '--rounds', '1', '--min-participants', '2'],
    ]);
    const pinLine = await coordinator.waitFor(/serving HTTPS and WSS/, 30_000);
    const pin = /"tlsCertSha256":"([0-9A-F:]{95})"/.exec(pinLine)![1] as string;
    const token = await createToken(deployment, 'data', 'admin');
    // Node's own clients (the consent command's fetch) trust the certificate through NODE_EXTRA_CA_CERTS.
    process.env.NODE_EXTRA_CA_CERTS = join(deployment.dir, 'tls.crt');
    const grants = await Promise.all(
      ['site-a', 'site-b'].map((site) => grantConsent(deployment, { url, federation: 'tls', site, out: `${site}.consent.json`, token })),
    );
    delete process.env.NODE_EXTRA_CA_CERTS;
    expect(grants.map((g) => [g.code, g.stderr.slice(0, 300)])).toEqual([
      [0, ''],
      [0, ''],
    ]);
    const agent = (site: string, data: string, trust: string[]) =>
      deployment.cohort([
        'agent',
        'start',
        ...agentFlags({ url, federation: 'tls', site, data, consent: `${site}.consent.json` }),
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
