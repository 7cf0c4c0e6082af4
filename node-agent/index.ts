/** The node agent's public surface: create an agent, choose its data source, select a training backend. */
export { createAgent, type Agent, type AgentEventMap, type AgentOptions, type CustomTrainer } from './agent.js';
export { chain, updateMod, type LocalUpdate, type Mod, type ModContext, type Next, type TaskOutcome } from './mods/chain.js';
export { checkSite, type CheckItem, type SiteCheckOptions } from './check.js';
export {
  csvSource,
  dataSourceFor,
  formatDataRef,
  idxSource,
  mnistSource,
  parseDataSource,
  resolveDataRef,
  type DataRef,
  type DataSource,
} from './data-source.js';
export { exportLayersModel, selectBackend, type BackendName, type BackendPreference } from './train/index.js';
export { normalizeFingerprint, tlsSocketOptions, type TlsTrust } from './transport/tls.js';
