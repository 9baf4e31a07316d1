import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppendOnlyFile } from './append-only-file';
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
 * One line of the journal. `set` and `update` both carry the whole entry (value and absolute expiry), so replaying
 * a line gives the same result whatever state it is replayed over: a journal replayed over a snapshot that already
 * holds its changes (a crash between a compaction's rename and its truncate) changes nothing.
 */
type JournalLine =
  { op: 'set' | 'update'; key: string; value: unknown; expiresAt?: number } | { op: 'delete'; keys: string[] };

export interface FileStoreOptions {
  /** Compact once the journal has more lines than this... Default 1000. */
  compactMinLines?: number;
  /** ...and more than this many lines per live entry. Default 4. */
  compactRatio?: number;
  /** Where replay problems are reported (never values: they hold personal data). Default: stderr. */
  log?: (line: string) => void;
}

/** The journal beside the snapshot `file`: state.json → state.journal.jsonl. */
export function journalFileOf(file: string): string {
  return `${file.replace(/\.json$/, '')}.journal.jsonl`;
}

/**
 * A small key/value store for the development provider: all entries in memory, persisted as a snapshot (`file`,
 * one JSON object; the format this store always had, so an old state file is simply the first snapshot) plus a
 * journal of changes (journalFileOf(file), one JSON line per set/update/delete).
 *
 * Every change is appended to the journal synchronously before the call returns, so whatever an HTTP response
 * reported survives a SIGKILL of the process. At start the snapshot is loaded and the journal replayed (a line torn
 * by a SIGKILL mid-append is skipped), then compacted; compaction (the snapshot rewritten atomically from memory
 * without expired entries, then the journal emptied) also runs whenever the journal holds many more lines than there
 * are entries.
 */
export class FileStore {
  private readonly entries = new Map<string, Entry>();
  private readonly journal: AppendOnlyFile;
  readonly journalFile: string;
  private lines = 0;
  private readonly compactMinLines: number;
  private readonly compactRatio: number;

  constructor(
    private readonly file: string,
    options: FileStoreOptions = {},
  ) {
    this.compactMinLines = options.compactMinLines ?? 1000;
    this.compactRatio = options.compactRatio ?? 4;
    const log = options.log ?? ((line: string) => process.stderr.write(`[idp] ${line}\n`));
    this.journalFile = journalFileOf(file);

    if (fs.existsSync(file)) {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Entry>;
      for (const [key, entry] of Object.entries(raw)) this.entries.set(key, entry);
    }
    if (fs.existsSync(this.journalFile)) this.replay(fs.readFileSync(this.journalFile, 'utf8'), log);

    this.journal = new AppendOnlyFile(this.journalFile);
    try {
      this.compact();
    } catch (err) {
      this.journal.close();
      throw err;
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
    const entry: Entry = { value, ...(ttlSeconds === undefined ? {} : { expiresAt: Date.now() + ttlSeconds * 1000 }) };
    this.entries.set(key, entry);
    this.append({ op: 'set', key, ...entry });
  }

  /** Replaces the value and keeps the expiry. */
  update(key: string, value: unknown): void {
    const entry: Entry = { ...this.entries.get(key), value };
    this.entries.set(key, entry);
    this.append({ op: 'update', key, ...entry });
  }

  delete(...keys: string[]): void {
    const deleted = keys.filter((key) => this.entries.delete(key));
    if (deleted.length) this.append({ op: 'delete', keys: deleted });
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

  /** Lines in the journal since the last compaction. */
  get journalLines(): number {
    return this.lines;
  }

  /** Rewrites the snapshot from memory (without expired entries) and empties the journal. */
  compact(): void {
    this.dropExpired();
    writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.entries)));
    this.journal.truncate();
    this.lines = 0;
  }

  /** Releases the journal; every change is on disk already. Later changes throw. */
  close(): void {
    this.journal.close();
  }

  private append(line: JournalLine): void {
    this.journal.appendLine(JSON.stringify(line));
    this.lines += 1;
    if (this.lines > this.compactMinLines && this.lines > this.compactRatio * this.entries.size) this.compact();
  }

  private replay(text: string, log: (line: string) => void): void {
    const lines = text.split('\n');
    let skipped = 0;
    lines.forEach((raw, i) => {
      if (!raw.trim()) return;
      let line: JournalLine;
      try {
        line = JSON.parse(raw) as JournalLine;
      } catch {
        // The last line without its newline: torn by a SIGKILL mid-append, its change was never reported to anyone.
        if (i !== lines.length - 1) skipped += 1;
        return;
      }
      if (typeof line !== 'object' || line === null) {
        skipped += 1;
      } else if (line.op === 'delete' && Array.isArray(line.keys)) {
        for (const key of line.keys) this.entries.delete(key);
      } else if ((line.op === 'set' || line.op === 'update') && typeof line.key === 'string') {
        this.entries.set(line.key, {
          value: line.value,
          ...(line.expiresAt === undefined ? {} : { expiresAt: line.expiresAt }),
        });
      } else {
        skipped += 1;
      }
    });
    if (skipped) log(`state journal ${this.journalFile}: skipped ${skipped} unreadable line(s)`);
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.entries.delete(key);
    }
  }
}
