/** `cohort simulate --byzantine ATTACK:COUNT`: which simulated sites attack, and the update transform each applies. */
import type { NamedTensor } from '../../protocol/index.js';
import { createPrng } from '../../crypto/index.js';
import { scaledUpdate, signFlip, type Attack } from './byzantine.js';

/** One --byzantine flag: an attack and how many sites run it. */
export interface ByzantineFlag {
  attack: string;
  count: number;
}

const ATTACKS = 'sign-flip[=k], scale=S, noise=STD, constant=V';

/**
 * Parses `ATTACK:COUNT` (COUNT defaults to 1) and checks the attack now, so a typo fails before anything starts.
 * @example parseByzantine('constant=1e30:1') // { attack: 'constant=1e30', count: 1 }
 */
export function parseByzantine(text: string): ByzantineFlag {
  const colon = text.lastIndexOf(':');
  const [attack, countText] = colon < 0 ? [text, '1'] : [text.slice(0, colon), text.slice(colon + 1)];
  const count = Number(countText);
  if (!/^\d+$/.test(countText) || count < 1) throw new Error(`--byzantine ${text}: COUNT must be a whole number of sites of at least 1`);
  attackFor(attack, 0);
  return { attack, count };
}

/**
 * The transform of an attack (seeded, for the noise attack): what the site sends instead of its trained weights.
 * @example attackFor('scale=100', 7).transform({ round: 1, global, trained })
 */
export function attackFor(text: string, seed: number): Attack {
  const [name, arg] = text.split('=', 2) as [string, string | undefined];
  const value = arg === undefined ? undefined : Number(arg);
  if (arg !== undefined && !Number.isFinite(value)) throw new Error(`attack ${text}: ${arg} is not a finite number`);
  const needs = (): number => {
    if (value === undefined) throw new Error(`attack ${name} needs a value: ${ATTACKS}`);
    return value;
  };
  switch (name) {
    case 'sign-flip':
      return signFlip(value ?? 1);
    case 'scale':
      return scaledUpdate(needs());
    case 'noise':
      return gaussianNoise(needs(), seed);
    case 'constant':
      return constant(needs());
    default:
      throw new Error(`unknown attack ${text}: one of ${ATTACKS}`);
  }
}

/**
 * Which institutions attack: the last ones, the first flag's sites last (`--byzantine a:1 --byzantine b:2` of 5 sites:
 * institution-5 runs a, institutions 3 and 4 run b). Index (0-based) -> attack text.
 * @example assignAttackers([{ attack: 'scale=10', count: 2 }], 5) // Map { 4 => 'scale=10', 3 => 'scale=10' }
 */
export function assignAttackers(flags: readonly ByzantineFlag[], institutions: number): Map<number, string> {
  const total = flags.reduce((n, f) => n + f.count, 0);
  if (total >= institutions) throw new Error(`--byzantine: ${total} malicious sites of ${institutions} institutions leaves no honest one`);
  const out = new Map<number, string>();
  let next = institutions - 1;
  for (const flag of flags) for (let i = 0; i < flag.count; i++) out.set(next--, flag.attack);
  return out;
}

/** The site replaces its update by Gaussian noise: global + N(0, std²) on every weight. */
function gaussianNoise(std: number, seed: number): Attack {
  if (!(std > 0)) throw new RangeError(`a noise attack needs a standard deviation > 0, got ${std}`);
  const prng = createPrng(seed);
  return {
    name: `noise (σ=${std})`,
    transform: ({ global }) => global.map((g) => ({ name: g.name, shape: [...g.shape], data: g.data.map((x) => x + std * prng.normal()) })),
  };
}

/** Every weight set to `v` (v = 1e30: the update that once trained every later round at chance). */
function constant(v: number): Attack {
  return {
    name: `constant (${v})`,
    transform: ({ trained }) =>
      trained.map((t): NamedTensor => ({ name: t.name, shape: [...t.shape], data: new Float32Array(t.data.length).fill(v) })),
  };
}
