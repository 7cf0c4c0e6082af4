/** Strategy parameters: validated per strategy with zod, defaults filled in, unknown names refused with the valid ones listed. */
import { z } from 'zod';
import type { Strategy } from './types.js';

/** Parameter values as they come from a federation file or `--strategy-param k=v`. */
export type StrategyParams = Readonly<Record<string, unknown>>;

/** A registered strategy: its name, what it does, its parameters, and how to make one. */
export interface StrategyDefinition {
  readonly name: string;
  readonly summary: string;
  /** The parameter names it accepts (all optional: each has a default or is derived). */
  readonly paramNames: readonly string[];
  /** A new strategy object (with fresh server-optimizer state); throws a clear Error on bad params. */
  create(params?: StrategyParams): Strategy;
}

/**
 * Validates `raw` against `schema`: unknown names first (listing the valid ones), then values.
 * @example parseParams('fedavgm', z.object({ lr: z.number().default(1) }), { lr: 0.5 }) // { lr: 0.5 }
 */
export function parseParams<S extends z.ZodObject>(name: string, schema: S, raw: StrategyParams): z.output<S> {
  const valid = Object.keys(schema.shape);
  const unknown = Object.keys(raw).filter((key) => !valid.includes(key));
  if (unknown.length > 0) {
    const accepted = valid.length > 0 ? `valid parameters: ${valid.join(', ')}` : 'it takes no parameters';
    throw new Error(
      `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} for strategy "${name}"; ${accepted}`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(params)'}: ${issue.message}`).join('; ');
    throw new Error(`invalid parameters for strategy "${name}": ${detail}`);
  }
  return parsed.data;
}

/**
 * Declares a strategy from its params schema and a builder.
 * @example export const fedAvgM = defineStrategy('fedavgm', 'server momentum', schema, (p) => createFedAvgM(p));
 */
export function defineStrategy<S extends z.ZodObject>(
  name: string,
  summary: string,
  schema: S,
  build: (params: z.output<S>) => Strategy,
): StrategyDefinition {
  return Object.freeze({
    name,
    summary,
    paramNames: Object.freeze(Object.keys(schema.shape)),
    create: (params: StrategyParams = {}) => build(parseParams(name, schema, params)),
  });
}

/**
 * Parses `key=value` (a CLI `--strategy-param`): numbers become numbers, anything else stays a string.
 * @example parseStrategyParam('beta1=0.8') // ['beta1', 0.8]
 */
export function parseStrategyParam(text: string): [string, number | string] {
  const eq = text.indexOf('=');
  const key = eq > 0 ? text.slice(0, eq).trim() : '';
  const value = eq > 0 ? text.slice(eq + 1).trim() : '';
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key) || value === '') throw new Error(`expected a strategy parameter as key=value, got "${text}"`);
  const n = Number(value);
  return [key, Number.isFinite(n) ? n : value];
}

/**
 * Parses a list of `key=value` into one params object; a key given twice is refused.
 * @example parseStrategyParams(['f=1', 'm=3']) // { f: 1, m: 3 }
 */
export function parseStrategyParams(texts: readonly string[]): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const text of texts) {
    const [key, value] = parseStrategyParam(text);
    if (Object.hasOwn(out, key)) throw new Error(`strategy parameter "${key}" is given twice`);
    out[key] = value;
  }
  return out;
}

/** A positive learning rate (server-side). */
export const serverLr = (fallback: number) => z.number().positive().max(1000).default(fallback);
/** A decay rate in [0, 1). */
export const decay = (fallback: number) => z.number().min(0).lt(1).default(fallback);
