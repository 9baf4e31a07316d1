/**
 * The HTTP API's keys. A key is an id and a secret; callers send them as HTTP Basic credentials (`curl -u id:secret`).
 * Only a SHA-256 digest of each secret is kept in memory, and a presented secret is compared by digest in constant
 * time (an unknown id is compared against a dummy digest, so timing does not tell which ids exist). SHA-256 without a
 * salt or work factor is enough here: keys are long random strings, not passwords a person chose.
 *
 * The key id is who owns an approval: approvals started with a key are served only to that key, which the approval's
 * id names under a tag only the API can make (api/approval-ids.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Key ids: letters, digits, _ and - (they become part of approval ids, where `.` separates the parts). */
export const API_KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Secrets: at least 16 printable ASCII characters without spaces or commas (the entry separator). */
export const API_KEY_SECRET_PATTERN = /^[\x21-\x2B\x2D-\x7E]{16,256}$/;
/** An entry may give the secret's digest instead of the secret: `id:sha256:<64 hex digits>`. */
const DIGEST_PREFIX = 'sha256:';

export interface ApiKeyEntry {
  id: string;
  /** SHA-256 of the secret. */
  digest: Buffer;
}

export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Parses `id:secret` (or `id:sha256:<hex>`) entries separated by commas or whitespace. Problems name the entry by
 * position and id, never by its secret.
 */
export function parseApiKeyEntries(text: string): { entries: ApiKeyEntry[]; problems: string[] } {
  const entries: ApiKeyEntry[] = [];
  const problems: string[] = [];
  const items = text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);
  items.forEach((item, index) => {
    const colon = item.indexOf(':');
    const id = colon < 0 ? '' : item.slice(0, colon);
    const secret = colon < 0 ? '' : item.slice(colon + 1);
    const where = `entry ${index + 1}`;
    if (!API_KEY_ID_PATTERN.test(id)) {
      problems.push(`${where}: must be id:secret, the id 1 to 64 letters, digits, _ or -`);
    } else if (entries.some((entry) => entry.id === id)) {
      problems.push(`${where} ("${id}"): the id is used twice`);
    } else if (secret.startsWith(DIGEST_PREFIX) && /^[0-9a-f]{64}$/i.test(secret.slice(DIGEST_PREFIX.length))) {
      entries.push({ id, digest: Buffer.from(secret.slice(DIGEST_PREFIX.length), 'hex') });
    } else if (!API_KEY_SECRET_PATTERN.test(secret)) {
      problems.push(`${where} ("${id}"): the secret must be 16 to 256 printable characters without spaces or commas`);
    } else {
      entries.push({ id, digest: secretDigest(secret) });
    }
  });
  return { entries, problems };
}

export class ApiKeys {
  private readonly digests: ReadonlyMap<string, Buffer>;
  private readonly dummy = secretDigest(randomBytes(32).toString('base64url'));

  constructor(entries: readonly ApiKeyEntry[]) {
    this.digests = new Map(entries.map((entry) => [entry.id, entry.digest]));
  }

  /** From `id:secret` entries (throws on a malformed one, naming it without its secret). */
  static fromEntries(text: string): ApiKeys {
    const { entries, problems } = parseApiKeyEntries(text);
    if (problems.length) throw new Error(`invalid API keys: ${problems.join('; ')}`);
    return new ApiKeys(entries);
  }

  get ids(): string[] {
    return [...this.digests.keys()];
  }

  /** The SHA-256 digest of key `id`'s secret (the source of its approval id key: api/approval-ids.ts). */
  digestOf(id: string): Buffer | undefined {
    return this.digests.get(id);
  }

  /** The key id when `secret` is the secret of key `id`; undefined otherwise. Constant time in the secret. */
  verify(id: string, secret: string): string | undefined {
    const expected = this.digests.get(id);
    const matches = timingSafeEqual(secretDigest(secret), expected ?? this.dummy);
    return matches && expected !== undefined ? id : undefined;
  }

  /** The key id authenticated by an `Authorization: Basic ...` header value; undefined when there is none. */
  authenticate(authorization: string | undefined): string | undefined {
    const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return this.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
  }
}

/** A new local secret (for the local stack's dev key): 32 random bytes, base64url. */
export function generateApiKeySecret(): string {
  return randomBytes(32).toString('base64url');
}
