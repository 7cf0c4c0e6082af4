/** Shared setup for end-to-end tests: a real coordinator on loopback with a real SQLite file, and real agents. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { grantSimulatedConsent } from '../../simulations/simulate/consents.js';
import { parsePolicy, type Policy } from '../../coordinator/policy/index.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { test } from 'vitest';
import { createModelRunner } from '../../node-agent/train/model-runner.js';
import {
  createCoordinator,
  openSqliteStore,
  type Coordinator,
  type CoordinatorOptions,
  type FederationSetupInput,
} from '../../coordinator/index.js';
import { createPrng, generateIdentity, publicIdentityOf, signConsent, type Identity } from '../../crypto/index.js';
import { manifestHash } from '../../protocol/index.js';
import { createAgent, mnistSource, type Agent } from '../../node-agent/index.js';
import { loadMnist, mnistSpec, partition, splitTrainTest } from '../../node-agent/data/index.js';

export const quiet = pino({ level: 'silent' });

export interface Federation {
  dir: string;
  coordinator: Coordinator;
  coordinatorIdentity: Identity;
  institutions: Identity[];
  parts: number[][];
  test: number[];
  /** What the coordinator was started with (to start another on a copy of its data). */
  options: CoordinatorOptions;
  /** Stops the coordinator and starts a new one on the same port, database, keys and files (with `overrides` of its options). */
  restart(overrides?: Partial<CoordinatorOptions>): Promise<void>;
  close(): Promise<void>;
}

/** A permissive policy (rounds of one institution allowed, no fairness rule), so tests isolate what they test. */
export const permissivePolicy = parsePolicy({ format: 'cohort-policy/v1', version: 1, minInstitutionsPerRound: 1 });

/** Starts a coordinator for `n` institutions on MNIST slices (agents are started separately). */
export async function startFederation(
  n: number,
  rules: Partial<FederationSetupInput['rules']> = {},
  arch: 'logreg' | 'mlp' = 'logreg',
  rowsPerSite = 300,
  policy: Policy = permissivePolicy,
  coordinatorOptions: Partial<CoordinatorOptions> = {},
): Promise<Federation> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-e2e-'));
  const coordinatorIdentity = generateIdentity('coordinator');
  const institutions = Array.from({ length: n }, (_, i) => generateIdentity(`site-${i + 1}`));
  const mnist = loadMnist();
  const { train, test } = splitTrainTest(mnist, 0.2, 1);
  const rng = createPrng(7);
  const parts = partition(
    train.map((i) => mnist.y[i] as number),
    n,
    { kind: 'iid' },
    1,
  ).map((p) =>
    rng
      .shuffle([...p])
      .slice(0, rowsPerSite)
      .map((j) => train[j] as number),
  );
  const store = openSqliteStore(join(dir, 'coordinator.db'));
  const options: CoordinatorOptions = {
    store,
    dataDir: dir,
    identity: coordinatorIdentity,
    federation: {
      id: 'e2e',
      name: 'end-to-end test',
      spec: mnistSpec(arch),
      policy,
      study: { title: 'End-to-end test', purpose: 'Check the federation end to end.', dataCategories: ['handwritten-digit-images'] },
      rules: {
        rounds: 2,
        minParticipants: n,
        joinGraceMs: 0,
        roundTimeoutMs: 60_000,
        train: { localEpochs: 2, batchSize: 20, learningRate: 0.1 },
        ...rules,
      },
    },
    institutions: institutions.map(publicIdentityOf),
    log: quiet,
    modelRunner: createModelRunner(),
    ...coordinatorOptions,
  };
  const fed: Federation = {
    dir,
    coordinator: await createCoordinator(options),
    coordinatorIdentity,
    institutions,
    parts,
    test,
    options,
    async restart(overrides = {}) {
      const port = fed.coordinator.port;
      await fed.coordinator.close();
      fed.coordinator = await createCoordinator({ ...options, ...overrides, port });
    },
    async close() {
      await fed.coordinator.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fed;
}

/** Starts a real agent for institution `i` of the federation, on its own MNIST slice, over loopback. */
export function startAgent(fed: Federation, i: number, overrides: Partial<Parameters<typeof createAgent>[0]> = {}): Agent {
  const identity = fed.institutions[i] as Identity;
  const consentFile = join(fed.dir, 'sites', identity.id, 'consent.json');
  const manifest = fed.coordinator.store.getFederation(fed.coordinator.federation)!.manifest;
  if (!existsSync(consentFile)) grantSimulatedConsent(identity, manifest, consentFile, fed.institutions.length);
  return createAgent({
    consentFile,
    auditLog: join(fed.dir, 'sites', identity.id, 'audit.jsonl'),
    coordinatorUrl: fed.coordinator.url,
    federation: fed.coordinator.federation,
    identity: fed.institutions[i] as Identity,
    coordinator: publicIdentityOf(fed.coordinatorIdentity),
    data: mnistSource(fed.parts[i]),
    backend: 'wasm',
    log: quiet,
    ...overrides,
  });
}

/** What `cohort consent grant --min-others N` writes at site i (startAgent then presents it instead of the default). */
export function grantConsent(fed: Federation, i: number, minOthers: number): void {
  const site = fed.institutions[i] as Identity;
  const manifest = fed.coordinator.store.getFederation(fed.coordinator.federation)!.manifest;
  const consent = signConsent(
    {
      format: 'cohort-consent/v1',
      institution: site.id,
      federation: manifest.federation,
      manifestHash: manifestHash(manifest),
      uses: ['training', 'evaluation'],
      ethicsApproval: { reference: `IRB-${site.id}`, expires: '2999-12-31' },
      dataCategories: manifest.dataCategories,
      dataResidency: 'EU',
      limits: { requireSecureAggregation: false, minOtherInstitutions: minOthers },
      grantedAt: new Date().toISOString(),
    },
    site.signSecretKey,
  );
  mkdirSync(join(fed.dir, 'sites', site.id), { recursive: true });
  writeFileSync(join(fed.dir, 'sites', site.id, 'consent.json'), JSON.stringify(consent));
}

/** What the `e2e` fixture hands each test: starts federations and agents, and closes everything after the test. */
export interface Cohort {
  /** Starts a federation as `startFederation` does; it is closed after the test. */
  federation(...args: Parameters<typeof startFederation>): Promise<Federation>;
  /** Starts an agent as `startAgent` does and adds it to `agents`. */
  agent(fed: Federation, i: number, overrides?: Parameters<typeof startAgent>[2]): Agent;
  /** The test's agents, in order: those started with `agent`, and any the test pushes; all are closed after the test. */
  readonly agents: Agent[];
  /** Registers anything with `close()` (a federation, a raw client, a coordinator) to be closed after the test; returns it. */
  track<T extends { close(): unknown }>(resource: T): T;
  /** Registers a clean-up step to run after the test. */
  defer(fn: () => unknown): void;
  /** A fresh temporary directory, removed after the test. */
  tempDir(prefix?: string): string;
}

/**
 * The e2e test function: `test` with a `cohort` fixture. After each test, even a failed one, it closes the agents in
 * `cohort.agents` first, then every federation and registered resource in reverse order of creation.
 *
 * @example
 * e2e('publishes round 1', async ({ cohort }) => {
 *   const fed = await cohort.federation(2, { rounds: 1 });
 *   for (const i of [0, 1]) cohort.agent(fed, i);
 *   await Promise.all(cohort.agents.map((a) => a.done));
 * });
 */
export const e2e = test.extend<{ cohort: Cohort }>({
  // vitest reads a fixture's dependencies from this destructuring pattern, so it must be there even when empty
  cohort: async ({}, use) => {
    const cleanups: (() => unknown)[] = [];
    const agents: Agent[] = [];
    const track = <T extends { close(): unknown }>(resource: T): T => (cleanups.push(() => resource.close()), resource);
    const cohort: Cohort = {
      agents,
      track,
      defer: (fn) => void cleanups.push(fn),
      federation: async (...args) => track(await startFederation(...args)),
      agent: (fed, i, overrides) => {
        const agent = startAgent(fed, i, overrides);
        agents.push(agent);
        return agent;
      },
      tempDir: (prefix = 'cohort-e2e-') => {
        const dir = mkdtempSync(join(tmpdir(), prefix));
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        return dir;
      },
    };
    try {
      await use(cohort);
    } finally {
      const errors: unknown[] = [];
      for (const fn of [...agents.splice(0).map((a) => () => a.close()), ...cleanups.splice(0).reverse()]) {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw errors[0];
    }
  },
});
