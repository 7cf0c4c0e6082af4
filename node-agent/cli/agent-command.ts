/** `cohort agent start`: an institution's node agent, on the institution's own host, next to its data. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { readIdentityFile, readPublicIdentityFile } from '../../crypto/index.js';
import { cliLogger } from '../../protocol/cli/log.js';
import { imageOptionsFrom, withImageFlags } from './image-flags.js';
import { BACKENDS, missingTokens } from '../../protocol/cli/options.js';

const AgentFileSchema = z
  .object({
    coordinator: z.string().url(),
    coordinatorKey: z.string(),
    federation: z.string(),
    key: z.string(),
    data: z.string(),
    consent: z.string().optional(),
    auditLog: z.string().optional(),
    label: z.string().optional(),
    missing: z.string().optional(),
    backend: z.enum(BACKENDS).optional(),
    valFraction: z.number().min(0).max(0.9).optional(),
    logLevel: z.string().optional(),
    logFormat: z.string().optional(),
    ca: z.string().optional(),
    pinSha256: z.string().optional(),
    /** A user model's model.json: the base (frozen and FedBN-local tensors) this site holds, checked against the study's pin. */
    model: z.string().optional(),
    imageSize: z.string().optional(),
    channels: z.union([z.string(), z.number()]).optional(),
    onBadFile: z.string().optional(),
    maxMemoryMb: z.union([z.string(), z.number()]).optional(),
    augment: z.boolean().optional(),
    normalize: z.string().optional(),
    streamImages: z.boolean().optional(),
  })
  .strict();
type AgentFile = z.infer<typeof AgentFileSchema>;

/** A --data value with the paths of csv:, idx:, images: and dicom: sources taken through `near`. */
function dataNear(data: string, near: (path: string) => string): string {
  if (data.startsWith('csv:')) return `csv:${near(data.slice(4))}`;
  if (data.startsWith('images:')) return `images:${near(data.slice(7))}`;
  if (data.startsWith('dicom:')) return `dicom:${near(data.slice(6))}`;
  if (data.startsWith('idx:')) return `idx:${data.slice(4).split(',').map(near).join(',')}`;
  return data;
}

/** Reads an agent file; its relative key and data paths are taken relative to the file, not to the working directory. */
function readAgentFile(path: string): Record<string, unknown> {
  let file: Record<string, unknown>;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new Error(`agent file ${path}: ${(cause as Error).message}`, { cause });
  }
  const near = (p: unknown): unknown => (typeof p === 'string' && p !== '' && !isAbsolute(p) ? resolve(dirname(path), p) : p);
  const data = typeof file.data === 'string' ? dataNear(file.data, (p) => String(near(p))) : file.data;
  return {
    ...file,
    key: near(file.key),
    coordinatorKey: near(file.coordinatorKey),
    consent: near(file.consent),
    auditLog: near(file.auditLog),
    ca: near(file.ca),
    model: near(file.model),
    data,
  };
}

/** The agent's configuration: the agent file (if any) with the flags over it, validated. */
function agentConfig(flags: Record<string, unknown>): AgentFile {
  const fromFile = flags.config ? readAgentFile(String(flags.config)) : {};
  const merged = {
    ...fromFile,
    ...Object.fromEntries(Object.entries(flags).filter(([k, v]) => k !== 'config' && k !== 'offline' && v !== undefined)),
  };
  const parsed = AgentFileSchema.safeParse(merged);
  if (!parsed.success) {
    throw new Error(
      `agent configuration incomplete or invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** The options `agent start` and `agent check` share (one agent file serves both). */
function withAgentOptions(cmd: Command): Command {
  return withImageFlags(cmd)
    .option('--config <file>', 'agent file (JSON with the keys below in camelCase; paths relative to the file); flags override it')
    .option('--coordinator <url>', 'coordinator URL, e.g. http://coordinator.example.org:7400')
    .option('--coordinator-key <pubfile>', "the coordinator's public key file (pins its identity)")
    .option('--federation <id>', 'federation id')
    .option('--key <file>', "this institution's private key file (mode 0600)")
    .option(
      '--data <source>',
      'mnist | mnist:K/N | mnist-full | mnist-full:K/N | idx:TRAIN_IMAGES,TRAIN_LABELS (IDX files, raw or .gz) | csv:PATH | images:DIR | dicom:MANIFEST.csv',
    )
    .option('--label <column>', 'label column of a csv data source')
    .option('--missing <tokens>', 'csv: comma-separated cell values that mean missing (an empty cell always does; default: NA,N/A,?,NaN)')
    .option('--consent <file>', "the institution's signed consent (cohort consent grant); without it every task is refused")
    .option('--audit-log <file>', "the agent's own audit log (JSON Lines, hash-chained, signed; default .cohort/ID.agent-audit.jsonl)")
    .option('--backend <name>', `TensorFlow.js backend: ${BACKENDS.join(' | ')}`)
    .option('--val-fraction <f>', 'share of local rows kept for validation metrics', Number)
    .option('--log-level <level>', 'trace | debug | info | warn | error')
    .option(
      '--log-format <format>',
      'auto (readable lines on a terminal, JSON otherwise) | pretty | json (default: $COHORT_LOG_FORMAT or auto)',
    )
    .option(
      '--model <file>',
      "a user model's model.json (with its weight shards beside it): the frozen base this site holds, checked against the study's pin (docs/models.md)",
    )
    .option('--ca <file>', 'https coordinator: trust only the certificate authority (or self-signed certificate) in this PEM file')
    .option(
      '--pin-sha256 <fingerprint>',
      'https coordinator: trust only the certificate with this SHA-256 fingerprint (as the coordinator logs it at start)',
    );
}

export function agentCommand(): Command {
  const cmd = new Command('agent').description("run an institution's node agent");
  withAgentOptions(cmd.command('start'))
    .description('connect to the coordinator, train each round on local data, send sealed updates; raw data never leaves')
    .action(async (flags: Record<string, unknown>) => {
      const c = agentConfig(flags);
      // Loaded only now, so `--help` and flag errors answer without loading TensorFlow.js.
      const { createAgent, parseDataSource, tlsSocketOptions } = await import('../index.js');
      const { readTextTable } = await import('../analytics/index.js');
      const log = cliLogger('agent', { level: c.logLevel, format: c.logFormat });
      const identity = readIdentityFile(c.key);
      const agent = createAgent({
        coordinatorUrl: c.coordinator,
        federation: c.federation,
        identity,
        coordinator: readPublicIdentityFile(c.coordinatorKey),
        data: parseDataSource(c.data, c.label, missingTokens(c.missing), imageOptionsFrom(c)),
        // The same CSV, as text cells, answers analytics queries when the consent allows them (cohort stats).
        ...(c.data.startsWith('csv:') ? { statsTable: () => readTextTable(c.data.slice(4)) } : {}),
        consentFile: c.consent,
        // One log per institution, so two agents tried side by side in one folder never share a hash chain.
        auditLog: c.auditLog ?? `.cohort/${identity.id}.agent-audit.jsonl`,
        backend: c.backend ?? 'auto',
        valFraction: c.valFraction,
        ...(c.model ? { modelFile: c.model } : {}),
        log,
        ...(c.ca || c.pinSha256
          ? { socketOptions: tlsSocketOptions({ ca: c.ca ? readFileSync(c.ca) : undefined, pinSha256: c.pinSha256 }) }
          : {}),
      });
      agent.events.on('trained', ({ round, metrics, samples }) => log.info({ round, samples, ...metrics }, 'trained'));
      const stop = (signal: NodeJS.Signals): void => {
        log.info(`${signal} received: agent stops (an update in flight is not sent; the coordinator counts the site as dropped)`);
        agent.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const done = await agent.done;
        log.info(done, 'federation complete; agent exits');
        agent.close();
      } catch (cause) {
        // Data, consent or keys unusable, refused by the coordinator, or the federation failed: say why on one line and
        // exit non-zero, so a supervisor restarts or alerts instead of watching a silent process.
        agent.close();
        const err = cause as { code?: string; message?: string };
        process.stderr.write(`cohort agent: ${err.code ? `${err.code}: ` : ''}${(err.message ?? String(cause)).replace(/\s+/g, ' ')}\n`);
        process.exit(1);
      }
    });
  withAgentOptions(cmd.command('check'))
    .description(
      'before go-live: check the keys, the consent, the coordinator (reachable, pinned key, enrolment) and the data against its model; joins no round',
    )
    .option('--offline', 'skip the coordinator: keys, consent signature, expiry and revocation only', false)
    .action(async (flags: Record<string, unknown>) => {
      const c = agentConfig(flags);
      const { checkSite, parseDataSource, tlsSocketOptions } = await import('../index.js');
      const items = await checkSite({
        identity: readIdentityFile(c.key),
        coordinator: readPublicIdentityFile(c.coordinatorKey),
        coordinatorUrl: c.coordinator,
        federation: c.federation,
        data: parseDataSource(c.data, c.label, missingTokens(c.missing), imageOptionsFrom(c)),
        consentFile: c.consent,
        valFraction: c.valFraction,
        offline: flags.offline === true,
        ...(c.ca || c.pinSha256
          ? { socketOptions: tlsSocketOptions({ ca: c.ca ? readFileSync(c.ca) : undefined, pinSha256: c.pinSha256 }) }
          : {}),
      });
      for (const item of items) process.stdout.write(`${item.ok ? 'ok    ' : 'FAILED'} ${item.name.padEnd(11)} ${item.detail}\n`);
      const failed = items.filter((i) => !i.ok).map((i) => i.name);
      process.stdout.write(failed.length === 0 ? 'ready for go-live\n' : `not ready: ${failed.join(', ')}\n`);
      process.exitCode = failed.length === 0 ? 0 : 1;
    });
  return cmd;
}
