/** Rate limits per institution on the socket.io side: a flooding client is refused with RATE_LIMITED, audited once per window, and nobody else notices. */
import { describe, expect } from 'vitest';
import type { Identity } from '../../crypto/index.js';
import { startCustomFederation } from './custom-federation.js';
import { e2e, type Federation } from './helpers.js';
import { connectRefusal, joinAs, rawConnect, until, type AckResult } from './raw-client.js';

const site = (fed: Federation, i: number): Identity => fed.institutions[i] as Identity;
const audits = (fed: Federation, kind: string, actor?: string) =>
  fed.coordinator.store.listAudit({ federationId: 'e2e' }).filter((e) => e.kind === kind && (actor === undefined || e.actor === actor));
const codes = (acks: AckResult[]) => acks.map((a) => (a.ok ? 'ok' : a.error.code));

describe('rate limits per institution', () => {
  e2e(
    'refuses a message flood with RATE_LIMITED, writes one aggregated audit entry with the count, and serves another institution meanwhile',
    async ({ cohort }) => {
      const fed = cohort.track(
        await startCustomFederation(2, { limits: { messages: { capacity: 10, refillPerSecond: 0.5 }, auditWindowMs: 400 } }),
      );
      const [flooder, other] = [
        cohort.track(await joinAs(fed.coordinator.url, 'e2e', site(fed, 0))),
        cohort.track(await joinAs(fed.coordinator.url, 'e2e', site(fed, 1))),
      ];

      // session:auth counts for the address (not yet authenticated), agent:ready took 1 of site-1's 10 tokens: 9 more answers, then refusals.
      const acks = await Promise.all(
        Array.from({ length: 40 }, () => flooder.call('round:decline', { round: 99, code: 'X', message: 'flood' })),
      );
      const otherAck = await other.call('round:decline', { round: 99, code: 'X', message: 'one' });
      const summary = await until(() => audits(fed, 'rate.limited', 'site-1')[0], 5_000, 'the rate.limited summary');

      expect(codes(acks).slice(0, 9)).toEqual(Array(9).fill('ROUND_CLOSED'));
      expect(codes(acks).slice(9)).toEqual(Array(31).fill('RATE_LIMITED'));
      expect((acks[9] as { error: { message: string } }).error.message).toMatch(/too many messages from site-1 \(burst 10, then 0.5\/s\)/);
      expect(codes([otherAck])).toEqual(['ROUND_CLOSED']);
      expect(summary.data).toMatchObject({ limit: 'messages', count: 31, windowMs: 400 });
      expect(audits(fed, 'rate.limited')).toHaveLength(1);
      expect(audits(fed, 'message.refused', 'site-1')).toHaveLength(9); // the refused-for-rate ones are not audited one by one
      expect(flooder.socket.connected).toBe(true);
    },
  );

  e2e('refuses inbound bytes above the institution budget with RATE_LIMITED', async ({ cohort }) => {
    const fed = cohort.track(
      await startCustomFederation(1, { limits: { bytes: { capacity: 100_000, refillPerSecond: 1 }, auditWindowMs: 200 } }),
    );
    const client = cohort.track(await joinAs(fed.coordinator.url, 'e2e', site(fed, 0)));

    const chunk = { uploadId: 'abcdefgh', index: 0, data: new Uint8Array(60_000) };
    const acks = [await client.call('update:chunk', chunk), await client.call('update:chunk', chunk)];
    const summary = await until(() => audits(fed, 'rate.limited', 'site-1')[0], 5_000, 'the rate.limited summary');

    expect(codes(acks)).toEqual(['UPLOAD_UNKNOWN', 'RATE_LIMITED']);
    expect((acks[1] as { error: { message: string } }).error.message).toContain('byte budget');
    expect(summary.data).toMatchObject({ limit: 'bytes', count: 1 });
  });

  e2e(
    'refuses connection attempts above the limit per institution and address, audits them once, and admits another institution',
    async ({ cohort }) => {
      const fed = cohort.track(
        await startCustomFederation(2, { limits: { connections: { capacity: 3, refillPerSecond: 0.01 }, auditWindowMs: 300 } }),
      );
      const { url } = fed.coordinator;

      const refusals = [];
      for (let i = 0; i < 6; i++) {
        const c = cohort.track(rawConnect({ url, federation: 'e2e', institution: 'site-1' }));
        if (i < 3) {
          await c.challenge;
          c.close();
        } else refusals.push(await connectRefusal(c));
      }
      const other = cohort.track(await joinAs(url, 'e2e', site(fed, 1)));
      const summary = await until(() => audits(fed, 'rate.limited')[0], 5_000, 'the rate.limited summary');

      expect(refusals.map((e) => e.data?.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
      expect(refusals[0]?.message).toContain('too many connection attempts from site-1');
      expect(other.socket.connected).toBe(true);
      // Unauthenticated attempts are the address's, not the institution they claim.
      expect(summary).toMatchObject({ actor: expect.stringMatching(/^address:/), data: { limit: 'connections', count: 3 } });
      expect(audits(fed, 'rate.limited', 'site-1')).toEqual([]);
      expect(audits(fed, 'connection.refused')).toEqual([]);
    },
  );

  e2e('counts unknown and malformed connection attempts per address, so they cannot flood the audit log', async ({ cohort }) => {
    const fed = cohort.track(
      await startCustomFederation(1, { limits: { connections: { capacity: 5, refillPerSecond: 0.01 }, auditWindowMs: 300 } }),
    );

    const errors = [];
    for (let i = 0; i < 12; i++)
      errors.push(
        await connectRefusal(cohort.track(rawConnect({ url: fed.coordinator.url, federation: 'e2e', institution: `intruder-${i}` }))),
      );
    const summary = await until(() => audits(fed, 'rate.limited')[0], 5_000, 'the rate.limited summary');

    expect(errors.map((e) => e.data?.code)).toEqual([...Array(5).fill('UNKNOWN_INSTITUTION'), ...Array(7).fill('RATE_LIMITED')]);
    const refused = await until(
      () => audits(fed, 'connection.refused').length === 2 && audits(fed, 'connection.refused'),
      5_000,
      'the connection.refused summary',
    );
    expect(refused.map((e) => e.data.repeated ?? 1)).toEqual([1, 4]); // the first at once, the window's other four in one summary
    expect(summary).toMatchObject({ actor: expect.stringMatching(/^address:/), data: { limit: 'connections', count: 7 } });
  });
});
