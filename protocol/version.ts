/** The wire protocol's version: both sides must agree on it at handshake. */

/**
 * Bumped on any incompatible change to events, schemas, codecs or signed byte layouts.
 * 2: `update:begin` announces the upload's tail (its signature) instead of a SHA-256 of the whole upload,
 * answers `next` instead of `received`, and chunks are taken in order only (sent in a window).
 */
export const PROTOCOL_VERSION = 2;
