/** Turns SQLite constraint failures (wrapped by drizzle) into CohortErrors with wire codes. */
import { CohortError } from '../../protocol/errors.js';

/** The SQLite error code (e.g. SQLITE_CONSTRAINT_UNIQUE) of `err` or of any error in its cause chain. */
export function sqliteCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_')) return code;
  }
  return undefined;
}

/**
 * Runs `fn`; a key collision becomes DUPLICATE and a missing parent row NOT_FOUND, both naming `what`.
 * @example withConstraints(`round 3 of fed-a`, () => db.insert(rounds).values(row).returning().get())
 */
export function withConstraints<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = sqliteCode(err);
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new CohortError('DUPLICATE', `${what} already exists`, { cause: err });
    }
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
      throw new CohortError('NOT_FOUND', `${what} refers to a federation, round or institution that does not exist`, { cause: err });
    }
    throw err;
  }
}
