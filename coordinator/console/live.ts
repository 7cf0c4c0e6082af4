/** The console's live feed: a socket.io namespace `/console` that checks an API token and forwards the round runner's events, each institution seeing only its own. */
import type { Logger } from 'pino';
import type { Namespace, Server, Socket } from 'socket.io';
import { CohortError, toCohortError } from '../../protocol/index.js';
import type { RoundRunner, RunnerEventMap } from '../rounds/round-runner.js';
import type { Store } from '../store/index.js';
import { ConsoleAuthSchema, ConsoleSubscribeSchema, type ConsolePrincipal, type VerifyToken } from './principal.js';
import { latestRoundSnapshot, redactSnapshot } from './round-snapshot.js';

export interface ConsoleLiveDeps {
  /** The coordinator's socket.io server; the namespace `/console` is added to it. */
  io: Pick<Server, 'of'>;
  runner: RoundRunner;
  store: Store;
  federation: string;
  verifyToken: VerifyToken;
  log: Logger;
  /** How often each console's token is checked again (a revoked token's console is disconnected). */
  recheckEveryMs?: number;
}

type RunnerEvent = keyof RunnerEventMap;
type Payload = Record<string, unknown>;

const STAFF = 'staff';
const instRoom = (institution: string): string => `inst:${institution}`;

/** Runner events about one institution: its console gets them, no other institution's does. */
const PER_INSTITUTION: RunnerEvent[] = [
  'update:accepted',
  'update:refused',
  'participant:declined',
  'participant:dropped',
  'consent:revoked',
];
/** Round outcomes: every console that took part in the round gets them. */
const PER_ROUND: RunnerEvent[] = ['round:decided', 'round:published', 'round:withheld', 'round:failed'];
/** Federation-wide news for every subscribed console. */
const EVERYONE: RunnerEvent[] = ['federation:complete', 'federation:failed'];
/** Only admins and auditors: they name institutions other than the reader. */
const STAFF_ONLY: RunnerEvent[] = ['round:waiting', 'round:blocked'];

/**
 * Adds the `/console` namespace. Consoles connect with `auth: { token }`, then emit
 * `console:subscribe` `{ federation }` and get a snapshot in the ack; after that they receive
 * the runner's events, `round:updated` (the current round after each change) and `agents:online`.
 * @example const live = attachConsoleLive({ io, runner, store, federation: 'demo', verifyToken, log }); live.close()
 */
export function attachConsoleLive(deps: ConsoleLiveDeps): { close(): void } {
  const { runner, store, federation, log } = deps;
  const ns: Namespace = deps.io.of('/console');
  const principals = new WeakMap<Socket, ConsolePrincipal>();
  const tokens = new WeakMap<Socket, string>();

  ns.use((socket, next) => {
    const refuse = (code: CohortError['code'], message: string): void => {
      const err = new Error(message) as Error & { data: { code: string; message: string } };
      err.data = { code, message };
      next(err);
    };
    const parsed = ConsoleAuthSchema.safeParse(socket.handshake.auth);
    if (!parsed.success) return refuse('UNAUTHENTICATED', 'the console needs an API token: io("/console", { auth: { token } })');
    Promise.resolve()
      .then(() => deps.verifyToken(parsed.data.token))
      .then((principal) => {
        if (!principal) return refuse('UNAUTHENTICATED', 'the API token is unknown, revoked or expired');
        if (principal.role === 'institution' && !principal.institution)
          return refuse('UNAUTHENTICATED', 'an institution token must name its institution');
        principals.set(socket, principal);
        tokens.set(socket, parsed.data.token);
        next();
      })
      .catch((cause: unknown) => {
        log.error({ err: cause }, 'console token check failed');
        refuse('INTERNAL', 'the token could not be checked');
      });
  });

  const snapshotFor = (p: ConsolePrincipal) => {
    const snap = latestRoundSnapshot(store, federation);
    const online = runner.onlineInstitutions.filter((i) => p.role !== 'institution' || i === p.institution);
    const fed = store.getFederation(federation);
    return {
      federation,
      status: fed?.status ?? 'unknown',
      serverNow: Date.now(),
      round: snap && redactSnapshot(snap, p),
      online,
      principal: { role: p.role, institution: p.institution },
    };
  };

  ns.on('connection', (socket) => {
    const principal = principals.get(socket) as ConsolePrincipal;
    socket.on('console:subscribe', (msg: unknown, ack?: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (res: unknown) => void) : () => undefined;
      try {
        const { federation: wanted } = ConsoleSubscribeSchema.parse(msg);
        if (wanted !== federation) throw new CohortError('NOT_FOUND', `this coordinator runs federation ${federation}, not ${wanted}`);
        void socket.join(principal.role === 'institution' ? instRoom(principal.institution as string) : STAFF);
        reply({ ok: true, ...snapshotFor(principal) });
      } catch (cause) {
        const err =
          cause instanceof Error && cause.name === 'ZodError'
            ? new CohortError('BAD_REQUEST', 'console:subscribe needs { federation }')
            : toCohortError(cause);
        reply({ ok: false, error: err.toWire() });
      }
    });
  });

  /** Institutions with a console subscribed now. */
  const followedInstitutions = (): string[] =>
    [...ns.adapter.rooms.keys()].filter((room) => room.startsWith('inst:')).map((room) => room.slice('inst:'.length));

  const selectedIn = (round: number): string[] => store.getRound(federation, round)?.selected ?? [];

  // The current round after a change, once per turn of the event loop (a runner step emits several events).
  let updatePending = false;
  let closed = false;
  const scheduleUpdate = (): void => {
    if (updatePending) return;
    updatePending = true;
    setImmediate(() => {
      updatePending = false;
      if (closed || ns.sockets.size === 0) return; // the store may be closed already; with nobody following, no snapshot
      const snap = latestRoundSnapshot(store, federation);
      if (!snap) return;
      ns.to(STAFF).emit('round:updated', snap);
      for (const institution of followedInstitutions())
        ns.to(instRoom(institution)).emit('round:updated', redactSnapshot(snap, { role: 'institution', institution }));
    });
  };

  const forward = (event: RunnerEvent, payload: Payload): void => {
    ns.to(STAFF).emit(event, payload);
    if (PER_INSTITUTION.includes(event) && typeof payload.institution === 'string') {
      ns.to(instRoom(payload.institution)).emit(event, payload);
    } else if (event === 'round:started') {
      const participants = payload.participants as string[];
      for (const institution of participants) {
        const excluded = (payload.excluded as { institution: string }[]).filter((e) => e.institution === institution);
        ns.to(instRoom(institution)).emit(event, {
          ...payload,
          participants: [institution],
          participantCount: participants.length,
          excluded,
        });
      }
    } else if (PER_ROUND.includes(event)) {
      // A rule's message may name another site (the fairness rule names the worst one): institutions get the verdicts only.
      const decisions = (payload.decisions as { stage: string; rule: string; passed: boolean; limit: unknown }[] | undefined)?.map(
        ({ stage, rule, passed, limit }) => ({ stage, rule, passed, limit }),
      );
      const reason = event === 'round:withheld' ? 'withheld by policy' : payload.reason;
      const view = { ...payload, ...(decisions ? { decisions } : {}), ...(reason !== undefined ? { reason } : {}) };
      for (const institution of selectedIn(payload.round as number)) ns.to(instRoom(institution)).emit(event, view);
    } else if (EVERYONE.includes(event)) {
      for (const institution of followedInstitutions()) ns.to(instRoom(institution)).emit(event, payload);
    }
    // A blocked round's reason is in its record: every console sees the round change (redacted for institutions).
    if (!STAFF_ONLY.includes(event) || event === 'round:waiting' || event === 'round:blocked') scheduleUpdate();
  };

  const events: RunnerEvent[] = ['round:started', ...PER_INSTITUTION, ...PER_ROUND, ...EVERYONE, ...STAFF_ONLY];
  const listeners = events.map((event) => {
    const listener = (payload: Payload): void => forward(event, payload);
    (runner as unknown as { on(e: string, l: (p: Payload) => void): void }).on(event, listener);
    return { event, listener };
  });

  // Who is online: staff see everyone, an institution only itself, and only when its own presence changed.
  let before = new Set<string>(runner.onlineInstitutions);
  const onOnline = ({ online }: { online: string[] }): void => {
    ns.to(STAFF).emit('agents:online', { online });
    for (const institution of followedInstitutions()) {
      if (online.includes(institution) !== before.has(institution))
        ns.to(instRoom(institution)).emit('agents:online', { online: online.filter((i) => i === institution) });
    }
    before = new Set(online);
  };
  runner.on('agents:online', onOnline);

  // A token revoked while its console is open: the console is disconnected at the next check.
  const recheckTimer = setInterval(() => {
    for (const socket of ns.sockets.values()) {
      Promise.resolve()
        .then(() => deps.verifyToken(tokens.get(socket) ?? ''))
        .then((principal) => {
          if (!principal) socket.disconnect(true);
        })
        .catch(() => socket.disconnect(true));
    }
  }, deps.recheckEveryMs ?? 30_000);
  recheckTimer.unref();

  return {
    close(): void {
      closed = true;
      runner.off('agents:online', onOnline);
      clearInterval(recheckTimer);
      for (const { event, listener } of listeners)
        (runner as unknown as { off(e: string, l: (p: Payload) => void): void }).off(event, listener);
      ns.disconnectSockets(true);
    },
  };
}
