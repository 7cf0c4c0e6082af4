/** `cohort consent grant|revoke|show`: an institution's signed consent to a study, kept at the site and presented by its agent. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import {
  SignedConsentSchema,
  SignedRevocationSchema,
  StudyManifestSchema,
  USES,
  manifestHash,
  type ConsentBody,
  type StudyManifest,
  type Use,
} from '../../protocol/index.js';
import {
  consentHash,
  readIdentityFile,
  readPublicIdentityFile,
  signConsent,
  signRevocation,
  verifyConsent,
  verifyRevocation,
} from '../../crypto/index.js';
import { revocationPath } from '../mods/consent-guard.js';
import { ledgerPath, ledgerSpent, readLedger } from '../privacy-ledger.js';
import { plannedEpsilon } from '../mods/dp-terms.js';
import { int, positive } from '../../protocol/cli/options.js';
import { assertNotExpired, describeStudy, minOthersWarning } from './study-summary.js';

/** Reads a study manifest from a file or from the coordinator's REST API (with an API token: --token or COHORT_TOKEN). */
async function loadManifest(source: string, token?: string): Promise<StudyManifest> {
  let text: string;
  if (isUrl(source)) {
    const res = await fetch(source, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    text = await res.text();
    if (!res.ok)
      throw new Error(
        `${source} answered ${res.status}: ${text.slice(0, 300)}${res.status === 401 ? ' (pass --token or set COHORT_TOKEN)' : ''}`,
      );
  } else {
    text = readFileSync(source, 'utf8');
  }
  const json = JSON.parse(text) as { manifest?: unknown };
  return StudyManifestSchema.parse(json.manifest ?? json);
}

const isUrl = (source: string): boolean => /^https?:\/\//.test(source);

/** What the site's own ledger (beside the consent) says it spent under DP, and what is left of its budget. */
function ledgerLine(consentFile: string, maxEpsilon: number | undefined): string {
  let entries;
  try {
    entries = readLedger(ledgerPath(consentFile));
  } catch (err) {
    return `UNREADABLE ${ledgerPath(consentFile)} (${(err as Error).message.slice(0, 200)}): the agent refuses DP tasks until it is repaired`;
  }
  const last = entries.at(-1);
  if (!last) return `no contributions under differential privacy yet${maxEpsilon ? ` (budget epsilon ${maxEpsilon})` : ''}`;
  const spent = ledgerSpent(entries, last.delta);
  const budget = maxEpsilon ?? last.budget;
  const rounds = entries.map((e) => (e.query ? `stats ${e.query.slice(0, 8)}` : e.round)).join(', ');
  return `${entries.length} contributions (rounds ${rounds}), epsilon spent ${spent.toFixed(4)} of ${budget} (remaining ${Math.max(0, budget - spent).toFixed(4)}, delta ${last.delta})`;
}

/** The consent's limits from the grant flags. */
function consentLimits(o: {
  requireSecagg: boolean;
  minOthers: number;
  maxEpsilon?: number;
  minCell?: number;
  analyticsEpsilon?: number;
}): ConsentBody['limits'] {
  return {
    requireSecureAggregation: o.requireSecagg,
    minOtherInstitutions: o.minOthers,
    ...(o.maxEpsilon ? { maxEpsilon: o.maxEpsilon } : {}),
    ...(o.minCell ? { minCellSize: o.minCell } : {}),
    ...(o.analyticsEpsilon ? { analyticsEpsilon: o.analyticsEpsilon } : {}),
  };
}

export function consentCommand(): Command {
  const cmd = new Command('consent').description("an institution's signed consent to a study (site side)");
  cmd
    .command('grant')
    .description('sign a consent to a study manifest with the institution key')
    .requiredOption('--key <file>', "the institution's private key file")
    .requiredOption('--study <file|url>', 'the study manifest (a file, or http://COORDINATOR/api/federations/ID/study)')
    .requiredOption('--ethics-ref <reference>', 'ethics approval reference (IRB or ethics-committee number)')
    .requiredOption('--expires <YYYY-MM-DD>', "the ethics approval's expiry date")
    .option('--uses <list>', `allowed uses: ${USES.join(',')}`, 'training,evaluation')
    .option('--data-categories <list>', "data categories the site contributes (default: the study's)")
    .option('--residency <tag>', 'where the data resides (jurisdiction tag, e.g. EU)', 'unspecified')
    .option('--max-epsilon <e>', 'the most differential-privacy epsilon the site will spend', positive)
    .option('--require-secagg', 'require secure aggregation', false)
    .option('--min-others <n>', 'fewest other institutions in any round the site joins', int(0), 1)
    .option('--min-cell <k>', 'analytics: the smallest count the site reveals (default 5 when --uses has analytics)', int(1))
    .option('--analytics-epsilon <e>', 'analytics: DP noise on every count answer, epsilon <= e per query', positive)
    .option('--out <file>', 'where to write the signed consent', 'consent.json')
    .option('--token <token>', 'API token for a --study URL (default: $COHORT_TOKEN)')
    .action(
      async (o: {
        token?: string;
        key: string;
        study: string;
        ethicsRef: string;
        expires: string;
        uses: string;
        dataCategories?: string;
        residency: string;
        maxEpsilon?: number;
        requireSecagg: boolean;
        minOthers: number;
        minCell?: number;
        analyticsEpsilon?: number;
        out: string;
      }) => {
        assertNotExpired(o.expires, new Date());
        const identity = readIdentityFile(o.key);
        const token = o.token ?? process.env.COHORT_TOKEN;
        const manifest = await loadManifest(o.study, token);
        const dpTerms = manifest.privacy.dp;
        if (dpTerms && dpTerms.epsilon < plannedEpsilon(dpTerms, manifest.rounds) * (1 - 1e-9)) {
          throw new Error(
            `the study states epsilon ${dpTerms.epsilon}, but ${manifest.rounds} rounds of its DP terms spend ${plannedEpsilon(dpTerms, manifest.rounds).toPrecision(6)}: not signing`,
          );
        }
        const enrolled = manifest.institutions.map((i) => i.id);
        // Informed consent: what the site agrees to, printed before it signs.
        process.stdout.write(
          `${identity.id} consents to this study:\n${describeStudy(manifest, enrolled)
            .map((l) => `  ${l}`)
            .join('\n')}\n`,
        );
        const warning = minOthersWarning(o.minOthers, enrolled);
        if (warning) process.stderr.write(`${warning}\n`);
        const consent = signConsent(
          {
            format: 'cohort-consent/v1',
            institution: identity.id,
            federation: manifest.federation,
            manifestHash: manifestHash(manifest),
            uses: o.uses.split(',').map((u) => u.trim()) as Use[],
            ethicsApproval: { reference: o.ethicsRef, expires: o.expires },
            dataCategories: o.dataCategories ? o.dataCategories.split(',').map((c) => c.trim()) : manifest.dataCategories,
            dataResidency: o.residency,
            limits: consentLimits(o),
            grantedAt: new Date().toISOString(),
          },
          identity.signSecretKey,
        );
        writeFileSync(o.out, `${JSON.stringify(consent, null, 2)}\n`);
        process.stdout.write(
          `consent to "${manifest.title}" (manifest ${manifestHash(manifest).slice(0, 16)}…) signed by ${identity.id}: ${o.out}\n`,
        );
      },
    );
  cmd
    .command('revoke')
    .description('withdraw a consent (takes effect from the next round; the agent refuses tasks at once)')
    .requiredOption('--key <file>', "the institution's private key file")
    .requiredOption('--consent <file>', 'the consent to withdraw')
    .option('--reason <text>', 'why', 'withdrawn by the institution')
    .action((o: { key: string; consent: string; reason: string }) => {
      const identity = readIdentityFile(o.key);
      const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(o.consent, 'utf8')));
      if (!verifyConsent(consent, identity.signPublicKey)) throw new Error(`${o.consent} is not signed by ${identity.id}'s key`);
      const path = revocationPath(o.consent);
      writeFileSync(path, `${JSON.stringify(signRevocation(consent, o.reason, identity.signSecretKey), null, 2)}\n`);
      process.stdout.write(
        `consent ${consentHash(consent).slice(0, 16)}… revoked: ${path} (a running agent presents it at its next task)\n`,
      );
    });
  cmd
    .command('show')
    .description('show a consent, check its signature, and say whether it is in force')
    .argument('<file>', 'the consent file')
    .option('--key <pubfile>', "the institution's public key file, to check the signature")
    .option('--study <file|url>', 'the study manifest the consent was given to: shows what the site agreed to, and checks the hash')
    .option('--token <token>', 'API token for a --study URL (default: $COHORT_TOKEN)')
    .action(async (file: string, o: { key?: string; study?: string; token?: string }) => {
      const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      const b = consent.body;
      const lines = [
        `institution:     ${b.institution}`,
        `federation:      ${b.federation}`,
        `study manifest:  ${b.manifestHash}`,
        `uses:            ${b.uses.join(', ')}`,
        `ethics approval: ${b.ethicsApproval.reference}, expires ${b.ethicsApproval.expires}`,
        `data:            ${b.dataCategories.join(', ')} (resides in ${b.dataResidency})`,
        `limits:          secure aggregation ${b.limits.requireSecureAggregation ? 'required' : 'not required'}, at least ${b.limits.minOtherInstitutions} other institutions${b.limits.maxEpsilon ? `, epsilon <= ${b.limits.maxEpsilon}` : ''}${b.limits.minCellSize ? `, analytics cells >= ${b.limits.minCellSize}` : ''}${b.limits.analyticsEpsilon ? `, analytics epsilon <= ${b.limits.analyticsEpsilon} per query` : ''}`,
        `granted:         ${b.grantedAt}`,
        `consent hash:    ${consentHash(consent)}`,
      ];
      const pub = o.key ? readPublicIdentityFile(o.key) : undefined;
      if (pub) lines.push(`signature:       ${verifyConsent(consent, pub.signPublicKey) ? 'valid' : 'INVALID'} (${pub.id})`);
      const rPath = revocationPath(file);
      let status = Date.parse(`${b.ethicsApproval.expires}T23:59:59.999Z`) < Date.now() ? 'EXPIRED' : 'in force';
      if (existsSync(rPath)) {
        const r = SignedRevocationSchema.parse(JSON.parse(readFileSync(rPath, 'utf8')));
        const valid = pub ? verifyRevocation(r, consent, pub.signPublicKey) : r.body.consentHash === consentHash(consent);
        if (valid) status = `REVOKED at ${r.body.revokedAt} (${r.body.reason})`;
      }
      lines.push(`status:          ${status}`, `privacy ledger:  ${ledgerLine(file, b.limits.maxEpsilon)}`);
      if (o.study) {
        const manifest = await loadManifest(o.study, o.token ?? process.env.COHORT_TOKEN);
        const matches = manifestHash(manifest) === b.manifestHash;
        lines.push(
          `the study (${matches ? 'the manifest this consent covers' : `NOT the manifest this consent covers: its hash is ${manifestHash(manifest)}`}):`,
        );
        lines.push(
          ...describeStudy(
            manifest,
            manifest.institutions.map((i) => i.id),
          ).map((l) => `  ${l}`),
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return cmd;
}
