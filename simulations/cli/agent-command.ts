/** `cohort agent start`: an institution's node agent, on the institution's own host, next to its data. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';
import { readIdentityFile, readPublicIdentityFile } from '../../crypto/index.js';
import { BACKENDS } from './options.js';

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
    backend: z.enum(BACKENDS).optional(),
    valFraction: z.number().min(0).max(0.9).optional(),
    logLevel: z.string().optional(),
    ca: z.string().optional(),
    pinSha256: z.string().optional(),
  })
  .strict();

/** A --data value with the paths of csv: and idx: sources taken through `near`. */
function dataNear(data: string, near: (path: string) => string): string {
  if (data.startsWith('csv:')) return `csv:${near(data.slice(4))}`;
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
  return { ...file, key: near(file.key), coordinatorKey: near(file.coordinatorKey), consent: near(file.consent), auditLog: near(file.auditLog), ca: near(file.ca), data };
}

export function agentCommand(): Command {
  const cmd = new Command('agent').description("run an institution's node agent");
  cmd
    .command('start')
    .description('connect to the coordinator, train each round on local data, send sealed updates; raw data never leaves')
    .option('--config <file>', 'agent file (JSON with the keys below in camelCase; paths relative to the file); flags override it')
    .option('--coordinator <url>', 'coordinator URL, e.g. http://coordinator.example.org:7400')
    .option('--coordinator-key <pubfile>', "the coordinator's public key file (pins its identity)")
    .option('--federation <id>', 'federation id')
    .option('--key <file>', "this institution's private key file (mode 0600)")
    .option('--data <source>', 'mnist | mnist:K/N | mnist-full | mnist-full:K/N | idx:TRAIN_IMAGES,TRAIN_LABELS (IDX files, raw or .gz) | csv:PATH')
    .option('--label <column>', 'label column of a csv data source')
    .option('--consent <file>', "the institution's signed consent (cohort consent grant); without it every task is refused")
    .option('--audit-log <file>', "the agent's own audit log (JSON Lines, hash-chained, signed; default .cohort/ID.agent-audit.jsonl)")
    .option('--backend <name>', `TensorFlow.js backend: ${BACKENDS.join(' | ')}`)
    .option('--val-fraction <f>', 'share of local rows kept for validation metrics', Number)
    .option('--log-level <level>', 'trace | debug | info | warn | error')
    .option('--ca <file>', 'https coordinator: trust only the certificate authority (or self-signed certificate) in this PEM file')
    .option('--pin-sha256 <fingerprint>', "https coordinator: trust only the certificate with this SHA-256 fingerprint (as the coordinator logs it at start)")
    .action(async (flags: Record<string, unknown>) => {
      const fromFile = flags.config ? readAgentFile(String(flags.config)) : {};
      const merged = { ...fromFile, ...Object.fromEntries(Object.entries(flags).filter(([k, v]) => k !== 'config' && v !== undefined)) };
      const parsed = AgentFileSchema.safeParse(merged);
      if (!parsed.success) {
        throw new Error(`agent configuration incomplete or invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      const c = parsed.data;
      // Loaded only now, so `--help` and flag errors answer without loading TensorFlow.js.
      const { createAgent, parseDataSource, tlsSocketOptions } = await import('../../node-agent/index.js');
      const log = pino({ name: 'agent', level: c.logLevel ?? 'info' });
      const identity = readIdentityFile(c.key);
      const agent = createAgent({
        coordinatorUrl: c.coordinator,
        federation: c.federation,
        identity,
        coordinator: readPublicIdentityFile(c.coordinatorKey),
        data: parseDataSource(c.data, c.label),
        consentFile: c.consent,
        // One log per institution, so two agents tried side by side in one folder never share a hash chain.
        auditLog: c.auditLog ?? `.cohort/${identity.id}.agent-audit.jsonl`,
        backend: c.backend ?? 'auto',
        valFraction: c.valFraction,
        log,
        ...(c.ca || c.pinSha256 ? { socketOptions: tlsSocketOptions({ ca: c.ca ? readFileSync(c.ca) : undefined, pinSha256: c.pinSha256 }) } : {}),
      });
      agent.events.on('trained', ({ round, metrics, samples }) => log.info({ round, samples, ...metrics }, 'trained'));
      process.once('SIGINT', () => {
        agent.close();
        process.exit(130);
      });
      // A federation that failed (or a fatal refusal) ends the agent with the reason on one line and exit code 1.
      const done = await agent.done.finally(() => agent.close());
      log.info(done, 'federation complete; agent exits');
    });
  return cmd;
}
