/** The resnet and fine-tuning flags: names parsed or refused by what is wrong, and the AdamW recipe's defaults giving way to given flags. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { fineTuningDefaults, withModelFlags } from '../../protocol/cli/fine-tuning.js';
import { parseResNet } from '../../protocol/cli/options.js';
import { modelKind } from '../../simulations/simulate/federation-model.js';
import { withTaskFlags } from '../../protocol/cli/options.js';

/** simulate's model and task flags parsed from `args`, with the recipe's defaults applied. */
function parsed(args: string[]): Record<string, unknown> {
  const cmd = withModelFlags(withTaskFlags(new Command('simulate')), true)
    .option('--lr <x>', 'learning rate', Number, 0.05)
    .exitOverride();
  cmd.parse(args, { from: 'user' });
  return fineTuningDefaults(cmd.opts(), cmd);
}

describe('parseResNet', () => {
  it('reads resnet, resnet:DEPTH and resnet:DEPTHxWIDTH, and nothing else', () => {
    expect(parseResNet('resnet')).toEqual({ depth: 18, width: 64 });
    expect(parseResNet('resnet:34')).toEqual({ depth: 34, width: 64 });
    expect(parseResNet('resnet:10x8')).toEqual({ depth: 10, width: 8 });
    expect(parseResNet('cnn')).toBeNull();
  });

  it('refuses a depth without a layout, a width out of range and a malformed name, saying which', () => {
    expect(() => parseResNet('resnet:50')).toThrow(/depth 50; use 10, 18 or 34/);
    expect(() => parseResNet('resnet:18x0')).toThrow(/width 0/);
    expect(() => parseResNet('resnet18')).toThrow(/use resnet, resnet:DEPTH or resnet:DEPTHxWIDTH/);
  });
});

describe('modelKind', () => {
  it('refuses --train-layers and --base-task-data without a model file, and --fedbn on a preset without BatchNormalization', () => {
    expect(() => modelKind({ model: 'resnet:10x8', trainLayers: 'head', seed: 0 })).toThrow(/give --model PATH\/model.json/);
    expect(() => modelKind({ model: 'mlp', baseTaskData: { kind: 'mnist' }, seed: 0 })).toThrow(/fine-tune a pretrained model file/);
    expect(() => modelKind({ model: 'cnn', fedbn: true, seed: 0 })).toThrow(/--fedbn applies to a user model/);
    expect(modelKind({ model: 'resnet:10x8', fedbn: true, seed: 0 }).resnet).toEqual({ depth: 10, width: 8 });
  });
});

describe('fineTuningDefaults', () => {
  it('gives --train-layers AdamW, weight decay 0.01 and lr 0.001 (0.01 for the head alone); given flags win; nothing without --train-layers', () => {
    expect(parsed(['--train-layers', 'all'])).toMatchObject({ optimizer: 'adam', lr: 0.001, weightDecay: 0.01 });
    expect(parsed(['--train-layers', 'head'])).toMatchObject({ optimizer: 'adam', lr: 0.01, weightDecay: 0.01 });
    expect(parsed(['--train-layers', 'all', '--lr', '0.1', '--optimizer', 'sgd'])).toMatchObject({ optimizer: 'sgd', lr: 0.1 });
    expect(parsed(['--train-layers', 'all', '--optimizer', 'sgd']).weightDecay).toBeUndefined();
    expect(parsed([])).toMatchObject({ lr: 0.05 });
    expect(parsed([]).optimizer).toBeUndefined();
  });
});
