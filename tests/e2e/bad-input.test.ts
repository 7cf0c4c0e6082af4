/** Hostile and broken clients against the real coordinator: each gets a coded error, an audit entry, and nobody else is hurt. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { describe, expect } from 'vitest';
import { CohortError, PROTOCOL_VERSION, type ErrorCode, type RoundTask, type StudyManifest } from '../../protocol/index.js';
import { generateIdentity, publicIdentityOf, signChallenge, fromBase64, toBase64, type Identity } from '../../crypto/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { initialWeights } from '../../coordinator/models/index.js';
import { encodeAndSign, toSignedModel } from '../../coordinator/rounds/model-signing.js';
import { e2e, permissivePolicy, startAgent, startFederation, type Cohort, type Federation } from './helpers.js';
import { connectRefusal, joinAs, rawConnect, sealUpdate, taskWeights, until, type AckResult, type RawClient } from './raw-client.js';
import { greetAgent } from './hostile-coordinator.js';

/** Raw clients and audit look-ups against `fed`, each client closed after the test. */
const using = (cohort: Cohort, fed: Federation) => {
  const raw = (institution: string, extra: { protocolVersion?: unknown; federation?: string } = {}): RawClient =>
    cohort.track(
      rawConnect({ url: fed.coordinator.url, federation: extra.federation ?? fed.coordinator.federation, institution, ...extra }),
    );
  const join = async (i: number, samples = 100): Promise<RawClient> =>
    cohort.track(await joinAs(fed.coordinator.url, fed.coordinator.federation, fed.institutions[i] as Identity, samples));
  const site = (i: number): Identity => fed.institutions[i] as Identity;
  /** Audit events of one kind (and actor), oldest first. */
  const audits = (kind: string, actor?: string) =>
    fed.coordinator.store
      .listAudit({ federationId: fed.coordinator.federation })
      .filter((e) => e.kind === kind && (actor === undefined || e.actor === actor));
  const health = async (): Promise<unknown> => (await fetch(`${fed.coordinator.url}/health`)).json();
  /** Waits for `count` audit entries of `kind` (the immediate first one of a window and its summary). */
  const auditsSettled = (kind: string, count: number) =>
    until(() => audits(kind).length >= count && audits(kind), 5_000, `${count} ${kind} entries`);
  return { raw, join, site, audits, health, auditsSettled };
};

/** Asserts that an acknowledgement is a refusal with `code` whose message contains every fragment. */
function expectRefused(ack: AckResult, code: ErrorCode, ...fragments: (string | RegExp)[]): void {
  expect(ack).toMatchObject({ ok: false, error: { code } });
  const message = (ack as { error: { message: string } }).error.message;
  for (const f of fragments) expect(message).toMatch(f);
}

/** A federation of `n` whose audit windows for unauthenticated traffic close after 200 ms, so their summaries can be read. */
const startShortWindow = (n: number, rules: Parameters<typeof startFederation>[1] = {}): Promise<Federation> =>
  startFederation(n, rules, 'logreg', 300, permissivePolicy, { limits: { auditWindowMs: 200 } });

const ADDRESS = expect.stringMatching(/^address:/);

/**
 * A socket.io server posing as the coordinator: presents `presentKey` in its challenge, accepts any answer,
 * then hands out `tasks` one at a time (after ready and after each decline) and records what the agent sends.
 */
/**
 * A server of our own at another URL. With `proofKey` (the coordinator's identity) it stands for a relay in
 * the middle, which passes the handshake by forwarding the real coordinator's proof; without it, for a server
 * that only knows the coordinator's public key.
 */
async function startImpostor(
  cohort: Cohort,
  p: { presentKey: Uint8Array; proofKey?: Identity; challenge?: string; tasks: unknown[]; study?: StudyManifest },
) {
  const http = createServer();
  const io = new Server(http);
  const seen = { auths: 0, declines: [] as unknown[], begins: [] as unknown[] };
  io.on('connection', (socket) => {
    const queue = [...p.tasks];
    const next = () => queue.length > 0 && socket.emit('round:task', queue.shift());
    greetAgent(socket, { ...p, spec: mnistSpec('logreg'), study: () => p.study, onAuth: () => seen.auths++ });
    socket.on('agent:ready', (_msg, ack: (r: unknown) => void) => (ack({ ok: true }), next()));
    socket.on('round:decline', (msg, ack: (r: unknown) => void) => (seen.declines.push(msg), ack({ ok: true }), next()));
    socket.on(
      'update:begin',
      (msg, ack: (r: unknown) => void) => (seen.begins.push(msg), ack({ ok: false, error: { code: 'ROUND_CLOSED', message: 'impostor' } })),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cohort.defer(() => new Promise<void>((resolve) => io.close(() => resolve())));
  return Object.assign(seen, { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` });
}

/** Rules for rounds that start as soon as every enrolled site is ready and publish with at least one update. */
const oneRound = { rounds: 1, minParticipants: 1, joinGraceMs: 10_000, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } };

describe('the coordinator at connect', () => {
  e2e('refuses another protocol version with PROTOCOL_MISMATCH naming both versions, and audits it', async ({ cohort }) => {
    const fed = cohort.track(await startShortWindow(1));
    const { raw, auditsSettled } = using(cohort, fed);

    const newer = await connectRefusal(raw('site-1', { protocolVersion: PROTOCOL_VERSION + 1 }));
    const garbled = await connectRefusal(raw('site-1', { protocolVersion: 'one' }));

    expect(newer.data?.code).toBe('PROTOCOL_MISMATCH');
    expect(newer.message).toContain(`protocol version ${PROTOCOL_VERSION + 1} is not supported`);
    expect(newer.message).toContain(`speaks version ${PROTOCOL_VERSION}`);
    expect(garbled.data).toMatchObject({ code: 'PROTOCOL_MISMATCH', message: expect.stringContaining('one') });
    // Nothing is authenticated at connect: the entries are the address's, the claimed id is only data.
    const [first, summary] = await auditsSettled('connection.refused', 2);
    expect(first).toMatchObject({ actor: ADDRESS, data: { code: 'PROTOCOL_MISMATCH', claimedInstitution: 'site-1' } });
    expect(summary).toMatchObject({ actor: first!.actor, data: { repeated: 1, codes: { PROTOCOL_MISMATCH: 1 } } });
  });

  e2e(
    'refuses an institution that is not enrolled with UNKNOWN_INSTITUTION, and a malformed id with BAD_REQUEST, and audits both',
    async ({ cohort }) => {
      const fed = cohort.track(await startShortWindow(1));
      const { raw, auditsSettled } = using(cohort, fed);

      const unknown = await connectRefusal(raw('intruder'));
      const malformed = await connectRefusal(raw('../../etc/passwd'));
      const huge = await connectRefusal(raw('x'.repeat(10_000)));

      expect(unknown.data).toEqual({ code: 'UNKNOWN_INSTITUTION', message: 'institution intruder is not enrolled in e2e' });
      expect(malformed.data?.code).toBe('BAD_REQUEST');
      expect(malformed.message).toMatch(/^connect auth invalid: institution: /);
      expect(huge.data?.code).toBe('BAD_REQUEST');
      expect(huge.message.length).toBeLessThan(300);
      const [first, summary] = await auditsSettled('connection.refused', 2);
      expect(first).toMatchObject({ actor: ADDRESS, data: { code: 'UNKNOWN_INSTITUTION', claimedInstitution: 'intruder' } });
      expect(summary).toMatchObject({ actor: first!.actor, data: { repeated: 2, codes: { BAD_REQUEST: 2 }, claimedInstitutions: [] } });
    },
  );

  e2e('refuses a connection for another federation with WRONG_FEDERATION, and audits it', async ({ cohort }) => {
    const fed = await cohort.federation(1);
    const { raw, audits } = using(cohort, fed);

    const err = await connectRefusal(raw('site-1', { federation: 'other-fed' }));

    expect(err.data).toEqual({ code: 'WRONG_FEDERATION', message: 'this coordinator runs federation e2e, not other-fed' });
    expect(audits('connection.refused').map((e) => [e.actor, e.data.code, e.data.claimedInstitution])).toEqual([
      [ADDRESS, 'WRONG_FEDERATION', 'site-1'],
    ]);
  });

  e2e(
    'refuses a challenge signed with another key, for another coordinator, or replayed from another session with BAD_SIGNATURE, disconnects, audits, and still admits the real site',
    async ({ cohort }) => {
      const fed = cohort.track(await startShortWindow(2, { minParticipants: 2 }));
      const { raw, join, site, audits, auditsSettled } = using(cohort, fed);
      const impostor = raw('site-1');
      const relayed = raw('site-1');

      const wrongKey = await impostor.authenticate(site(1).signSecretKey);
      const ch = await relayed.challenge;
      const otherCoordinator = generateIdentity('elsewhere').signPublicKey;
      const boundElsewhere = signChallenge(
        { federation: 'e2e', institution: 'site-1', challenge: fromBase64(ch.challenge), coordinatorSignPublicKey: otherCoordinator },
        site(0).signSecretKey,
      );
      const relayedAck = await relayed.call('session:auth', { signature: toBase64(boundElsewhere) });
      const reasons = await Promise.all([impostor.disconnected, relayed.disconnected]);
      const honest = await join(0);
      const eavesdropped = signChallenge(
        {
          federation: 'e2e',
          institution: 'site-1',
          challenge: fromBase64((await honest.challenge).challenge),
          coordinatorSignPublicKey: fed.coordinatorIdentity.signPublicKey,
        },
        site(0).signSecretKey,
      );
      const replayer = raw('site-1');
      await replayer.challenge;
      const replayedAck = await replayer.call('session:auth', { signature: toBase64(eavesdropped) });

      expectRefused(wrongKey, 'BAD_SIGNATURE', 'does not verify with the key enrolled for site-1');
      expectRefused(relayedAck, 'BAD_SIGNATURE');
      expectRefused(replayedAck, 'BAD_SIGNATURE');
      expect(reasons).toEqual(['io server disconnect', 'io server disconnect']);
      expect(await replayer.disconnected).toBe('io server disconnect');
      const [first, summary] = await auditsSettled('message.refused', 2);
      expect(first).toMatchObject({ actor: ADDRESS, data: { event: 'session:auth', code: 'BAD_SIGNATURE', claimedInstitution: 'site-1' } });
      expect(summary).toMatchObject({
        actor: first!.actor,
        data: { repeated: 2, codes: { BAD_SIGNATURE: 2 }, claimedInstitutions: ['site-1'] },
      });
      expect(audits('message.refused', 'site-1')).toEqual([]);
      expect(audits('agent.connected', 'site-1')).toHaveLength(1);
      expect(honest.socket.connected).toBe(true);
    },
  );

  e2e('answers every event sent before authentication with UNAUTHENTICATED and audits it under the address', async ({ cohort }) => {
    const fed = cohort.track(await startShortWindow(1));
    const { raw, auditsSettled } = using(cohort, fed);
    const client = raw('site-1');
    await client.challenge;

    const acks = [
      await client.call('agent:ready', { samples: 10, backend: 'raw' }),
      await client.call('update:begin', { round: 1, uploadId: 'abcdefgh', totalBytes: 64, chunkBytes: 64, tail: '0'.repeat(128) }),
      await client.call('update:chunk', { uploadId: 'abcdefgh', index: 0, data: new Uint8Array(10) }),
      await client.call('update:commit', { uploadId: 'abcdefgh' }),
      await client.call('round:decline', { round: 1, code: 'NO', message: 'no' }),
    ];

    for (const ack of acks) expectRefused(ack, 'UNAUTHENTICATED', 'before authentication');
    const [first, summary] = await auditsSettled('message.refused', 2);
    expect(first).toMatchObject({ actor: ADDRESS, data: { code: 'UNAUTHENTICATED', claimedInstitution: 'site-1' } });
    expect(summary?.data).toMatchObject({ repeated: 4, codes: { UNAUTHENTICATED: 4 } });
    expect(fed.coordinator.runner.onlineInstitutions).toEqual([]);
    expect(fed.coordinator.runner.activeRound?.state).toBe('waiting');
  });
});

describe('unauthenticated traffic in the audit log', () => {
  e2e(
    "attributes an outsider's handshakes claiming an enrolled id to its address, never to the institution, and aggregates them per window; the real site still gets in",
    async ({ cohort }) => {
      const fed = cohort.track(await startShortWindow(1));
      const { raw, join } = using(cohort, fed);
      const before = fed.coordinator.store.listAudit({ federationId: 'e2e' }).length;
      const outsider = generateIdentity('site-1'); // knows the id, not the key

      let attempts = 0;
      for (let i = 0; i < 15; i++) {
        const c = raw('site-1');
        await c.challenge;
        for (const event of ['agent:ready', 'update:commit', 'steal:weights']) {
          await c.call(event, { samples: 1 });
          attempts++;
        }
        await c.authenticate(outsider.signSecretKey);
        attempts++;
        c.close();
      }
      await new Promise((r) => setTimeout(r, 400)); // every window closes and writes its summary
      const written = fed.coordinator.store.listAudit({ federationId: 'e2e' }).slice(before);
      const honest = await join(0);

      expect(attempts).toBe(60);
      expect(written.filter((e) => e.actor === 'site-1' || e.subject === 'site-1')).toEqual([]);
      const refused = written.filter((e) => e.kind === 'message.refused');
      expect(refused).toHaveLength(2); // the first of the window, and one summary with the count
      expect(refused.every((e) => e.actor.startsWith('address:'))).toBe(true);
      expect(refused[1]?.data).toMatchObject({
        repeated: 59,
        codes: { UNAUTHENTICATED: 29, UNKNOWN_EVENT: 15, BAD_SIGNATURE: 15 },
        claimedInstitutions: ['site-1'],
      });
      expect(honest.socket.connected).toBe(true);
    },
  );

  e2e(
    'answers an unknown event that carries an acknowledgement with UNKNOWN_EVENT, before and after authentication',
    async ({ cohort }) => {
      const fed = await cohort.federation(1);
      const { raw, site, audits } = using(cohort, fed);
      const client = raw('site-1');
      await client.challenge;

      const before = await client.call('steal:weights', { please: true });
      const noArgs = await client.call('x'.repeat(500));
      expect((await client.authenticate(site(0).signSecretKey)).ok).toBe(true);
      const after = await client.call('admin:shutdown');

      expectRefused(before, 'UNKNOWN_EVENT', 'unknown event "steal:weights"', 'session:auth');
      expectRefused(noArgs, 'UNKNOWN_EVENT');
      expect((noArgs as { error: { message: string } }).error.message.length).toBeLessThan(300);
      expectRefused(after, 'UNKNOWN_EVENT', 'unknown event "admin:shutdown"');
      expect(audits('message.refused', 'site-1').map((e) => [e.data.event, e.data.code])).toEqual([['admin:shutdown', 'UNKNOWN_EVENT']]);
      expect(client.socket.connected).toBe(true);
    },
  );
});

describe('the coordinator on malformed messages', () => {
  e2e(
    'answers a malformed payload of every client event with BAD_REQUEST naming the field, survives events without an ack, and audits each',
    async ({ cohort }) => {
      const fed = await cohort.federation(2, { minParticipants: 2 });
      const { raw, site, audits, health } = using(cohort, fed);
      const client = raw('site-1');
      const badAuth = await client.call('session:auth', { signature: 42 });
      expect((await client.authenticate(site(0).signSecretKey)).ok).toBe(true);
      const valid = { round: 1, uploadId: 'abcdefgh', totalBytes: 64, chunkBytes: 64, tail: 'a'.repeat(128) };
      const cases: [event: string, payload: unknown, path: string][] = [
        ['agent:ready', { samples: 'many', backend: 'raw' }, 'samples'],
        ['agent:ready', { backend: 'raw' }, 'samples'],
        ['agent:ready', { samples: 10, backend: 'x'.repeat(200_000) }, 'backend'],
        ['agent:ready', { samples: 10, backend: 'raw', featureStats: { count: -1, mean: [], m2: [] } }, 'featureStats.count'],
        ['agent:ready', null, '(root)'],
        ['update:begin', { ...valid, round: 0 }, 'round'],
        ['update:begin', { ...valid, tail: 'XYZ' }, 'tail'],
        ['update:begin', { ...valid, uploadId: '../../etc/passwd' }, 'uploadId'],
        ['update:begin', { ...valid, totalBytes: 1.5 }, 'totalBytes'],
        ['update:begin', [1, 2, 3], '(root)'],
        ['update:chunk', { uploadId: 'abcdefgh', index: -1, data: new Uint8Array(4) }, 'index'],
        ['update:chunk', { uploadId: 'abcdefgh', index: 0, data: 'not bytes' }, 'data'],
        ['update:commit', {}, 'uploadId'],
        ['update:commit', { uploadId: 'x'.repeat(100_000) }, 'uploadId'],
        ['round:decline', { round: 1, code: 'X', message: 'y'.repeat(100_000) }, 'message'],
        ['round:decline', { round: 'one', code: 'X', message: '' }, 'round'],
      ];

      const acks: AckResult[] = [];
      for (const [event, payload] of cases) acks.push(await client.call(event, payload));
      client.socket.emit('agent:ready', { samples: 'no ack' });
      client.socket.emit('update:commit');
      client.socket.emit('steal:weights', { please: true });
      const extraArgs = await client.call('agent:ready', { samples: 'many', backend: 'raw' }, 'extra argument');
      const stillServed = await client.call('update:commit', { uploadId: 'abcdefgh' });

      expectRefused(badAuth, 'BAD_REQUEST', 'session:auth: signature:');
      cases.forEach(([event, , path], i) => {
        expectRefused(acks[i]!, 'BAD_REQUEST', `${event}: ${path}: `);
        expect((acks[i] as { error: { message: string } }).error.message.length).toBeLessThan(500);
      });
      expectRefused(extraArgs, 'BAD_REQUEST', 'agent:ready: samples: ');
      expectRefused(stillServed, 'UPLOAD_UNKNOWN', 'no upload abcdefgh in progress');
      expect(client.socket.connected).toBe(true);
      expect(await health()).toMatchObject({ ok: true });
      const refused = audits('message.refused', 'site-1');
      expect(refused.filter((e) => e.data.code === 'BAD_REQUEST')).toHaveLength(cases.length + 2 + 1); // cases, two without ack, extra argument (the bad auth is the address's)
      expect(refused.some((e) => e.data.event === 'steal:weights' && e.data.code === 'UNKNOWN_EVENT')).toBe(true);
      expect(fed.coordinator.runner.onlineInstitutions).toEqual([]);
    },
  );
});

describe('the coordinator on hostile updates', () => {
  e2e(
    'records a decline with a code it does not know as UNKNOWN_CODE, keeping the code sent in the audit, and the round goes on without that site',
    async ({ cohort }) => {
      const fed = await cohort.federation(2, oneRound);
      const { join, site, audits, health } = using(cohort, fed);
      const [decliner, other] = [await join(0), await join(1)];
      const box = fed.coordinatorIdentity.boxPublicKey;
      const [declined, task] = await Promise.all([decliner.nextTask(), other.nextTask()]);

      const ack = await decliner.call('round:decline', { round: declined.round, code: 'SOME_FUTURE_CODE', message: 'from a newer agent' });
      const upload = await other.upload(1, sealUpdate({ identity: site(1), coordinatorBoxPublicKey: box, task }));
      await until(() => fed.coordinator.store.getRound('e2e', 1)?.state === 'published', 5_000, 'round 1 published');

      expect(ack).toMatchObject({ ok: true });
      expect(upload.ack).toMatchObject({ ok: true });
      expect(fed.coordinator.store.getParticipation('e2e', 1, 'site-1')).toMatchObject({
        status: 'declined',
        code: 'UNKNOWN_CODE',
        message: 'from a newer agent',
      });
      expect(audits('participant.declined', 'site-1').map((e) => e.data)).toEqual([
        { round: 1, code: 'UNKNOWN_CODE', reportedCode: 'SOME_FUTURE_CODE', message: 'from a newer agent' },
      ]);
      expect(await health()).toMatchObject({ ok: true });
    },
  );

  e2e(
    'refuses a round-1 update replayed in round 2 with WRONG_ROUND and a second submission in the same round with DUPLICATE, keeping what was accepted',
    async ({ cohort }) => {
      const fed = await cohort.federation(2, { ...oneRound, rounds: 2 });
      const { join, site, audits } = using(cohort, fed);
      const [attacker, other] = [await join(0), await join(1)];
      const box = fed.coordinatorIdentity.boxPublicKey;
      const task1 = await attacker.nextTask();
      const captured = sealUpdate({ identity: site(0), coordinatorBoxPublicKey: box, task: task1 });

      const first = await attacker.upload(1, captured);
      const again = await attacker.upload(1, captured);
      expect(
        (await other.upload(1, sealUpdate({ identity: site(1), coordinatorBoxPublicKey: box, task: await other.nextTask() }))).ack.ok,
      ).toBe(true);
      const task2 = await attacker.nextTask();
      const oldRound = await attacker.upload(1, captured);
      const replayed = await attacker.upload(2, captured);
      expect(
        (await other.upload(2, sealUpdate({ identity: site(1), coordinatorBoxPublicKey: box, task: await other.nextTask() }))).ack.ok,
      ).toBe(true);
      await until(() => fed.coordinator.store.getRound('e2e', 2)?.state === 'published', 5_000, 'round 2 published');

      expect(task2.round).toBe(2);
      expect(first.ack).toMatchObject({ ok: true });
      expect(again.step).toBe('begin');
      expectRefused(again.ack, 'DUPLICATE', 'site-1 already reported for round 1');
      expect(oldRound.step).toBe('begin');
      expectRefused(oldRound.ack, 'WRONG_ROUND', 'update for round 1, current round is 2');
      expect(replayed.step).toBe('commit');
      expectRefused(replayed.ack, 'WRONG_ROUND', 'round is 1, expected 2');
      const { store } = fed.coordinator;
      expect(store.getParticipation('e2e', 1, 'site-1')).toMatchObject({
        status: 'accepted',
        digest: (first.ack as unknown as { digest: string }).digest,
      });
      expect(store.getParticipation('e2e', 2, 'site-1')).toMatchObject({ status: 'refused', code: 'WRONG_ROUND' });
      expect(store.listRounds('e2e').map((r) => [r.round, r.state, r.metrics?.participants])).toEqual([
        [1, 'published', 2],
        [2, 'published', 1],
      ]);
      expect(audits('message.refused', 'site-1').map((e) => [e.data.event, e.data.code])).toEqual([
        ['update:begin', 'DUPLICATE'],
        ['update:begin', 'WRONG_ROUND'],
        ['update:commit', 'WRONG_ROUND'],
      ]);
      expect(audits('update.refused', 'site-1').map((e) => [e.subject, e.data.code])).toEqual([['round:2', 'WRONG_ROUND']]);
    },
  );

  e2e(
    'refuses envelopes for another federation, signed by another site, tampered, sealed to another key, or garbage, and publishes the honest update',
    async ({ cohort }) => {
      const fed = await cohort.federation(7, oneRound);
      const { join, site, audits } = using(cohort, fed);
      const sites = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((i) => join(i)));
      const tasks = await Promise.all(sites.map((c) => c.nextTask()));
      const box = fed.coordinatorIdentity.boxPublicKey;
      const seal = (i: number, extra: Partial<Parameters<typeof sealUpdate>[0]> = {}) =>
        sealUpdate({ identity: site(i), coordinatorBoxPublicKey: box, task: tasks[i] as RoundTask, ...extra });
      const honest = seal(6);
      const tampered = seal(2);
      tampered[tampered.length - 200] = (tampered[tampered.length - 200] as number) ^ 0x01; // a ciphertext byte
      const garbage = new Uint8Array(5000).map((_, i) => (i * 7919) % 251);
      const attacks: [Uint8Array, ErrorCode, string][] = [
        [seal(0, { context: { federation: 'other-fed' } }), 'WRONG_FEDERATION', 'federation is "other-fed", expected "e2e"'],
        [seal(1, { signSecretKey: site(6).signSecretKey }), 'BAD_SIGNATURE', 'does not verify with the public key of site-2'],
        [tampered, 'DECRYPT_FAILED', 'corrupted ciphertext'], // envelope v2 signs header and tag: the AEAD tag catches it
        [seal(3, { coordinatorBoxPublicKey: generateIdentity('not-the-coordinator').boxPublicKey }), 'DECRYPT_FAILED', 'does not decrypt'],
        [garbage, 'CORRUPT_PAYLOAD', 'update refused'],
        [honest, 'BAD_SIGNATURE', 'site-6'],
      ];

      const results = await Promise.all(attacks.map(([bytes], i) => (sites[i] as RawClient).upload(1, bytes)));
      const accepted = await (sites[6] as RawClient).upload(1, honest);
      await until(() => fed.coordinator.store.getRound('e2e', 1)?.state === 'published', 5_000, 'round 1 published');

      const { store } = fed.coordinator;
      attacks.forEach(([, code, text], i) => {
        expect(results[i]?.step).toBe('commit');
        expectRefused(results[i]!.ack, code, text);
        expect(store.getParticipation('e2e', 1, `site-${i + 1}`)).toMatchObject({ status: 'refused', code });
        expect(audits('update.refused', `site-${i + 1}`).map((e) => e.data.code)).toEqual([code]);
      });
      expect(accepted.ack).toMatchObject({ ok: true });
      expect(store.getParticipation('e2e', 1, 'site-7')?.status).toBe('accepted');
      expect(store.getRound('e2e', 1)).toMatchObject({ state: 'published', resultVersion: 1, metrics: { participants: 1 } });
    },
  );

  e2e(
    'refuses NaN or infinite weights, wrong shapes, bad sample counts, a wrong base version and broken metadata, and publishes the honest update',
    async ({ cohort }) => {
      const fed = await cohort.federation(11, oneRound);
      const { join, site, audits } = using(cohort, fed);
      const sites = await Promise.all(Array.from({ length: 11 }, (_, i) => join(i, 300)));
      const tasks = await Promise.all(sites.map((c) => c.nextTask()));
      const box = fed.coordinatorIdentity.boxPublicKey;
      const weights = () => taskWeights(tasks[0] as RoundTask);
      const nan = weights();
      nan[0]!.data[5] = Number.NaN;
      const inf = weights();
      inf[1]!.data[3] = Number.POSITIVE_INFINITY;
      const narrow = weights();
      narrow[0] = { name: narrow[0]!.name, shape: [784, 9], data: new Float32Array(784 * 9) };
      const attacks: [Parameters<typeof sealUpdate>[0]['tensors'] | undefined, Record<string, unknown>, ErrorCode, string][] = [
        [nan, {}, 'NON_FINITE', 'has NaN at index 5'],
        [inf, {}, 'NON_FINITE', 'has Infinity at index 3'],
        [narrow, {}, 'SHAPE_MISMATCH', 'shape [784,9], expected [784,10]'],
        [undefined, { samples: 0 }, 'BAD_SAMPLE_COUNT', 'samples'],
        [undefined, { samples: -5 }, 'BAD_SAMPLE_COUNT', 'samples'],
        [undefined, { samples: 1e15 }, 'BAD_SAMPLE_COUNT', 'samples'],
        [undefined, { samples: 2.5 }, 'BAD_SAMPLE_COUNT', 'samples'],
        [undefined, { samples: 1_000_000 }, 'BAD_SAMPLE_COUNT', 'declared 300'],
        [undefined, { baseVersion: 7 }, 'WRONG_ROUND', 'trained from model v7, this round distributed v0'],
        [undefined, { metrics: undefined }, 'BAD_REQUEST', 'metrics'],
      ];

      const redeclared = await (sites[7] as RawClient).call('agent:ready', { samples: 1e9, backend: 'raw' }); // too late to count
      const results = await Promise.all(
        attacks.map(([tensors, meta], i) =>
          (sites[i] as RawClient).upload(
            1,
            sealUpdate({ identity: site(i), coordinatorBoxPublicKey: box, task: tasks[i] as RoundTask, tensors, meta }),
          ),
        ),
      );
      const honest = await (sites[10] as RawClient).upload(
        1,
        sealUpdate({ identity: site(10), coordinatorBoxPublicKey: box, task: tasks[10] as RoundTask, meta: { samples: 250 } }),
      );
      await until(() => fed.coordinator.store.getRound('e2e', 1)?.state === 'published', 5_000, 'round 1 published');

      expect(redeclared.ok).toBe(true);
      const { store } = fed.coordinator;
      attacks.forEach(([, , code, text], i) => {
        expectRefused(results[i]!.ack, code, text);
        expect(store.getParticipation('e2e', 1, `site-${i + 1}`)).toMatchObject({ status: 'refused', code });
        expect(audits('update.refused', `site-${i + 1}`).map((e) => e.data.code)).toEqual([code]);
      });
      expect(honest.ack).toMatchObject({ ok: true });
      expect(store.getRound('e2e', 1)).toMatchObject({ state: 'published', metrics: { participants: 1, samples: 250 } });
    },
  );

  e2e(
    'refuses an upload over the size limit, a chunk set that does not end with its announced tail, and drops a client sending an oversized frame while serving the others',
    async ({ cohort }) => {
      const fed = await cohort.federation(2, { ...oneRound, minParticipants: 2 });
      const { join, site, audits, health } = using(cohort, fed);
      const [hostile, other] = [await join(0), await join(1)];
      const { maxUploadBytes, chunkBytes } = await hostile.welcome;
      const [task, otherTask] = [await hostile.nextTask(), await other.nextTask()];
      const box = fed.coordinatorIdentity.boxPublicKey;
      const valid = sealUpdate({ identity: site(0), coordinatorBoxPublicKey: box, task });
      const before = await other.upload(1, sealUpdate({ identity: site(1), coordinatorBoxPublicKey: box, task: otherTask }));

      const tooLarge = await hostile.upload(1, valid, { totalBytes: maxUploadBytes + 1 });
      const hugeChunks = await hostile.upload(1, valid, { chunkBytes: chunkBytes * 2 });
      const wrongDigest = await hostile.upload(1, valid, { tail: 'f'.repeat(128), chunkBytes: 4096 });
      hostile.socket.emit('update:chunk', { uploadId: 'abcdefgh', index: 0, data: new Uint8Array(chunkBytes + 128 * 1024) });
      const reason = await hostile.disconnected;
      const healthy = await health();
      const back = cohort.track(await joinAs(fed.coordinator.url, 'e2e', site(0)));
      const after = await back.upload(1, valid, { chunkBytes: 4096 });
      await until(() => fed.coordinator.store.getRound('e2e', 1)?.state === 'published', 5_000, 'round 1 published');

      expect(before.ack.ok).toBe(true);
      expectRefused(tooLarge.ack, 'PAYLOAD_TOO_LARGE', `upload of ${maxUploadBytes + 1} bytes exceeds the limit of ${maxUploadBytes}`);
      expectRefused(hugeChunks.ack, 'BAD_REQUEST', `exceeds this coordinator's ${chunkBytes}`);
      expect(wrongDigest.step).toBe('commit');
      expectRefused(wrongDigest.ack, 'CORRUPT_PAYLOAD', 'does not end with the announced tail');
      expect(reason).toBe('transport close');
      expect(healthy).toMatchObject({ ok: true });
      expect(after.ack).toMatchObject({ ok: true });
      expect(audits('message.refused', 'site-1').map((e) => e.data.code)).toEqual(['PAYLOAD_TOO_LARGE', 'BAD_REQUEST', 'CORRUPT_PAYLOAD']);
      expect(audits('agent.disconnected', 'site-1').map((e) => e.data)).toEqual([
        { reason: 'transport error', detail: 'RangeError: Max payload size exceeded' },
      ]);
      const { store } = fed.coordinator;
      expect(store.listParticipations('e2e', 1).map((p) => [p.institutionId, p.status])).toEqual([
        ['site-1', 'accepted'],
        ['site-2', 'accepted'],
      ]);
      expect(store.getRound('e2e', 1)).toMatchObject({ state: 'published', metrics: { participants: 2 } });
    },
  );
});

describe('a round with hostile and absent participants', () => {
  e2e('accepts the honest agents, refuses the hostile client with its code, publishes, and keeps answering /health', async ({ cohort }) => {
    const fed = await cohort.federation(3, { ...oneRound, minParticipants: 2 }, 'logreg', 120);
    const { join, site, audits } = using(cohort, fed);
    cohort.agents.push(startAgent(fed, 0), startAgent(fed, 1));
    const uploaded = cohort.agents.map((a) => new Promise((resolve) => a.events.once('uploaded', resolve)));
    const hostile = await join(2);
    const task = await hostile.nextTask();

    const badReady = await hostile.call('agent:ready', { samples: -1 });
    await Promise.all(uploaded);
    const junk = await hostile.upload(task.round, new Uint8Array(20_000).fill(0xab));
    const done = await Promise.all(cohort.agents.map((a) => a.done));
    const retry = await hostile.upload(
      task.round,
      sealUpdate({ identity: site(2), coordinatorBoxPublicKey: fed.coordinatorIdentity.boxPublicKey, task }),
    );

    expectRefused(badReady, 'BAD_REQUEST', 'samples');
    expectRefused(junk.ack, 'CORRUPT_PAYLOAD', 'update refused');
    expectRefused(retry.ack, 'ROUND_CLOSED');
    expect(done).toEqual([
      { rounds: 1, finalVersion: 1 },
      { rounds: 1, finalVersion: 1 },
    ]);
    const { store } = fed.coordinator;
    expect(store.listParticipations('e2e', 1).map((p) => [p.institutionId, p.status, p.code])).toEqual([
      ['site-1', 'accepted', null],
      ['site-2', 'accepted', null],
      ['site-3', 'refused', 'CORRUPT_PAYLOAD'],
    ]);
    const trainedSamples = store
      .listParticipations('e2e', 1)
      .filter((p) => p.status === 'accepted')
      .reduce((n, p) => n + (p.samples ?? 0), 0);
    expect(trainedSamples).toBeGreaterThan(2 * 100); // 120 rows each, less the ~10% each keeps aside for validation
    expect(store.getRound('e2e', 1)).toMatchObject({
      state: 'published',
      resultVersion: 1,
      metrics: { participants: 2, samples: trainedSamples },
    });
    expect(audits('update.refused', 'site-3').map((e) => e.data.code)).toEqual(['CORRUPT_PAYLOAD']);
    const res = await fetch(`${fed.coordinator.url}/health`);
    expect(res.status).toBe(200);
  });

  e2e(
    'closes the round at its deadline without a silent straggler, publishes, and refuses its late upload with DEADLINE_PASSED',
    async ({ cohort }) => {
      const fed = await cohort.federation(3, { ...oneRound, minParticipants: 2, roundTimeoutMs: 1500 });
      const { join, site, audits } = using(cohort, fed);
      const box = fed.coordinatorIdentity.boxPublicKey;
      const [a, b, straggler] = [await join(0), await join(1), await join(2)];
      const task = await straggler.nextTask();
      const started = Date.now();

      for (const [i, c] of [a, b].entries())
        expect((await c.upload(1, sealUpdate({ identity: site(i), coordinatorBoxPublicKey: box, task: await c.nextTask() }))).ack.ok).toBe(
          true,
        );
      const round = await until(
        () => fed.coordinator.store.getRound('e2e', 1)?.state === 'published' && fed.coordinator.store.getRound('e2e', 1),
        5_000,
        'round published',
      );
      const elapsed = Date.now() - started;
      const late = await straggler.upload(1, sealUpdate({ identity: site(2), coordinatorBoxPublicKey: box, task }));

      expect(elapsed).toBeGreaterThanOrEqual(1_000);
      expect(round).toMatchObject({ resultVersion: 1, metrics: { participants: 2 } });
      const { store } = fed.coordinator;
      expect(store.getParticipation('e2e', 1, 'site-3')).toMatchObject({
        status: 'dropped',
        code: 'DEADLINE_PASSED',
        message: 'no update before the round deadline',
      });
      expectRefused(late.ack, 'DEADLINE_PASSED', "round 1's deadline passed at", "closed without site-3's update");
      expect(audits('participant.dropped', 'site-3')).toHaveLength(1);
      expect(audits('message.refused', 'site-3').map((e) => e.data.code)).toEqual(['DEADLINE_PASSED']);
    },
  );
});

describe('an agent facing an impostor', () => {
  e2e(
    'refuses a coordinator that does not present the pinned key: ready rejects with BAD_SIGNATURE and nothing is signed for it',
    async ({ cohort }) => {
      const fed = await cohort.federation(1);
      const { audits } = using(cohort, fed);
      const impostorKey = publicIdentityOf(generateIdentity('coordinator'));
      const agent = startAgent(fed, 0, { coordinator: impostorKey });
      cohort.agents.push(agent);

      const err = await agent.ready.then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(err).toBeInstanceOf(CohortError);
      expect(err).toMatchObject({ code: 'BAD_SIGNATURE', message: expect.stringContaining('pinned coordinator key') });
      await expect(agent.done).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
      expect(agent.socket.connected).toBe(false);
      expect(audits('agent.connected')).toEqual([]);
      expect(audits('message.refused')).toEqual([]);
      expect(fed.coordinator.runner.onlineInstitutions).toEqual([]);
    },
  );

  e2e('refuses a malformed challenge from the server with BAD_REQUEST instead of crashing', async ({ cohort }) => {
    const fed = await cohort.federation(1);
    const impostor = await startImpostor(cohort, {
      presentKey: fed.coordinatorIdentity.signPublicKey,
      proofKey: fed.coordinatorIdentity,
      challenge: 'AAAA',
      tasks: [],
    });
    const agent = startAgent(fed, 0, { coordinatorUrl: impostor.url });
    cohort.agents.push(agent);

    const err = await agent.ready.then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('malformed challenge') });
    expect(impostor.auths).toBe(0);
  });

  e2e("refuses a server that presents the coordinator's public key but cannot sign the agent's nonce with it", async ({ cohort }) => {
    const fed = await cohort.federation(1);
    const impostor = await startImpostor(cohort, { presentKey: fed.coordinatorIdentity.signPublicKey, tasks: [] });
    const agent = startAgent(fed, 0, { coordinatorUrl: impostor.url });
    cohort.agents.push(agent);

    const err = await agent.ready.then(
      () => null,
      (e: unknown) => e,
    );

    expect(err).toMatchObject({
      code: 'BAD_SIGNATURE',
      message: expect.stringContaining('did not prove it holds the pinned coordinator key'),
    });
    expect(impostor.auths).toBe(0);
  });

  e2e(
    'declines tasks whose model signature does not verify (forged, not base64, weights swapped) with BAD_MODEL_SIGNATURE without training, and trains on a genuine one',
    async ({ cohort }) => {
      // A relay in the middle passes the handshake by forwarding the coordinator's proof (TLS closes that
      // channel), so what protects the agent from a forged model is the signature on every model.
      const fed = await cohort.federation(1, { rounds: 4, train: oneRound.train }); // the study's training settings are what the tasks ask
      const study = fed.coordinator.store.getFederation('e2e')!.manifest;
      const spec = mnistSpec('logreg');
      const signedBy = (signer: Identity, seed = 1) =>
        toSignedModel('e2e', 0, spec, encodeAndSign(signer, 'e2e', 0, spec, initialWeights(spec, seed), { round: null, spec }));
      const genuine = signedBy(fed.coordinatorIdentity);
      const other = signedBy(generateIdentity('coordinator'), 2);
      const models = [other, { ...genuine, signature: 'abc' }, { ...genuine, weights: other.weights, digest: other.digest }, genuine];
      const tasks = models.map((model, i) => ({
        federation: 'e2e',
        round: i + 1,
        deadline: Date.now() + 60_000,
        study,
        participants: 2,
        privacy: study.privacy,
        policyHash: 'a'.repeat(64),
        use: 'training',
        config: oneRound.train,
        model,
      }));
      const impostor = await startImpostor(cohort, {
        presentKey: fed.coordinatorIdentity.signPublicKey,
        proofKey: fed.coordinatorIdentity,
        tasks,
        study,
      });
      const agent = startAgent(fed, 0, { coordinatorUrl: impostor.url });
      cohort.agents.push(agent);
      const trained: number[] = [];
      const declined: { round: number; code: string }[] = [];
      agent.events.on('trained', (e) => trained.push(e.round));
      agent.events.on('declined', (e) => declined.push(e));

      await agent.ready;
      await until(() => impostor.begins.length > 0, 15_000, 'the genuine model to be trained and uploaded').catch((e: unknown) => {
        throw new Error(`${String(e)}; declined: ${JSON.stringify(declined)}`);
      });

      expect(declined).toMatchObject([1, 2, 3].map((round) => ({ round, code: 'BAD_MODEL_SIGNATURE' })));
      expect(impostor.declines).toMatchObject(
        [1, 2, 3].map((round) => ({
          round,
          code: 'BAD_MODEL_SIGNATURE',
          message: expect.stringContaining('not signed by the pinned coordinator key'),
        })),
      );
      expect(trained).toEqual([4]);
      expect(impostor.begins).toMatchObject([{ round: 4 }]);
    },
  );
});
