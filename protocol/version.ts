/** The wire protocol's version: both sides must agree on it at handshake. */

/** Bumped on any incompatible change to events, schemas, codecs or signed byte layouts. */
export const PROTOCOL_VERSION = 1;
