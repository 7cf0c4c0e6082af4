/** Policies and consent: what gates enrolment, selection, updates and publication. */
export { PolicySchema, defaultPolicy, parsePolicy, policyHash, type Policy, type PolicyInput } from './policy.js';
export { ConsentRegistry, type Eligibility } from './consent-registry.js';
export {
  consentRules,
  enrolmentRules,
  median,
  medianAccuracy,
  publicationRules,
  selectionRules,
  siteScores,
  updateRules,
  type ContributorConsent,
  type SiteMetric,
  type PublicationFacts,
  type RuleDecision,
} from './rules.js';
