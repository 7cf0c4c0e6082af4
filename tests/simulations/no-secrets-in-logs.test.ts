import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readIdentityFile, toBase64 } from '../../crypto/index.js';
import { loadMnist } from '../../node-agent/data/index.js';
import { runCli } from './cli-helpers.js';

const out = mkdtempSync(join(tmpdir(), 'cohort-logs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the logs of a full simulated run', () => {
  it('hold no secret key and no raw sample', async () => {
    const res = await runCli([
      'simulate',
      '--institutions',
      '2',
      '--rounds',
      '2',
      '--model',
      'logreg',
      '--local-epochs',
      '1',
      '--out',
      out,
    ]);
    expect(res.code).toBe(0);
    const logs = readdirSync(join(out, 'logs')).map((f) => readFileSync(join(out, 'logs', f), 'utf8'));
    const everything = [...logs, res.stdout, res.stderr].join('\n');

    const secrets = readdirSync(join(out, 'keys'))
      .filter((f) => f.endsWith('.key.json'))
      .map((f) => readIdentityFile(join(out, 'keys', f)))
      .flatMap((id) => [toBase64(id.signSecretKey), toBase64(id.boxSecretKey), toBase64(id.signSecretKey.subarray(0, 32))]);
    const mnist = loadMnist();
    // Rows as a logger or a careless print would write them: the first 12 non-zero pixels in JSON.
    const sampled = [0, 1500, 4000, 9999].map((r) => Array.from(mnist.x.subarray(r * 784, (r + 1) * 784)));
    const rows = sampled.map((row) =>
      JSON.stringify(
        row.slice(
          row.findIndex((v) => v > 0),
          row.findIndex((v) => v > 0) + 12,
        ),
      ).slice(1, -1),
    );

    expect(logs.length).toBeGreaterThanOrEqual(3);
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of secrets) expect(everything.includes(secret)).toBe(false);
    for (const row of rows) expect(everything.includes(row)).toBe(false);
    // The needles have the shape a logged row would have: each is found in its row's JSON.
    rows.forEach((row, i) => expect(JSON.stringify(sampled[i])).toContain(row));
    expect(secrets.length).toBe(3 * 3);

    // Every other file the run wrote (database, audit logs, summary, model cards, reports) holds none either,
    // and the private key files are the owner's alone.
    const files = (readdirSync(out, { recursive: true }) as string[]).filter((f) => statSync(join(out, f)).isFile());
    const others = files.filter((f) => !f.startsWith('keys/') && !f.startsWith('logs/'));
    expect(others.some((f) => f.endsWith('coordinator.db'))).toBe(true);
    expect(others.some((f) => f.endsWith('audit.jsonl'))).toBe(true);
    for (const f of others) {
      const text = readFileSync(join(out, f)).toString('latin1');
      for (const secret of secrets) expect(text.includes(secret), `${f} holds a secret key`).toBe(false);
      for (const row of rows) expect(text.includes(row), `${f} holds a raw row`).toBe(false);
    }
    for (const f of files.filter((f) => f.endsWith('.key.json'))) expect(statSync(join(out, f)).mode & 0o777).toBe(0o600);
  });
});
