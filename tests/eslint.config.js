// ESLint for Cohort: the rules a maintainer relies on (function length, naming, no dead code), beside tsc's
// strictness and dependency-cruiser's boundaries (tests/dependency-cruiser.cjs). Layout is prettier's job.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Functions longer than this many lines (blank lines and comments aside) fail lint. */
const MAX_FUNCTION_LINES = 100;

/**
 * Functions over the limit when the rule came in (counted as prettier lays them out), each held at its present size so
 * it cannot grow; splitting them is open work (issue "A house a maintainer can take over", items 2 and 3). Lower a
 * number when you shorten one.
 */
const LEGACY_LONG_FUNCTIONS = {
  'coordinator/console/live.ts': 142,
  'coordinator/http/routes/federations.ts': 220,
  'coordinator/http/routes/models.ts': 175,
  'coordinator/index.ts': 213,
  'coordinator/store/sqlite-store.ts': 208,
  'node-agent/agent.ts': 200,
  'simulations/bench/convergence-run.ts': 126,
  'node-agent/cli/consent-command.ts': 142,
  'coordinator/cli/coordinator-command.ts': 120,
  'simulations/cli/simulate-command.ts': 138,
  'simulations/load/run.ts': 181,
  'simulations/simulate/run.ts': 375,
  'simulations/simulate/tabular-data.ts': 104,
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'dist/**', 'runs/**', 'coordinator/store/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
  {
    files: ['**/*.ts'],
    rules: {
      // tsc checks names; eslint's no-undef does not know TypeScript's globals (typescript-eslint's advice).
      'no-undef': 'off',
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'max-lines-per-function': ['error', { max: MAX_FUNCTION_LINES, skipBlankLines: true, skipComments: true, IIFEs: true }],
      '@typescript-eslint/naming-convention': [
        'error',
        { selector: 'default', format: ['camelCase'], leadingUnderscore: 'allow' },
        { selector: 'variable', format: ['camelCase', 'UPPER_CASE', 'PascalCase'], leadingUnderscore: 'allow' },
        { selector: 'typeLike', format: ['PascalCase'] },
        { selector: 'enumMember', format: ['UPPER_CASE', 'PascalCase'] },
        // Wire names (socket.io events such as 'round:task', JSON fields) are quoted and keep the protocol's spelling.
        { selector: ['objectLiteralProperty', 'typeProperty', 'objectLiteralMethod', 'typeMethod'], format: null },
        { selector: 'import', format: null },
      ],
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['runner'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  ...Object.entries(LEGACY_LONG_FUNCTIONS).map(([file, max]) => ({
    files: [file],
    rules: { 'max-lines-per-function': ['error', { max, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  })),
  {
    // A test file is a list of cases: long describe blocks are its shape, and fixtures may be loosely typed.
    files: ['tests/**/*.ts'],
    rules: {
      'max-lines-per-function': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // vitest fixtures take `({}, use)`; a teardown rethrows its first error from `finally`; terminal output is checked for escapes.
      'no-empty-pattern': 'off',
      'no-unsafe-finally': 'off',
      'no-control-regex': 'off',
    },
  },
);
