/** Model versions on disk: one codec frame per file, written atomically, verified against its digest on read. */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';

const DIGEST_BYTES = 32;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The absolute path of `relPath` under `dataDir`; throws if it would leave `dataDir`. */
function inside(dataDir: string, relPath: string): string {
  const root = resolve(dataDir);
  const full = resolve(root, relPath);
  const rel = relative(root, full);
  if (isAbsolute(relPath) || rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`model file path "${relPath}" escapes the data directory`);
  }
  return full;
}

/**
 * Writes a model frame to `models/<federation>/v<version>.cohort` under `dataDir`: to a temporary
 * file first, flushed, then renamed, so readers never see half a model.
 * @example const { path } = saveModelFile('./data', 'fed-a', 3, frame); // path === 'models/fed-a/v3.cohort'
 */
export function saveModelFile(dataDir: string, federationId: string, version: number, bytes: Uint8Array): { path: string } {
  if (!SAFE_ID.test(federationId)) throw new Error(`federation id "${federationId}" is not safe as a directory name`);
  if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`model version must be a non-negative integer, got ${version}`);
  const path = posix.join('models', federationId, `v${version}.cohort`);
  const full = inside(dataDir, path);
  mkdirSync(resolve(full, '..'), { recursive: true });
  const temp = `${full}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(temp, 'w');
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, full);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  return { path };
}

/**
 * Reads a model frame and checks it: the SHA-256 of everything before the 32-byte trailer must
 * equal both the trailer and `expectedDigest` (hex, as stored with the model); throws otherwise.
 * @example const frame = loadModelFile('./data', record.path, record.digest);
 */
export function loadModelFile(dataDir: string, relPath: string, expectedDigest: string): Uint8Array {
  const full = inside(dataDir, relPath);
  const bytes = new Uint8Array(readFileSync(full));
  if (bytes.length < DIGEST_BYTES) throw new Error(`model file ${relPath} is corrupt: ${bytes.length} bytes, too short for a frame`);
  const end = bytes.length - DIGEST_BYTES;
  const actual = createHash('sha256').update(bytes.subarray(0, end)).digest('hex');
  const trailer = Buffer.from(bytes.buffer, bytes.byteOffset + end, DIGEST_BYTES).toString('hex');
  if (actual !== trailer) throw new Error(`model file ${relPath} is corrupt: digest ${actual} != trailer ${trailer}`);
  if (actual !== expectedDigest.toLowerCase()) {
    throw new Error(`model file ${relPath} is corrupt: digest ${actual} != expected ${expectedDigest}`);
  }
  return bytes;
}
