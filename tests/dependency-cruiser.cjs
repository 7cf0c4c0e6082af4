/** Dependency rules: the coordinator and the agent never import each other; protocol and crypto import neither. */
module.exports = {
  forbidden: [
    {
      name: 'coordinator-not-agent',
      comment: 'The coordinator depends on protocol and crypto only, never on the node agent.',
      severity: 'error',
      from: { path: '^coordinator/' },
      to: { path: '^(node-agent|simulations|tests)/' },
    },
    {
      name: 'agent-not-coordinator',
      comment: 'The node agent depends on protocol and crypto only, never on the coordinator.',
      severity: 'error',
      from: { path: '^node-agent/' },
      to: { path: '^(coordinator|simulations|tests)/' },
    },
    {
      name: 'contract-is-leaf',
      comment: 'protocol/ and crypto/ belong to neither side.',
      severity: 'error',
      from: { path: '^(protocol|crypto)/' },
      to: { path: '^(coordinator|node-agent|simulations|tests)/' },
    },
    {
      name: 'tfjs-only-in-train',
      comment: 'node-agent/train/ is the only place that imports TensorFlow.js.',
      severity: 'error',
      from: { path: '^(protocol|crypto|coordinator|node-agent/(?!train/))' },
      to: { path: '@tensorflow' },
    },
    {
      name: 'crypto-fs-only-in-key-file',
      comment: 'crypto/ is pure; key-file.ts is the one place that reads and writes files.',
      severity: 'error',
      from: { path: '^crypto/', pathNot: '^crypto/key-file\\.ts$' },
      to: { path: '^(fs|node:fs|fs/promises|node:fs/promises)$' },
    },
    {
      name: 'store-not-rounds',
      comment: 'coordinator/store/ persists what the rounds decide: it never imports from rounds/.',
      severity: 'error',
      from: { path: '^coordinator/store/' },
      to: { path: '^coordinator/rounds/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '(^|/)tests/' },
  },
};
