/**
 * The local stack's settings on a fresh clone: .env from .env.example, and a payload key of this machine's own in
 * .data/payload-key. Made by `npm start`, and by the parts started alone (devstack/local-env.mjs).
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { generatePayloadKey } from '../common/payload-codec';
import { REPO_ROOT } from './ts-process';

export const ENV_FILE = path.join(REPO_ROOT, '.env');

/** Creates what is missing of .env and .data/payload-key, saying so on stderr; keeps what is there. */
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
}
