/** After each welcome the site presents itself: its rows, backend, feature statistics and consent; the coordinator may then select it. */
import { CohortError, type ModelSpec, type Ready, type Welcome } from '../../protocol/index.js';
import { featureStats } from '../data/index.js';
import { channelStats } from '../data/channel-stats.js';
import { isStreamed, type AnyDataset } from '../data/row-stream.js';
import type { SelectedBackend } from '../train/index.js';
import type { SiteBase } from '../site-base.js';
import type { SiteRows } from '../site-data.js';
import type { ConsentState } from '../mods/consent-guard.js';
import type { ModContext } from '../mods/chain.js';
import { ACK_TIMEOUT_MS, type AgentSocket } from '../transport/connection.js';

/**
 * The statistics the spec asks of the site's rows before round 1 (counts, means and M2 only, never a row): per
 * feature for tabular data, per channel for images with pooled channel normalisation.
 */
async function summaries(spec: ModelSpec, all: AnyDataset): Promise<Pick<Ready, 'featureStats' | 'channelStats'>> {
  const pooling = spec.channelNormalization && !spec.channelNormalization.mean;
  return {
    ...(spec.features && !isStreamed(all) ? { featureStats: featureStats(all) } : {}),
    ...(pooling ? { channelStats: await channelStats(all) } : {}),
  };
}

export interface ReadyOptions {
  socket: AgentSocket;
  backend: SelectedBackend;
  rows(spec: ModelSpec): SiteRows;
  siteBase: SiteBase;
  consent(): ConsentState;
  /** Called with the consent state the site presents, before the coordinator answers. */
  onConsent(state: ConsentState): void;
  /** The data source in words, for the log. */
  description: string;
}

/**
 * Checks that the site can work on the welcome's spec (its rows, a user model's base), sends `agent:ready` and audits
 * session.ready. Returns false when the coordinator did not take it (no answer in time, or UNAVAILABLE): the
 * connection is closed, so the agent presents itself again on a new one. A refusal is thrown as its CohortError.
 * @example if (await presentReady(welcome, options, { log, audit })) ready.resolve();
 */
export async function presentReady(welcome: Welcome, o: ReadyOptions, ctx: ModContext): Promise<boolean> {
  const { spec } = welcome;
  if (spec.layers) await o.siteBase.tensors(o.backend.tf, spec); // a site without the study's base model cannot work: say so now
  const rows = o.rows(spec);
  const stats = await summaries(spec, rows.all);
  const state = o.consent();
  const { consent: signed, revocation } = state;
  o.onConsent(state);
  const res = await o.socket
    .timeout(ACK_TIMEOUT_MS)
    .emitWithAck('agent:ready', { samples: rows.train.n, backend: o.backend.name, ...stats, consent: signed, revocation })
    .catch((err: Error) => err);
  if (res instanceof Error || (!res.ok && res.error.code === 'UNAVAILABLE')) {
    // No answer in time (a busy coordinator), or it cannot store anything now: present ourselves again on a
    // new connection, with the usual backoff (uploads wait for that session rather than hang on this one).
    ctx.log.warn(`ready not taken (${res instanceof Error ? res.message : res.error.message}); reconnecting`);
    o.socket.io.engine.close();
    return false;
  }
  if (!res.ok) throw new CohortError(res.error.code, res.error.message);
  if (!signed)
    ctx.log.warn(
      'no consent presented: the coordinator will not select this institution and every task is refused (sign one with `cohort consent grant`)',
    );
  ctx.audit.append('session.ready', {
    samples: rows.train.n,
    consentPresented: signed !== undefined,
    revoked: revocation !== undefined,
    manifestHash: signed?.body.manifestHash ?? null,
  });
  const validation = rows.val?.n ?? 0;
  const consent = signed ? 'presented' : 'none';
  ctx.log.info({ samples: rows.train.n, validation, backend: o.backend.name, data: o.description, consent }, 'ready for tasks');
  return true;
}
