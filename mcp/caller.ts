/**
 * Who calls the MCP server. Over HTTP: the subject and client of a verified access token (mcp/auth.ts). On stdio: the
 * local user who started the server, with the CLI's credentials (the `.env` of `npm run ciba`). Approvals belong to
 * the caller that started them (mcp/approval-ids.ts).
 */
import os from 'node:os';
import type { AccessTokenClaims } from '../auth/access-token';
import { ownerOf } from './approval-ids';

export interface Caller {
  /** The caller's part of approval ids: a digest of its identity. */
  owner: string;
  /** For logs: who this is, without any token. */
  label: string;
}

/** The caller of a verified access token: its issuer, `sub` and `client_id` (RFC 9068 Section 2.2). */
export function tokenCaller(claims: AccessTokenClaims): Caller {
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : '';
  return { owner: ownerOf(['token', claims.iss, sub, clientId]), label: `token sub ${sub} client ${clientId}` };
}

/** The local user running a stdio server. */
export function localCaller(user = os.userInfo().username): Caller {
  return { owner: ownerOf(['local', os.hostname(), user]), label: `local user ${user}` };
}
