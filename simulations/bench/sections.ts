/** The sections `npm run bench` runs, in order. Add a section here once its file exists. */
import type { BenchSection } from './section.js';
import { aggregationSection } from './aggregation-bench.js';
import { ingestSection } from './ingest-bench.js';
import { roundSection } from './round-bench.js';
import { cipherSection } from './cipher-section.js';
import { trainingSection } from './training-bench.js';
import { privacySection } from './privacy-bench.js';
import { scaleSection } from './scale-bench.js';
import { simulationSection } from './simulation-bench.js';
import { compressionSection } from './compression-bench.js';
import { imagingSection } from './imaging-bench.js';

export const sections: readonly BenchSection[] = [
  aggregationSection,
  ingestSection,
  roundSection,
  cipherSection,
  trainingSection,
  privacySection,
  scaleSection,
  simulationSection,
  compressionSection,
  imagingSection,
];
