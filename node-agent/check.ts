/**
 * `cohort agent check`: what a site checks before go-live, without taking part in a round: its keys, its consent,
 * the coordinator (reachable, the pinned key, this institution enrolled) and its data against the federation's model.
 */
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { consentCovers, toCohortError, type Welcome } from '../protocol/index.js';
import type { Identity, PublicIdentity } from '../crypto/index.js';
import type { DataSource } from './data-source.js';
import { readConsentState } from './mods/consent-guard.js';
import { siteData } from './site-data.js';
import { connect } from './transport/connection.js';

export interface CheckItem {
  name: 'keys' | 'consent' | 'coordinator' | 'data';
  ok: boolean;
  detail: string;
}

export interface SiteCheckOptions {
  identity: Identity;
  coordinator: PublicIdentity;
  coordinatorUrl: string;
  federation: string;
  data: DataSource;
  consentFile?: string;
  valFraction?: number;
  /** Skip the coordinator: keys, consent (signature, expiry, revocation) and that the data source opens. */
  offline?: boolean;
  timeoutMs?: number;
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/** Connects, authenticates both ways and waits for the welcome (spec and study), then disconnects without joining rounds. */
function fetchWelcome(o: SiteCheckOptions): Promise<Welcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new Error(
              `no welcome from ${o.coordinatorUrl} within ${(o.timeoutMs ?? 15_000) / 1000} s (unreachable, or the TLS trust does not match)`,
            ),
          ),
        ),
      o.timeoutMs ?? 15_000,
    );
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      socket.io.reconnection(false);
      socket.disconnect();
      fn();
    };
    const socket = connect({
      url: o.coordinatorUrl,
      federation: o.federation,
      identity: o.identity,
      coordinatorSignPublicKey: o.coordinator.signPublicKey,
      socketOptions: { ...o.socketOptions, reconnection: false },
      onWelcome: (welcome) => finish(() => resolve(welcome)),
      onFatal: (err) => finish(() => reject(err)),
      log: () => undefined,
    });
    socket.on('connect_error', (err: Error) => finish(() => reject(err)));
  });
}

/**
 * Runs every check and reports each, never throwing: a failed check says why in one line.
 * @example const items = await checkSite({ identity, coordinator, coordinatorUrl, federation, data, consentFile }); items.every((i) => i.ok)
 */
export async function checkSite(o: SiteCheckOptions): Promise<CheckItem[]> {
  const items: CheckItem[] = [
    { name: 'keys', ok: true, detail: `institution ${o.identity.id}; coordinator key ${o.coordinator.id} pinned` },
  ];
  let consent;
  try {
    consent = readConsentState(o.consentFile, o.identity.signPublicKey);
  } catch (err) {
    items.push({ name: 'consent', ok: false, detail: toCohortError(err).message });
  }
  let welcome: Welcome | undefined;
  if (!o.offline) {
    try {
      welcome = await fetchWelcome(o);
      items.push({
        name: 'coordinator',
        ok: true,
        detail: `${o.coordinatorUrl} answered with the pinned key; ${o.identity.id} is enrolled in ${o.federation} (study "${welcome.study.title}")`,
      });
    } catch (err) {
      const e = toCohortError(err);
      items.push({ name: 'coordinator', ok: false, detail: `${e.code}: ${e.message}` });
    }
  }
  if (consent) items.push(consentItem(consent, welcome, o));
  items.push(dataItem(o, welcome));
  return items;
}

function consentItem(state: ReturnType<typeof readConsentState>, welcome: Welcome | undefined, o: SiteCheckOptions): CheckItem {
  if (!state.consent)
    return {
      name: 'consent',
      ok: false,
      detail: o.consentFile
        ? `no consent at ${o.consentFile} (cohort consent grant)`
        : 'no consent file given (--consent): every task would be refused',
    };
  const body = state.consent.body;
  if (state.revocation) return { name: 'consent', ok: false, detail: `revoked at ${state.revocation.body.revokedAt}` };
  if (body.federation !== o.federation)
    return { name: 'consent', ok: false, detail: `the consent is for federation ${body.federation}, the agent serves ${o.federation}` };
  if (Date.parse(`${body.ethicsApproval.expires}T23:59:59.999Z`) < Date.now())
    return {
      name: 'consent',
      ok: false,
      detail: `ethics approval ${body.ethicsApproval.reference} expired on ${body.ethicsApproval.expires}`,
    };
  if (welcome) {
    const covered = consentCovers(body, { manifest: welcome.study, use: 'training', now: new Date() });
    if (!covered.ok) return { name: 'consent', ok: false, detail: `${covered.code}: ${covered.message}` };
  }
  return {
    name: 'consent',
    ok: true,
    detail: `signed by ${body.institution}, ${body.uses.join(' and ')}, ethics approval ${body.ethicsApproval.reference} until ${body.ethicsApproval.expires}${welcome ? "; covers the coordinator's study" : ''}`,
  };
}

function dataItem(o: SiteCheckOptions, welcome: Welcome | undefined): CheckItem {
  if (!welcome)
    return { name: 'data', ok: true, detail: `${o.data.description}: not loaded (the federation's model is needed: run the check online)` };
  try {
    const rows = siteData(o.data, o.valFraction ?? 0.1, 0).load(welcome.spec);
    return {
      name: 'data',
      ok: true,
      detail: `${rows.all.n} rows fit the federation's ${welcome.spec.arch} model (${rows.train.n} to train on, ${rows.val?.n ?? 0} kept for validation)`,
    };
  } catch (err) {
    const e = toCohortError(err);
    return { name: 'data', ok: false, detail: `${o.data.description}: ${e.code === 'INTERNAL' ? '' : `${e.code}: `}${e.message}` };
  }
}
