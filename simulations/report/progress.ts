/** Terminal progress for a simulation: one aligned line per finished round, a live status line on a TTY. */
import type { RoundRow } from './rounds-csv.js';

/** Options of `createRoundProgress`. */
export interface RoundProgressOptions {
  /** Total rounds planned (shown as `i/R`). */
  rounds: number;
  /** Where to write; `process.stdout` by default. Live status lines only when it is a TTY. */
  out?: NodeJS.WritableStream;
}

/** What a running round can report before it finishes. */
export type RoundUpdate = Partial<RoundRow> & { note?: string };

/** The reporter returned by `createRoundProgress`. */
export interface RoundProgress {
  roundStarted(round: number, participants: number): void;
  update(round: number, row: RoundUpdate): void;
  roundDone(row: RoundRow): void;
  message(text: string): void;
  close(): void;
}

const CLEAR_LINE = '\r\x1b[2K';
const HEADERS = ['round', 'participants', 'loss', 'accuracy', 'duration'] as const;

/** `850 ms`, `12.34 s`, `3m 07s`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

const metric = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4)); // no accuracy for regression: '-'

/**
 * Reports a simulation's rounds on a terminal. Every finished round prints one line under a
 * header (printed before the first round); on a TTY a status line for the running round is
 * redrawn in place, elsewhere (CI logs, pipes) nothing but plain lines is written.
 * @example
 * const progress = createRoundProgress({ rounds: 10 });
 * progress.roundStarted(1, 5);
 * progress.update(1, { note: '3/5 updates in' });
 * progress.roundDone({ round: 1, participants: 5, loss: 0.41, accuracy: 0.88, durationMs: 1200 });
 * progress.close();
 */
export function createRoundProgress(opts: RoundProgressOptions): RoundProgress {
  const out = opts.out ?? process.stdout;
  const tty = (out as { isTTY?: boolean }).isTTY === true;
  const total = String(opts.rounds);
  const widths = [
    Math.max(HEADERS[0].length, total.length * 2 + 1),
    HEADERS[1].length,
    Math.max(HEADERS[2].length, 9),
    HEADERS[3].length,
    Math.max(HEADERS[4].length, 9),
  ];
  const align = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');

  let headerShown = false;
  let status = ''; // the live line currently on screen (TTY only)
  let running: { round: number; participants: number; startedAt: number; update: RoundUpdate } | undefined;
  let closed = false;

  const clearStatus = () => {
    if (status) out.write(CLEAR_LINE);
    status = '';
  };
  const drawStatus = () => {
    if (!tty || !running) return;
    const { round, participants, startedAt, update } = running;
    const parts = [`round ${round}/${total}`, `${participants} participants`, `running ${formatDuration(Date.now() - startedAt)}`];
    if (update.samples !== undefined) parts.push(`${update.samples} samples`);
    if (update.trainLoss !== undefined) parts.push(`train loss ${metric(update.trainLoss)}`);
    if (update.loss !== undefined) parts.push(`loss ${metric(update.loss)}`);
    if (update.accuracy !== undefined) parts.push(`accuracy ${metric(update.accuracy)}`);
    if (update.note) parts.push(update.note);
    const columns = (out as { columns?: number }).columns ?? 80;
    const line = `… ${parts.join(' · ')}`.slice(0, Math.max(10, columns - 1));
    out.write(status ? CLEAR_LINE + line : line);
    status = line;
  };
  const writeLine = (text: string) => {
    clearStatus();
    out.write(`${text}\n`);
  };
  const ensureHeader = () => {
    if (headerShown) return;
    headerShown = true;
    writeLine(align([...HEADERS]));
  };

  return {
    roundStarted(round, participants) {
      if (closed) return;
      ensureHeader();
      running = { round, participants, startedAt: Date.now(), update: {} };
      drawStatus();
    },
    update(round, row) {
      if (closed || !running || running.round !== round) return;
      running.update = { ...running.update, ...row };
      if (row.participants !== undefined) running.participants = row.participants;
      drawStatus();
    },
    roundDone(row) {
      if (closed) return;
      ensureHeader();
      const duration = row.durationMs ?? (running?.round === row.round ? Date.now() - running.startedAt : undefined);
      if (running?.round === row.round) running = undefined;
      writeLine(
        align([`${row.round}/${total}`, String(row.participants), metric(row.loss), metric(row.accuracy), formatDuration(duration)]),
      );
    },
    message(text) {
      if (closed) return;
      writeLine(text);
      drawStatus();
    },
    close() {
      if (closed) return;
      clearStatus();
      closed = true;
      running = undefined;
    },
  };
}
