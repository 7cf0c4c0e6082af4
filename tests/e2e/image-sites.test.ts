/** Image sites against a real coordinator: one site in memory, one streaming from disk, normalised with per-channel statistics pooled across them. */
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadImageFolder } from '../../node-agent/data/image-folder.js';
import { dataSourceFor } from '../../node-agent/index.js';
import type { ModelSpec } from '../../protocol/index.js';
import { writeImageTree } from '../node-agent/data/image-files.js';
import { e2e, permissivePolicy } from './helpers.js';

e2e(
  "pools per-channel mean and std from the sites' summaries, equal to those over all sites' pixels together, and trains on them",
  async ({ cohort }) => {
    // prepare: an RGB image folder; site 1 holds bright and dark images 0-13, site 2 the rest (unequal shares), streamed
    const dir = join(cohort.tempDir('cohort-image-sites-'), 'tree');
    await writeImageTree(dir, { perClass: 20, colour: true, side: 16 });
    const image = { size: [8, 8] as [number, number] };
    const set = loadImageFolder(dir, image);
    const rows = [Array.from(set.labels.keys()).filter((r) => r % 20 < 14), Array.from(set.labels.keys()).filter((r) => r % 20 >= 14)];
    const spec: ModelSpec = {
      arch: 'logreg',
      inputShape: [8 * 8 * 3],
      classes: ['bright', 'dark'],
      channelNormalization: { source: 'pooled' },
    };
    const fed = await cohort.federation(2, {}, 'logreg', 10, permissivePolicy, {
      federation: {
        id: 'e2e',
        name: 'image sites',
        spec,
        policy: permissivePolicy,
        study: { title: 'Image sites', purpose: 'Pooled channel normalisation end to end.', dataCategories: ['images'] },
        rules: {
          rounds: 1,
          minParticipants: 2,
          joinGraceMs: 0,
          roundTimeoutMs: 60_000,
          train: { localEpochs: 1, batchSize: 5, learningRate: 0.1 },
        },
      },
    });

    // execute: one agent holds its images in memory, the other streams them
    const ref = { kind: 'images' as const, dir };
    cohort.agent(fed, 0, { data: dataSourceFor({ ...ref, image }, rows[0]) });
    cohort.agent(fed, 1, { data: dataSourceFor({ ...ref, image: { ...image, stream: true } }, rows[1]) });
    await Promise.all(cohort.agents.map((a) => a.done));

    // assert: the stored spec's values are the mean and (population) std of every channel over all 40 images' pixels
    const stored = fed.coordinator.store.getFederation('e2e')?.spec.channelNormalization;
    const values = Array.from(set.pixels, (v) => v / 255);
    for (let c = 0; c < 3; c++) {
      const channel = values.filter((_, k) => k % 3 === c);
      const mean = channel.reduce((a, b) => a + b, 0) / channel.length;
      const std = Math.sqrt(channel.reduce((a, b) => a + (b - mean) ** 2, 0) / channel.length);
      expect(stored?.mean?.[c]).toBeCloseTo(mean, 6);
      expect(stored?.std?.[c]).toBeCloseTo(std, 6);
    }
    const audit = fed.coordinator.store.listAudit({ federationId: 'e2e', kind: 'spec.channel-normalization' });
    expect(audit).toHaveLength(1);
    expect(audit[0]?.data).toMatchObject({ sites: 2, pixels: 40 * 64 });
    expect(fed.coordinator.store.latestModel('e2e')?.version).toBe(1);
  },
);
