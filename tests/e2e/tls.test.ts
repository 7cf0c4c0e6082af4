/** The coordinator over HTTPS and WSS: agents trust it by CA or pinned certificate, and still by its signing key. */
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { generateIdentity, publicIdentityOf, toBase64 } from '../../crypto/index.js';
import { tlsSocketOptions } from '../../node-agent/index.js';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { e2e, type Federation, startAgent } from './helpers.js';
import { startCustomFederation } from './custom-federation.js';
import { selfSignedCertificate, type SelfSignedCertificate } from '../simulations/deployment-fixtures.js';

const certs = mkdtempSync(join(tmpdir(), 'cohort-tls-'));

let server: SelfSignedCertificate;
let stranger: SelfSignedCertificate;
beforeAll(() => {
  server = selfSignedCertificate(certs, 'coordinator');
  stranger = selfSignedCertificate(certs, 'elsewhere');
});
afterAll(() => rmSync(certs, { recursive: true, force: true }));

/** A federation of `n` MNIST sites whose coordinator serves HTTPS and WSS with the self-signed certificate. */
const startTlsFederation = (n: number): Promise<Federation> => startCustomFederation(n, { tls: { cert: server.cert, key: server.key } });

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const audits = (fed: Federation, kind: string) => fed.coordinator.store.listAudit({ federationId: 'e2e' }).filter((e) => e.kind === kind);

describe('a coordinator started with a TLS certificate', () => {
  e2e('serves HTTPS, and agents trusting it by CA file or by pinned fingerprint train a round over WSS', async ({ cohort }) => {
    const fed = cohort.track(await startTlsFederation(2));
    const byCa = startAgent(fed, 0, { socketOptions: tlsSocketOptions({ ca: server.cert }) });
    const byPin = startAgent(fed, 1, {
      socketOptions: tlsSocketOptions({ pinSha256: server.fingerprint.replace(/:/g, '').toLowerCase() }),
    });
    cohort.agents.push(byCa, byPin);

    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      get(`${fed.coordinator.url}/health`, { ca: server.cert }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    const done = await Promise.all(cohort.agents.map((a) => a.done));

    expect(fed.coordinator.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true });
    expect(done).toEqual([
      { rounds: 1, finalVersion: 1 },
      { rounds: 1, finalVersion: 1 },
    ]);
    expect(fed.coordinator.store.listParticipations('e2e', 1).map((p) => [p.institutionId, p.status])).toEqual([
      ['site-1', 'accepted'],
      ['site-2', 'accepted'],
    ]);
  });

  e2e(
    'is refused by an agent with the wrong pin, the wrong CA, or no trust configured, with a clear TLS error and nothing sent',
    async ({ cohort }) => {
      const fed = cohort.track(await startTlsFederation(1));
      const cases = [
        [tlsSocketOptions({ pinSha256: stranger.fingerprint }), 'ERR_COHORT_PIN_MISMATCH', `not the pinned ${stranger.fingerprint}`],
        [tlsSocketOptions({ ca: stranger.cert }), 'DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed'],
        [{}, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed'],
        // Both must hold when both are given: the right pin does not excuse a certificate the CA did not issue.
        [tlsSocketOptions({ pinSha256: server.fingerprint, ca: stranger.cert }), 'DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed'],
      ] as const;

      const errors: unknown[] = [];
      for (const [socketOptions] of cases) {
        const agent = startAgent(fed, 0, { socketOptions });
        cohort.agents.push(agent);
        errors.push(await failure(agent.ready));
      }

      cases.forEach(([, code, text], i) => {
        expect(errors[i]).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining(`not trusted over TLS (${code})`) });
        expect((errors[i] as Error).message).toContain(text);
      });
      expect(audits(fed, 'agent.connected')).toEqual([]);
      expect(audits(fed, 'connection.refused')).toEqual([]); // the socket.io handshake never happened
      expect(fed.coordinator.runner.onlineInstitutions).toEqual([]);
    },
  );

  e2e('still needs the coordinator signing key: an agent with the right pin but another pinned key refuses it', async ({ cohort }) => {
    const fed = cohort.track(await startTlsFederation(1));
    const agent = startAgent(fed, 0, {
      coordinator: publicIdentityOf(generateIdentity('coordinator')),
      socketOptions: tlsSocketOptions({ pinSha256: server.fingerprint }),
    });
    cohort.agents.push(agent);

    const err = await failure(agent.ready);

    expect(err).toMatchObject({ code: 'BAD_SIGNATURE', message: expect.stringContaining('pinned coordinator key') });
    expect(audits(fed, 'agent.connected')).toEqual([]);
  });

  e2e(
    'does not speak plain WS: a client at the http:// URL of the HTTPS port fails to connect, and the coordinator stays up',
    async ({ cohort }) => {
      const fed = cohort.track(await startTlsFederation(1));
      const plainUrl = fed.coordinator.url.replace('https://', 'http://');
      const client = io(plainUrl, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        auth: { protocolVersion: PROTOCOL_VERSION, federation: 'e2e', institution: 'site-1', nonce: toBase64(new Uint8Array(32)) },
      });

      const outcome = await new Promise<string>((resolve) => {
        client.once('connect', () => resolve('connected'));
        client.once('connect_error', (e: Error) => resolve(`error: ${e.message}`));
      });
      client.close();
      const agent = startAgent(fed, 0, { socketOptions: tlsSocketOptions({ ca: server.cert }) });
      cohort.agents.push(agent);

      expect(outcome).toMatch(/^error: /);
      await agent.ready;
      expect(fed.coordinator.runner.onlineInstitutions).toEqual(['site-1']);
    },
  );
});
