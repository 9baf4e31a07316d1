/**
 * Who owns an approval started through the HTTP API (api/approval-ids.ts), and the API's settings for it and for the
 * start limit (api/config.ts). Pure: no stack.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ApprovalIds } from '../api/approval-ids';
import { loadApiConfig } from '../api/config';
import { ApiKeys } from '../api/keys';
import { ConfigError } from '../common/config';

const secretA = 'secret-of-agent-a-0123456789';
const secretB = 'secret-of-agent-b-0123456789';
const keys = ApiKeys.fromEntries(`agent-a:${secretA},agent-b:${secretB}`);
const workflowId = (key: string) => `ciba-approval-${key}`;

describe('approval ids', () => {
  it('name the key that started them, under a tag that verifies for that key only', () => {
    const ids = new ApprovalIds(keys);
    const key = ids.keyFor('agent-a', 'order-4711');
    expect(key).toMatch(/^api\.agent-a\.order-4711\.[A-Za-z0-9_-]{22}$/);
    expect(ids.owner(workflowId(key))).toBe('agent-a');
    // The same key, the same id (a retry finds its approval).
    expect(ids.keyFor('agent-a', 'order-4711')).toBe(key);
    // Another key's id for the same Idempotency-Key is another id.
    expect(ids.keyFor('agent-b', 'order-4711')).not.toBe(key);
  });

  it("own nothing by the prefix alone: no tag, a made-up tag, another key's tag, a changed part, an unknown key", () => {
    const ids = new ApprovalIds(keys);
    const key = ids.keyFor('agent-a', 'order-4711');
    const tag = key.slice(key.lastIndexOf('.') + 1);
    const tagOfB = ids.keyFor('agent-b', 'order-4711').split('.').pop()!;
    for (const forged of [
      'api.agent-a.order-4711',
      `api.agent-a.order-4711.${'A'.repeat(22)}`,
      `api.agent-a.order-4711.${tagOfB}`,
      `api.agent-b.order-4711.${tag}`,
      `api.agent-a.order-4712.${tag}`,
      `api.agent-a.order.4711.${tag}`,
      `api.nobody.order-4711.${tag}`,
      `api.agent-a..${tag}`,
      'order-4711',
    ]) {
      expect({ forged, owner: ids.owner(workflowId(forged)) }).toEqual({ forged, owner: undefined });
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (rest) => {
        expect(ids.owner(`ciba-approval-api.agent-a.${rest}`)).toBeUndefined();
      }),
      { seed: 4711, numRuns: 2000 },
    );
  });

  it('keep any Idempotency-Key: readable ones as they are, others (and long ones) by their digest', () => {
    const ids = new ApprovalIds(keys);
    for (const idempotencyKey of ['a b', 'x'.repeat(101), 'sha256:abc', 'ünïcode', '/slash/']) {
      const key = ids.keyFor('agent-a', idempotencyKey);
      expect(key).toMatch(/^api\.agent-a\.sha256:[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/);
      expect(ids.owner(workflowId(key))).toBe('agent-a');
    }
    expect(ids.keyFor('agent-a', 'x'.repeat(100))).toMatch(/^api\.agent-a\.x{100}\./);
    for (const dotted of ['.', 'a.b', 'order.', '..x..']) {
      expect(ids.owner(workflowId(ids.keyFor('agent-a', dotted)))).toBe('agent-a');
    }
    // The longest key id and readable Idempotency-Key: still a key ApprovalClient takes (200 characters of [\w.:@-]).
    const longKeyId = 'k'.repeat(64);
    const longest = new ApprovalIds(ApiKeys.fromEntries(`${longKeyId}:${secretA}`)).keyFor(longKeyId, 'x'.repeat(100));
    expect(longest).toMatch(/^[\w.:@-]{1,200}$/);
  });

  it("with CIBA_API_ID_KEY, stay the key's across a new secret; without it, a new secret orphans them", () => {
    const idSecret = randomBytes(32);
    const rotated = ApiKeys.fromEntries(`agent-a:another-secret-0123456789,agent-b:${secretB}`);
    const withSecret = new ApprovalIds(keys, idSecret).keyFor('agent-a', 'order-4711');
    expect(new ApprovalIds(rotated, idSecret).owner(workflowId(withSecret))).toBe('agent-a');
    const derived = new ApprovalIds(keys).keyFor('agent-a', 'order-4711');
    expect(new ApprovalIds(rotated).owner(workflowId(derived))).toBeUndefined();
    // Another API's secret makes other tags.
    expect(new ApprovalIds(keys, randomBytes(32)).owner(workflowId(withSecret))).toBeUndefined();
    expect(() => new ApprovalIds(keys, randomBytes(16))).toThrow(/at least 32 bytes/);
  });
});

describe('the API settings', () => {
  const base = { CIBA_API_KEYS: `agent-a:${secretA}` };

  it('default to 60 starts a minute per key and a 60 s longest wait, without an id key', () => {
    const config = loadApiConfig(base);
    expect(config).toMatchObject({ startsPerMinute: 60, maxWaitSeconds: 60, approvalIdKey: undefined });
  });

  it('read CIBA_API_ID_KEY (or its file), CIBA_API_STARTS_PER_MINUTE and CIBA_API_MAX_WAIT_SECONDS', () => {
    const idKey = randomBytes(32);
    const config = loadApiConfig({
      ...base,
      CIBA_API_ID_KEY: idKey.toString('base64'),
      CIBA_API_STARTS_PER_MINUTE: '5',
      CIBA_API_MAX_WAIT_SECONDS: '20',
    });
    expect(config).toMatchObject({ startsPerMinute: 5, maxWaitSeconds: 20 });
    expect(config.approvalIdKey?.equals(idKey)).toBe(true);

    const dir = mkdtempSync(path.join(tmpdir(), 'api-id-key-'));
    try {
      const file = path.join(dir, 'id-key');
      writeFileSync(file, `${idKey.toString('base64')}\n`, { mode: 0o600 });
      expect(loadApiConfig({ ...base, CIBA_API_ID_KEY_FILE: file }).approvalIdKey?.equals(idKey)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuse a short id key, both id key variables, and a limit out of range, naming the variable', () => {
    const problem = (env: Record<string, string>) => {
      try {
        loadApiConfig({ ...base, ...env });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(problem({ CIBA_API_ID_KEY: randomBytes(16).toString('base64') })).toMatch(
      /CIBA_API_ID_KEY.*32 random bytes/s,
    );
    expect(problem({ CIBA_API_ID_KEY: randomBytes(32).toString('base64'), CIBA_API_ID_KEY_FILE: '/x' })).toMatch(
      /CIBA_API_ID_KEY.*at most one/s,
    );
    expect(problem({ CIBA_API_STARTS_PER_MINUTE: '0' })).toMatch(/CIBA_API_STARTS_PER_MINUTE/);
    expect(problem({ CIBA_API_MAX_WAIT_SECONDS: 'x' })).toMatch(/CIBA_API_MAX_WAIT_SECONDS/);
  });
});
