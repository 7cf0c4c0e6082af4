/** The SQLite Store: the shared contract on a file and in memory, plus what only a real file can show. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../coordinator/store/index.js';
import { federation, institution, round, storeCases } from './store-cases.js';

const root = mkdtempSync(join(tmpdir(), 'cohort-store-'));
let files = 0;
const journal = new URL('../../../coordinator/store/migrations/meta/_journal.json', import.meta.url);
const migrationCount = (JSON.parse(readFileSync(journal, 'utf8')) as { entries: unknown[] }).entries.length;
afterAll(() => rmSync(root, { recursive: true, force: true }));

storeCases('SQLite file', () => openSqliteStore(join(root, `contract-${files++}`, 'cohort.db')));
storeCases('SQLite :memory:', () => openSqliteStore(':memory:'));

describe('openSqliteStore on a file', () => {
  let path: string;
  beforeEach(() => {
    path = join(root, `file-${files++}`, 'nested', 'cohort.db');
  });

  it('creates the parent directory, applies every committed migration and switches to WAL', () => {
    const store = openSqliteStore(path);
    store.close();

    const db = new Database(path, { readonly: true });
    const applied = db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number };
    const tables = (
      db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%sqlite%' AND name NOT LIKE '\\_\\_%' ESCAPE '\\' ORDER BY name",
        )
        .all() as { name: string }[]
    ).map((t) => t.name);
    const mode = db.pragma('journal_mode', { simple: true });
    db.close();

    expect(existsSync(path)).toBe(true);
    expect(applied.n).toBe(migrationCount);
    expect(tables).toEqual(['api_tokens', 'audit', 'consents', 'federations', 'institutions', 'models', 'participations', 'rounds']);
    expect(mode).toBe('wal');
  });

  it('keeps its data across close and reopen, without re-applying migrations', () => {
    const first = openSqliteStore(path);
    first.createFederation(federation);
    first.upsertInstitution(institution('inst-1'));
    first.createRound(round(1));
    first.addParticipation({ federationId: 'fed-a', round: 1, institutionId: 'inst-1', status: 'accepted', samples: 10, updatedAt: 5 });
    first.appendAudit({ ts: 1, federationId: 'fed-a', kind: 'federation.created', actor: 'coordinator', data: { a: [1, 2] } });
    first.close();

    const second = openSqliteStore(path);
    const state = {
      federation: second.getFederation('fed-a'),
      institutions: second.listInstitutions('fed-a').length,
      round: second.getRound('fed-a', 1)?.selected,
      samples: second.getParticipation('fed-a', 1, 'inst-1')?.samples,
      audit: second.listAudit().map((e) => e.data),
    };
    second.close();
    const db = new Database(path, { readonly: true });
    const applied = db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number };
    db.close();

    expect(state).toEqual({
      federation: { ...federation, status: 'created' },
      institutions: 1,
      round: ['inst-1', 'inst-2'],
      samples: 10,
      audit: [{ a: [1, 2] }],
    });
    expect(applied.n).toBe(migrationCount);
  });

  it('enforces foreign keys on the connection it opens', () => {
    const store = openSqliteStore(path);

    const orphan = () => store.createRound({ ...round(1), federationId: 'missing' });

    expect(orphan).toThrow(/refers to a federation, round or institution that does not exist/);
    store.close();
  });
});
