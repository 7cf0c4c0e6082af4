/** One worker thread of the load run: many real agents whose "training" shifts every weight by a known amount. */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { readIdentityFile, readPublicIdentityFile } from '../../crypto/index.js';
import { createAgent, type Agent, type CustomTrainer, type DataSource } from '../../node-agent/index.js';
import { shiftOf, type LoadSite, type LoadWorkerMessage } from './load-protocol.js';

export interface LoadWorkerData {
  url: string;
  federation: string;
  coordinatorPublicFile: string;
  sites: LoadSite[];
}

if (isMainThread || !parentPort) throw new Error('load-worker.ts runs inside a worker thread started by agent-host.ts');
const port = parentPort;
const send = (msg: LoadWorkerMessage): void => port.postMessage(msg);

/** Rows of zeros in the spec's shape: the stand-in trainer never reads them, only counts them. */
function blankRows(n: number): DataSource {
  return {
    description: `blank (${n} rows)`,
    load: (spec) => ({
      x: new Float32Array(n * spec.inputShape.reduce((a, b) => a * b, 1)),
      y: Int32Array.from({ length: n }, (_, i) => i % spec.classes.length),
      n,
      inputShape: spec.inputShape,
      classes: spec.classes,
    }),
  };
}

/** Adds the site's shift for the round to every weight: what FedAvg must average, each update exactly once. */
function shiftTrainer(index: number): CustomTrainer {
  return async ({ round, weights, samples }) => {
    const d = shiftOf(index, round);
    return {
      weights: weights.map((t) => {
        const data = new Float32Array(t.data.length);
        for (let i = 0; i < data.length; i++) data[i] = (t.data[i] as number) + d;
        return { ...t, data };
      }),
      trainSamples: samples,
      metrics: { trainLoss: 0, trainAccuracy: 0, epochs: 1, durationMs: 0 },
    };
  };
}

const data = workerData as LoadWorkerData;
const coordinator = readPublicIdentityFile(data.coordinatorPublicFile);
const log = pino({ level: 'silent' });
const agents: Agent[] = data.sites.map((site) => {
  const agent = createAgent({
    coordinatorUrl: data.url,
    federation: data.federation,
    identity: readIdentityFile(site.keyFile),
    coordinator,
    data: blankRows(site.rows),
    consentFile: site.consentFile,
    backend: 'cpu',
    valFraction: 0,
    log,
    trainer: shiftTrainer(site.index),
  });
  agent.events.on('uploaded', ({ round, digest }) =>
    send({ type: 'uploaded', institution: site.id, round, digest, samples: site.rows, shift: shiftOf(site.index, round) }),
  );
  agent.events.on('refused', ({ round, code, message }) => send({ type: 'refused', institution: site.id, round, code, message }));
  agent.ready.then(
    () => send({ type: 'ready', institution: site.id }),
    (err: Error) => send({ type: 'fatal', institution: site.id, message: err.message }),
  );
  return agent;
});
port.on('message', (msg: { type: 'stop' }) => {
  if (msg.type !== 'stop') return;
  for (const a of agents) a.close();
  send({ type: 'stopped' });
});
