/** Audit entries for traffic that has not authenticated: written under the remote address, at most two per address, kind and window. */
import { Windows } from './windows.js';

/** What one refusal of unauthenticated traffic says; `claimedInstitution` is only what the client claimed. */
export interface AddressEvent {
  code: string;
  message: string;
  claimedInstitution?: string;
  event?: string;
}

interface OpenWindow {
  kind: string;
  actor: string;
  address: string;
  count: number;
  codes: Record<string, number>;
  claimed: Set<string>;
  firstAt: string;
  lastAt: string;
}

/** How many distinct claimed institution ids a window's summary lists. */
const CLAIMS_KEPT = 5;

/**
 * Before authentication nobody has proved who they are, so an entry is attributed to `address:<ip>` and the id the
 * client claimed stays data. The first refusal of a kind from an address is written at once; the rest of its window
 * is counted and written as one summary entry (`repeated`, counts by code, up to five claimed ids) when the window ends.
 * @example const a = new AddressAudit(60_000, (kind, actor, data) => store.appendAudit({ ... })); a.record('connection.refused', '10.0.0.9', { code: 'BAD_SIGNATURE', message: '...', claimedInstitution: 'site-1' })
 */
export class AddressAudit {
  private readonly windows: Windows<OpenWindow>;

  constructor(
    private readonly windowMs: number,
    private readonly write: (kind: string, actor: string, data: Record<string, unknown>) => void,
    maxOpen = 10_000,
  ) {
    this.windows = new Windows(windowMs, (w) => this.summarise(w), maxOpen);
  }

  /** Records one refusal of unauthenticated traffic from `address`. */
  record(kind: string, address: string, event: AddressEvent): void {
    const actor = `address:${address}`;
    const now = new Date().toISOString();
    const opened = this.windows.hit(
      `${kind}\u0000${actor}`,
      () => ({ kind, actor, address, count: 0, codes: {}, claimed: new Set(), firstAt: now, lastAt: now }),
      (held) => {
        held.count++;
        held.lastAt = now;
        held.codes[event.code] = (held.codes[event.code] ?? 0) + 1;
        if (event.claimedInstitution !== undefined && held.claimed.size < CLAIMS_KEPT) held.claimed.add(event.claimedInstitution);
      },
    );
    if (opened) this.write(kind, actor, { ...event, address });
  }

  /** Writes every open window's summary now (at shutdown). */
  flushAll(): void {
    this.windows.flushAll();
  }

  private summarise(w: OpenWindow): void {
    if (w.count === 0) return;
    this.write(w.kind, w.actor, {
      address: w.address,
      repeated: w.count,
      codes: w.codes,
      claimedInstitutions: [...w.claimed],
      windowMs: this.windowMs,
      firstAt: w.firstAt,
      lastAt: w.lastAt,
    });
  }
}
