/** The last stats queries' results, kept in memory for the console's Stats page (the audit log keeps who asked what for good). */

export interface RecentQuery {
  at: number;
  actor: string;
  request: unknown;
  result: unknown;
}

/** How many results a federation keeps (the oldest is dropped first). */
export const RECENT_STATS = 20;

/**
 * A bounded list per federation, newest first.
 * @example const recent = new RecentStats(); recent.push('fed', entry); recent.list('fed')[0] === entry
 */
export class RecentStats {
  private readonly byFederation = new Map<string, RecentQuery[]>();

  push(federation: string, entry: RecentQuery): void {
    const list = [entry, ...(this.byFederation.get(federation) ?? [])].slice(0, RECENT_STATS);
    this.byFederation.set(federation, list);
  }

  list(federation: string): RecentQuery[] {
    return [...(this.byFederation.get(federation) ?? [])];
  }
}
