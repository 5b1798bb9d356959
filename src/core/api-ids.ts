// Ids and states as the API writes them, in one place for the HTTP schemas, the services and the CLI.
// No imports: the CLI checks its arguments against these without loading the services (or Cedar).

/** Ids the configuration names: orgs, roles, principals, officers. */
export const ID_PATTERN = '^[a-z][a-z0-9_-]{0,62}$';
export const REQUEST_ID_PATTERN = '^(req|bg)_[A-Za-z0-9_-]{12}$';
export const GRANT_ID_PATTERN = '^gr_[A-Za-z0-9_-]{12}$';
export const PROPOSAL_ID_PATTERN = '^prop_[A-Za-z0-9_-]{12}$';
export const TOKEN_ID_PATTERN = '^tok_[A-Za-z0-9_-]{12}$';
/** Record and subject ids: what the platform's applications use, so they keep their ids. */
export const RECORD_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';

/** The states an access request is shown in; every one but `expired` (a pending one past its deadline) is stored. */
export const REQUEST_STATES = ['pending', 'approved', 'denied', 'expired'] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

/** The states a proposal is shown in; every one but `expired` (a pending one past its deadline) is stored. */
export const PROPOSAL_STATES = ['pending', 'applied', 'rejected', 'failed', 'expired'] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];
