/** `cohort coordinator start --model PATH` (flags and federation file) and `cohort agent start --model PATH` with another base, as an operator types them. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { readUserModel, selectBackend, type UserModel } from '../../node-agent/train/index.js';
import { residualCnn, saveLayersModel } from '../node-agent/train/layers-fixtures.js';
import { freePort, runCli, startCli, type CliProcess } from './cli-helpers.js';

let dir: string;
let user: UserModel;
let plain: UserModel;
const running: CliProcess[] = [];
const cohort = (args: string[]): CliProcess => {
  const p = startCli(args, { cwd: dir, timeoutMs: 60_000 });
  running.push(p);
  return p;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-coordinator-user-'));
  for (const id of ['coordinator', 'site-a'])
    expect((await runCli(['keys', 'generate', '--id', id, '--out', 'keys'], { cwd: dir })).code).toBe(0);
  const { tf } = await selectBackend('cpu');
  for (const [name, seed] of [
    ['net', 1],
    ['other', 2],
  ] as const) {
    const model = residualCnn(tf, { seed });
    await saveLayersModel(tf, model, join(dir, name));
    model.dispose();
  }
  user = await readUserModel(tf, join(dir, 'net', 'model.json'), { fedbn: true });
  plain = await readUserModel(tf, join(dir, 'net', 'model.json'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The stored federation of a stopped coordinator. */
function stored(dataDir: string, id: string) {
  const store = openSqliteStore(join(dir, dataDir, 'coordinator.db'));
  try {
    return store.getFederation(id)!;
  } finally {
    store.close();
  }
}

describe('cohort coordinator start with a user model', () => {
  it('--model PATH --fedbn: pins the base in the study and keeps the model in the data directory', async () => {
    const port = await freePort();
    const proc = cohort([
      'coordinator',
      'start',
      '--key',
      'keys/coordinator.key.json',
      '--data-dir',
      'data-flags',
      '--federation',
      'flags',
      '--model',
      'net/model.json',
      '--fedbn',
      '--port',
      String(port),
    ]);
    await proc.waitFor(/coordinator ready/, 30_000);
    await proc.stop();

    const fed = stored('data-flags', 'flags');
    expect(fed.spec.arch).toBe('layers');
    expect(fed.manifest.model).toMatchObject({ arch: 'layers', baseHash: user.layers.baseHash, fedbn: true });
    expect(existsSync(join(dir, 'data-flags', 'models', 'flags', 'base', 'model.json'))).toBe(true);
  });

  it('a federation file with "model": the spec takes only the classes', async () => {
    const file = {
      id: 'fromfile',
      name: 'from a file',
      model: 'net/model.json',
      spec: { classes: [...'0123456789'] },
      study: { title: 'User model', purpose: 'Federate our pretrained network.', dataCategories: ['images'] },
      rules: { rounds: 1, minParticipants: 1, train: { localEpochs: 1, batchSize: 10, learningRate: 0.05 } },
    };
    writeFileSync(join(dir, 'fed.json'), JSON.stringify(file));
    const port = await freePort();
    const proc = cohort([
      'coordinator',
      'start',
      '--key',
      'keys/coordinator.key.json',
      '--data-dir',
      'data-file',
      '--config',
      'fed.json',
      '--port',
      String(port),
    ]);
    await proc.waitFor(/coordinator ready/, 30_000);
    await proc.stop();

    const fed = stored('data-file', 'fromfile');
    expect(fed.spec.layers?.tensors.find((t) => t.name === 'stem/kernel')?.role).toBe('frozen');
    expect(fed.spec.classes).toEqual([...'0123456789']);
    expect(fed.manifest.model.baseHash).toBe(plain.layers.baseHash);
    expect(plain.layers.baseHash).not.toBe(user.layers.baseHash); // FedBN pins the BatchNorm tensors too
  });

  it('an agent holding another base exits non-zero with MODEL_BASE_MISMATCH', async () => {
    const port = await freePort();
    const coordinator = cohort([
      'coordinator',
      'start',
      '--key',
      'keys/coordinator.key.json',
      '--data-dir',
      'data-agent',
      '--federation',
      'agent',
      '--model',
      'net/model.json',
      '--enroll',
      'keys/site-a.pub.json',
      '--port',
      String(port),
    ]);
    await coordinator.waitFor(/coordinator ready/, 30_000);

    const agent = await runCli(
      [
        'agent',
        'start',
        '--coordinator',
        `http://127.0.0.1:${port}`,
        '--coordinator-key',
        'keys/coordinator.pub.json',
        '--federation',
        'agent',
        '--key',
        'keys/site-a.key.json',
        '--data',
        'mnist:1/2',
        '--model',
        'other/model.json',
        '--backend',
        'cpu',
      ],
      { cwd: dir, timeoutMs: 30_000 },
    );

    expect(agent.code).toBe(1);
    expect(agent.stderr).toMatch(
      /cohort agent: MODEL_BASE_MISMATCH: .*other\/model\.json holds base [0-9a-f]{16}…, the federation's model pins/,
    );
  });
});
