/** The REST API: one OpenAPIHono app whose zod route schemas validate requests and generate /openapi.json. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { CohortError, PROTOCOL_VERSION } from '../../protocol/index.js';
import { authenticate } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { onError } from './errors.js';
import { FailureCounter } from './rate-limit.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerFederationRoutes } from './routes/federations.js';
import { registerModelRoutes } from './routes/models.js';
import { registerRoundRoutes } from './routes/rounds.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerSystemRoutes } from './routes/system.js';

export type { ApiDeps, ApiEnv } from './context.js';

export const DEFAULT_AUTH_FAILURE_LIMIT = { max: 20, windowMs: 60_000 };
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** The OpenAPI document's fixed part; the paths come from the registered routes. */
export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'Cohort coordinator API',
    version: String(PROTOCOL_VERSION),
    description:
      'Federation status, rounds, models, audit and predictions. Every /api route needs `Authorization: Bearer <token>` ' +
      '(`cohort tokens create`); roles: admin (everything, and the writes), auditor (reads everything), institution (its own records). ' +
      'Errors are `{ "error": { "code", "message" } }`.',
  },
};

/**
 * Builds the hono app (tested in-process with `app.request()`).
 * @example const res = await createApi(deps).request('/api/whoami', { headers: { authorization: `Bearer ${token}` } })
 */
export function createApi(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const failures = new FailureCounter(deps.authFailureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT);
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
        throw new CohortError('BAD_REQUEST', `invalid ${result.target}: ${issues}`);
      }
    },
  });
  app.onError(onError);
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.openAPIRegistry.registerComponent('securitySchemes', 'Bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'an API token from `cohort tokens create`',
  });

  const maxSize = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.use('/api/*', authenticate(deps.store, failures));
  app.use(
    '*',
    bodyLimit({
      maxSize,
      onError: () => {
        throw new CohortError('PAYLOAD_TOO_LARGE', `request bodies are limited to ${maxSize} bytes`);
      },
    }),
  );

  registerSystemRoutes(app, deps, failures);
  registerFederationRoutes(app, deps);
  registerRoundRoutes(app, deps);
  registerModelRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerStatsRoutes(app, deps);
  app.doc31('/openapi.json', OPENAPI_INFO);
  return app;
}
