/** The REST API's zod schemas: they validate requests and generate the OpenAPI document at /openapi.json. */
import { z } from '@hono/zod-openapi';

const blob = (description: string) => z.unknown().openapi({ description });

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string().openapi({ example: 'FORBIDDEN' }), message: z.string() }) })
  .openapi('Error');

export const FederationParams = z.object({
  id: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'demo' }),
});
export const VersionParams = FederationParams.extend({
  version: z
    .string()
    .openapi({ param: { name: 'version', in: 'path' }, example: '3', description: 'model version, a non-negative integer' }),
});
export const RoundParams = FederationParams.extend({
  round: z.string().openapi({ param: { name: 'round', in: 'path' }, example: '1', description: 'round number, a positive integer' }),
});
export const InstitutionParams = FederationParams.extend({
  inst: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'inst', in: 'path' }, example: 'hospital-a' }),
});

const pageInt = (max: number, fallback: number) => z.coerce.number().int().min(0).max(max).default(fallback);
export const PageQuery = z.object({
  limit: pageInt(1000, 50).openapi({ description: 'at most this many items (0..1000, default 50)' }),
  offset: pageInt(Number.MAX_SAFE_INTEGER, 0).openapi({ description: 'skip this many items' }),
});
export const AuditQuerySchema = PageQuery.extend({
  kind: z.string().min(1).max(64).optional().openapi({ description: 'only events of this kind, e.g. update.accepted' }),
  q: z.string().min(1).max(200).optional().openapi({ description: 'text to find in kind, actor, subject or data (case-insensitive)' }),
  institution: z.string().min(1).max(128).optional().openapi({ description: 'only events whose actor or subject is this institution' }),
});

export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }).openapi(name);

export const HealthSchema = z
  .object({ ok: z.boolean(), protocolVersion: z.number(), uptimeMs: z.number(), coordinatorSignPublicKey: z.string() })
  .openapi('Health');

export const ReadinessSchema = z
  .object({ ready: z.boolean(), checks: z.record(z.string(), z.object({ ok: z.boolean(), problem: z.string().optional() })) })
  .openapi('Readiness');

export const WhoamiSchema = z
  .object({ role: z.enum(['admin', 'auditor', 'institution']), institution: z.string().nullable(), tokenId: z.string() })
  .openapi('Whoami');

export const FederationSummarySchema = z.object({ id: z.string(), name: z.string(), status: z.string() }).openapi('FederationSummary');

export const InstitutionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    fingerprint: z.string(),
    signPublicKey: z.string(),
    boxPublicKey: z.string(),
    status: z.enum(['active', 'suspended']),
    enrolledAt: z.number(),
    lastSeenAt: z.number().nullable(),
    online: z.boolean(),
  })
  .openapi('Institution');

export const FederationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.string(),
    spec: blob('the model spec (arch, inputShape, classes, features, normalization)'),
    config: blob('the round rules'),
    currentRound: blob('the latest round, or null').nullable(),
    roundsPublished: z.number().int(),
    institutions: z.array(z.object({ id: z.string(), fingerprint: z.string(), status: z.string(), lastSeenAt: z.number().nullable() })),
    online: z.array(z.string()),
    latestModel: z.object({ version: z.number(), digest: z.string(), round: z.number().nullable() }).nullable(),
  })
  .openapi('Federation');

export const DecisionSchema = z
  .object({
    stage: z.string(),
    rule: z.string(),
    passed: z.boolean(),
    value: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    limit: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    message: z.string(),
  })
  .openapi('PolicyDecision');

export const ParticipationSchema = z
  .object({
    institutionId: z.string(),
    status: z.string(),
    samples: z.number().nullable(),
    digest: z.string().nullable(),
    bytes: z.number().nullable(),
    metrics: blob('the site-reported training metrics').nullable(),
    code: z.string().nullable(),
    message: z.string().nullable(),
  })
  .openapi('Participation');

export const RoundSchema = z
  .object({
    round: z.number().int(),
    state: z.string(),
    baseVersion: z.number().int(),
    resultVersion: z.number().int().nullable(),
    deadline: z.number(),
    minParticipants: z.number().int(),
    selected: z.array(z.string()),
    startedAt: z.number(),
    closedAt: z.number().nullable(),
    reason: z.string().nullable(),
    metrics: blob('aggregate metrics of the round (participants, samples, losses, epsilon)').nullable(),
    policyHash: z.string().nullable(),
    decisions: z.array(DecisionSchema).nullable(),
    rulesPassed: z.number().int(),
    rulesFailed: z.number().int(),
    participations: z.array(ParticipationSchema),
  })
  .openapi('Round');

export const ModelSchema = z
  .object({
    federationId: z.string(),
    version: z.number().int(),
    round: z.number().int().nullable(),
    parentVersion: z.number().int().nullable(),
    digest: z.string(),
    specHash: z.string(),
    signature: z.string(),
    bytes: z.number().int(),
    createdAt: z.number(),
    card: blob('the signed model card').nullable(),
    cardSignature: z.string().nullable(),
  })
  .openapi('Model');

export const AuditEventSchema = z
  .object({
    id: z.number().int(),
    ts: z.number(),
    federationId: z.string().nullable(),
    kind: z.string(),
    actor: z.string(),
    subject: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    hash: z.string(),
  })
  .openapi('AuditEvent');

export const AuditVerdictSchema = z
  .object({ ok: z.boolean(), entries: z.number().int(), brokenAt: z.number().int().nullable(), reason: z.string().nullable() })
  .openapi('AuditVerdict');

export const EnrolBodySchema = z
  .object({
    format: z.literal('cohort-public-identity/v1'),
    id: z.string().min(1).max(128),
    signPublicKey: z.string().min(40).max(60),
    boxPublicKey: z.string().min(40).max(60),
    fingerprint: z.string().min(1).max(200),
  })
  .strict()
  .openapi('PublicIdentity', { description: "an institution's public identity file (cohort keys generate writes it as <id>.pub.json)" });

export const SuspendBodySchema = z
  .object({ reason: z.string().max(500).optional() })
  .strict()
  .openapi('SuspendRequest');

export const MAX_PREDICT_ROWS = 256;
export const PredictBodySchema = z
  .object({
    rows: z
      .array(z.record(z.string().max(200), z.union([z.number(), z.array(z.number()).max(1 << 16), z.string().max(1000), z.null()])))
      .min(1)
      .max(MAX_PREDICT_ROWS)
      .openapi({
        description:
          'tabular models: { featureName: number, ... } per row (raw values, as in the CSV); models with a data dictionary: { column: number | text | null, ... } (null or absent: missing); image models: { pixels: number[] }',
      }),
  })
  .strict()
  .openapi('PredictRequest');
export const PredictResponseSchema = z
  .object({ version: z.number().int(), digest: z.string(), classes: z.array(z.string()), probabilities: z.array(z.array(z.number())) })
  .openapi('PredictResponse');
