/**
 * The `cohort` command tree, composed from each side's commands: the coordinator's (coordinator/cli: coordinator,
 * tokens, audit, lineage, backup, restore, model, predict), the site's (node-agent/cli: keys, agent, consent, data)
 * and the researcher's (simulations/cli: simulate, pretrain, stats). It is the one place that hands the coordinator's
 * commands TF.js (modelTools), so coordinator/ never imports node-agent/. main.ts runs it.
 */
import { Command } from 'commander';
import { agentCommand } from '../../node-agent/cli/agent-command.js';
import { auditCommand, lineageCommand } from '../../coordinator/cli/audit-command.js';
import { backupCommand, restoreCommand } from '../../coordinator/cli/backup-command.js';
import { consentCommand } from '../../node-agent/cli/consent-command.js';
import { coordinatorCommand } from '../../coordinator/cli/coordinator-command.js';
import { keysCommand } from '../../node-agent/cli/keys-command.js';
import { modelCommand } from '../../coordinator/cli/model-command.js';
import { predictCommand } from '../../coordinator/cli/predict-command.js';
import { dataCommand } from '../../node-agent/cli/data-command.js';
import { tokensCommand } from '../../coordinator/cli/tokens-command.js';
import { simulateCommand } from './simulate-command.js';
import { pretrainCommand } from './pretrain-command.js';
import { statsCommand } from './stats-command.js';
import { modelTools } from './model-tools.js';

/**
 * A fresh `cohort` program with every command (not yet parsed).
 * @example await cohortProgram().parseAsync(process.argv)
 */
export function cohortProgram(): Command {
  const tools = modelTools();
  return new Command('cohort')
    .description('Cohort: federated learning for institutions that must learn together without pooling their data')
    .showHelpAfterError()
    .addCommand(keysCommand())
    .addCommand(coordinatorCommand(tools))
    .addCommand(agentCommand())
    .addCommand(consentCommand())
    .addCommand(auditCommand())
    .addCommand(lineageCommand())
    .addCommand(backupCommand())
    .addCommand(restoreCommand())
    .addCommand(tokensCommand())
    .addCommand(modelCommand(tools))
    .addCommand(predictCommand(tools))
    .addCommand(dataCommand())
    .addCommand(simulateCommand())
    .addCommand(pretrainCommand())
    .addCommand(statsCommand());
}
