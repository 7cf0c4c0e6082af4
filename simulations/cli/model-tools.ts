/** The TF.js services the coordinator's commands are given (coordinator/cli/model-tools.ts), built from node-agent/train. */
import type { ModelTools } from '../../coordinator/cli/model-tools.js';
import { mnistSpec } from '../../node-agent/data/mnist.js';
import { createModelRunner } from '../../node-agent/train/model-runner.js';

/**
 * ModelTools over node-agent/train, each loading TF.js only when called (so `--help` stays fast).
 * @example coordinatorCommand(modelTools())
 */
export function modelTools(): ModelTools {
  return {
    createModelRunner: () => createModelRunner(),
    mnistSpec,
    async userModel(path, data) {
      const { selectBackend } = await import('../../node-agent/train/index.js');
      const { userModelSpec } = await import('../../node-agent/cli/user-model.js');
      const { tf } = await selectBackend('auto');
      const { spec, keep } = await userModelSpec(tf, path, data);
      return { spec, keep };
    },
    async exportLayers(spec, tensors, dir) {
      const { exportLayersModel, selectBackend } = await import('../../node-agent/train/index.js');
      const { tf } = await selectBackend('cpu', () => undefined);
      return exportLayersModel(tf, spec, tensors, dir);
    },
    async inspect(target, o, readPublished) {
      const { formatInspection, inspectModel, modelTarget } = await import('../../node-agent/cli/model-inspect.js');
      const report = await inspectModel(modelTarget(target, o), readPublished);
      return { text: formatInspection(report), json: report };
    },
  };
}
