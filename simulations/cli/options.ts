/** Option parsers shared by the CLI's commands: numbers that fail loudly instead of turning into NaN. */
import { InvalidArgumentError } from 'commander';

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got "${text}"`);
  return n;
};

export const positive = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${text}"`);
  return n;
};

export const fraction = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError(`expected a number in (0, 1], got "${text}"`);
  return n;
};

export const choice = <T extends string>(values: readonly T[]) => (text: string): T => {
  if (!(values as readonly string[]).includes(text)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}, got "${text}"`);
  return text as T;
};

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export const ARCHS = ['logreg', 'mlp', 'cnn'] as const;

/** `--dp-noise`, `--dp-clip` and `--dp-delta` as the rules' DP settings (both or neither of the first two). */
export function dpFromFlags(o: { dpNoise?: unknown; dpClip?: unknown; dpDelta?: unknown }): { noiseMultiplier: number; clipNorm: number; delta: number } | undefined {
  if ((o.dpNoise === undefined) !== (o.dpClip === undefined)) throw new Error('differential privacy needs both --dp-noise and --dp-clip');
  return o.dpNoise === undefined ? undefined : { noiseMultiplier: o.dpNoise as number, clipNorm: o.dpClip as number, delta: (o.dpDelta as number | undefined) ?? 1e-5 };
}
