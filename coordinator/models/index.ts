/** Public surface of model handling: initial weights and the model files of published versions. */
export { computeFans, glorotLimit, initialWeights } from './init.js';
export { loadModelFile, saveModelFile } from './model-files.js';
export { buildModelCard, modelCardMarkdown, type CardFacts, type ModelCard } from './card.js';
export { formatLineage, lineage, type Lineage, type LineageInstitution, type LineageStep } from './lineage.js';
export type { ModelRunner, RunRequest } from './model-runner.js';
export { loadModel, predict, rowsToInput, type LoadedModel, type PredictRow, type Prediction } from './predict.js';
export { baseModelJsonPath, baseTensors, baseTensorsFromFrame, keepBaseModel, userInitialWeights } from './base-model.js';
