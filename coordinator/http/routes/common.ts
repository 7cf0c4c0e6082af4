/** Pieces every route definition shares: the bearer security requirement and the error responses. */
import { createRoute, type z } from '@hono/zod-openapi';
import { ANY_ROLE, allow } from '../auth.js';
import { ErrorSchema } from '../schemas.js';

export const BEARER = [{ Bearer: [] }];

/** A JSON response with its schema. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });

const error = (description: string) => json(ErrorSchema, description);

/** The errors any authenticated route may answer with. */
export const AUTH_ERRORS = {
  401: error('no token, or a malformed, unknown or revoked one (UNAUTHENTICATED)'),
  403: error("the token's role may not use this route (FORBIDDEN)"),
  429: error('too many failed authentications from this address (RATE_LIMITED)'),
} as const;

export const NOT_FOUND = { 404: error('no such federation, round, institution or model (NOT_FOUND)') } as const;
export const BAD_REQUEST = { 400: error('the request failed validation (BAD_REQUEST)') } as const;
export const CONFLICT = { 409: error('it already exists (DUPLICATE)') } as const;
export const TOO_LARGE = { 413: error('the request body is over the size limit (PAYLOAD_TOO_LARGE)') } as const;
export const SERVER_ERROR = { 500: error('the model file failed its digest check (CORRUPT_PAYLOAD)') } as const;

/**
 * A GET route every role may read: bearer auth, path parameters, `schema` on 200, and the usual 400/401/403/404/429.
 * @example app.openapi(readRoute({ tags, path: '/api/federations/{id}', summary: 'A federation', params: FederationParams, schema: FederationSchema }), handler)
 */
export const readRoute = <P extends z.ZodObject, T extends z.ZodType>(r: {
  tags: string[];
  path: string;
  summary: string;
  params: P;
  schema: T;
}) =>
  createRoute({
    method: 'get',
    path: r.path,
    tags: r.tags,
    summary: r.summary,
    security: BEARER,
    middleware: [allow(...ANY_ROLE)],
    request: { params: r.params },
    responses: { 200: json(r.schema, r.summary), ...BAD_REQUEST, ...AUTH_ERRORS, ...NOT_FOUND },
  });
