/**
 * A synthetic hospital export for the docs and tests: four sites' admissions as a CSV with the defects real exports
 * have (empty cells, NA and ? for missing, text categories with rare values, an id and a date column), a binary
 * outcome (readmitted within 30 days) and a continuous one (length of stay). No real patient is in it: every value is
 * drawn from a seeded generator, so the same seed writes the same file.
 *
 * Usage: node --import tsx simulations/examples/hospital-export.ts OUT.csv [--seed N] [--rows N]
 */
import { writeFileSync } from 'node:fs';
import { createPrng, type Prng } from '../../crypto/prng.js';

interface Site {
  name: string;
  share: number;
  ageMean: number;
  /** How this site writes a missing value. */
  missing: string;
  /** Extra chance that HbA1c was not measured. */
  hba1cMissing: number;
  /** A site effect on readmission (case mix the columns do not capture). */
  effect: number;
}

const SITES: Site[] = [
  { name: 'st-marys', share: 0.36, ageMean: 68, missing: '', hba1cMissing: 0.2, effect: 0.1 },
  { name: 'northgate', share: 0.28, ageMean: 62, missing: 'NA', hba1cMissing: 0.25, effect: -0.1 },
  { name: 'riverside', share: 0.22, ageMean: 71, missing: 'NA', hba1cMissing: 0.8, effect: 0.2 },
  { name: 'lakeview', share: 0.14, ageMean: 58, missing: '?', hba1cMissing: 0.3, effect: -0.2 },
];

const DIAGNOSES: [string, number, number][] = [
  // name, frequency, effect on readmission and stay
  ['heart failure', 0.24, 0.5],
  ['COPD', 0.18, 0.3],
  ['pneumonia', 0.22, 0.1],
  ['diabetes', 0.16, 0.2],
  ['stroke', 0.15, 0.4],
  ['sepsis', 0.04, 0.6],
  ['hip fracture', 0.01, 0.2],
];
const ADMISSIONS: [string, number][] = [
  ['emergency', 0.62],
  ['elective', 0.3],
  ['transfer', 0.0785],
  ['Emergency', 0.0015], // how exports look: someone typed it by hand
];
const SMOKING: [string, number][] = [
  ['never', 0.5],
  ['former', 0.32],
  ['current', 0.18],
];

function pick<T extends [string, number, ...unknown[]]>(rng: Prng, options: readonly T[]): T {
  let u = rng.next();
  for (const option of options) {
    u -= option[1];
    if (u < 0) return option;
  }
  return options[options.length - 1] as T;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
const fixed = (v: number, digits: number): string => v.toFixed(digits);

/**
 * The CSV text: a header and `rows` admissions, sites interleaved as an export sorted by date would be.
 * @example const csv = hospitalExport({ seed: 7, rows: 2400 }); csv.split('\n')[0] // 'patient_id,admitted,site,...'
 */
export function hospitalExport(opts: { seed: number; rows: number }): string {
  const rng = createPrng(opts.seed);
  const header = [
    'patient_id',
    'admitted',
    'site',
    'age',
    'sex',
    'bmi',
    'smoking',
    'admission_type',
    'diagnosis',
    'systolic_bp',
    'hba1c',
    'prior_admissions',
    'length_of_stay',
    'readmitted_30d',
  ];
  const lines = [header.join(',')];
  const start = Date.UTC(2023, 0, 1);
  for (let i = 0; i < opts.rows; i++) {
    const site = pick(
      rng,
      SITES.map((s) => [s.name, s.share, s] as [string, number, Site]),
    )[2];
    const gap = (p: number, value: string): string => (rng.next() < p ? site.missing : value);
    const age = Math.max(18, Math.min(99, Math.round(site.ageMean + 13 * rng.normal())));
    const sex = rng.next() < 0.52 ? 'F' : 'M';
    const bmi = Math.max(14, 28 + 5.5 * rng.normal());
    const smoking = pick(rng, SMOKING)[0];
    const admission = pick(rng, ADMISSIONS)[0];
    const [diagnosis, , severity] = pick(rng, DIAGNOSES);
    const bp = 135 + 20 * rng.normal() + 0.3 * (age - 65);
    const hba1c = 6.4 + (diagnosis === 'diabetes' ? 1.4 : 0) + 1.0 * rng.normal();
    let prior = 0;
    while (rng.next() < 0.45 + 0.004 * (age - 65) && prior < 9) prior++;
    const emergency = admission.toLowerCase() === 'emergency' ? 1 : 0;
    const stay = Math.exp(1.1 + 0.015 * (age - 65) + 0.3 * emergency + 0.5 * severity + 0.06 * prior + 0.35 * rng.normal());
    const z =
      -1.5 +
      0.03 * (age - 65) +
      0.35 * prior +
      0.6 * (smoking === 'current' ? 1 : 0) +
      1.2 * severity +
      0.35 * (hba1c - 6.4) +
      0.01 * (bp - 135) +
      0.4 * emergency +
      site.effect;
    const readmitted = rng.next() < sigmoid(z) ? 'yes' : 'no';
    const admitted = new Date(start + Math.floor((i / opts.rows) * 700 + rng.next()) * 86_400_000).toISOString().slice(0, 10);
    lines.push(
      [
        `P${String(100_000 + i)}`,
        admitted,
        site.name,
        gap(0.03, String(age)),
        gap(0.01, sex),
        gap(0.08, fixed(bmi, 1)),
        gap(0.05, smoking),
        admission,
        diagnosis,
        gap(0.04, fixed(bp, 0)),
        gap(site.hba1cMissing, fixed(hba1c, 1)),
        String(prior),
        fixed(stay, 1),
        readmitted,
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const [out, ...rest] = process.argv.slice(2);
  if (!out) {
    console.error('usage: hospital-export.ts OUT.csv [--seed N] [--rows N]');
    process.exit(2);
  }
  const flag = (name: string, fallback: number): number => {
    const at = rest.indexOf(name);
    return at >= 0 ? Number(rest[at + 1]) : fallback;
  };
  writeFileSync(out, hospitalExport({ seed: flag('--seed', 7), rows: flag('--rows', 2400) }));
  console.log(`wrote ${out}`);
}
