/** The agent's task chain: mods see the task outermost first and the outcome innermost first; update mods and the once-per-round rule. */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CohortError, type NamedTensor, type RoundTask } from '../../../protocol/index.js';
import { chain, updateMod, type Mod, type ModContext, type Next, type TaskOutcome } from '../../../node-agent/mods/chain.js';
import { oncePerRound } from '../../../node-agent/mods/once-per-round.js';
import { dpClip } from '../../../node-agent/mods/dp-clip.js';

const ctx: ModContext = { log: pino({ level: 'silent' }), audit: { append: () => undefined } };
const tensor = (...values: number[]): NamedTensor => ({ name: 'w', shape: [values.length], data: Float32Array.from(values) });
/** The fields of a task these mods read; the rest of a RoundTask plays no part here. */
const task = (round: number, dpClipNorm?: number) => ({ round, config: { dpClipNorm } }) as unknown as RoundTask;
const trained =
  (weights: number[]): Next =>
  async () => ({
    kind: 'trained',
    update: {
      global: [tensor(0, 0)],
      weights: [tensor(...weights)],
      metrics: { trainLoss: 1, epochs: 1, durationMs: 1 },
      trainSamples: 10,
    },
  });
const weightsOf = (outcome: TaskOutcome) => (outcome.kind === 'trained' ? [...outcome.update.weights[0]!.data] : undefined);

describe('chain', () => {
  it('runs mods outermost first on the way in and innermost first on the way back', async () => {
    const seen: string[] = [];
    const step =
      (name: string): Mod =>
      async (t, c, next) => {
        seen.push(`${name} in`);
        const outcome = await next(t, c);
        seen.push(`${name} out`);
        return outcome;
      };

    await chain([step('a'), step('b')], trained([1, 1]))(task(1), ctx);

    expect(seen).toEqual(['a in', 'b in', 'b out', 'a out']);
  });

  it('lets a mod answer without training: the mods inside and the last step never run', async () => {
    let trainedCalls = 0;
    const refuse: Mod = async () => ({ kind: 'declined', code: 'CONSENT_MISSING', message: 'no' });
    const last: Next = async (t, c) => (trainedCalls++, trained([1])(t, c));

    const outcome = await chain([refuse, updateMod(() => expect.unreachable())], last)(task(1), ctx);

    expect(outcome).toEqual({ kind: 'declined', code: 'CONSENT_MISSING', message: 'no' });
    expect(trainedCalls).toBe(0);
  });
});

describe('updateMod', () => {
  it('changes the trained update, keeps per-site state across rounds, and passes other outcomes unchanged', async () => {
    let rounds = 0;
    const counting = updateMod((update) => ({
      ...update,
      weights: update.weights.map((t) => ({ ...t, data: t.data.map(() => ++rounds) })),
    }));
    const run = chain([counting], trained([5, 5]));

    expect(weightsOf(await run(task(1), ctx))).toEqual([1, 2]);
    expect(weightsOf(await run(task(2), ctx))).toEqual([3, 4]);
    const skipped = await chain([counting], async () => ({ kind: 'skipped' }))(task(3), ctx);
    expect(skipped).toEqual({ kind: 'skipped' });
  });
});

describe('dpClip', () => {
  it("scales the update's distance from the global model to the task's clip norm, and leaves it alone without one", async () => {
    const clipped = await chain([dpClip()], trained([3, 4]))(task(1, 1), ctx);
    const unclipped = await chain([dpClip()], trained([3, 4]))(task(1), ctx);

    expect(Math.hypot(...weightsOf(clipped)!)).toBeCloseTo(1, 5);
    expect(weightsOf(unclipped)).toEqual([3, 4]);
  });
});

describe('oncePerRound', () => {
  it('skips a second copy of a taken round, but lets a failed or retryable round run again', async () => {
    const outcomes: TaskOutcome[] = [
      { kind: 'sent', digest: 'd', bytes: 1 },
      { kind: 'failed', error: new CohortError('INTERNAL', 'link lost') },
      { kind: 'declined', code: 'MODEL_BASE_MISMATCH', message: 'no base', retry: true },
      { kind: 'declined', code: 'PRIVACY_MISMATCH', message: 'unmasked' },
    ];
    const run = chain([oncePerRound()], async () => outcomes.shift()!);

    expect((await run(task(1), ctx)).kind).toBe('sent');
    expect((await run(task(1), ctx)).kind).toBe('skipped');
    expect((await run(task(2), ctx)).kind).toBe('failed');
    expect((await run(task(2), ctx)).kind).toBe('declined');
    expect((await run(task(2), ctx)).kind).toBe('declined');
    expect((await run(task(2), ctx)).kind).toBe('skipped');
  });
});
