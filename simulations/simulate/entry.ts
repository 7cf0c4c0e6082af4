/** Where a child process or worker thread of the simulator starts: compiled JavaScript when the CLI runs compiled, else TypeScript through tsx. */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface SiblingEntry {
  /** The module's file URL (`.js` beside compiled code, `.ts` beside the sources). */
  url: URL;
  compiled: boolean;
  /** `execArgv` for a forked process: tsx's loader for TypeScript, nothing for compiled code. */
  execArgv: string[];
  /** The code a worker thread evaluates to load the module (`new Worker(code, { eval: true })`). */
  workerBootstrap: string;
}

/**
 * The sibling module `name` of the module at `from` (its import.meta.url), in the form this code runs in.
 * On Node 20 neither the main thread's tsx hooks nor `--import tsx` in a worker's execArgv reach a worker's own entry
 * module, so a TypeScript worker loads tsx's API and imports its entry through it.
 * @example const { url, execArgv } = siblingEntry(import.meta.url, 'agent-process'); fork(fileURLToPath(url), [], { execArgv })
 */
export function siblingEntry(from: string, name: string): SiblingEntry {
  const compiled = from.endsWith('.js');
  const url = new URL(`./${name}.${compiled ? 'js' : 'ts'}`, from);
  const target = JSON.stringify(url.href);
  if (compiled) return { url, compiled, execArgv: [], workerBootstrap: `import(${target})` };
  // The ESM build of the API (require() would resolve to the CommonJS one, which cannot import from an eval'd thread).
  const api = pathToFileURL(
    createRequire(from)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  return {
    url,
    compiled,
    execArgv: ['--import', import.meta.resolve('tsx')],
    workerBootstrap: `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${target}, ${target}))`,
  };
}
