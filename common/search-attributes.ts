/**
 * Custom search attributes this project registers on the Temporal namespace.
 *
 * Search attributes are stored in plaintext and are NOT encrypted by the payload codec:
 * never put tokens, auth_req_ids, secrets or personal data here.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Where an approval stands: pending | approved | denied | expired | failed | cancelled. */
export const CIBA_APPROVAL_STATUS = defineSearchAttributeKey('CibaApprovalStatus', SearchAttributeType.KEYWORD);

/** Every custom search attribute, as `name -> type` for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' }> = [
  { name: CIBA_APPROVAL_STATUS.name, type: 'Keyword' },
];
