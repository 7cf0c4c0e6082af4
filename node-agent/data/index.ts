/** Public surface of the agent's data layer: datasets, loaders, partitions, feature statistics. */
export { labelHistogram, restrictClasses, rowWidth, selectRows, type Dataset } from './dataset.js';
export { loadMnist, mnistSpec, splitTrainTest } from './mnist.js';
export { loadCsv, type CsvOptions } from './csv.js';
export { MISSING_LABEL, parseLabels, sortClasses, type LabelOptions, type ParsedLabels } from './csv-labels.js';
export {
  cnnInputShape,
  idxDataset,
  idxLabels,
  loadIdxFiles,
  loadIdxRows,
  loadMnistFull,
  mnistFullFiles,
  parseIdx,
  type IdxArray,
  type IdxFiles,
  type SplitDataset,
} from './idx.js';
export { featureStats, imputeMissing, normalize, poolFeatureStats, type FeatureStats } from './stats.js';
export {
  DEFAULT_MISSING_TOKENS,
  checkTable,
  columnKinds,
  loadTabular,
  readTable,
  selectTableRows,
  summarizeCsv,
  type ColumnChoice,
  type CsvTable,
} from './tabular.js';
export { parsePartition, partition, partitionSummary, type PartitionScheme } from './partition.js';
