/**
 * The local stack's settings on a fresh clone: .env from .env.example, a payload key of this machine's own in
 * .data/payload-key, and the HTTP API's local dev key in .data/api-keys. Made by `npm start`, and by the parts started alone (devstack/local-env.mjs).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { generateApiKeySecret } from '../api/keys';
import { generatePayloadKey } from '../common/payload-codec';
import { REPO_ROOT } from './ts-process';

export const ENV_FILE = path.join(REPO_ROOT, '.env');
/** The HTTP API's keys on this machine (CIBA_API_KEYS_FILE in .env.example): one key, `local-dev:<random>`. */
export const LOCAL_API_KEYS_FILE = path.join(REPO_ROOT, '.data', 'api-keys');
export const LOCAL_API_KEY_ID = 'local-dev';

/** Creates what is missing of .env, .data/payload-key and .data/api-keys, saying so on stderr; keeps what is there. */
export function prepareLocalConfig(): void {
  const dataDir = path.join(REPO_ROOT, '.data');
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(ENV_FILE)) {
    copyFileSync(path.join(REPO_ROOT, '.env.example'), ENV_FILE);
    console.error('created .env from .env.example (local stack settings)');
  }
  const keyFile = path.join(dataDir, 'payload-key');
  if (!existsSync(keyFile)) {
    writeFileSync(keyFile, `${generatePayloadKey()}\n`, { mode: 0o600 });
    console.error('created .data/payload-key (encrypts Temporal payloads of the local stack)');
  }
  if (!existsSync(LOCAL_API_KEYS_FILE)) {
    writeFileSync(LOCAL_API_KEYS_FILE, `${LOCAL_API_KEY_ID}:${generateApiKeySecret()}\n`, { mode: 0o600 });
    console.error('created .data/api-keys (the local HTTP API key)');
  }
}

/** The local dev key (`local-dev:<secret>`, as `curl -u` takes it) from .data/api-keys; undefined when there is none. */
export function localApiKey(): string | undefined {
  if (!existsSync(LOCAL_API_KEYS_FILE)) return undefined;
  return readFileSync(LOCAL_API_KEYS_FILE, 'utf8')
    .split(/[\s,]+/)
    .find((entry) => entry.startsWith(`${LOCAL_API_KEY_ID}:`));
}
