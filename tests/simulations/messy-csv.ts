/** A generated hospital-style export: an id column, a site column, numeric cells missing as "", NA or ?, a text column. */
import { writeFileSync } from 'node:fs';
import { createPrng } from '../../crypto/prng.js';

/**
 * Writes `rows` rows of id, site (A/B/C), age, bmi, ward (text), smoker (yes/no), outcome (sick/well); the outcome
 * depends on the features, so a model can learn it. Seeded.
 */
export function writeMessyCsv(path: string, rows: number, seed: number, sites = ['A', 'B', 'C']): void {
  const rng = createPrng(seed);
  const wards = ['cardio', 'onco', 'neuro', 'icu'];
  const lines = ['id,site,age,bmi,ward,smoker,outcome'];
  for (let i = 0; i < rows; i++) {
    const site = sites[i % sites.length] as string;
    const age = 55 + 12 * rng.normal();
    const bmi = 27 + 4 * rng.normal();
    const ward = wards[rng.int(wards.length)] as string;
    const smoker = rng.next() < 0.4 ? 'yes' : 'no';
    const z = 0.08 * (age - 55) + 0.3 * (bmi - 27) + (ward === 'icu' ? 1.5 : 0) + (smoker === 'yes' ? 1 : 0);
    const outcome = z + 0.5 * rng.normal() > 0.6 ? 'sick' : 'well';
    const miss = (v: string, tokens: string[]): string => (rng.next() < 0.12 ? (tokens[rng.int(tokens.length)] as string) : v);
    lines.push(
      [
        `p${i}`,
        site,
        miss(age.toFixed(1), ['', 'NA', '?']),
        miss(bmi.toFixed(1), ['', 'N/A', 'NaN']),
        rng.next() < 0.05 ? '' : ward,
        smoker,
        outcome,
      ].join(','),
    );
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}
