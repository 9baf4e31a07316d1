import * as fs from 'node:fs';
import * as path from 'node:path';

/** One request to /bc-authorize or /oauth/token. Never holds client secrets or tokens. */
export interface RequestLogEntry {
  at: string;
  atMs: number;
  endpoint: 'bc-authorize' | 'token';
  status: number;
  error?: string;
  authReqId?: string;
  loginHint?: string;
  bindingMessage?: string;
  grantType?: string;
}

export interface RequestLogFilter {
  authReqId?: string;
  bindingMessage?: string;
}

/**
 * In-memory list mirrored to dataDir/requests.jsonl (append-only; reloaded at start). Token entries inherit the
 * binding message of their request, so `?bindingMessage=` finds a request's whole history.
 */
export class RequestLog {
  private readonly file: string;
  private readonly entries: RequestLogEntry[] = [];
  private readonly bindingMessages = new Map<string, string>();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'requests.jsonl');
    if (fs.existsSync(this.file)) {
      for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          this.remember(JSON.parse(line) as RequestLogEntry);
        } catch {
          // a line torn by a crash mid-append: skip it
        }
      }
    }
  }

  append(entry: Omit<RequestLogEntry, 'at' | 'atMs'>): RequestLogEntry {
    const atMs = Date.now();
    const bindingMessage =
      entry.bindingMessage ?? (entry.authReqId === undefined ? undefined : this.bindingMessages.get(entry.authReqId));
    const full: RequestLogEntry = { at: new Date(atMs).toISOString(), atMs, ...entry, bindingMessage };
    this.remember(full);
    fs.appendFileSync(this.file, `${JSON.stringify(full)}\n`);
    return full;
  }

  private remember(entry: RequestLogEntry): void {
    this.entries.push(entry);
    if (entry.endpoint === 'bc-authorize' && entry.authReqId && entry.bindingMessage) {
      this.bindingMessages.set(entry.authReqId, entry.bindingMessage);
    }
  }

  list(filter: RequestLogFilter = {}): RequestLogEntry[] {
    return this.entries.filter(
      (e) =>
        (filter.authReqId === undefined || e.authReqId === filter.authReqId) &&
        (filter.bindingMessage === undefined || e.bindingMessage === filter.bindingMessage),
    );
  }
}
