/** Bench section `round`: whole rounds through the real coordinator and agents on loopback (no training) against the same bytes over bare socket.io. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Server } from 'socket.io';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { createCoordinator, openSqliteStore } from '../../coordinator/index.js';
import { parsePolicy } from '../../coordinator/policy/index.js';
import { generateIdentity, publicIdentityOf } from '../../crypto/index.js';
import { createAgent, mnistSource, type Agent, type CustomTrainer } from '../../node-agent/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { DEFAULT_CHUNK_BYTES, DEFAULT_UPLOAD_WINDOW, parameterCount, type ModelSpec } from '../../protocol/index.js';
import { grantSimulatedConsent } from '../simulate/consents.js';
import type { BenchRow, BenchSection } from './section.js';
import { fmtSpread, spread, spreadValues } from './stats.js';

const TARGET_RATIO = 1.5;
const silent = pino({ level: 'silent' });

/** "No training": the global weights nudged in place and sent straight back. */
const perturb: CustomTrainer = async ({ weights, samples }) => {
  for (const { data } of weights) for (let i = 0; i < data.length; i += 97) data[i] = (data[i] as number) + 1e-4;
  return { weights, trainSamples: samples, metrics: { trainLoss: 0.5, trainAccuracy: 0.5, epochs: 1, durationMs: 0 } };
};

/** One round's wall time and the CPU time this process spent in it (all threads: main, libuv pool, GC), ms; `updates` aggregated. */
export interface RoundTime {
  wallMs: number;
  cpuMs: number;
  updates: number;
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * Runs `rounds` rounds with `n` real agents through the real coordinator and returns each round's time
 * from round:started to round:published.
 * @example const times = await realRounds(mnistSpec('cnn'), 10, 4);
 */
export async function realRounds(
  spec: ModelSpec,
  n: number,
  rounds: number,
  log: (line: string) => void = () => undefined,
): Promise<RoundTime[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-bench-round-'));
  const identity = generateIdentity('coordinator');
  const sites = Array.from({ length: n }, (_, i) => generateIdentity(`site-${i + 1}`));
  const store = openSqliteStore(join(dir, 'coordinator.db'));
  const coordinator = await createCoordinator({
    store,
    dataDir: dir,
    identity,
    federation: {
      id: 'bench',
      name: 'round bench',
      spec,
      policy: parsePolicy({ format: 'cohort-policy/v1', version: 1, minInstitutionsPerRound: 1 }),
      study: { title: 'Round bench', purpose: 'Measure the overhead of a round.', dataCategories: ['handwritten-digit-images'] },
      // All N take part whenever all are online; one agent lost to a heartbeat timeout on a loaded machine
      // (up to a tenth of them) does not fail the round. Each round's update count is reported.
      rules: {
        rounds,
        minParticipants: Math.max(1, n - Math.ceil(n / 10)),
        joinGraceMs: 60_000,
        roundTimeoutMs: 600_000,
        train: { localEpochs: 1, batchSize: 10, learningRate: 0.05 },
      },
    },
    institutions: sites.map(publicIdentityOf),
    log: silent,
  });
  const starts = new Map<number, RoundTime>();
  const times: RoundTime[] = [];
  const accepted = new Map<number, number>();
  coordinator.runner.on('round:started', ({ round }) => starts.set(round, { wallMs: performance.now(), cpuMs: cpuMs(), updates: 0 }));
  coordinator.runner.on('update:accepted', ({ round }) => accepted.set(round, (accepted.get(round) ?? 0) + 1));
  coordinator.runner.on('participant:dropped', ({ round, institution, reason }) =>
    log(`round ${round}: ${institution} dropped (${reason})`),
  );
  coordinator.runner.on('update:refused', ({ round, institution, code, message }) =>
    log(`round ${round}: ${institution} refused ${code}: ${message}`),
  );
  coordinator.runner.on('round:published', ({ round }) => {
    const start = starts.get(round) as RoundTime;
    times.push({ wallMs: performance.now() - start.wallMs, cpuMs: cpuMs() - start.cpuMs, updates: accepted.get(round) ?? 0 });
  });
  const failed = new Promise<never>((_, reject) => {
    coordinator.runner.on('round:failed', ({ reason }) => reject(new Error(`round failed: ${reason}`)));
    coordinator.runner.on('federation:failed', ({ reason }) => reject(new Error(`federation failed: ${reason}`)));
  });
  const manifest = store.getFederation('bench')!.manifest;
  const agents: Agent[] = sites.map((site, i) => {
    const consentFile = join(dir, 'sites', site.id, 'consent.json');
    grantSimulatedConsent(site, manifest, consentFile, n);
    return createAgent({
      consentFile,
      coordinatorUrl: coordinator.url,
      federation: 'bench',
      identity: site,
      coordinator: publicIdentityOf(identity),
      data: mnistSource(Array.from({ length: 20 }, (_, j) => i * 20 + j)),
      backend: 'cpu',
      valFraction: 0,
      log: silent,
      trainer: perturb,
    });
  });
  try {
    await Promise.race([Promise.all(agents.map((a) => a.done)), failed]);
  } finally {
    for (const a of agents) a.close();
    await coordinator.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return times;
}

/**
 * The same traffic over bare socket.io: the server sends `bytes` to each of `n` clients, each sends as
 * many bytes back in acknowledged chunks (begin, chunks, commit, as the agent's upload does: up to
 * `window` chunks unacknowledged) into a preallocated buffer; once all are in, the server sends `bytes`
 * to each again and each answers with a small report (the real round's candidate evaluation).
 * Returns each round's time (ms).
 * @example const times = await bareRounds(6_653_000, 10, 4, 8);
 */
export async function bareRounds(bytes: number, n: number, rounds: number, window = DEFAULT_UPLOAD_WINDOW): Promise<RoundTime[]> {
  const httpServer = createServer();
  const server = new Server(httpServer, { maxHttpBufferSize: DEFAULT_CHUNK_BYTES + 64 * 1024, serveClient: false });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  const model = Buffer.alloc(bytes, 7);
  let finished = 0;
  let reported = 0;
  let onRoundDone: () => void = () => undefined;
  server.on('connection', (socket) => {
    let buffer = new Uint8Array(0);
    socket.on('begin', (msg: { totalBytes: number }, ack: (r: unknown) => void) => {
      buffer = new Uint8Array(msg.totalBytes);
      ack({ ok: true });
    });
    socket.on('chunk', (msg: { index: number; data: Uint8Array }, ack: (r: unknown) => void) => {
      buffer.set(msg.data, msg.index * DEFAULT_CHUNK_BYTES);
      ack({ ok: true });
    });
    socket.on('commit', (_msg: unknown, ack: (r: unknown) => void) => {
      ack({ ok: true });
      finished += 1;
      if (finished === n) for (const s of server.sockets.sockets.values()) s.emit('evaluate', { data: model });
    });
    socket.on('report', (_msg: unknown, ack: (r: unknown) => void) => {
      ack({ ok: true });
      reported += 1;
      if (reported === n) onRoundDone();
    });
  });
  const clients: ClientSocket[] = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ClientSocket>((resolve) => {
          const client = connectClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
          client.on('task', (task: { data: Uint8Array }) => {
            void (async () => {
              const data = new Uint8Array(task.data);
              await client.emitWithAck('begin', { totalBytes: data.length });
              const inFlight = new Set<Promise<unknown>>();
              for (let index = 0, at = 0; at < data.length; index++, at += DEFAULT_CHUNK_BYTES) {
                if (inFlight.size >= window) await Promise.race(inFlight);
                const acked: Promise<unknown> = client
                  .emitWithAck('chunk', { index, data: data.subarray(at, at + DEFAULT_CHUNK_BYTES) })
                  .finally(() => inFlight.delete(acked));
                inFlight.add(acked);
              }
              await Promise.all(inFlight);
              await client.emitWithAck('commit', {});
            })().catch(() => undefined); // the last commit's ack may still be in flight when the bench closes
          });
          client.on('evaluate', (task: { data: Uint8Array }) => {
            void client.emitWithAck('report', { bytes: task.data.length, valAccuracy: 0.5 }).catch(() => undefined);
          });
          client.on('connect', () => resolve(client));
        }),
    ),
  );
  const times: RoundTime[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      finished = 0;
      reported = 0;
      const done = new Promise<void>((resolve) => (onRoundDone = resolve));
      const start = performance.now();
      const startCpu = cpuMs();
      for (const socket of server.sockets.sockets.values()) socket.emit('task', { data: model });
      await done;
      times.push({ wallMs: performance.now() - start, cpuMs: cpuMs() - startCpu, updates: n });
    }
  } finally {
    for (const c of clients) c.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return times;
}

/**
 * Round overhead: real rounds against bare socket.io rounds carrying the same bytes, alternating.
 * @example const result = await roundSection.run({ quick: true, outDir, log: console.error });
 */
export const roundSection: BenchSection = {
  id: 'round',
  title: 'Round overhead: real coordinator and agents against bare socket.io',
  async run(ctx) {
    const arch = ctx.quick ? 'mlp' : 'cnn';
    const spec = mnistSpec(arch);
    const counts = ctx.quick ? [3] : [10, 50, 100];
    // Rounds per N, the first a warm-up: with 2-3 measured rounds the same commit's median ratio moved by 0.5 between
    // runs at N = 10 (docs/benchmarks.md), so the cheaper N measure more.
    const roundsFor = (n: number): number => (ctx.quick ? 3 : n >= 100 ? 3 : n >= 50 ? 5 : 9);
    const modelBytes = parameterCount(spec) * 4;
    const rows: BenchRow[] = [];
    const ratios = new Map<number, number>();
    const cpuRatios = new Map<number, number>();
    let short = 0;
    for (const n of counts) {
      const rounds = roundsFor(n);
      ctx.log(
        `${n} agents, ${arch} (${(modelBytes / 1e6).toFixed(2)} MB), ${rounds} rounds (first dropped as warm-up), real, then bare with a window of ${DEFAULT_UPLOAD_WINDOW} and with stop-and-wait`,
      );
      const real = (await realRounds(spec, n, rounds, ctx.log)).slice(1);
      short += real.filter((t) => t.updates < n).length;
      const bare = (await bareRounds(modelBytes, n, rounds)).slice(1);
      // Protocol 1's scheme (one chunk per acknowledgement), the baseline of earlier runs.
      const stopAndWait = (await bareRounds(modelBytes, n, rounds, 1)).slice(1);
      const realS = spread(real.map((t) => t.wallMs));
      const bareS = spread(bare.map((t) => t.wallMs));
      const stopS = spread(stopAndWait.map((t) => t.wallMs));
      const stopRatio = spread(real.map((t, i) => t.wallMs / (stopAndWait[i]?.wallMs ?? Number.NaN)));
      const ratio = spread(real.map((t, i) => t.wallMs / (bare[i]?.wallMs ?? Number.NaN)));
      const cpuRatio = spread(real.map((t, i) => t.cpuMs / (bare[i]?.cpuMs ?? Number.NaN)));
      ratios.set(n, ratio.median);
      cpuRatios.set(n, cpuRatio.median);
      const mbps = spread(real.map((t) => (3 * n * modelBytes) / 1e6 / (t.wallMs / 1000)));
      rows.push({
        cells: [
          String(n),
          fmtSpread(realS, 0),
          fmtSpread(bareS, 0),
          fmtSpread(ratio, 2),
          fmtSpread(cpuRatio, 2),
          fmtSpread(stopS, 0),
          fmtSpread(stopRatio, 2),
          fmtSpread(mbps, 0),
        ],
        values: {
          agents: n,
          arch,
          modelBytes,
          rounds: real.length,
          minUpdates: Math.min(...real.map((t) => t.updates)),
          ...spreadValues('realMs', realS),
          ...spreadValues('bareMs', bareS),
          ...spreadValues('ratio', ratio),
          ...spreadValues('realCpuMs', spread(real.map((t) => t.cpuMs))),
          ...spreadValues('bareCpuMs', spread(bare.map((t) => t.cpuMs))),
          ...spreadValues('cpuRatio', cpuRatio),
          ...spreadValues('stopAndWaitMs', stopS),
          ...spreadValues('stopAndWaitRatio', stopRatio),
          ...spreadValues('mbps', mbps),
        },
      });
    }
    const worst = Math.max(...ratios.values());
    return {
      title: 'Round overhead: real coordinator and agents against bare socket.io',
      columns: [
        'agents',
        'real round ms',
        `bare socket.io ms (window ${DEFAULT_UPLOAD_WINDOW})`,
        'overhead ratio (wall)',
        'CPU time ratio',
        'bare stop-and-wait ms',
        'ratio vs stop-and-wait bare',
        'real MB/s (3 models per agent)',
      ],
      rows,
      notes: [
        `Real: createCoordinator (SQLite store, FedAvg, permissive policy) and N createAgent on loopback, all in this one process; agents do not train (an injected trainer nudges the global weights and returns them at once), so a round is: sign and send the ${arch} model (${parameterCount(spec).toLocaleString('en')} parameters, ${(modelBytes / 1e6).toFixed(2)} MB) to every agent, agents verify it, seal (X25519 + ChaCha20-Poly1305 + Ed25519) and upload in ${DEFAULT_CHUNK_BYTES / 1024} KiB chunks, up to ${DEFAULT_UPLOAD_WINDOW} unacknowledged (protocol 2), the coordinator verifies, decrypts, checks and aggregates each, then signs, stores and publishes the new model. Time: round:started to round:published.`,
        `Baseline: bare socket.io in the same process, same N websocket clients, the same bytes: the server emits a model-sized buffer to each client, each client sends as many bytes back in the same chunks and window (begin, chunks, commit) into a preallocated buffer, then the server emits the buffer to each again and each answers with a small report (the real round sends the candidate model to its contributors for evaluation; here the agents keep no validation rows and decline at once). No crypto, no checks, no storage. The target is against this baseline; 'stop-and-wait' is the same bare traffic with one chunk per acknowledgement (protocol 1's scheme and the baseline of earlier runs).`,
        `${counts.map((n) => `${roundsFor(n) - 1} rounds at N=${n}`).join(', ')} after one warm-up round each; ${short === 0 ? 'every measured round aggregated all N updates' : `${short} measured round(s) aggregated fewer than N updates (an agent dropped; see the JSON's minUpdates)`}; median (min–max); the ratio is paired round by round (real round i / bare round i). MB/s counts, for every agent, the model down, the update up and the candidate down.`,
        `CPU time ratio: process.cpuUsage() (user + system, every thread of this process) spent in the real round / in the bare one; less sensitive than wall time to other work on a shared machine.`,
        `Target overhead ratio <= ${TARGET_RATIO}: worst ${worst.toFixed(2)} (${[...ratios].map(([n, r]) => `${r.toFixed(2)} at N=${n}`).join(', ')}), ${worst <= TARGET_RATIO ? 'met' : `missed by ${(((worst - TARGET_RATIO) / TARGET_RATIO) * 100).toFixed(0)}%`}; CPU time ratio ${[...cpuRatios].map(([n, r]) => `${r.toFixed(2)} at N=${n}`).join(', ')}.`,
      ],
    };
  },
};
