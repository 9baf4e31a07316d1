/**
 * Custom search attributes this project registers on the Temporal namespace: what people filter approvals on.
 *
 * Search attributes are stored in plaintext and are NOT encrypted by the payload codec:
 * never put tokens, auth_req_ids, secrets or personal data here.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Where an approval stands: initiating | pending | approved | denied | expired | failed | cancelled. */
export const CIBA_APPROVAL_STATUS = defineSearchAttributeKey('CibaApprovalStatus', SearchAttributeType.KEYWORD);

/** The provider that was asked: its issuer URL (e.g. `https://acme.eu.auth0.com/`). */
export const CIBA_PROVIDER = defineSearchAttributeKey('CibaProvider', SearchAttributeType.KEYWORD);

/** When the current ask (backchannel request) expires at the provider. */
export const CIBA_REQUEST_EXPIRES_AT = defineSearchAttributeKey('CibaRequestExpiresAt', SearchAttributeType.DATETIME);

/**
 * What the approval asks, in words, without the user ("Pay 50.00 USD to ExampleCorp"): for the UI's list, whose
 * columns are search attributes. Opt-in (CIBA_SUMMARY_SEARCH_ATTRIBUTE=true on the client that starts approvals),
 * because it puts the transaction in plaintext on the Temporal server; set at start, never changed.
 */
export const CIBA_SUMMARY = defineSearchAttributeKey('CibaSummary', SearchAttributeType.KEYWORD);

/** Every custom search attribute, as `name -> type` for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' | 'Datetime' }> = [
  { name: CIBA_APPROVAL_STATUS.name, type: 'Keyword' },
  { name: CIBA_PROVIDER.name, type: 'Keyword' },
  { name: CIBA_REQUEST_EXPIRES_AT.name, type: 'Datetime' },
  { name: CIBA_SUMMARY.name, type: 'Keyword' },
];
