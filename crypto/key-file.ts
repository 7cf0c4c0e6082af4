/** Identity files on disk: the ONE module in crypto/ that touches the file system (private files 0600, checked on read). */
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  IDENTITY_FORMAT,
  PUBLIC_IDENTITY_FORMAT,
  parseIdentity,
  parsePublicIdentity,
  readFormat,
  serializeIdentity,
  serializePublicIdentity,
  type Identity,
  type PublicIdentity,
} from './identity.js';

const modeOctal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');

function withPath<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Creates `path` exclusively with `mode` and writes `text`; fails with EEXIST if it exists. */
function createExclusive(path: string, text: string, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, mode);
}

/**
 * Writes a private identity with mode 0600 (parent folders created 0700). Refuses to overwrite unless `force`,
 * in which case the file is replaced atomically.
 * @example writeIdentityFile('keys/st-marys.json', generateIdentity('st-marys'));
 */
export function writeIdentityFile(path: string, identity: Identity, options: { force?: boolean } = {}): void {
  const text = serializeIdentity(identity);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!options.force) {
    try {
      createExclusive(path, text, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new Error(`${path} already exists; refusing to overwrite an identity file (pass force to replace it)`, { cause: err });
      }
      throw err;
    }
    return;
  }
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    createExclusive(temp, text, 0o600);
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or never created
    }
    throw err;
  }
}

/**
 * Writes a public identity with mode 0644 (overwrites: it holds no secret).
 * @example writePublicIdentityFile('keys/st-marys.pub.json', publicIdentityOf(me));
 */
export function writePublicIdentityFile(path: string, pub: PublicIdentity): void {
  const text = serializePublicIdentity(pub);
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w', 0o644);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o644);
}

/** Reads a file through one descriptor, returning its text and mode (no race between stat and read). */
function readWithMode(path: string): { text: string; mode: number } {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    return { text: readFileSync(fd, 'utf8'), mode: stat.mode };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a private identity. Refuses a file readable or writable by group/others, and a public identity file.
 * @example const me = readIdentityFile('keys/st-marys.json');
 */
export function readIdentityFile(path: string): Identity {
  const { text, mode } = readWithMode(path);
  const { format } = withPath(path, () => readFormat(text));
  if (format === PUBLIC_IDENTITY_FORMAT) {
    throw new Error(
      `${path} is a public identity file (${PUBLIC_IDENTITY_FORMAT}) without secret keys; pass the private identity file (${IDENTITY_FORMAT}) instead`,
    );
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new Error(
      `${path} has mode ${modeOctal(mode)}: an identity file holds secret keys and must be accessible only by its owner. Fix: chmod 600 ${path}`,
    );
  }
  return withPath(path, () => parseIdentity(text));
}

/**
 * Reads a public identity. Refuses a private identity file so secret keys are not passed around as public.
 * @example const coordinator = readPublicIdentityFile('keys/coordinator.pub.json');
 */
export function readPublicIdentityFile(path: string): PublicIdentity {
  const { text } = readWithMode(path);
  const { format } = withPath(path, () => readFormat(text));
  if (format === IDENTITY_FORMAT) {
    throw new Error(
      `${path} is a private identity file (${IDENTITY_FORMAT}) holding secret keys; pass its public identity file (${PUBLIC_IDENTITY_FORMAT}) instead`,
    );
  }
  return withPath(path, () => parsePublicIdentity(text));
}
