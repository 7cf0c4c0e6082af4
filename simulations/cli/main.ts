/** The `cohort` command line: keys, coordinator, agent, consent, audit, lineage, backup, restore, tokens, model, predict, simulate, pretrain and stats, each with --help. */
import { Command } from 'commander';
import { agentCommand } from './agent-command.js';
import { auditCommand, lineageCommand } from './audit-command.js';
import { backupCommand, restoreCommand } from './backup-command.js';
import { consentCommand } from './consent-command.js';
import { coordinatorCommand } from './coordinator-command.js';
import { keysCommand } from './keys-command.js';
import { modelCommand } from './model-command.js';
import { predictCommand } from './predict-command.js';
import { dataCommand } from './data-command.js';
import { tokensCommand } from './tokens-command.js';
import { simulateCommand } from './simulate-command.js';
import { pretrainCommand } from './pretrain-command.js';
import { statsCommand } from './stats-command.js';

const program = new Command('cohort')
  .description('Cohort: federated learning for institutions that must learn together without pooling their data')
  .showHelpAfterError()
  .addCommand(keysCommand())
  .addCommand(coordinatorCommand())
  .addCommand(agentCommand())
  .addCommand(consentCommand())
  .addCommand(auditCommand())
  .addCommand(lineageCommand())
  .addCommand(backupCommand())
  .addCommand(restoreCommand())
  .addCommand(tokensCommand())
  .addCommand(modelCommand())
  .addCommand(predictCommand())
  .addCommand(dataCommand())
  .addCommand(simulateCommand())
  .addCommand(pretrainCommand())
  .addCommand(statsCommand());

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
