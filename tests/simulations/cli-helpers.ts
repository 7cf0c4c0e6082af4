/** Runs the real `cohort` CLI as a child process, as a user would, and builds small data files for it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { createPrng } from '../../crypto/index.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bin the tests start: the compiled copy that tests/compiled-cli.ts builds once per run, else the repository's own. */
export const COHORT = inject('cohortBin') ?? fileURLToPath(new URL('../../simulations/bin/cohort.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `cohort` process: its output so far, a wait for a line, and a clean stop. */
export interface CliProcess {
  readonly child: ChildProcess;
  output(): { stdout: string; stderr: string };
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<CliResult>;
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
}

/**
 * Starts `node simulations/bin/cohort.js ...args` (no TTY, so plain lines) and returns a handle.
 * @example const c = startCli(['coordinator', 'start', ...]); await c.waitFor(/coordinator ready/);
 */
export function startCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): CliProcess {
  const child = spawn(process.execPath, [COHORT, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    poke();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    poke();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      poke();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = `${stdout}\n${stderr}`.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) return done(() => resolve(line));
          if (child.exitCode !== null || child.signalCode !== null)
            return done(() =>
              reject(new Error(`cohort exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${stdout}\n${stderr}`)),
            );
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`))),
          timeoutMs,
        );
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Runs `cohort ...args` to completion.
 * @example const { code, stdout } = await runCli(['keys', 'generate', '--id', 'a', '--out', dir]);
 */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return startCli(args, opts).exited;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Writes a tabular CSV like a clinical export: the label `risk` (low/mid/high) between the features, and 6 numeric features on very different scales (one in the thousands, one below 0.01).
 * The class depends on a linear score of the features, so a model can learn it but chance is 1/3.
 * @example writeTabularCsv('/tmp/risk.csv', 600, 1)
 */
export function writeTabularCsv(path: string, rows: number, seed: number): { features: string[]; label: string; classes: string[] } {
  const rng = createPrng(seed);
  const features = ['age', 'income', 'bmi', 'ratio', 'visits', 'score'];
  const lines = [['age', 'income', 'risk', 'bmi', 'ratio', 'visits', 'score'].join(',')];
  for (let i = 0; i < rows; i++) {
    const z = Array.from({ length: 6 }, () => rng.normal());
    const latent = 1.2 * z[0]! + 1.0 * z[1]! - 0.8 * z[2]! + 0.6 * z[3]! + 0.3 * rng.normal();
    const risk = latent < -0.6 ? 'low' : latent < 0.6 ? 'mid' : 'high';
    const age = (50 + 12 * z[0]!).toFixed(1);
    const income = (42_000 + 9_000 * z[1]!).toFixed(0);
    const bmi = (26 + 4 * z[2]!).toFixed(2);
    const ratio = (0.005 + 0.0015 * z[3]!).toFixed(6);
    const visits = Math.max(0, Math.round(6 + 3 * z[4]!));
    const score = (100 * z[5]!).toFixed(3);
    lines.push([age, income, risk, bmi, ratio, visits, score].join(','));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { features, label: 'risk', classes: ['high', 'low', 'mid'] };
}
