/** Audit entries for unauthenticated traffic: under the address, the first of a window at once, the rest as one summary. */
import { describe, expect, it } from 'vitest';
import { AddressAudit } from '../../../coordinator/realtime/address-audit.js';

describe('AddressAudit', () => {
  it('writes the first refusal at once and the rest of its window as one summary, per address and kind, with at most five claimed ids', () => {
    const written: [string, string, Record<string, unknown>][] = [];
    const audit = new AddressAudit(60_000, (kind, actor, data) => written.push([kind, actor, data]));

    for (let i = 0; i < 1000; i++)
      audit.record('message.refused', '10.0.0.9', {
        code: i % 2 ? 'BAD_SIGNATURE' : 'UNAUTHENTICATED',
        message: 'm',
        claimedInstitution: `site-${i % 7}`,
      });
    audit.record('connection.refused', '10.0.0.9', { code: 'UNKNOWN_INSTITUTION', message: 'm', claimedInstitution: 'x' });
    audit.record('message.refused', '10.0.0.10', { code: 'UNAUTHENTICATED', message: 'm' });
    const beforeFlush = written.length;
    audit.flushAll();

    expect(beforeFlush).toBe(3);
    expect(written).toHaveLength(4); // one summary: the other windows had nothing after their first entry
    expect(written[0]).toEqual([
      'message.refused',
      'address:10.0.0.9',
      { code: 'UNAUTHENTICATED', message: 'm', claimedInstitution: 'site-0', address: '10.0.0.9' },
    ]);
    expect(written[3]?.[1]).toBe('address:10.0.0.9');
    expect(written[3]?.[2]).toMatchObject({
      repeated: 999,
      codes: { UNAUTHENTICATED: 499, BAD_SIGNATURE: 500 },
      claimedInstitutions: ['site-1', 'site-2', 'site-3', 'site-4', 'site-5'],
    });
  });

  it('holds at most maxOpen windows: the oldest is written early to make room', () => {
    const written: string[] = [];
    const audit = new AddressAudit(60_000, (_kind, actor, data) => written.push(`${actor}:${String(data.repeated ?? 'first')}`), 2);

    for (const address of ['a', 'a', 'b', 'c']) audit.record('auth.timeout', address, { code: 'UNAUTHENTICATED', message: 'm' });

    expect(written).toEqual(['address:a:first', 'address:b:first', 'address:a:1', 'address:c:first']);
    audit.flushAll();
  });
});
