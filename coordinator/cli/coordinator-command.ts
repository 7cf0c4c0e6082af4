/** `cohort coordinator start`: the coordinator of a real deployment, on its own host. */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { TrainLayersSchema, type ModelSpec, type NamedTensor, type TrainLayers } from '../../protocol/index.js';
import { readDictionary, specFromDictionary } from '../../protocol/cli/dictionary.js';
import { fingerprint, readIdentityFile, readPublicIdentityFile } from '../../crypto/index.js';
import { FederationSetupSchema, type FederationSetupInput } from '../config.js';
import { parsePolicy } from '../policy/index.js';
import { parseStrategyParams, strategyNames } from '../strategies/index.js';
import { cliLogger } from '../../protocol/cli/log.js';
import type { ModelTools } from './model-tools.js';
import { withModelFlags } from '../../protocol/cli/fine-tuning.js';
import {
  TASKS,
  trainingTermsFromFlags,
  withTaskFlags,
  choice,
  collect,
  dpFromFlags,
  adaptiveFromFlags,
  secaggFromFlags,
  fraction,
  int,
  positive,
  withPrivacyFlags,
  isPreset,
  parseResNet,
} from '../../protocol/cli/options.js';

interface StartOptions {
  key: string;
  dataDir: string;
  config?: string;
  federation: string;
  model: string;
  fedbn: boolean;
  trainLayers?: TrainLayers;
  features?: string;
  classes?: string;
  dictionary?: string;
  task?: (typeof TASKS)[number];
  optimizer?: string;
  momentum?: number;
  weightDecay?: number;
  classWeight?: string;
  compress?: string;
  rounds: number;
  minParticipants: number;
  fraction: number;
  localEpochs: number;
  batchSize: number;
  lr: number;
  roundTimeout: number;
  waitTimeout: number;
  seed: number;
  enroll: string[];
  host: string;
  port: number;
  logLevel: string;
  logFormat?: string;
  title: string;
  purpose: string;
  dataCategories: string;
  policy?: string;
  strategy: string;
  strategyParam: string[];
  dpNoise?: number;
  dpClip?: number;
  dpDelta: number;
  dpAdaptiveClip?: string | boolean;
  secagg?: string | boolean;
  secaggThreatModel?: string;
  secaggThreshold?: number;
  secaggClip?: number;
  tlsCert?: string;
  tlsKey?: string;
}

export function coordinatorCommand(tools: ModelTools): Command {
  const cmd = new Command('coordinator').description('run the coordinator of a federation');
  withModelFlags(withPrivacyFlags(withTaskFlags(cmd.command('start'))), false)
    .description("serve the REST API and the agents' socket.io endpoint, and run the federation's rounds")
    .requiredOption('--key <file>', "the coordinator's private key file (cohort keys generate --id coordinator)")
    .option('--data-dir <dir>', 'where coordinator.db and the published models live', '.cohort/coordinator')
    .option('--config <file>', 'federation file (JSON: { id, name, spec, rules }); overrides the flags below')
    .option('--federation <id>', 'federation id', 'default')
    .option('--features <names>', 'tabular data: comma-separated feature column names, in order (default: MNIST pixels)')
    .option(
      '--classes <names>',
      'tabular data: comma-separated output names: class labels ([negative, positive] for binary), or the label/target columns (multilabel, regression)',
    )
    .option(
      '--dictionary <file>',
      'tabular data: the data dictionary (cohort data dictionary): raw columns, types, ranges, categories; the model features follow from it (instead of --features)',
    )
    .option('--rounds <r>', 'rounds to publish', int(1), 10)
    .option('--min-participants <n>', 'fewest accepted updates for a round to publish', int(1), 2)
    .option(
      '--fraction <c>',
      'fraction of online institutions selected per round (under DP it does not lower epsilon: selection is accounted with q = 1)',
      fraction,
      1,
    )
    .option('--local-epochs <e>', 'local epochs per round', int(1, 1000), 2)
    .option('--batch-size <b>', 'local batch size', int(1), 10)
    .option('--lr <x>', 'local SGD learning rate', positive, 0.05)
    .option('--round-timeout <seconds>', 'deadline of each training round', int(1), 600)
    .option('--wait-timeout <seconds>', 'how long a round waits for enough institutions', int(1), 3600)
    .option('--seed <s>', 'seed of the initial model and participant selection', int(0), 0)
    .option('--strategy <name>', `aggregation: ${strategyNames.join(' | ')}`, choice(strategyNames), 'fedavg')
    .option('--strategy-param <key=value>', 'strategy parameter, repeatable (e.g. lr=0.01, f=1, mu=0.1)', collect, [])
    .option('--title <text>', "the study's title (in the manifest institutions consent to)", 'Federated study')
    .option('--purpose <text>', "the study's purpose", 'Train a classifier on data that cannot be pooled.')
    .option('--data-categories <list>', 'comma-separated data categories the study uses', 'clinical-records')
    .option('--policy <file>', 'policy file (JSON, format cohort-policy/v1); the default policy when absent')
    .option('--enroll <pubfile>', 'enrol an institution by its public key file (repeatable)', collect, [])
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', int(0, 65535), 7400)
    .option('--log-level <level>', 'trace | debug | info | warn | error', 'info')
    .option(
      '--log-format <format>',
      'auto (readable lines on a terminal, JSON otherwise) | pretty | json (default: $COHORT_LOG_FORMAT or auto)',
    )
    .option('--tls-cert <file>', 'serve HTTPS and WSS with this certificate (PEM, chain allowed); needs --tls-key')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .action(async (o: StartOptions) => {
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined))
        throw new Error('--tls-cert and --tls-key go together: give both or neither');
      const tls = o.tlsCert && o.tlsKey ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) } : undefined;
      const log = cliLogger('coordinator', { level: o.logLevel, format: o.logFormat });
      const identity = readIdentityFile(o.key);
      const dataDir = resolve(o.dataDir);
      const { setup, userModel } = o.config ? await fromFederationFile(tools, o.config) : await fromFlags(tools, o);
      const institutions = o.enroll.map((file) => readPublicIdentityFile(file));
      // Loaded only now, so `--help` and flag errors answer without loading socket.io and SQLite.
      const { createCoordinator, openSqliteStore } = await import('../index.js');
      const store = openSqliteStore(join(dataDir, 'coordinator.db'));
      const coordinator = await createCoordinator({
        store,
        dataDir,
        identity,
        federation: setup,
        institutions,
        host: o.host,
        port: o.port,
        log,
        tls,
        // Predictions run TF.js in a worker thread: the coordinator's own thread never loads it.
        modelRunner: tools.createModelRunner(),
        ...(userModel ? { userModel } : {}),
      });
      for (const pub of institutions) log.info({ institution: pub.id, fingerprint: fingerprint(pub.signPublicKey) }, 'enrolled');
      log.info(
        {
          url: coordinator.url,
          console: `${coordinator.url}/console`,
          federation: coordinator.federation,
          fingerprint: fingerprint(identity.signPublicKey),
        },
        `coordinator ready; web console at ${coordinator.url}/console`,
      );
      // What agents pin with --pin-sha256 (public: the certificate's fingerprint, not its key).
      if (tls) log.info({ tlsCertSha256: new X509Certificate(tls.cert).fingerprint256 }, 'serving HTTPS and WSS');
      const { hasActiveAdminToken } = await import('../auth/index.js');
      if (!hasActiveAdminToken(store)) {
        log.info(
          `no admin API token yet; create one (it is printed once) with: cohort tokens create --role admin --data-dir ${o.dataDir} --key ${o.key}`,
        );
      }
      coordinator.runner.on('round:published', ({ round, version, metrics }) =>
        log.info({ round, version, ...metrics }, 'round published'),
      );
      coordinator.runner.on('federation:complete', (msg) => log.info(msg, 'federation complete; still serving the API (Ctrl-C to stop)'));
      // A graceful stop: no new connections, the round in progress recorded as failed (it runs again at the next
      // start), the store closed; exit 0. A second signal exits at once with 1.
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) {
          log.warn(`${signal} again: exiting now`);
          process.exit(1);
        }
        stopping = true;
        log.info(`${signal} received: stopping (the round in progress, if any, is recorded as failed and runs again at the next start)`);
        coordinator.shutdown(`coordinator stopped (${signal})`).then(
          () => {
            store.close();
            log.info('coordinator stopped; database closed');
            process.exit(0);
          },
          (err: Error) => {
            log.error(`stop failed: ${err.message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  return cmd;
}

type UserModelKeep = { modelJson: string; tensors: NamedTensor[] };

/** A user model's spec for the data the flags (or the federation file) describe: MNIST digits, or features and classes. */
async function userSpec(
  tools: ModelTools,
  model: string,
  dataSpec: ModelSpec,
  fedbn: boolean,
  taskGiven: boolean,
  trainLayers?: TrainLayers,
): Promise<{ spec: ModelSpec; keep: UserModelKeep }> {
  const width = dataSpec.inputShape.reduce((a, b) => a * b, 1);
  // The resnet preset is written as a model file (MNIST's 28x28x1 digits); the coordinator keeps its copy in its data directory.
  if (parseResNet(model) && width !== 784)
    throw new Error(`--model ${model} needs image data: the coordinator's flags describe MNIST's 28x28 digits`);
  return tools.userModel(model, { spec: dataSpec, width, fedbn, taskGiven, ...(trainLayers ? { trainLayers } : {}) });
}

/**
 * A federation file: JSON `{ id, name, spec, rules, study, policy? }`; with `"model": "PATH"` (a model.json, relative
 * to the file) and optionally `"fedbn": true`, `spec` needs only `classes` (and `features` for tabular data).
 */
async function fromFederationFile(tools: ModelTools, path: string): Promise<{ setup: FederationSetupInput; userModel?: UserModelKeep }> {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> & { spec?: { classes?: string[]; features?: string[] } };
  if (typeof json.model !== 'string') return { setup: FederationSetupSchema.parse(json) };
  const { model, fedbn, trainLayers, ...rest } = json;
  const given = (json.spec ?? {}) as Partial<ModelSpec>;
  const features = given.features;
  const classes = given.classes ?? (features ? [] : tools.mnistSpec('logreg').classes);
  const dataSpec: ModelSpec = features
    ? { arch: 'mlp', inputShape: [features.length], features, classes, ...given, hidden: [200, 200] }
    : { ...tools.mnistSpec('mlp'), ...(given.classes ? { classes } : {}), ...(given.task ? { task: given.task } : {}) };
  const file = parseResNet(model as string) ? (model as string) : resolve(dirname(path), model as string);
  const layers = trainLayers === undefined ? undefined : TrainLayersSchema.parse(trainLayers);
  const { spec, keep } = await userSpec(tools, file, dataSpec, fedbn === true, given.task !== undefined, layers);
  return {
    setup: FederationSetupSchema.parse({ ...rest, spec: { ...spec, ...(json.spec?.classes ? { classes: json.spec.classes } : {}) } }),
    userModel: keep,
  };
}

async function fromFlags(tools: ModelTools, o: StartOptions): Promise<{ setup: FederationSetupInput; userModel?: UserModelKeep }> {
  let spec: ModelSpec;
  const features = o.features
    ? o.features
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
  const classes = (o.classes ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (o.fedbn && isPreset(o.model))
    throw new Error('--fedbn applies to a user model (--model PATH): the presets have no BatchNormalization');
  // The spec the data implies with a preset (a user model takes its task, outputs, features and preprocessing).
  const arch = isPreset(o.model) ? o.model : 'mlp';
  // Without --task the class names decide: two -> binary, more -> classification (multilabel and regression need --task).
  const task = o.task ?? (classes.length === 2 ? 'binary' : 'classification');
  if (o.dictionary) {
    if (o.features) throw new Error('give --dictionary or --features, not both: the dictionary sets the features');
    spec = { ...specFromDictionary(readDictionary(o.dictionary), arch, classes), ...(task !== 'classification' ? { task } : {}) };
  } else if (features) {
    if (arch === 'cnn') throw new Error('--model cnn needs image data; use logreg or mlp with --features');
    spec = {
      arch,
      inputShape: [features.length],
      features,
      classes,
      ...(arch === 'mlp' ? { hidden: [200, 200] } : {}),
      ...(task !== 'classification' ? { task } : {}),
    };
  } else {
    if (o.task && o.task !== 'classification')
      throw new Error(`--task ${o.task} needs tabular data (--features and --classes); MNIST is a classification`);
    spec = tools.mnistSpec(arch);
  }
  let userModel: UserModelKeep | undefined;
  if (!isPreset(o.model)) ({ spec, keep: userModel } = await userSpec(tools, o.model, spec, o.fedbn, o.task !== undefined, o.trainLayers));
  return {
    userModel,
    setup: {
      id: o.federation,
      name: o.federation,
      spec,
      study: {
        title: o.title,
        purpose: o.purpose,
        dataCategories: o.dataCategories
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
      },
      ...(o.policy ? { policy: parsePolicy(JSON.parse(readFileSync(o.policy, 'utf8'))) } : {}),
      rules: {
        strategy: o.strategy,
        strategyParams: parseStrategyParams(o.strategyParam),
        dp: dpFromFlags(o),
        secagg: secaggFromFlags(o),
        adaptiveClip: adaptiveFromFlags(o),
        rounds: o.rounds,
        minParticipants: o.minParticipants,
        fraction: o.fraction,
        roundTimeoutMs: o.roundTimeout * 1000,
        waitTimeoutMs: o.waitTimeout * 1000,
        train: { localEpochs: o.localEpochs, batchSize: o.batchSize, learningRate: o.lr, ...trainingTermsFromFlags(o) },
        seed: o.seed,
      },
    },
  };
}
