/** Who a console is: the role and institution an API token resolves to, and the check that reads it at connect. */
import { z } from 'zod';

export type ConsoleRole = 'admin' | 'auditor' | 'institution';

/** What a valid API token resolves to; `institution` is set for the institution role only. */
export interface ConsolePrincipal {
  role: ConsoleRole;
  institution: string | null;
  tokenId?: string;
}

/**
 * Resolves a bearer token to its principal, or null when it is unknown, revoked or expired.
 * Provided by the API's token store; the console never sees how tokens are kept.
 */
export type VerifyToken = (token: string) => ConsolePrincipal | null | undefined | Promise<ConsolePrincipal | null | undefined>;

/** The console's socket.io handshake: `io('/console', { auth: { token } })`. */
export const ConsoleAuthSchema = z.object({ token: z.string().min(1).max(512) });

/** What a console asks to follow. */
export const ConsoleSubscribeSchema = z.object({ federation: z.string().min(1).max(128) });
