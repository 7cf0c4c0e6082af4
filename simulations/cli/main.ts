/** The `cohort` command line (simulations/bin/cohort.js starts it): parses the arguments with the tree of program.ts. */
import { cohortProgram } from './program.js';

const program = cohortProgram();

// `cohort simulate | head`: once the reader goes away the command carries on without printing (the run folder
// still gets written) instead of crashing on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.stdout.write = () => true;
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`cohort: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
