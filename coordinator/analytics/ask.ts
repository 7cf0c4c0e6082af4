/** Asks sites at once over their sessions: an answer counts only when it parses, is signed by the site and answers this query (audited). */
import { StatsReplySchema, type StatsAnswerBody, type StatsQuery } from '../../protocol/index.js';
import { verifyDocument } from '../../crypto/index.js';

export interface StatsDeps {
  federation: string;
  /** Sites to ask (online, consent covering analytics) and those left out with the reason. */
  eligible(): { ask: string[]; skip: Record<string, { code: string; message: string }> };
  /** Sends the query to a site's session and resolves with its acknowledgement (rejects on timeout or disconnect). */
  send(site: string, query: StatsQuery, timeoutMs: number): Promise<unknown>;
  /** The site's enrolled Ed25519 public key. */
  signKey(site: string): Uint8Array | undefined;
  audit(kind: string, data: Record<string, unknown>, subject?: string): void;
}

export type Answers = { bodies: Map<string, StatsAnswerBody>; refused: Record<string, { code: string; message: string }> };

const MAX_AUDITED_ANSWER = 64 * 1024;

/** Asks every site at once; an answer counts only when it parses, is signed by the site's key and answers this query. */
export async function askAll(deps: StatsDeps, sites: readonly string[], query: StatsQuery, timeoutMs: number): Promise<Answers> {
  const bodies = new Map<string, StatsAnswerBody>();
  const refused: Answers['refused'] = {};
  await Promise.all(
    sites.map(async (site) => {
      const raw = await deps
        .send(site, query, timeoutMs)
        .catch((err: Error) => ({ ok: false, error: { code: 'NO_ANSWER', message: `no answer in ${timeoutMs} ms: ${err.message}` } }));
      const parsed = StatsReplySchema.safeParse(raw);
      let refusal: { code: string; message: string } | undefined;
      if (!parsed.success) refusal = { code: 'BAD_REQUEST', message: `malformed answer: ${parsed.error.issues[0]?.message ?? ''}` };
      else if (!parsed.data.ok) refusal = parsed.data.error;
      else {
        const { body, signature } = parsed.data;
        const key = deps.signKey(site);
        if (!key || !verifyDocument(body, signature, key))
          refusal = { code: 'BAD_SIGNATURE', message: 'the answer is not signed by the site' };
        else if (body.queryId !== query.id || body.institution !== site || body.federation !== deps.federation)
          refusal = { code: 'BAD_REQUEST', message: 'the answer is for another query, site or federation' };
        else {
          bodies.set(site, body);
          const size = JSON.stringify(body).length;
          deps.audit(
            'stats.answer',
            {
              queryId: query.id,
              phase: query.ask.phase,
              minCellSize: body.minCellSize,
              signature,
              ...(size <= MAX_AUDITED_ANSWER ? { answer: body } : { answerBytes: size }),
            },
            site,
          );
        }
      }
      if (refusal) {
        refused[site] = refusal;
        deps.audit('stats.refused', { queryId: query.id, phase: query.ask.phase, ...refusal }, site);
      }
    }),
  );
  return { bodies, refused };
}
