/** Public surface of local training: the only module of Cohort that touches TensorFlow.js. */
export {
  backendForSpec,
  currentBackend,
  selectBackend,
  type BackendLog,
  type BackendName,
  type BackendPreference,
  type SelectedBackend,
  type TF,
} from './backend.js';
export { buildModel, getNamedWeights, setNamedWeights } from './model.js';
export { exportLayersModel } from './export.js';
export { evaluate, trainLocal, type Evaluation, type TrainArgs, type TrainResult } from './trainer.js';
export { buildServingModel } from './serving-model.js';
export { createModelRunner, type ModelRunnerOptions, type WorkerModelRunner } from './model-runner.js';
export { summarizeModel, type LayerSummary, type ModelSummary } from './inspect.js';
export { balancedClassWeights, makeOptimizer, rowLoss, taskAccuracy, taskLoss } from './loss.js';
export * from './metrics.js';
export type { TaskScores } from './trainer.js';
export { readLayersFile, type LayersFile } from './layers-file.js';
export { buildLayersModel, getLayersWeights, layersSpecOf, setLayersWeights, tensorRoles, weightNames } from './layers-model.js';
export { readUserModel, siteBase, type UserModel } from './user-model.js';
export { missingWasmKernels } from './wasm-trainable.js';
export { buildResNet, countParameters, RESNET_STAGES, type ResNetDepth, type ResNetOptions } from './resnet.js';
export { fineTuneUserModel, layersToTrain, type FineTunedModel } from './fine-tune.js';
export { saveLayersModel } from './export.js';
