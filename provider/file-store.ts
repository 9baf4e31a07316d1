import * as fs from 'node:fs';
import * as path from 'node:path';

import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-files';

/**
 * Atomically replaces `file` with `content` (mode 0600): a crash or SIGKILL leaves either the old or the new file.
 */
export function writeFileAtomic(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: PRIVATE_FILE_MODE });
  fs.renameSync(tmp, file);
}

interface Entry {
  value: unknown;
  /** Epoch ms after which the entry is gone; absent = no expiry. */
  expiresAt?: number;
}

/**
 * A tiny key/value store kept in one JSON file. Every change is written synchronously (temp file + rename)
 * before the call returns, so whatever an HTTP response reported survives a SIGKILL of the process.
 * Meant for a development provider: the whole file is rewritten on each change.
 */
export class FileStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly file: string) {
    if (fs.existsSync(file)) {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Entry>;
      for (const [key, entry] of Object.entries(raw)) this.entries.set(key, entry);
    }
  }

  get<T>(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) return undefined;
    return entry.value as T;
  }

  /** Stores `value`; `ttlSeconds` undefined = no expiry. */
  set(key: string, value: unknown, ttlSeconds?: number): void {
    this.entries.set(key, {
      value,
      ...(ttlSeconds === undefined ? {} : { expiresAt: Date.now() + ttlSeconds * 1000 }),
    });
    this.persist();
  }

  /** Replaces the value and keeps the expiry. */
  update(key: string, value: unknown): void {
    const entry = this.entries.get(key);
    this.entries.set(key, { ...entry, value });
    this.persist();
  }

  delete(...keys: string[]): void {
    let changed = false;
    for (const key of keys) changed = this.entries.delete(key) || changed;
    if (changed) this.persist();
  }

  /** Live (unexpired) entries whose key starts with `prefix`. */
  list<T>(prefix: string): Array<[key: string, value: T]> {
    const now = Date.now();
    const out: Array<[string, T]> = [];
    for (const [key, entry] of this.entries) {
      if (key.startsWith(prefix) && (entry.expiresAt === undefined || entry.expiresAt > now)) {
        out.push([key, entry.value as T]);
      }
    }
    return out;
  }

  private persist(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.entries.delete(key);
    }
    writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.entries)));
  }
}
