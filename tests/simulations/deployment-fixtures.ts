/**
 * Set-up shared by the tests that deploy Cohort with the `cohort` CLI alone, as an operator types it: a folder with
 * keys, its processes, a coordinator on a free port, API tokens, signed consents, an agent's flags, TLS certificates.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { freePort, runCli, startCli, type CliProcess, type CliResult } from './cli-helpers.js';

/** A deployment folder: every `cohort` command of a test file runs in it. */
export interface DeploymentFolder {
  /** The temporary folder (set before the first test); keys/ holds `ID.key.json` and `ID.pub.json` for each id. */
  readonly dir: string;
  /** Starts `cohort ...args` in the folder (or in `opts.cwd`); still running after the test, it is killed. */
  cohort(args: string[], opts?: { cwd?: string; timeoutMs?: number }): CliProcess;
  /** Runs `cohort ...args` in the folder to completion. */
  run(args: string[], timeoutMs?: number): Promise<CliResult>;
}

/**
 * Registers the test file's hooks for one deployment folder: before all tests a temporary folder where
 * `cohort keys generate` made a key pair for each of `ids` (then `prepare` runs in it), after each test the processes
 * it started are killed (`stopSignal`, SIGKILL unless given), after all tests the folder is removed.
 * @example const deployment = useDeploymentFolder({ prefix: 'cohort-deploy-', ids: ['coordinator', 'site-a'] });
 */
export function useDeploymentFolder(opts: {
  /** mkdtemp's prefix for the folder. */
  prefix: string;
  ids: string[];
  /** How long a started process may run before it is killed (default 60 s). */
  timeoutMs?: number;
  stopSignal?: NodeJS.Signals;
  prepare?: (dir: string) => Promise<void> | void;
}): DeploymentFolder {
  let dir: string | undefined;
  const running: CliProcess[] = [];
  const folder: DeploymentFolder = {
    get dir() {
      if (dir === undefined) throw new Error('the deployment folder is made in beforeAll: read it inside a test or hook');
      return dir;
    },
    cohort(args, { cwd = folder.dir, timeoutMs = opts.timeoutMs ?? 60_000 } = {}) {
      const p = startCli(args, { cwd, timeoutMs });
      running.push(p);
      return p;
    },
    run: (args, timeoutMs) => runCli(args, { cwd: folder.dir, timeoutMs }),
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), opts.prefix));
    const results = await Promise.all(opts.ids.map((id) => folder.run(['keys', 'generate', '--id', id, '--out', 'keys'])));
    expect(results.map((r) => r.code)).toEqual(opts.ids.map(() => 0));
    await opts.prepare?.(dir);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop(opts.stopSignal ?? 'SIGKILL')));
  });
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return folder;
}

/** `--enroll keys/SITE.pub.json` for each site. */
export const enroll = (...sites: string[]): string[] => sites.flatMap((site) => ['--enroll', `keys/${site}.pub.json`]);

/**
 * `cohort coordinator start --key keys/coordinator.key.json ...args --port PORT` on a free port; resolves once it logs
 * "coordinator ready", with its URL (https:// when `args` has --tls-cert).
 * @example const { url, proc } = await startCoordinator(deployment, ['--data-dir', 'data', '--federation', 'demo', '--model', 'logreg']);
 */
export async function startCoordinator(folder: DeploymentFolder, args: string[]): Promise<{ url: string; proc: CliProcess }> {
  const port = await freePort();
  const proc = folder.cohort(['coordinator', 'start', '--key', 'keys/coordinator.key.json', ...args, '--port', String(port)]);
  await proc.waitFor(/coordinator ready/, 30_000);
  return { url: `${args.includes('--tls-cert') ? 'https' : 'http'}://127.0.0.1:${port}`, proc };
}

/**
 * `cohort tokens create --role ROLE` on the coordinator's data directory; fails the test unless it exits 0, and returns
 * the token it prints once.
 * @example const admin = await createToken(deployment, 'data', 'admin');
 */
export async function createToken(folder: DeploymentFolder, dataDir: string, role: 'admin' | 'auditor'): Promise<string> {
  const res = await folder.run(['tokens', 'create', '--data-dir', dataDir, '--key', 'keys/coordinator.key.json', '--role', role]);
  expect(res.code, res.stderr).toBe(0);
  return /^cohort_\S+$/m.exec(res.stdout)![0];
}

/**
 * `cohort consent grant`: the site signs the study manifest it fetched from the coordinator's REST API (with an API
 * token), ethics reference `IRB-SITE`, into `out`; fails the test unless it exits 0, and returns what it printed.
 * @example await grantConsent(deployment, { url, federation: 'demo', site: 'site-a', out: 'site-a.consent.json', token });
 */
export async function grantConsent(
  folder: DeploymentFolder,
  c: { url: string; federation: string; site: string; out: string; token: string },
): Promise<CliResult> {
  const args = ['consent', 'grant', '--key', `keys/${c.site}.key.json`, '--study', `${c.url}/api/federations/${c.federation}/study`];
  const res = await folder.run([...args, '--token', c.token, '--ethics-ref', `IRB-${c.site}`, '--expires', '2099-12-31', '--out', c.out]);
  expect(res.code, res.stderr).toBe(0);
  return res;
}

/**
 * The flags of `cohort agent start` / `agent check` for `site` (key keys/SITE.key.json) on `data`, trusting the
 * coordinator's key keys/coordinator.pub.json, with its signed consent file when given.
 * @example deployment.cohort(['agent', 'start', ...agentFlags({ url, federation: 'demo', site: 'site-a', data: 'mnist:1/2' })]);
 */
export function agentFlags(a: { url: string; federation: string; site: string; data: string; consent?: string }): string[] {
  return [
    ...['--coordinator', a.url, '--coordinator-key', 'keys/coordinator.pub.json', '--federation', a.federation],
    ...['--key', `keys/${a.site}.key.json`, '--data', a.data],
    ...(a.consent === undefined ? [] : ['--consent', a.consent]),
  ];
}

/** A self-signed certificate's files and contents, and its SHA-256 fingerprint as `AB:CD:…`. */
export interface SelfSignedCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
}

/**
 * Writes `NAME.crt` and `NAME.key` in `dir`: a self-signed certificate for 127.0.0.1 and localhost, made with the
 * openssl CLI (EC P-256, one day).
 * @example const { certFile, fingerprint } = selfSignedCertificate(dir, 'tls');
 */
export function selfSignedCertificate(dir: string, name: string): SelfSignedCertificate {
  const [certFile, keyFile] = [join(dir, `${name}.crt`), join(dir, `${name}.key`)];
  const subject = ['-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'];
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-nodes', '-days', '1', ...subject, '-keyout', keyFile, '-out', certFile], {
    stdio: 'ignore',
  });
  const cert = readFileSync(certFile);
  return { certFile, keyFile, cert, key: readFileSync(keyFile), fingerprint: new X509Certificate(cert).fingerprint256 };
}
