/** Storage failures that are nobody's request's fault (database locked, disk full, I/O error) as one wire error: UNAVAILABLE. */
import { CohortError, toCohortError } from '../../protocol/errors.js';
import { sqliteCode } from './sqlite-errors.js';

/** SQLite result codes (and their extended forms) of a store that cannot write now. */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN)/;
/** File-system errors of a disk that cannot take more (full, over quota or a size limit, read-only, failing). */
const FS_UNAVAILABLE = new Set(['ENOSPC', 'EFBIG', 'EDQUOT', 'EROFS', 'EIO']);

/**
 * The UNAVAILABLE error for a storage failure, or undefined when `cause` is something else.
 * @example storageUnavailable(sqliteBusyError)?.code // 'UNAVAILABLE'
 */
export function storageUnavailable(cause: unknown): CohortError | undefined {
  if (cause instanceof CohortError) return cause.code === 'UNAVAILABLE' ? cause : undefined;
  const sqlite = sqliteCode(cause);
  const fs = (cause as { code?: unknown } | null)?.code;
  const what = sqlite && SQLITE_UNAVAILABLE.test(sqlite) ? sqlite : typeof fs === 'string' && FS_UNAVAILABLE.has(fs) ? fs : undefined;
  if (!what) return undefined;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new CohortError(
    'UNAVAILABLE',
    `the coordinator cannot store anything now (${what}: ${message}); nothing was taken, try again later`,
    { cause },
  );
}

/**
 * Anything thrown as a known error: a storage failure as UNAVAILABLE, the rest as toCohortError makes it.
 * @example ack({ ok: false, error: wireError(knownError(cause)) })
 */
export function knownError(cause: unknown): CohortError {
  return storageUnavailable(cause) ?? toCohortError(cause);
}

/**
 * Runs `fn`; a storage failure leaves it as UNAVAILABLE, anything else as thrown.
 * @example storing(() => store.transaction(() => store.updateParticipation(fed, round, site, patch)))
 */
export function storing<T>(fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    throw storageUnavailable(cause) ?? cause;
  }
}
