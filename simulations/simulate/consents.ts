/** Each simulated institution signs its own consent to the study, as a real site would with `cohort consent grant`. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { manifestHash, type StudyManifest, type Use } from '../../protocol/index.js';
import { signConsent, type Identity } from '../../crypto/index.js';

/**
 * Writes `path` with the institution's signed consent: training and evaluation (or `uses`), an ethics approval
 * valid for a year, the study's data categories, and at least one other institution per round.
 * @example grantSimulatedConsent(site, manifest, 'runs/x/sites/institution-1/consent.json', 5)
 */
export function grantSimulatedConsent(
  site: Identity,
  manifest: StudyManifest,
  path: string,
  institutions: number,
  uses: Use[] = ['training', 'evaluation'],
  minCellSize?: number,
  maxEpsilon?: number,
): void {
  const expires = new Date(Date.now() + 365 * 24 * 3600_000).toISOString().slice(0, 10);
  const consent = signConsent(
    {
      format: 'cohort-consent/v1',
      institution: site.id,
      federation: manifest.federation,
      manifestHash: manifestHash(manifest),
      uses,
      ethicsApproval: { reference: `SIM-IRB-${site.id}`, expires },
      dataCategories: manifest.dataCategories,
      dataResidency: 'local',
      limits: {
        requireSecureAggregation: false,
        minOtherInstitutions: institutions > 1 ? 1 : 0,
        ...(minCellSize !== undefined ? { minCellSize } : {}),
        ...(maxEpsilon !== undefined ? { maxEpsilon } : {}),
      },
      grantedAt: new Date().toISOString(),
    },
    site.signSecretKey,
  );
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(consent, null, 2)}\n`);
}

/**
 * Parses `INSTITUTION@ROUND` (the institution revokes its consent as round ROUND opens).
 * @example parseRevoke('institution-2@4') // { institution: 'institution-2', round: 4 }
 */
export function parseRevoke(text: string): { institution: string; round: number } {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)@(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1) throw new Error(`--revoke expects INSTITUTION@ROUND (e.g. institution-2@4), got "${text}"`);
  return { institution: m[1] as string, round: Number(m[2]) };
}
