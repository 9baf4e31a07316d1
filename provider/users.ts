import { errors, type Account } from 'oidc-provider';

export interface User {
  username: string;
  /** Auth0-style subject identifier. */
  sub: string;
  email: string;
  name: string;
}

export const USERS: readonly User[] = [
  { username: 'alice', sub: 'auth0|alice', email: 'alice@example.com', name: 'Alice Example' },
  { username: 'bob', sub: 'auth0|bob', email: 'bob@example.com', name: 'Bob Example' },
];

/** Most generated test users (IDP_TEST_USERS). */
export const MAX_TEST_USERS = 10_000;

/** Generated users `user1`..`userN` (IDP_TEST_USERS, dev-only): many distinct users for load and fault tests. */
let testUsers: readonly User[] = [];

/** The user `userN` that IDP_TEST_USERS generates (user1@example.com, sub auth0|user1). */
export function testUser(n: number): User {
  return { username: `user${n}`, sub: `auth0|user${n}`, email: `user${n}@example.com`, name: `Test User ${n}` };
}

/** Adds the generated users `user1`..`user<count>` (only ever more: one list per process). */
export function addTestUsers(count: number): void {
  if (count > testUsers.length) testUsers = Array.from({ length: count }, (_, i) => testUser(i + 1));
}

function allUsers(): readonly User[] {
  return testUsers.length === 0 ? USERS : [...USERS, ...testUsers];
}

export function findUserBySub(sub: string): User | undefined {
  return allUsers().find((u) => u.sub === sub);
}

/** Finds a user by user name, e-mail (case-insensitive) or sub. */
export function findUser(identifier: string): User | undefined {
  const needle = identifier.trim().toLowerCase();
  return allUsers().find((u) => u.username === needle || u.email === needle || u.sub.toLowerCase() === needle);
}

const withoutTrailingSlash = (s: string) => s.replace(/\/+$/, '');

/**
 * CIBA `login_hint` → account id (sub). Accepts a user name, an e-mail, or Auth0's
 * `{"format":"iss_sub","iss":"<issuer>/","sub":"..."}` (iss with or without trailing slash).
 * Returning undefined makes oidc-provider answer `unknown_user_id`.
 */
export function resolveLoginHint(loginHint: string, issuer: string): string | undefined {
  if (!loginHint.trim().startsWith('{')) return findUser(loginHint)?.sub;

  let hint: unknown;
  try {
    hint = JSON.parse(loginHint);
  } catch {
    throw new errors.InvalidRequest('login_hint is neither a user identifier nor valid JSON');
  }
  const { format, iss, sub } = (hint ?? {}) as Record<string, unknown>;
  if (format !== 'iss_sub' || typeof iss !== 'string' || typeof sub !== 'string') {
    throw new errors.InvalidRequest('a JSON login_hint must be {"format":"iss_sub","iss":"...","sub":"..."}');
  }
  if (withoutTrailingSlash(iss) !== withoutTrailingSlash(issuer)) {
    throw new errors.InvalidRequest('login_hint iss does not match this issuer');
  }
  return findUserBySub(sub)?.sub;
}

/** oidc-provider findAccount: claims are filtered by the granted scopes (openid/email/profile). */
export function findAccount(sub: string): Account | undefined {
  const user = findUserBySub(sub);
  if (!user) return undefined;
  return {
    accountId: user.sub,
    claims: () => ({ sub: user.sub, email: user.email, email_verified: true, name: user.name }),
  };
}
