import { describe, expect } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { createApiToken } from '../../../coordinator/auth/index.js';
import { e2e, type Cohort } from '../../e2e/helpers.js';

interface Console {
  socket: Socket;
  events: { name: string; payload: Record<string, unknown> }[];
  snapshot: Record<string, unknown>;
}

/** A console client on the /console namespace: connects with the token, subscribes, records every event. */
async function openConsole(cohort: Cohort, url: string, token: string, federation: string): Promise<Console> {
  const socket = cohort.track(io(`${url}/console`, { auth: { token }, transports: ['websocket'], reconnection: false }));
  const events: Console['events'] = [];
  socket.onAny((name: string, payload: Record<string, unknown>) => events.push({ name, payload }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const snapshot = (await socket.emitWithAck('console:subscribe', { federation })) as Record<string, unknown>;
  return { socket, events, snapshot };
}

/** Every institution id an event names, wherever it sits in the payload. */
function institutionsNamed(payload: unknown, ids: string[]): string[] {
  const text = JSON.stringify(payload);
  return ids.filter((id) => text.includes(`"${id}"`));
}

describe('the console live feed (/console namespace)', () => {
  e2e('refuses a connection without a valid token', async ({ cohort }) => {
    const fed = await cohort.federation(1);
    const socket = cohort.track(
      io(`${fed.coordinator.url}/console`, {
        auth: { token: 'cohort_not-a-real-token-000000000000000000000000' },
        transports: ['websocket'],
        reconnection: false,
      }),
    );
    const err = await new Promise<Error & { data?: { code: string } }>((resolve) => socket.once('connect_error', resolve));
    expect(err.data?.code).toBe('UNAUTHENTICATED');
  });

  e2e('forwards the round runner to staff consoles in full and to an institution console only its own events', async ({ cohort }) => {
    const fed = await cohort.federation(2);
    const { store, federation, url } = fed.coordinator;
    const auditor = await openConsole(cohort, url, createApiToken(store, { role: 'auditor' }, 'test').token, federation);
    const site1 = await openConsole(
      cohort,
      url,
      createApiToken(store, { role: 'institution', institution: 'site-1' }, 'test').token,
      federation,
    );
    expect(auditor.snapshot).toMatchObject({ ok: true, federation, principal: { role: 'auditor' }, round: { round: 1, state: 'waiting' } });
    expect(site1.snapshot).toMatchObject({ ok: true, principal: { role: 'institution', institution: 'site-1' } });

    const agents = [0, 1].map((i) => cohort.agent(fed, i));
    await Promise.all(agents.map((a) => a.done));
    agents.forEach((a) => a.close());
    await new Promise((r) => setTimeout(r, 1_000));

    const names = (c: Console) => new Set(c.events.map((e) => e.name));
    for (const name of ['round:started', 'update:accepted', 'round:published', 'round:updated', 'federation:complete', 'agents:online']) {
      expect(names(auditor), name).toContain(name);
      expect(names(site1), name).toContain(name);
    }
    const ids = ['site-1', 'site-2'];
    expect(new Set(auditor.events.flatMap((e) => institutionsNamed(e.payload, ids)))).toEqual(new Set(ids));
    expect(site1.events.flatMap((e) => institutionsNamed(e.payload, ids)).filter((id) => id !== 'site-1')).toEqual([]);
    expect(site1.events.filter((e) => e.name === 'update:accepted')).toHaveLength(2);
    expect(auditor.events.filter((e) => e.name === 'update:accepted')).toHaveLength(4);
    const lastUpdate = site1.events.filter((e) => e.name === 'round:updated').at(-1)?.payload;
    expect(lastUpdate).toMatchObject({
      round: 2,
      state: 'published',
      selected: 2,
      accepted: 2,
      participations: [{ institution: 'site-1', status: 'accepted' }],
    });
  });

  e2e('serves the console page, its assets, Chart.js and the socket.io client without internet', async ({ cohort }) => {
    const fed = await cohort.federation(1);
    const { url } = fed.coordinator;
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`);
      return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
    };
    const page = await get('/console');
    expect(page.status).toBe(200);
    expect(page.body).toContain('/console/assets/app.js');
    expect((await get('/console/assets/app.js')).type).toMatch(/javascript/);
    const chart = await get('/console/vendor/chart.umd.js');
    expect(chart.status).toBe(200);
    expect(chart.body.length).toBeGreaterThan(100_000);
    expect((await get('/socket.io/socket.io.esm.min.js')).status).toBe(200);
    expect((await get('/console/assets/..%2F..%2Froutes.ts')).status).toBe(404);
    expect((await get('/console/assets/nothing.js')).status).toBe(404);
  });
});
