/**
 * Token revocation (RFC 7009) of tokens the provider issued that never reach the agent: best effort, one pass, the
 * refresh token first. Which tokens a provider revokes is its profile's (common/provider-profile.ts); where, its
 * discovery's `revocation_endpoint`. Nothing here throws, and no token appears in what it returns: a revocation
 * that fails is reported, never turned into the approval's outcome.
 */
import { tokensToRevoke, type ProviderProfile, type RevocableToken } from '../common/provider-profile';
import { ProviderUnavailableError, TransportError, type CibaClient, type UnreturnedTokens } from './ciba-protocol';

/** What became of one token. */
export interface TokenRevocation {
  token: RevocableToken;
  result: 'revoked' | 'not_revoked';
  /** Why it was not revoked (never a token). */
  reason?: string;
  /** It failed on a transient fault (429/5xx, no answer): trying again may revoke it. */
  transient?: boolean;
}

/**
 * Revokes at the provider what `profile` says it revokes of `tokens`: one request per token, refresh token first.
 * `beforeEach` runs before each request (a heartbeat, in a long-running activity).
 */
export async function revokeAtProvider(
  ciba: Pick<CibaClient, 'revocationEndpoint' | 'revokeToken'>,
  profile: ProviderProfile,
  tokens: UnreturnedTokens,
  options: { beforeEach?: () => void } = {},
): Promise<TokenRevocation[]> {
  const { revoke, left } = tokensToRevoke(profile, tokens);
  const unrevoked: TokenRevocation[] = left.map(({ hint, reason }) => ({ token: hint, result: 'not_revoked', reason }));
  if (!revoke.length) return unrevoked;
  const notRevoked = (reason: string, transient = false): TokenRevocation[] =>
    revoke.map(({ hint }) => ({ token: hint, result: 'not_revoked', reason, ...(transient ? { transient } : {}) }));

  let endpoint: string | undefined;
  try {
    endpoint = await ciba.revocationEndpoint();
  } catch (error) {
    return [...notRevoked(`discovery failed: ${describe(error, tokens)}`, isTransient(error)), ...unrevoked];
  }
  if (!endpoint) {
    return [
      ...notRevoked('the provider advertises no revocation_endpoint (RFC 7009): nothing can be revoked'),
      ...unrevoked,
    ];
  }
  const report: TokenRevocation[] = [];
  for (const { hint, token } of revoke) {
    options.beforeEach?.();
    try {
      await ciba.revokeToken(token, hint);
      report.push({ token: hint, result: 'revoked' });
    } catch (error) {
      report.push({
        token: hint,
        result: 'not_revoked',
        reason: describe(error, tokens),
        ...(isTransient(error) ? { transient: true } : {}),
      });
    }
  }
  return [...report, ...unrevoked];
}

/** The report in a few words, for a log line or a failure message: "refresh_token revoked, access_token not (...)". */
export function describeRevocations(report: TokenRevocation[]): string {
  return report
    .map(({ token, result, reason }) =>
      result === 'revoked' ? `${token} revoked` : `${token} not revoked (${reason})`,
    )
    .join(', ');
}

function isTransient(error: unknown): boolean {
  return error instanceof ProviderUnavailableError || error instanceof TransportError;
}

/** An error's message without any of the tokens in it (a provider may echo what it was sent). */
function describe(error: unknown, tokens: UnreturnedTokens): string {
  let message = error instanceof Error ? error.message : String(error);
  for (const token of [tokens.accessToken, tokens.refreshToken]) {
    if (token) message = message.split(token).join('[token]');
  }
  return message;
}
