/** Runs `bench:convergence` in a child process (a partition or a table shard), streaming its progress lines to the parent. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Starts `node --import tsx convergence.ts ...args`, passes each `[...]` progress line of its stdout to `say`, and
 * rejects with `what` and the exit code when it fails.
 * @example await runBenchChild(['--partitions', 'iid', '--out', dir], say, 'the iid partition\'s process')
 */
export async function runBenchChild(args: string[], say: (line: string) => void, what: string): Promise<void> {
  const entry = fileURLToPath(new URL('./convergence.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), entry, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('[')) say(line);
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`${what} exited with ${code}`);
}
