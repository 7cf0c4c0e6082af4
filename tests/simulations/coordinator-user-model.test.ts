/** `cohort coordinator start --model PATH` (flags and federation file) and `cohort agent start --model PATH` with another base, as an operator types them. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../coordinator/index.js';
import { readUserModel, selectBackend, type UserModel } from '../../node-agent/train/index.js';
import { residualCnn, saveLayersModel } from '../node-agent/train/layers-fixtures.js';
import { agentFlags, enroll, startCoordinator, useDeploymentFolder } from './deployment-fixtures.js';

let user: UserModel;
let plain: UserModel;
const deployment = useDeploymentFolder({
  prefix: 'cohort-coordinator-user-',
  ids: ['coordinator', 'site-a'],
  stopSignal: 'SIGTERM',
  prepare,
});

/** Two residual CNNs saved as Layers models (net/ and other/, other seeds), and net's model read with and without FedBN. */
async function prepare(dir: string): Promise<void> {
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
}

/** The stored federation of a stopped coordinator. */
function stored(dataDir: string, id: string) {
  const store = openSqliteStore(join(deployment.dir, dataDir, 'coordinator.db'));
  try {
    return store.getFederation(id)!;
  } finally {
    store.close();
  }
}

describe('cohort coordinator start with a user model', () => {
  it('--model PATH --fedbn: pins the base in the study and keeps the model in the data directory', async () => {
    const flags = ['--data-dir', 'data-flags', '--federation', 'flags', '--model', 'net/model.json', '--fedbn'];
    const { proc } = await startCoordinator(deployment, flags);
    await proc.stop();

    const fed = stored('data-flags', 'flags');
    expect(fed.spec.arch).toBe('layers');
    expect(fed.manifest.model).toMatchObject({ arch: 'layers', baseHash: user.layers.baseHash, fedbn: true });
    expect(existsSync(join(deployment.dir, 'data-flags', 'models', 'flags', 'base', 'model.json'))).toBe(true);
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
    writeFileSync(join(deployment.dir, 'fed.json'), JSON.stringify(file));
    const { proc } = await startCoordinator(deployment, ['--data-dir', 'data-file', '--config', 'fed.json']);
    await proc.stop();

    const fed = stored('data-file', 'fromfile');
    expect(fed.spec.layers?.tensors.find((t) => t.name === 'stem/kernel')?.role).toBe('frozen');
    expect(fed.spec.classes).toEqual([...'0123456789']);
    expect(fed.manifest.model.baseHash).toBe(plain.layers.baseHash);
    expect(plain.layers.baseHash).not.toBe(user.layers.baseHash); // FedBN pins the BatchNorm tensors too
  });

  it('an agent holding another base exits non-zero with MODEL_BASE_MISMATCH', async () => {
    const { url } = await startCoordinator(deployment, [
      ...['--data-dir', 'data-agent', '--federation', 'agent', '--model', 'net/model.json'],
      ...enroll('site-a'),
    ]);
    const flags = agentFlags({ url, federation: 'agent', site: 'site-a', data: 'mnist:1/2' });

    const agent = await deployment.run(['agent', 'start', ...flags, '--model', 'other/model.json', '--backend', 'cpu'], 30_000);

    expect(agent.code).toBe(1);
    expect(agent.stderr).toMatch(
      /cohort agent: MODEL_BASE_MISMATCH: .*other\/model\.json holds base [0-9a-f]{16}…, the federation's model pins/,
    );
  });
});
