/** `cohort stats --dataset csv:FILE --partition column:C`: a real coordinator and one real agent per value of C on loopback, one stats query over REST. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { destination, pino } from 'pino';
import { createCoordinator, openSqliteStore } from '../../coordinator/index.js';
import { createApiToken } from '../../coordinator/auth/index.js';
import type { StatsRequest } from '../../coordinator/analytics/index.js';
import { generateIdentity, publicIdentityOf } from '../../crypto/index.js';
import { isMissingToken, type ModelSpec, type StatsCheckResult, type StatsResult } from '../../protocol/index.js';
import { readDictionary, specFromDictionary } from '../../protocol/cli/dictionary.js';
import { createAgent, type Agent } from '../../node-agent/index.js';
import { readTextTable, whereColumn } from '../../node-agent/analytics/index.js';
import { grantSimulatedConsent } from '../simulate/consents.js';

export interface SimulatedStatsOptions {
  csv: string;
  /** The column whose values are the sites. */
  partition: string;
  /** The minimum cell size in every simulated site's consent (absent: the default, 5). */
  minCell?: number;
  /** The privacy budget in every simulated site's consent (maxEpsilon), for queries with DP noise. */
  budget?: number;
  request: StatsRequest;
  out: string;
  /** A data dictionary file (cohort data dictionary): the study carries it, for `--check`. */
  dictionary?: string;
}

/** A stats-only study trains nothing: its model is a placeholder one-input regression that no round ever runs. */
const PLACEHOLDER: ModelSpec = { arch: 'logreg', inputShape: [1], classes: ['no', 'yes'], features: ['row'] };

/** A site id from a partition value ("St Mary's" -> "st-mary-s"). */
const siteId = (value: string): string =>
  value
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '') || 'site';

/**
 * Splits the CSV by the partition column, starts the coordinator and the agents (each signing a consent to analytics
 * only, with --min-cell), asks POST /api/federations/stats/stats with an admin token, writes stats.json, closes everything.
 * @example const stats = await simulateStats({ csv: 'docs/examples/hospital-admissions.csv', partition: 'site', request: {}, out: 'runs/stats' })
 */
export async function simulateStats(o: SimulatedStatsOptions): Promise<StatsResult | StatsCheckResult> {
  const table = readTextTable(o.csv);
  const column = table.header.indexOf(o.partition);
  if (column < 0) throw new Error(`${o.csv}: no partition column "${o.partition}"; columns are ${table.header.join(', ')}`);
  const values = [...new Set(table.rows.map((r) => r[column] as string).filter((v) => !isMissingToken(v)))].sort();
  if (values.length < 1) throw new Error(`${o.csv}: column "${o.partition}" holds no values to make sites of`);
  mkdirSync(join(o.out, 'logs'), { recursive: true });
  const sites = values.map((v) => generateIdentity(siteId(v)));
  const coordinatorIdentity = generateIdentity('coordinator');
  const store = openSqliteStore(join(o.out, 'coordinator.db'));
  const log = (name: string) => pino({ name }, destination({ dest: join(o.out, 'logs', `${name}.log`), sync: true }));
  const coordinator = await createCoordinator({
    store,
    dataDir: o.out,
    identity: coordinatorIdentity,
    federation: {
      id: 'stats',
      name: `analytics on ${o.csv}`,
      spec: o.dictionary ? specFromDictionary(readDictionary(o.dictionary), 'logreg', ['no', 'yes']) : PLACEHOLDER,
      study: {
        title: `Descriptive statistics of ${o.csv}`,
        purpose: "Describe each site's data (counts, distributions, survival) before any model is trained.",
        dataCategories: ['tabular-records'],
      },
      rules: {
        rounds: 1,
        minParticipants: sites.length + 1,
        joinGraceMs: 0,
        roundTimeoutMs: 60_000,
        train: { localEpochs: 1, batchSize: 1, learningRate: 0.1 },
      },
    },
    institutions: sites.map(publicIdentityOf),
    log: log('coordinator'),
  });
  const agents: Agent[] = [];
  try {
    const manifest = store.getFederation('stats')!.manifest;
    sites.forEach((site, i) => {
      const consentFile = join(o.out, 'sites', site.id, 'consent.json');
      grantSimulatedConsent(site, manifest, consentFile, sites.length, ['analytics'], o.minCell, o.budget);
      const slice = whereColumn(table, o.partition, values[i] as string);
      agents.push(
        createAgent({
          coordinatorUrl: coordinator.url,
          federation: 'stats',
          identity: site,
          coordinator: publicIdentityOf(coordinatorIdentity),
          consentFile,
          auditLog: join(o.out, 'sites', site.id, 'audit.jsonl'),
          data: {
            description: slice.source,
            load: () => ({
              x: new Float32Array(slice.rows.length),
              y: new Int32Array(slice.rows.length),
              n: slice.rows.length,
              inputShape: [1],
              classes: ['no', 'yes'],
              features: ['row'],
            }),
          },
          statsTable: () => slice,
          backend: 'cpu',
          log: log(site.id),
        }),
      );
    });
    await Promise.all(agents.map((a) => a.ready));
    const { token } = createApiToken(store, { role: 'admin' }, 'cohort stats');
    const res = await fetch(`${coordinator.url}/api/federations/stats/stats`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(o.request),
    });
    const body = (await res.json()) as StatsResult & { error?: { code: string; message: string } };
    if (!res.ok) throw new Error(`stats query refused: ${body.error?.code}: ${body.error?.message}`);
    return { ...body, siteNames: Object.fromEntries(sites.map((s, i) => [s.id, values[i] as string])) };
  } finally {
    for (const a of agents) a.close();
    await coordinator.close();
    store.close();
  }
}
