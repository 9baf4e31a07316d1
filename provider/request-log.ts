import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppendOnlyFile } from './append-only-file';
import { writeFileAtomic } from './file-store';

/**
 * One request to /bc-authorize or /oauth/token. Never holds client secrets or tokens. The login hint and binding
 * message are kept in memory only (GET /dev/log, dev-only); requests.jsonl holds a digest of the binding message.
 */
export interface RequestLogEntry {
  at: string;
  atMs: number;
  endpoint: 'bc-authorize' | 'token';
  status: number;
  error?: string;
  authReqId?: string;
  loginHint?: string;
  bindingMessage?: string;
  /** sha256 (hex) of the binding message: what survives a restart, so `?bindingMessage=` still finds the entry. */
  bindingMessageSha256?: string;
  grantType?: string;
  /** bc-authorize: the scope the client asked for (what decides whether a refresh token is issued: offline_access). */
  scope?: string;
  /** The client the request came from (with `error: invalid_client` when it failed to authenticate as it). */
  clientId?: string;
}

export interface RequestLogFilter {
  authReqId?: string;
  bindingMessage?: string;
}

/**
 * In-memory list mirrored to dataDir/requests.jsonl (append-only through one O_APPEND descriptor, a synchronous write
 * per entry; mode 0600, without personal data; reloaded at start). Token entries inherit the binding message of
 * their request, so `?bindingMessage=` finds a request's whole history.
 */
export class RequestLog {
  private readonly file: string;
  private readonly out: AppendOnlyFile;
  private readonly entries: RequestLogEntry[] = [];
  /** auth_req_id → its binding message (and digest), inherited by the request's token entries. */
  private readonly bindingMessages = new Map<
    string,
    Pick<RequestLogEntry, 'bindingMessage' | 'bindingMessageSha256'>
  >();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'requests.jsonl');
    this.load();
    // Opened after load(): a legacy rewrite replaces the file.
    this.out = new AppendOnlyFile(this.file);
  }

  private load(): void {
    if (!fs.existsSync(this.file)) return;
    let legacy = false; // a file written before personal data was kept off the disk: rewrite it without
    for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const { loginHint, bindingMessage, ...entry } = JSON.parse(line) as RequestLogEntry;
        legacy ||= loginHint !== undefined || bindingMessage !== undefined;
        if (bindingMessage !== undefined) entry.bindingMessageSha256 ??= sha256(bindingMessage);
        this.remember(entry);
      } catch {
        // a line torn by a crash mid-append: skip it
      }
    }
    if (legacy) writeFileAtomic(this.file, this.entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  append(entry: Omit<RequestLogEntry, 'at' | 'atMs'>): RequestLogEntry {
    const atMs = Date.now();
    const binding =
      entry.bindingMessage !== undefined
        ? { bindingMessage: entry.bindingMessage, bindingMessageSha256: sha256(entry.bindingMessage) }
        : entry.authReqId === undefined
          ? undefined
          : this.bindingMessages.get(entry.authReqId);
    const full: RequestLogEntry = { at: new Date(atMs).toISOString(), atMs, ...entry, ...binding };
    this.remember(full);
    const { loginHint: _hint, bindingMessage: _message, ...onDisk } = full;
    this.out.appendLine(JSON.stringify(onDisk));
    return full;
  }

  /** Releases the file; every entry is on disk already. */
  close(): void {
    this.out.close();
  }

  private remember(entry: RequestLogEntry): void {
    this.entries.push(entry);
    if (entry.endpoint === 'bc-authorize' && entry.authReqId && entry.bindingMessageSha256) {
      const { bindingMessage, bindingMessageSha256 } = entry;
      this.bindingMessages.set(entry.authReqId, { bindingMessage, bindingMessageSha256 });
    }
  }

  list(filter: RequestLogFilter = {}): RequestLogEntry[] {
    const digest = filter.bindingMessage === undefined ? undefined : sha256(filter.bindingMessage);
    return this.entries.filter(
      (e) =>
        (filter.authReqId === undefined || e.authReqId === filter.authReqId) &&
        (digest === undefined || e.bindingMessageSha256 === digest),
    );
  }
}

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}
