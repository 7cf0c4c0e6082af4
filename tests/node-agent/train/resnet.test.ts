/** The resnet preset: He et al.'s layouts with their parameter counts, seeded weights, and which layers fine-tuning trains. */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildResNet, countParameters, layersToTrain, selectBackend, type TF } from '../../../node-agent/train/index.js';

let tf: TF;
beforeAll(async () => {
  ({ tf } = await selectBackend('cpu'));
});

describe('buildResNet', () => {
  it("gives ResNet-18 on 224x224x3 ImageNet with 1000 classes the paper's 11,689,512 trainable parameters", () => {
    const model = buildResNet(tf, { depth: 18, width: 64, inputShape: [224, 224, 3], units: 1000, activation: 'softmax', seed: 0 });

    const counts = countParameters(model);
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D').length;
    model.dispose();

    expect(counts.trainable).toBe(11_689_512); // torchvision resnet18: sum(p.numel() for p in parameters())
    // + moving mean and variance of 4,800 BatchNormalization channels (64 + 4·64 + 5·128 + 5·256 + 5·512).
    expect(counts.total).toBe(11_689_512 + 2 * 4_800);
    expect(convs).toBe(20); // 17 3x3/7x7 convolutions + 3 1x1 shortcut projections
  });

  it('gives ResNet-18 on 28x28x1 with 10 classes the CIFAR stem and 11,172,810 trainable parameters', () => {
    const model = buildResNet(tf, { depth: 18, width: 64, inputShape: [28, 28, 1], units: 10, activation: 'softmax', seed: 0 });

    const counts = countParameters(model);
    const hasMaxPool = model.layers.some((l) => l.name === 'stem_pool');
    model.dispose();

    // 11,689,512 - 7·7·3·64 (ImageNet stem) + 3·3·1·64 (3x3 stem) - (512·1000 + 1000) + (512·10 + 10)
    expect(counts.trainable).toBe(11_689_512 - 9_408 + 576 - 513_000 + 5_130);
    expect(hasMaxPool).toBe(false);
  });

  it('gives the small variant resnet:10x8 on 28x28x1 with 5 classes 77,533 trainable and 78,253 parameters in all', () => {
    const model = buildResNet(tf, { depth: 10, width: 8, inputShape: [28, 28, 1], units: 5, activation: 'softmax', seed: 0 });

    const counts = countParameters(model);
    model.dispose();

    // stem 72+16; stage1 576+16+576+16; stage2 1152+32+2304+32+128+32; stage3 4608+64+9216+64+512+64;
    // stage4 18432+128+36864+128+2048+128; head 64·5+5. Moving statistics: 2 · 360 BN channels.
    expect(counts.trainable).toBe(77_533);
    expect(counts.total).toBe(77_533 + 720);
  });

  it('draws the same weights from the same seed and others from another', () => {
    const opts = { depth: 10 as const, width: 4, inputShape: [8, 8, 1], units: 2, activation: 'softmax' as const };

    const [a, b, c] = [0, 0, 1].map((seed) => buildResNet(tf, { ...opts, seed }));
    const values = [a, b, c].map((m) => Array.from(m!.getWeights()[0]!.dataSync()));
    [a, b, c].forEach((m) => m!.dispose());

    expect(values[0]).toEqual(values[1]);
    expect(values[0]).not.toEqual(values[2]);
  });
});

describe('layersToTrain', () => {
  it('takes the head, the last residual block with the head, or every layer', () => {
    const model = buildResNet(tf, { depth: 18, width: 4, inputShape: [16, 16, 1], units: 3, activation: 'softmax', seed: 0 });

    const head = layersToTrain(model, 'head', 'head');
    const lastBlock = layersToTrain(model, 'last-block', 'head');
    const all = layersToTrain(model, 'all', 'head');
    model.dispose();

    expect(head).toEqual(['head']);
    expect(lastBlock).toContain('stage4_block2_conv1');
    expect(lastBlock).toContain('stage4_block2_bn2');
    expect(lastBlock).toContain('head');
    expect(lastBlock).not.toContain('stage4_block1_conv2');
    expect(lastBlock.filter((n) => /conv/.test(n))).toEqual(['stage4_block2_conv1', 'stage4_block2_conv2']);
    expect(all).toHaveLength(model.layers.length);
  });
});
