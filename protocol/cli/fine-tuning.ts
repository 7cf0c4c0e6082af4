/** The fine-tuning recipe's flags: which layers train, and the local optimizer's defaults when fine-tuning. */
import type { Command } from 'commander';
import type { TrainLayers } from '../index.js';
import { choice, modelChoice, nameList } from './options.js';

export const TRAIN_LAYERS = ['head', 'last-block', 'all'] as const;

export const MODEL_CHOICES =
  'logreg | mlp | cnn | resnet[:DEPTH[xWIDTH]] (e.g. resnet:18, resnet:10x8) | PATH to a TF.js Layers model.json';

/**
 * Adds the model flags: `--model`, `--fedbn`, `--train-layers`, and with `simulation` also `--classes` and
 * `--base-task-data` (docs/fine-tuning.md); read them back with fineTuningOptions.
 * @example withModelFlags(new Command('simulate'), true).parse(['--train-layers', 'head'], { from: 'user' })
 */
export function withModelFlags(cmd: Command, simulation: boolean): Command {
  cmd
    .option('--model <arch>', `${MODEL_CHOICES} (docs/models.md, docs/fine-tuning.md)`, modelChoice, 'mlp')
    .option('--fedbn', 'user model or resnet: BatchNormalization tensors stay at each site (FedBN), never sent', false)
    .option(
      '--train-layers <which>',
      'fine-tune --model PATH: head | last-block | all train and travel, the rest stay frozen; the head is replaced when the classes differ',
      choice(TRAIN_LAYERS),
    );
  if (!simulation) return cmd;
  return cmd
    .option('--classes <labels>', 'image data: only the rows of these classes, comma-separated (e.g. 5,6,7,8,9)', nameList)
    .option(
      '--base-task-data <dataset>',
      "fine-tuning: the pretrained model's own task (same forms as --dataset), scored before and after (catastrophic forgetting)",
    );
}

/**
 * The fine-tuning flags as simulate's options (only those given); `dataset` parses `--base-task-data`.
 * @example fineTuningOptions({ trainLayers: 'head' }, parse) // { trainLayers: 'head' }
 */
export function fineTuningOptions<Dataset>(
  o: Record<string, unknown>,
  dataset: (text: string) => Dataset,
): { classes?: string[]; trainLayers?: TrainLayers; baseTaskData?: Dataset } {
  return {
    ...(o.classes ? { classes: o.classes as string[] } : {}),
    ...(o.trainLayers ? { trainLayers: o.trainLayers as TrainLayers } : {}),
    ...(o.baseTaskData !== undefined ? { baseTaskData: dataset(String(o.baseTaskData)) } : {}),
  };
}

/**
 * AdamW (Loshchilov and Hutter 2019) with PyTorch's default weight decay, 0.01: the fine-tuning recipe. Learning rate
 * 0.001 when convolutions train (last-block, all), 0.01 for a head alone (a linear probe on fixed features takes
 * larger steps).
 */
export const FINE_TUNING_DEFAULTS = { optimizer: 'adam', lr: { head: 0.01, 'last-block': 0.001, all: 0.001 }, weightDecay: 0.01 } as const;

/**
 * The flags with the fine-tuning recipe's defaults for the optimizer, learning rate and weight decay that were not
 * given on the command line (when `--train-layers` is set; otherwise the flags as they are): AdamW, lr 0.001 (0.01 for
 * the head alone), weight decay 0.01. Given flags win.
 * @example fineTuningDefaults({ lr: 0.05, trainLayers: 'all' }, cmd) // { lr: 0.001, optimizer: 'adam', weightDecay: 0.01, ... }
 */
export function fineTuningDefaults(flags: Record<string, unknown>, cmd: Command): Record<string, unknown> {
  if (!flags.trainLayers) return flags;
  const given = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
  return {
    ...flags,
    ...(given('optimizer') ? {} : { optimizer: FINE_TUNING_DEFAULTS.optimizer }),
    ...(given('lr') ? {} : { lr: FINE_TUNING_DEFAULTS.lr[flags.trainLayers as TrainLayers] }),
    ...(given('weightDecay') || given('optimizer') ? {} : { weightDecay: FINE_TUNING_DEFAULTS.weightDecay }),
  };
}
