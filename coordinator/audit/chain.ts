/** The audit table as a hash chain: rows to chain entries, verification of the table or of an export, and export. */
import { canonicalJson } from '../../protocol/index.js';
import { verifyChain, type ChainEntry, type ChainVerdict } from '../../crypto/index.js';
import type { AuditRow, Store } from '../store/index.js';

/**
 * A stored row as the chain entry it was hashed as. A row whose data column is not in canonical
 * form was edited after the fact: its entry is marked so that verification names it.
 */
export function entryOfRow(row: AuditRow): ChainEntry & { canonical: boolean } {
  let data: unknown;
  let canonical: boolean;
  try {
    data = JSON.parse(row.data);
    canonical = canonicalJson(data) === row.data;
  } catch {
    data = row.data;
    canonical = false;
  }
  const body = canonicalJson({
    seq: row.id,
    ts: row.ts,
    federation: row.federationId,
    kind: row.kind,
    actor: row.actor,
    subject: row.subject,
    data,
  });
  return { seq: row.id, prevHash: row.prevHash, body, hash: row.hash, signature: row.signature, canonical };
}

/** Every row of the audit table in order, read in pages so a long log does not sit in memory at once. */
export function* auditRows(store: Store, pageSize = 5_000): Generator<AuditRow> {
  let after = 0;
  for (;;) {
    const page = store.listAuditRows(after, pageSize);
    yield* page;
    if (page.length < pageSize) return;
    after = page.at(-1)!.id;
  }
}

/**
 * Verifies the whole audit table: every row's content, link and signature.
 * @example const verdict = verifyAuditTable(store, coordinatorSignPublicKey); if (!verdict.ok) console.error(verdict.message)
 */
export function verifyAuditTable(store: Store, signPublicKey: Uint8Array): ChainVerdict {
  let index = 0;
  let broken: ChainVerdict | undefined;
  function* entries(): Generator<ChainEntry> {
    for (const row of auditRows(store)) {
      const entry = entryOfRow(row);
      if (!entry.canonical) {
        broken = {
          ok: false,
          entries: index,
          index,
          seq: row.id,
          problem: 'HASH',
          message: `event #${row.id} (entry ${index + 1}): its data column was edited (not the canonical JSON that was hashed)`,
        };
        return;
      }
      index += 1;
      yield entry;
    }
  }
  const verdict = verifyChain(entries(), signPublicKey);
  return broken && verdict.ok ? broken : verdict;
}

/** One JSON Lines record per event: { seq, prevHash, hash, signature, body } where body is the exact hashed string. */
export function* exportAudit(store: Store): Generator<string> {
  for (const row of auditRows(store)) {
    const { canonical: _c, ...entry } = entryOfRow(row);
    yield JSON.stringify(entry);
  }
}

/** Parses an export back into entries (for offline verification). */
export function parseExport(text: string): ChainEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as ChainEntry;
      } catch {
        throw new Error(`line ${i + 1} of the export is not JSON`);
      }
    });
}
