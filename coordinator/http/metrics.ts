/** The coordinator's state as Prometheus metrics (text exposition format 0.0.4), computed from the store on each scrape. */
import { ROUND_STATES } from '../store/round-states.js';
import type { ApiDeps } from './context.js';

type Sample = [labels: Record<string, string>, value: number];

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function family(name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escape(v)}"`)
      .join(',');
    lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
  }
  return lines.join('\n');
}

/**
 * Every federation's rounds by state, accepted and refused updates, bytes uploaded, institutions
 * enrolled and online, audit entries, and this process's memory.
 * @example const text = prometheusMetrics(deps) // "# HELP cohort_rounds ..."
 */
export function prometheusMetrics(deps: ApiDeps): string {
  const { store } = deps;
  const rounds: Sample[] = [];
  const updates: Sample[] = [];
  const bytes: Sample[] = [];
  const enrolled: Sample[] = [];
  const online: Sample[] = [];
  const models: Sample[] = [];
  for (const fed of store.listFederations()) {
    const byState = new Map<string, number>(ROUND_STATES.map((s): [string, number] => [s, 0]));
    for (const r of store.listRounds(fed.id)) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
    for (const [state, n] of byState) rounds.push([{ federation: fed.id, state }, n]);
    const byStatus = new Map<string, number>([
      ['accepted', 0],
      ['refused', 0],
    ]);
    let uploaded = 0;
    for (const p of store.listParticipations(fed.id)) {
      if (p.status === 'accepted' || p.status === 'refused') byStatus.set(p.status, (byStatus.get(p.status) ?? 0) + 1);
      uploaded += p.bytes ?? 0;
    }
    for (const [status, n] of byStatus) updates.push([{ federation: fed.id, status }, n]);
    bytes.push([{ federation: fed.id }, uploaded]);
    const institutions = store.listInstitutions(fed.id);
    for (const status of ['active', 'suspended'])
      enrolled.push([{ federation: fed.id, status }, institutions.filter((i) => i.status === status).length]);
    online.push([{ federation: fed.id }, deps.online(fed.id).length]);
    models.push([{ federation: fed.id }, store.listModels(fed.id).length]);
  }
  const mem = process.memoryUsage();
  return `${[
    family('cohort_rounds', 'gauge', 'Rounds by state.', rounds),
    family('cohort_updates_total', 'counter', 'Model updates received, by outcome (accepted or refused).', updates),
    family('cohort_upload_bytes_total', 'counter', 'Bytes of model updates the institutions uploaded.', bytes),
    family('cohort_institutions', 'gauge', 'Enrolled institutions by status.', enrolled),
    family('cohort_institutions_online', 'gauge', 'Institutions connected now.', online),
    family('cohort_models', 'gauge', 'Stored model versions (the initial model included).', models),
    family('cohort_audit_entries', 'gauge', 'Events in the audit chain.', [[{}, store.countAudit()]]),
    family('process_resident_memory_bytes', 'gauge', 'Resident set size of the coordinator process.', [[{}, mem.rss]]),
    family('process_heap_used_bytes', 'gauge', 'V8 heap in use.', [[{}, mem.heapUsed]]),
    family('process_uptime_seconds', 'gauge', 'Seconds since the API started.', [[{}, (Date.now() - deps.startedAt) / 1000]]),
  ].join('\n')}\n`;
}
