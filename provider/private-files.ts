import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The provider's data folder holds signing keys, client keys, tokens and users' requests: owner-only, also when the
 * folder or its files come from an older run with wider modes.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) with mode 0700, or narrows an existing one to 0700 and every file directly in
 * it to 0600. New files get 0600 where they are written (writeFileAtomic, the request log).
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const { mode } = fs.statSync(dir);
  // A shared folder such as /tmp (sticky bit) is nobody's to narrow: refuse it rather than chmod it.
  if (mode & 0o1000) throw new Error(`${dir} is a shared folder: give the provider a data folder of its own`);
  if ((mode & 0o777) !== PRIVATE_DIR_MODE) fs.chmodSync(dir, PRIVATE_DIR_MODE);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue; // not symbolic links: their targets are not ours to change
    const file = path.join(dir, entry.name);
    if ((fs.statSync(file).mode & 0o777) !== PRIVATE_FILE_MODE) fs.chmodSync(file, PRIVATE_FILE_MODE);
  }
}
