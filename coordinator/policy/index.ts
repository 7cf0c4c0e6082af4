/** Policies and consent: what gates enrolment, selection, updates and publication. */
export { PolicySchema, defaultPolicy, parsePolicy, policyHash, type Policy, type PolicyInput } from './policy.js';
export { enrolmentRules, publicationRules, selectionRules, updateRules, type PublicationFacts, type RuleDecision } from './rules.js';
