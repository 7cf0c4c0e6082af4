/** A test's own socket.io server playing the coordinator at connect: the challenge, the agent's authentication, the welcome. */
import type { Socket } from 'socket.io';
import { PROTOCOL_VERSION, type ModelSpec, type StudyManifest } from '../../protocol/index.js';
import { fromBase64, newChallenge, signServerProof, toBase64, type Identity } from '../../crypto/index.js';

export interface Greeting {
  /** The coordinator key the server claims. */
  presentKey: Uint8Array;
  /** The key that signs the server's proof over the agent's nonce (none: an all-zero signature, an impostor's). */
  proofKey?: Identity;
  /** A challenge to send instead of a fresh one (a malformed one, say). */
  challenge?: string;
  spec: ModelSpec;
  /** The study the welcome carries, read when the agent authenticates. */
  study: () => StudyManifest | undefined;
  maxUploadBytes?: number;
  onAuth?: () => void;
  /** The protocol version the challenge claims (default: PROTOCOL_VERSION). */
  protocolVersion?: number;
}

/**
 * Greets a connecting agent (institution site-1 of federation e2e) as a coordinator would: a challenge with a proof
 * over the agent's nonce, then, once the agent answers, acceptance and the welcome.
 * @example io.on('connection', (socket) => greetAgent(socket, { presentKey, proofKey: coordinator, spec, study: () => manifest }))
 */
export function greetAgent(socket: Socket, g: Greeting): void {
  const challenge = newChallenge();
  const clientNonce = fromBase64(String((socket.handshake.auth as { nonce?: string }).nonce));
  const proof = g.proofKey
    ? signServerProof({ federation: 'e2e', institution: 'site-1', clientNonce, challenge }, g.proofKey.signSecretKey)
    : new Uint8Array(64);
  socket.emit('session:challenge', {
    protocolVersion: g.protocolVersion ?? PROTOCOL_VERSION,
    federation: 'e2e',
    coordinatorSignPublicKey: toBase64(g.presentKey),
    challenge: g.challenge ?? toBase64(challenge),
    coordinatorSignature: toBase64(proof),
  });
  socket.on('session:auth', (_msg, ack: (r: unknown) => void) => {
    g.onAuth?.();
    ack({ ok: true, institution: 'site-1' });
    socket.emit('session:welcome', {
      institution: 'site-1',
      federation: 'e2e',
      spec: g.spec,
      maxUploadBytes: g.maxUploadBytes ?? 1 << 20,
      chunkBytes: 1 << 16,
      study: g.study(),
      policyHash: 'a'.repeat(64),
    });
  });
}
