/** `cohort pretrain`: trains a model centrally on one data set and saves it as a TF.js Layers model.json (docs/fine-tuning.md). */
import { Command } from 'commander';
import { parseDataset } from '../simulate/dataset.js';
import { imageOptionsFrom, withImageFlags } from '../../node-agent/cli/image-flags.js';
import {
  BACKENDS,
  TASKS,
  choice,
  int,
  modelChoice,
  nameList,
  positive,
  trainingTermsFromFlags,
  withTaskFlags,
} from '../../protocol/cli/options.js';

export function pretrainCommand(): Command {
  return withImageFlags(withTaskFlags(new Command('pretrain')))
    .description(
      'train a model centrally on one data set and save it as model.json + weights.bin, to fine-tune federated (docs/fine-tuning.md)',
    )
    .option('--dataset <name>', 'as simulate: mnist | mnist-full | idx:... | csv:PATH | images:DIR | dicom:MANIFEST.csv', 'mnist')
    .option('--label <column>', 'the label column of a csv data set')
    .option('--classes <labels>', 'image data: only the rows of these classes, comma-separated (e.g. 0,1,2,3,4)', nameList)
    .option(
      '--model <arch>',
      'logreg | mlp | cnn | resnet[:DEPTH[xWIDTH]] | PATH to a model.json to train further',
      modelChoice,
      'resnet:10x8',
    )
    .option('--epochs <e>', 'epochs over the training rows', int(1, 10_000), 3)
    .option('--batch-size <b>', 'batch size', int(1, 1_000_000), 32)
    .option('--lr <x>', 'learning rate', positive, 0.001)
    .option('--seed <s>', 'seed of the held-out split and the initial weights', int(0, 2 ** 31), 0)
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | cpu', choice(BACKENDS), 'auto')
    .requiredOption('--out <dir>', 'folder for model.json and weights.bin')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const dataset = parseDataset(String(o.dataset), o.label as string | undefined, imageOptionsFrom(o));
      const optimizer = cmd.getOptionValueSource('optimizer') === 'cli' ? {} : { optimizer: 'adam' };
      const training = trainingTermsFromFlags({ ...o, ...optimizer });
      const { pretrain } = await import('../pretrain/pretrain.js');
      await pretrain({
        dataset,
        model: String(o.model),
        ...(o.classes ? { classes: o.classes as string[] } : {}),
        ...(o.task !== undefined ? { task: o.task as (typeof TASKS)[number] } : {}),
        epochs: o.epochs as number,
        batchSize: o.batchSize as number,
        learningRate: o.lr as number,
        training,
        seed: o.seed as number,
        backend: o.backend as (typeof BACKENDS)[number],
        out: String(o.out),
      });
    });
}
