/** Secure aggregation (Bonawitz et al. 2017, SecAgg+ of Bell et al. 2020): pure building blocks and state machines. */
export { split, combine, combineVerified, sharesConsistent, type Share, type CombineResult, type CombineFailure } from './shamir.js';
export {
  quantisationParams,
  quantiseWeighted,
  dequantiseSum,
  averageErrorBound,
  addInto,
  subInto,
  type QuantisationParams,
  type Rounding,
} from './ring.js';
export { expandMask, applyMask, PRG_CIPHER, type PrgContext, type PrgKind } from './prg.js';
export { buildGraph, secAggPlusDegree, type GraphSpec, type CommunicationGraph } from './graph.js';
export {
  createSecAggConfig,
  minimumThreshold,
  openSession,
  type ThreatModel,
  type SecAggConfig,
  type SecAggParticipant,
  type SecAggSession,
} from './protocol.js';
export type {
  AdvertiseKeys,
  KeysBroadcast,
  EncryptedShare,
  ShareKeys,
  SharesDelivery,
  Complaint,
  ComplaintReason,
  MaskedInput,
  ConsistencyRequest,
  ConsistencySignature,
  UnmaskRequest,
  RevealedShare,
  UnmaskResponse,
  SecAggMessage,
} from './messages.js';
export type { SecAggFailure, SecAggFailureCode, SecAggStep, StepResult, Receipt, RejectReason, Blame, BlameReason } from './failures.js';
export { SecAggClient, createSecAggClient, type ClientPhase, type SecAggClientOptions } from './client.js';
export { SecAggServer, createSecAggServer, type ServerPhase, type ServerStep, type ServerOutcome, type SecAggResult } from './server.js';
export { configFromTerms, termsFor } from './terms.js';
export { generateX25519, x25519PublicKey, type X25519KeyPair } from './keys.js';
export { maskCounts, sumMasked, wordsToBytes, wordsFromBytes, type CountMaskArgs } from './count-masks.js';
