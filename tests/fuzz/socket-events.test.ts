/** Fuzzing every socket.io event of protocol/events.ts through a real coordinator on loopback: coded refusals, audited, bounded memory, and an honest round after. */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { CLIENT_EVENTS, PROTOCOL_VERSION, manifestHash } from '../../protocol/index.js';
import { generateIdentity, publicIdentityOf, signConsent, signRevocation, toBase64, type Identity } from '../../crypto/index.js';
import type { Agent } from '../../node-agent/index.js';
import { startCustomFederation } from '../e2e/custom-federation.js';
import { startAgent, type Federation } from '../e2e/helpers.js';
import { connectRefusal, rawConnect, type AckResult, type RawClient } from '../e2e/raw-client.js';
import { FUZZ_SEED, KNOWN_CODES, heapAfterGc, mutated, reportFuzz, runs, weirdValue } from './fuzz-report.js';

const counts: Record<string, number> = {};
const count = (name: string, n = 1): void => void (counts[name] = (counts[name] ?? 0) + n);
const opts = { seed: FUZZ_SEED };
/** Limits out of the way: this suite fuzzes the handlers, tests/e2e/rate-limit.test.ts the limits. */
const unlimited = {
  connections: { capacity: 1e9, refillPerSecond: 1e9 },
  messages: { capacity: 1e9, refillPerSecond: 1e9 },
  bytes: { capacity: 1e15, refillPerSecond: 1e15 },
};

let fed: Federation;
const agents: Agent[] = [];
const clients: RawClient[] = [];
const stats: Record<string, unknown> = {};
afterAll(async () => {
  clients.forEach((c) => c.close());
  agents.forEach((a) => a.close());
  await fed?.close();
  reportFuzz('socket-events', counts, stats);
});

const site = (i: number): Identity => fed.institutions[i] as Identity;
const audits = (kind: string, actor?: string) =>
  fed.coordinator.store.listAudit({ federationId: 'e2e' }).filter((e) => e.kind === kind && (actor === undefined || e.actor === actor));
const health = async () => (await fetch(`${fed.coordinator.url}/health`)).json() as Promise<{ ok: boolean }>;

/** A refusal must be a known code with a short message, and never INTERNAL (an unexpected throw). */
function expectCoded(ack: AckResult, what: string): void {
  if (ack.ok) return;
  expect(KNOWN_CODES.has(ack.error.code), `${what}: unknown code ${ack.error.code}`).toBe(true);
  expect(ack.error.code, `${what}: ${ack.error.message}`).not.toBe('INTERNAL');
  expect(ack.error.message.length).toBeLessThan(2_000);
}

/** A valid example of every client event's payload; the fuzzer mutates these field by field. */
function validPayloads(me: Identity): Record<string, unknown> {
  const manifest = fed.coordinator.store.getFederation('e2e')!.manifest;
  const consent = signConsent(
    {
      format: 'cohort-consent/v1',
      institution: me.id,
      federation: 'e2e',
      manifestHash: manifestHash(manifest),
      uses: ['training', 'evaluation'],
      ethicsApproval: { reference: 'FUZZ-1', expires: '2099-12-31' },
      dataCategories: manifest.dataCategories,
      dataResidency: 'local',
      limits: { requireSecureAggregation: false, minOtherInstitutions: 0 },
      grantedAt: new Date().toISOString(),
    },
    me.signSecretKey,
  );
  const known: Record<string, unknown> = {
    'session:auth': { signature: toBase64(randomBytes(64)) },
    'agent:ready': { samples: 100, backend: 'raw', consent, featureStats: { count: 2, mean: [0.5], m2: [0.1] } },
    'update:begin': { round: 1, uploadId: 'abcdefgh12', totalBytes: 1000, chunkBytes: 500, tail: 'a'.repeat(128) },
    'update:chunk': { uploadId: 'abcdefgh12', index: 0, data: new Uint8Array(500) },
    'update:commit': { uploadId: 'abcdefgh12' },
    'round:decline': { round: 1, code: 'CONSENT_EXPIRED', message: 'fuzz' },
    'round:evaluation': { round: 1, valLoss: 0.3, valAccuracy: 0.9, valSamples: 10 },
    'consent:revoke': { revocation: signRevocation(consent, 'fuzz', me.signSecretKey) },
  };
  // An event added later without an example here is still fuzzed, from a small object with a round.
  return Object.fromEntries(CLIENT_EVENTS.map((e) => [e, known[e] ?? { round: 1, type: e }]));
}

/** Extra arguments, or none at all, before the acknowledgement. */
const argLists = (payload: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: payload.map((p) => [p]) },
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.tuple(payload, weirdValue) },
  );

describe('the coordinator under fuzzed socket.io traffic', () => {
  it('answers fuzzed connect handshakes with a connection or a coded refusal', async () => {
    fed = await startCustomFederation(3, { rules: { rounds: 1, minParticipants: 2, joinGraceMs: 0 }, limits: unlimited });
    const base = { protocolVersion: PROTOCOL_VERSION, federation: 'e2e', institution: 'site-1', nonce: toBase64(randomBytes(32)) };
    await fc.assert(
      fc.asyncProperty(mutated(base), async (auth) => {
        count('connect-auth');
        const socket: Socket = io(fed.coordinator.url, {
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          auth: auth as Record<string, unknown>,
        });
        const outcome = await new Promise<{ ok: true } | { ok: false; data: unknown; message: string } | { closed: string }>((resolve) => {
          socket.once('session:challenge', () => resolve({ ok: true }));
          socket.once('connect_error', (e: Error & { data?: unknown }) => resolve({ ok: false, data: e.data, message: e.message }));
          // An auth that is not an object breaks socket.io's own CONNECT packet format: its parser closes the transport.
          // ("forced close" is the client closing itself as it reports a connect_error: not an outcome.)
          socket.io.on('close', (reason: string) => reason !== 'forced close' && resolve({ closed: reason }));
        });
        socket.close();
        if ('closed' in outcome) {
          stats.connectAuthClosedBySocketIo = Number(stats.connectAuthClosedBySocketIo ?? 0) + 1;
          expect(auth === null || typeof auth !== 'object' || Array.isArray(auth), JSON.stringify(auth)?.slice(0, 200)).toBe(true);
        } else if (!outcome.ok) {
          expect(KNOWN_CODES.has((outcome.data as { code?: string } | undefined)?.code ?? 'none'), outcome.message).toBe(true);
          expect(outcome.message.length).toBeLessThan(2_000);
        }
      }),
      // Found by fuzzing: a version whose toString is not a function threw inside the connect middleware (uncaught).
      {
        ...opts,
        numRuns: runs(60),
        examples: [[{ ...base, protocolVersion: { toString: 1 } }], [{ ...base, protocolVersion: 'v'.repeat(70_000) }]],
      },
    );
    expect(await health()).toMatchObject({ ok: true });
  });

  it('answers every event before authentication with UNAUTHENTICATED, and fuzzed challenge answers with BAD_REQUEST or BAD_SIGNATURE', async () => {
    const client = rawConnect({ url: fed.coordinator.url, federation: 'e2e', institution: 'site-1' });
    clients.push(client);
    await client.challenge;
    const payloads = validPayloads(site(0));
    const events = CLIENT_EVENTS.filter((e) => e !== 'session:auth');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...events).chain((e) => fc.tuple(fc.constant(e), argLists(mutated(payloads[e])))),
        async ([event, args]) => {
          count(`unauthenticated:${event}`);
          const ack = await client.call(event, ...args);
          expect(ack).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
        },
      ),
      { ...opts, numRuns: runs(120) },
    );
    client.close();

    await fc.assert(
      fc.asyncProperty(argLists(mutated(payloads['session:auth'])), async (args) => {
        count('session:auth');
        const c = rawConnect({ url: fed.coordinator.url, federation: 'e2e', institution: 'site-1' });
        await c.challenge;
        const ack = await c.call('session:auth', ...args);
        c.close();
        expectCoded(ack, 'session:auth');
        expect(ack.ok).toBe(false);
        expect(['BAD_REQUEST', 'BAD_SIGNATURE']).toContain((ack as { error: { code: string } }).error.code);
      }),
      { ...opts, numRuns: runs(40) },
    );
    expect(audits('agent.connected')).toEqual([]);
  });

  it('answers fuzzed payloads of every event from an authenticated institution with a result or a coded error, audits each refusal, and keeps memory bounded', async () => {
    const client = rawConnect({ url: fed.coordinator.url, federation: 'e2e', institution: 'site-1' });
    clients.push(client);
    expect((await client.authenticate(site(0).signSecretKey)).ok).toBe(true);
    const payloads = validPayloads(site(0));
    const auditedBefore = audits('message.refused', 'site-1').length;
    const heapBefore = heapAfterGc();
    let refusals = 0;
    const byCode: Record<string, number> = {};

    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...CLIENT_EVENTS).chain((e) => fc.tuple(fc.constant(e), argLists(mutated(payloads[e])))),
        async ([event, args]) => {
          count(`authenticated:${event}`);
          const ack = await client.call(event, ...args);
          expectCoded(ack, event);
          if (!ack.ok) {
            refusals++;
            byCode[ack.error.code] = (byCode[ack.error.code] ?? 0) + 1;
          }
        },
      ),
      { ...opts, numRuns: runs(800) },
    );
    // Unknown events and events without an acknowledgement: nothing to answer, but the session survives.
    const unknown = fc.sample(
      fc
        .string({ minLength: 1, maxLength: 80 })
        .filter((e) => !(CLIENT_EVENTS as readonly string[]).includes(e) && !/^(connect|disconnect|error)/.test(e)),
      { seed: FUZZ_SEED, numRuns: runs(30) },
    );
    for (const e of unknown) client.socket.emit(e, { x: 1 });
    for (const [e, p] of Object.entries(payloads)) client.socket.emit(e, mutated(p) && { broken: true });
    count('unknown-event', unknown.length);
    count('without-ack', Object.keys(payloads).length);
    const afterUnacked = await client.call('round:decline', { round: 999, code: 'X', message: 'still served' });
    const heapGrowth = heapAfterGc() - heapBefore;

    expect(client.socket.connected).toBe(true);
    expect(afterUnacked).toMatchObject({ ok: false, error: { code: 'ROUND_CLOSED' } });
    expect(await health()).toMatchObject({ ok: true });
    const audited = audits('message.refused', 'site-1').slice(auditedBefore);
    // One entry per refused acknowledged message (chunks for an unknown upload are answered, not audited), the unknown events, the unacknowledged ones, the last decline.
    const unknownUploads = byCode.UPLOAD_UNKNOWN ?? 0;
    expect(audited.filter((e) => e.data.message !== 'unknown event').length).toBeGreaterThanOrEqual(refusals - unknownUploads + 1);
    expect(audited.filter((e) => e.data.message === 'unknown event')).toHaveLength(unknown.length);
    expect(heapGrowth).toBeLessThan(48 * 1024 * 1024);
    Object.assign(stats, { authenticatedRefusals: refusals, refusalsByCode: byCode, heapGrowthBytes: heapGrowth });
  });

  it('refuses a suspended institution at connect (UNAUTHENTICATED) and a replaced key at the challenge (BAD_SIGNATURE), auditing both', async () => {
    clients.splice(0).forEach((c) => c.close());
    const { store } = fed.coordinator;
    const held = store.getInstitution('e2e', 'site-1')!;
    const auditedBefore = store.listAudit({ federationId: 'e2e' }).length;
    store.upsertInstitution({ ...held, status: 'suspended' });
    const suspended = await connectRefusal(rawConnect({ url: fed.coordinator.url, federation: 'e2e', institution: 'site-1' }));
    store.upsertInstitution({ ...held, status: 'active' });
    fed.coordinator.enroll(publicIdentityOf(generateIdentity('site-1'))); // the site's key was replaced: the old one is revoked
    const old = rawConnect({ url: fed.coordinator.url, federation: 'e2e', institution: 'site-1' });
    clients.push(old);
    const oldKey = await old.authenticate(site(0).signSecretKey);
    count('revoked-key', 2);

    expect(suspended.data).toMatchObject({ code: 'UNAUTHENTICATED', message: 'institution site-1 is suspended' });
    expect(oldKey).toMatchObject({ ok: false, error: { code: 'BAD_SIGNATURE' } });
    // Both are refused before authentication: written under the address (or counted into its window's summary), never the institution's.
    const audited = store.listAudit({ federationId: 'e2e' }).slice(auditedBefore);
    expect(audited.filter((e) => e.kind.endsWith('.refused') && e.actor === 'site-1')).toEqual([]);
  });

  it('runs an honest round after all that: two real agents train and the round publishes', async () => {
    clients.splice(0).forEach((c) => c.close());
    agents.push(startAgent(fed, 1), startAgent(fed, 2));

    const done = await Promise.all(agents.map((a) => a.done));

    expect(done).toEqual([
      { rounds: 1, finalVersion: 1 },
      { rounds: 1, finalVersion: 1 },
    ]);
    expect(fed.coordinator.store.getRound('e2e', 1)).toMatchObject({ state: 'published', metrics: { participants: 2 } });
    expect(await health()).toMatchObject({ ok: true });
  });
});
