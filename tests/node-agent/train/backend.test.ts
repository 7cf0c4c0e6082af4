/** Backend selection: the best installed backend, explicit choices, and cnn training staying on wasm. */
import { describe, expect, it } from 'vitest';
import { backendForSpec, selectBackend } from '../../../node-agent/train/index.js';
import { mnistSpec } from '../../../node-agent/data/index.js';
import { nativeInstalled, recordingLog } from '../helpers.js';

const noNative = !nativeInstalled('@tensorflow/tfjs-node') && !nativeInstalled('@tensorflow/tfjs-node-gpu');

describe('selectBackend', () => {
  it.runIf(noNative)('picks wasm when no native TensorFlow is installed, and says why in one info line', async () => {
    const { lines, log } = recordingLog();

    const selected = await selectBackend('auto', log);

    expect(selected.name).toBe('wasm');
    expect(selected.tf.getBackend()).toBe('wasm');
    const info = lines.filter((l) => l.level === 'info');
    expect(info).toHaveLength(1);
    expect(info[0]?.msg).toMatch(/backend: wasm \(tensorflow-gpu, tensorflow unavailable/);
    expect(
      lines
        .filter((l) => l.level === 'debug')
        .map((l) => l.msg)
        .join('\n'),
    ).toMatch(/tfjs-node/);
  });

  it('is idempotent: a second auto call returns the running backend without logging', async () => {
    const first = await selectBackend('auto');
    const { lines, log } = recordingLog();

    const second = await selectBackend('auto', log);

    expect(second).toBe(first);
    expect(lines).toEqual([]);
  });

  it("switches to 'cpu' when asked, and an 'auto' call afterwards keeps it", async () => {
    const cpu = await selectBackend('cpu');
    const again = await selectBackend();

    expect(cpu.name).toBe('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    expect(again.name).toBe('cpu');
  });

  it.runIf(!nativeInstalled('@tensorflow/tfjs-node'))(
    "fails for 'tensorflow' with an install hint, leaving the running backend",
    async () => {
      const before = await selectBackend('wasm');

      const attempt = selectBackend('tensorflow');

      await expect(attempt).rejects.toThrow(/'tensorflow' is not available.*npm install @tensorflow\/tfjs-node/);
      expect(before.tf.getBackend()).toBe('wasm');
    },
  );
});

describe('backendForSpec', () => {
  it('keeps a cnn on wasm, where selectBackend registered the Conv2D gradient kernels', async () => {
    const wasm = await selectBackend('wasm');
    const { lines, log } = recordingLog();

    const forCnn = await backendForSpec(mnistSpec('cnn'), wasm, log);

    expect(forCnn).toBe(wasm);
    expect(forCnn.tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(lines).toEqual([]);
  });

  it('leaves dense models where they are', async () => {
    const wasm = await selectBackend('wasm');
    const { lines, log } = recordingLog();

    const forMlp = await backendForSpec(mnistSpec('mlp'), wasm, log);

    expect(forMlp).toBe(wasm);
    expect(wasm.tf.getBackend()).toBe('wasm');
    expect(lines).toEqual([]);
  });
});
