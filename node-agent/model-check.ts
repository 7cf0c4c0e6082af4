/** An agent trains on nothing the pinned coordinator did not sign. */
import { canonicalJson, frameDigest, type ErrorCode, type SignedModel } from '../protocol/index.js';
import { fromBase64, sha256Hex, verifyModel } from '../crypto/index.js';

/**
 * Checks the frame's digest and the coordinator's signature over (federation, version, spec hash, digest).
 * @example const problem = checkSignedModel(task.model, 'demo', coordinatorKey); if (problem) decline(problem.code, problem.message)
 */
export function checkSignedModel(
  model: SignedModel,
  federation: string,
  coordinatorSignPublicKey: Uint8Array,
): { code: ErrorCode; message: string } | null {
  if (model.federation !== federation)
    return { code: 'WRONG_FEDERATION', message: `model of federation ${model.federation}, this agent serves ${federation}` };
  let weightsDigest: string;
  try {
    weightsDigest = frameDigest(model.weights);
  } catch (err) {
    return { code: 'CORRUPT_PAYLOAD', message: `model v${model.version} frame is corrupt: ${(err as Error).message}` };
  }
  let signature: Uint8Array;
  try {
    signature = fromBase64(model.signature);
  } catch {
    signature = new Uint8Array(0); // not base64: verifies as nothing
  }
  const specHash = sha256Hex(new TextEncoder().encode(canonicalJson(model.spec)));
  const signed = verifyModel(
    { federation: model.federation, version: model.version, specHash, weightsDigest },
    signature,
    coordinatorSignPublicKey,
  );
  if (!signed || weightsDigest !== model.digest) {
    return { code: 'BAD_MODEL_SIGNATURE', message: `model v${model.version} is not signed by the pinned coordinator key: not using it` };
  }
  return null;
}
