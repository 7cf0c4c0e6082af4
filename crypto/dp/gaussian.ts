/** Standard normal sources for DP noise: crypto-strength by default (node:crypto bytes -> Box-Muller in float64). */
import { defaultRandom, takeRandom, type RandomSource } from '../random.js';

/** Returns independent N(0, 1) draws. */
export type GaussianSource = () => number;

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/**
 * N(0, 1) draws from a RandomSource (the OS CSPRNG by default), by Box-Muller over 53-bit uniforms, two draws per pair.
 * Random bytes are taken in blocks of `blockBytes` and zeroed once consumed. Inject a seeded RandomSource only in tests.
 * @example const gaussian = cryptoGaussian(); const noise = gaussian() * sigma;
 */
export function cryptoGaussian(random: RandomSource = defaultRandom, blockBytes = 16384): GaussianSource {
  if (!Number.isInteger(blockBytes) || blockBytes < 16 || blockBytes % 16 !== 0)
    throw new RangeError('blockBytes must be a positive multiple of 16');
  let block: Uint8Array = new Uint8Array(0);
  let view = new DataView(block.buffer);
  let offset = 0;
  let spare: number | null = null;
  const uniform53 = (): number => {
    if (offset + 8 > block.length) {
      block.fill(0);
      block = takeRandom(random, blockBytes);
      view = new DataView(block.buffer, block.byteOffset, block.byteLength);
      offset = 0;
    }
    const hi = view.getUint32(offset, true) >>> 11; // 21 bits
    const lo = view.getUint32(offset + 4, true);
    view.setUint32(offset, 0, true);
    view.setUint32(offset + 4, 0, true);
    offset += 8;
    return (hi * TWO_POW_32 + lo) / TWO_POW_53; // uniform on [0, 1) in steps of 2^-53
  };
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const u1 = 1 - uniform53(); // (0, 1]: log is finite
    const u2 = uniform53();
    const radius = Math.sqrt(-2 * Math.log(u1));
    spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };
}
