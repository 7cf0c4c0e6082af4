/** The wire contract's public surface: version, errors, model spec, messages, events, feature stats, tensor codec, chunked uploads. */
export * from './version.js';
export * from './errors.js';
export * from './model-spec.js';
export * from './layers-spec.js';
export * from './messages.js';
export * from './events.js';
export * from './feature-stats.js';
export * from './data-dictionary.js';
export * from './tabular-transform.js';
export * from './column-summary.js';
export {
  CODEC_MAGIC,
  CODEC_VERSION,
  MAX_HEADER_BYTES,
  MAX_TENSOR_RANK,
  checkFinite,
  checkLayout,
  decodeTensors,
  encodeTensors,
  flatSize,
  frameDigest,
  readFloat32LE,
} from './codec.js';
export type { DecodedFrame, NamedTensor } from './codec.js';
export {
  ChunkAssembler,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_UPLOAD_WINDOW,
  MAX_CHUNK_COUNT,
  UPLOAD_TAIL_BYTES,
  splitIntoChunks,
  uploadTail,
} from './chunks.js';
export type { ChunkAssemblerOptions } from './chunks.js';
export * from './study.js';
export * from './compression.js';
export { COMPRESSED_MAGIC, decodeCompressedFrame, encodeCompressedFrame, isCompressedFrame } from './compressed-frame.js';
export { HALF_MAX, fromHalfBits, toHalfBits } from './half.js';
export * from './dp-terms.js';
export * from './consent-coverage.js';
export * from './secagg-wire.js';
export * from './task.js';
export * from './analytics.js';
export * from './analytics-secure.js';
export { protectCells, protectCount, allSuppressed, type Line } from './disclosure.js';
export { determinedCells } from './disclosure-audit.js';
export { protectTables, type CountTables } from './disclosure-tables.js';
