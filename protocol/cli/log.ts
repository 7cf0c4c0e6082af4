/** The CLI's loggers: readable lines on a terminal, JSON lines for log collectors (or as --log-format says). */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Object && 'message' in v && 'stack' in v) return JSON.stringify((v as Error).message);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One pino record as a line a person reads: time, level, logger, message, then the other fields as key=value.
 * @example formatLogLine({ level: 30, time: 0, name: 'agent', msg: 'trained', round: 2 }) // '00:00:00.000 INFO  agent: trained round=2'
 */
export function formatLogLine(record: Record<string, unknown>): string {
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const level = (LEVELS[record.level as number] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  const name = typeof record.name === 'string' ? `${record.name}: ` : '';
  const message = `${name}${typeof record.msg === 'string' ? record.msg : ''}`;
  return `${time} ${level} ${[message, ...fields].filter((part) => part !== '').join(' ')}`;
}

/** A stream pino writes JSON lines into, which writes them on as formatted lines. */
function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          out.write(`${formatLogLine(JSON.parse(line) as Record<string, unknown>)}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}

/**
 * The logger of a long-running command: `pretty` lines on a terminal and JSON elsewhere with `auto` (the default;
 * COHORT_LOG_FORMAT sets it too), at `level`.
 * @example const log = cliLogger('coordinator', { level: 'info', format: 'auto' })
 */
export function cliLogger(name: string, opts: { level?: string; format?: string } = {}): Logger {
  const format = (opts.format ?? process.env.COHORT_LOG_FORMAT ?? 'auto') as LogFormat;
  if (!LOG_FORMATS.includes(format)) throw new Error(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got ${format}`);
  const level = opts.level ?? 'info';
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  return pretty ? pino({ name, level }, prettyStream(process.stdout)) : pino({ name, level });
}
