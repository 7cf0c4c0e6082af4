/** A user's functional Layers model (frozen conv, BatchNormalization, Dropout, residual Add) federated through the real coordinator and agents. */
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { decodeTensors, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import { baseTensors, loadModelFile } from '../../coordinator/models/index.js';
import { readUserModel, selectBackend, type UserModel } from '../../node-agent/train/index.js';
import { updateMod } from '../../node-agent/index.js';
import { e2e, grantConsent, permissivePolicy, type Cohort, type Federation } from './helpers.js';
import { residualCnn, saveLayersModel } from '../node-agent/train/layers-fixtures.js';

const DIGITS = [...'0123456789'];

/** Writes the test model to a temp dir and reads it as the CLI would. */
async function userModel(
  cohort: Cohort,
  opts: { seed?: number; fedbn?: boolean } = {},
): Promise<{ path: string; user: UserModel; spec: ModelSpec }> {
  const { tf } = await selectBackend('wasm');
  const model = residualCnn(tf, { seed: opts.seed ?? 1 });
  const path = await saveLayersModel(tf, model, join(cohort.tempDir('cohort-user-model-'), 'net'));
  model.dispose();
  const user = await readUserModel(tf, path, { fedbn: opts.fedbn ?? false });
  return { path, user, spec: { arch: 'layers', inputShape: user.inputShape, classes: DIGITS, layers: user.layers } };
}

/** A federation of `n` sites on MNIST slices training the user model. */
async function federate(
  cohort: Cohort,
  n: number,
  m: { user: UserModel; spec: ModelSpec },
  rules: Record<string, unknown> = {},
): Promise<Federation> {
  return cohort.federation(n, {}, 'logreg', 60, permissivePolicy, {
    federation: {
      id: 'e2e',
      name: 'user model',
      spec: m.spec,
      policy: permissivePolicy,
      study: {
        title: 'User model',
        purpose: 'Federate a pretrained functional model with a frozen base.',
        dataCategories: ['handwritten-digit-images'],
      },
      rules: {
        rounds: 2,
        minParticipants: n,
        joinGraceMs: 0,
        roundTimeoutMs: 60_000,
        train: { localEpochs: 1, batchSize: 10, learningRate: 0.05 },
        ...rules,
      },
    },
    userModel: { modelJson: m.user.path ?? '', tensors: [...m.user.initial, ...m.user.base] },
  });
}

const version = (fed: Federation, v: number): NamedTensor[] => {
  const record = fed.coordinator.store.getModel('e2e', v)!;
  return decodeTensors(loadModelFile(fed.dir, record.path, record.digest)).tensors;
};
const bytes = (t: NamedTensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe('a user Layers model through the real coordinator and agents', () => {
  e2e(
    "starts from the file's weights, trains and sends only trainable tensors, aggregates BatchNorm statistics, keeps the frozen base bit-identical",
    async ({ cohort }) => {
      const m = await userModel(cohort);
      const fed = await federate(cohort, 2, m);
      const sent: string[][] = [];
      for (const i of [0, 1]) {
        cohort.agent(fed, i, {
          modelFile: m.path,
          mods: [updateMod((update) => (sent.push(update.weights.map((t) => t.name)), update))],
        });
      }
      await Promise.all(cohort.agents.map((a) => a.done));

      const v0 = version(fed, 0);
      const v2 = version(fed, 2);
      const trainedNames = m.user.initial.map((t) => t.name);
      expect(v0.map((t) => t.name)).toEqual(trainedNames);
      v0.forEach((t, i) => expect(bytes(t).equals(bytes(m.user.initial[i]!))).toBe(true)); // pretrained kept, not re-initialised
      expect(v2.map((t) => t.name)).toEqual(trainedNames);
      expect(sent).toHaveLength(4);
      for (const names of sent) expect(names).toEqual(trainedNames);
      for (const names of [...sent, v2.map((t) => t.name)]) expect(names.some((n) => n.startsWith('stem/'))).toBe(false);
      const mean = (vs: NamedTensor[]) => vs.find((t) => t.name === 'bn/moving_mean')!.data;
      expect(mean(v2)).not.toEqual(mean(v0));
      const kept = baseTensors(fed.dir, 'e2e', m.spec);
      expect(kept.map((t) => t.name)).toEqual(['stem/kernel', 'stem/bias']);
      kept.forEach((t, i) => expect(bytes(t).equals(bytes(m.user.base[i]!))).toBe(true));
      const manifest = fed.coordinator.store.getFederation('e2e')!.manifest;
      expect(manifest.model).toMatchObject({
        arch: 'layers',
        baseHash: m.spec.layers!.baseHash,
        parameters: 4 * 4 + (3 * 3 * 4 * 4 + 4) + (784 * 10 + 10),
        totalParameters: 4 * 4 + 148 + 7_850 + (3 * 3 * 4 + 4),
      });
    },
  );

  e2e(
    'a site holding another base refuses at start with MODEL_BASE_MISMATCH; the federation goes on with the others',
    async ({ cohort }) => {
      const m = await userModel(cohort);
      const other = await userModel(cohort, { seed: 42 });
      const fed = await federate(cohort, 2, m, { rounds: 1, minParticipants: 1 });

      grantConsent(fed, 0, 0); // site 1 agrees to rounds without the other site
      const good = cohort.agent(fed, 0, { modelFile: m.path });
      const wrong = cohort.agent(fed, 1, { modelFile: other.path });

      await expect(wrong.ready).rejects.toMatchObject({
        code: 'MODEL_BASE_MISMATCH',
        message: expect.stringMatching(/the federation's model pins/),
      });
      wrong.close(); // what `cohort agent start` does on this refusal: exit non-zero
      await good.done;
      expect(fed.coordinator.store.getRound('e2e', 1)!.state).toBe('published');
    },
  );

  e2e(
    'under FedBN no BatchNormalization tensor is published or sent, and the sites train round after round on their own',
    async ({ cohort }) => {
      const m = await userModel(cohort, { fedbn: true });
      const fed = await federate(cohort, 2, m);
      const sent: string[][] = [];
      for (const i of [0, 1])
        cohort.agent(fed, i, {
          modelFile: m.path,
          mods: [updateMod((update) => (sent.push(update.weights.map((t) => t.name)), update))],
        });
      await Promise.all(cohort.agents.map((a) => a.done));

      expect(fed.coordinator.store.getRound('e2e', 2)!.state).toBe('published');
      expect(sent).toHaveLength(4);
      for (const names of [...sent, version(fed, 2).map((t) => t.name)])
        expect(names).toEqual(['conv/kernel', 'conv/bias', 'out/kernel', 'out/bias']);
      expect(fed.coordinator.store.getFederation('e2e')!.manifest.model).toMatchObject({ fedbn: true, baseHash: m.spec.layers!.baseHash });
    },
  );

  e2e('secure aggregation works with a user model: the masked vector is the trained tensors only', async ({ cohort }) => {
    const m = await userModel(cohort);
    const fed = await federate(cohort, 3, m, {
      rounds: 1,
      minParticipants: 3,
      secagg: { graph: 'complete', clipNorm: 50, stepTimeoutMs: 10_000 },
    });
    for (const i of [0, 1, 2]) cohort.agent(fed, i, { modelFile: m.path });
    await Promise.all(cohort.agents.map((a) => a.done));

    expect(fed.coordinator.store.getRound('e2e', 1)!.state).toBe('published');
    expect(version(fed, 1).map((t) => t.name)).toEqual(m.user.initial.map((t) => t.name));
    expect(version(fed, 1)[0]!.data).not.toEqual(version(fed, 0)[0]!.data);
  });
});
