import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../protocol/cli/log.js';

describe('formatLogLine (readable logs on a terminal)', () => {
  it('writes time, level, logger and message, then the other fields as key=value, quoting what has spaces', () => {
    const line = formatLogLine({
      level: 40,
      time: Date.UTC(2026, 11, 6, 9, 5, 3, 42),
      pid: 7,
      hostname: 'h',
      name: 'agent',
      msg: 'declining: consent expired',
      round: 3,
      code: 'CONSENT_EXPIRED',
      detail: 'two words',
      nested: { a: 1 },
    });

    expect(line).toBe(
      '09:05:03.042 WARN  agent: declining: consent expired round=3 code=CONSENT_EXPIRED detail="two words" nested={"a":1}',
    );
  });

  it('keeps a record without a message or name readable', () => {
    expect(formatLogLine({ level: 30, time: 0, round: 1 })).toBe('00:00:00.000 INFO  round=1');
  });
});
