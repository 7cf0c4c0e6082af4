/** One line about a user model for the simulation's header: parameters that travel, stay frozen, stay local, and its base pin. */
import { parameterCount, totalParameterCount, type ModelSpec } from '../../protocol/index.js';

/**
 * How a 'layers' spec's parameters split by role, for people.
 * @example describeUserModel(spec) // '12,345 parameters: 12,000 trained and sent, 345 frozen (base 3f1c2a…), 0 local'
 */
export function describeUserModel(spec: ModelSpec): string {
  const layers = spec.layers;
  if (!layers) return `${spec.arch}, ${parameterCount(spec).toLocaleString('en')} parameters`;
  const count = (role: string) => layers.tensors.filter((t) => t.role === role).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const pin = layers.baseHash ? ` (base ${layers.baseHash.slice(0, 12)}…)` : '';
  return `${totalParameterCount(spec).toLocaleString('en')} parameters: ${parameterCount(spec).toLocaleString('en')} trained and sent, ${count('frozen').toLocaleString('en')} frozen${pin}, ${count('local').toLocaleString('en')} local${layers.fedbn ? ' (FedBN)' : ''}`;
}
