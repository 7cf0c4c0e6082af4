/** Differential privacy for federated averaging: clipping, Gaussian noise (central or distributed), RDP accounting, adaptive clipping. */
export { cryptoGaussian, type GaussianSource } from './gaussian.js';
export {
  l2Norm,
  updateDistance,
  clipL2,
  addGaussianNoise,
  centralNoise,
  distributedNoise,
  distributedNoiseStd,
  effectiveNoiseMultiplier,
  type ClipResult,
} from './clip-noise.js';
export { computeRdp, DEFAULT_ORDERS, OPACUS_ORDERS } from './rdp.js';
export {
  rdpToEpsilon,
  epsilonFor,
  epsilonForSteps,
  noiseFor,
  type RdpConversion,
  type PrivacySpent,
  type ScheduleArgs,
} from './privacy-spent.js';
export { clipIndicator, adaptiveClipStep, updateNoiseMultiplier, DEFAULT_ADAPTIVE_CLIP, type AdaptiveClipParams } from './adaptive-clip.js';
