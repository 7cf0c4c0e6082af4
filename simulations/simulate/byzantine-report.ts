/** The part of a simulation's report about its malicious sites: who attacked, what the coordinator refused, whether the model survived. */

/** One update the coordinator refused. */
export interface Refusal {
  round: number;
  institution: string;
  code: string;
}

export interface ByzantineReport {
  /** The malicious institutions and the attack each ran. */
  malicious: { institution: string; attack: string }[];
  /** Every refused update, malicious or not, with its code. */
  refused: (Refusal & { malicious: boolean })[];
  /** Updates of malicious sites the coordinator accepted (they reached the aggregate). */
  maliciousAccepted: { round: number; institution: string }[];
  /** Refused honest updates (false positives of the defences). */
  honestRefused: number;
  /** The final model's accuracy on the held-out test set, and whether it is at least twice chance (1 / classes). */
  finalAccuracy: number;
  survived: boolean;
}

/**
 * Sorts a run's refusals and acceptances by who was malicious.
 * @example byzantineReport({ attackers: new Map([[4, 'constant=1e30']]), refusals, accepted, finalAccuracy: 0.9, classes: ['0', '1'] })
 */
export function byzantineReport(p: {
  attackers: ReadonlyMap<number, string>;
  refusals: readonly Refusal[];
  accepted: readonly { round: number; institution: string }[];
  finalAccuracy: number;
  classes: readonly string[];
}): ByzantineReport {
  const malicious = [...p.attackers].sort((a, b) => a[0] - b[0]).map(([i, attack]) => ({ institution: `institution-${i + 1}`, attack }));
  const bad = new Set(malicious.map((m) => m.institution));
  const refused = p.refusals.map((r) => ({ ...r, malicious: bad.has(r.institution) }));
  return {
    malicious,
    refused,
    maliciousAccepted: p.accepted.filter((a) => bad.has(a.institution)).map(({ round, institution }) => ({ round, institution })),
    honestRefused: refused.filter((r) => !r.malicious).length,
    finalAccuracy: p.finalAccuracy,
    survived: p.finalAccuracy >= 2 / Math.max(1, p.classes.length),
  };
}

/**
 * The report's lines for the console.
 * @example say(formatByzantine(report))
 */
export function formatByzantine(r: ByzantineReport): string {
  const lines = [`Malicious sites: ${r.malicious.map((m) => `${m.institution} (${m.attack})`).join(', ')}`];
  const byRound = new Map<number, string[]>();
  for (const x of r.refused)
    byRound.set(x.round, [...(byRound.get(x.round) ?? []), `${x.institution}${x.malicious ? '' : ' (honest)'} ${x.code}`]);
  if (byRound.size === 0) lines.push('  the coordinator refused no update');
  for (const [round, what] of [...byRound].sort((a, b) => a[0] - b[0])) lines.push(`  round ${round}: refused ${what.join(', ')}`);
  lines.push(`  malicious updates accepted: ${r.maliciousAccepted.length}; honest updates refused: ${r.honestRefused}`);
  lines.push(
    `  final model: accuracy ${r.finalAccuracy.toFixed(4)} on the test set, ${r.survived ? 'survived' : 'DID NOT SURVIVE'} (at least twice chance)`,
  );
  return lines.join('\n');
}
