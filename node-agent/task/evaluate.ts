/** A candidate model measured on the site's fixed validation rows: the coordinator gets the numbers, never rows. */
import { decodeTensors, toCohortError, type EvaluateTask, type EvaluationReport, type NamedTensor } from '../../protocol/index.js';
import { evaluate } from '../train/index.js';
import { ACK_TIMEOUT_MS, type AgentSocket } from '../transport/connection.js';
import { consentRefusal, type Refusal, type TaskConsentOptions } from '../mods/task-consent.js';
import type { ModContext } from '../mods/chain.js';
import { checkSignedModel } from '../model-check.js';
import type { SiteTraining } from './train-step.js';

export interface EvaluationOptions {
  site: Pick<SiteTraining, 'rows' | 'backendFor' | 'siteBase' | 'events'>;
  socket: AgentSocket;
  consent: TaskConsentOptions;
  /** Tells the coordinator (and the audit log) why the site does not take a task. */
  decline(round: number, refusal: Refusal): Promise<void>;
}

/**
 * Runs an evaluation task that the signature and the consent allow: evaluates the candidate, sends the report and
 * audits it as evaluation.sent; declines without validation rows or without the user model's base.
 * @example const runEvaluation = evaluationStep({ site, socket, consent, decline }); await runEvaluation(task, { log, audit });
 */
export function evaluationStep(o: EvaluationOptions): (task: EvaluateTask, ctx: ModContext) => Promise<void> {
  return async (task, ctx) => {
    // Consent first (it also checks the task's architecture against the consented study), then the rows: a site
    // without validation rows uses nothing of the candidate and declines without hashing its frame; the others
    // verify the coordinator's signature over it before evaluating.
    const refused = consentRefusal(task, o.consent);
    if (refused) return o.decline(task.round, refused);
    const { spec } = task.model;
    const rows = o.site.rows(spec);
    if (!rows.val)
      return o.decline(task.round, {
        code: 'NO_VALIDATION_DATA',
        message: 'this site keeps no validation rows (--val-fraction 0 or too few rows)',
      });
    const forged = checkSignedModel(task.model, o.consent.federation, o.consent.coordinatorSignPublicKey);
    if (forged) return o.decline(task.round, forged);
    const run = await o.site.backendFor(spec);
    let base: NamedTensor[] | undefined;
    try {
      base = spec.layers ? await o.site.siteBase.tensors(run.tf, spec) : undefined;
    } catch (cause) {
      return o.decline(task.round, { code: 'MODEL_BASE_MISMATCH', message: toCohortError(cause).message });
    }
    const v = await evaluate({
      tf: run.tf,
      spec,
      weights: decodeTensors(task.model.weights, { authenticated: true }).tensors,
      data: rows.val,
      ...(base ? { base } : {}),
    });
    const report: EvaluationReport = { round: task.round, valLoss: v.loss, ...v.scores, valSamples: rows.val.n };
    const res = await o.socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck('round:evaluation', report)
      .catch((err: Error) => ({ ok: false as const, error: { code: 'INTERNAL' as const, message: err.message } }));
    ctx.audit.append('evaluation.sent', { ...report, candidateDigest: task.model.digest, accepted: res.ok });
    if (res.ok) o.site.events.emit('evaluated', { round: task.round, valLoss: v.loss, ...v.scores, valSamples: rows.val.n });
    else ctx.log.warn({ round: task.round, code: res.error.code }, `evaluation not accepted: ${res.error.message}`);
  };
}
