/**
 * The local provider's FileStore (provider/file-store.ts): a snapshot (state.json) plus an append-only journal,
 * replayed at start and compacted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { FileStore, journalFileOf, type FileStoreOptions } from '../provider/file-store';
import { RequestLog } from '../provider/request-log';

const tmpDirs: string[] = [];
const stores: FileStore[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-store-'));
  fs.chmodSync(dir, 0o700);
  tmpDirs.push(dir);
  return dir;
}

function open(file: string, options: FileStoreOptions = {}): FileStore {
  const store = new FileStore(file, { log: () => undefined, ...options });
  stores.push(store);
  return store;
}

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

afterAll(() => {
  for (const store of stores) store.close();
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('FileStore', () => {
  test('every change survives a re-open (no close: as after SIGKILL)', () => {
    const file = path.join(tempDir(), 'state.json');
    const first = open(file);
    first.set('a', { n: 1 });
    first.set('b', 'two', 3600);
    first.update('b', 'three'); // keeps the expiry
    first.set('c', [3]);
    first.delete('c', 'missing');
    // Each change is one journal line, written before the call returned.
    expect(lines(journalFileOf(file)).map((l) => JSON.parse(l).op)).toEqual(['set', 'set', 'update', 'set', 'delete']);

    const second = open(file);
    expect(second.get('a')).toEqual({ n: 1 });
    expect(second.get('b')).toBe('three');
    expect(second.get('c')).toBeUndefined();
    expect(second.list('')).toHaveLength(2);
    // The start compacted: everything is in the snapshot, the journal is empty.
    expect(second.journalLines).toBe(0);
    expect(fs.readFileSync(journalFileOf(file), 'utf8')).toBe('');
    const snapshot = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(Object.keys(snapshot).sort()).toEqual(['a', 'b']);
    expect(snapshot.b.expiresAt).toBeGreaterThan(Date.now());

    // Changes after a compaction land in the emptied journal and survive too.
    second.update('a', { n: 2 });
    expect(open(file).get('a')).toEqual({ n: 2 });
  });

  test('a torn last line (SIGKILL mid-append) is ignored; the next appends are read back', () => {
    const file = path.join(tempDir(), 'state.json');
    const first = open(file);
    first.set('kept', 1);
    first.close();
    fs.appendFileSync(journalFileOf(file), '{"op":"set","key":"torn","val');

    const second = open(file);
    expect(second.get('kept')).toBe(1);
    expect(second.get('torn')).toBeUndefined();
    second.set('after', 2);
    const third = open(file);
    expect(third.get('kept')).toBe(1);
    expect(third.get('after')).toBe(2);
  });

  test('a torn line is ignored even when no compaction ran after it', () => {
    const dir = tempDir();
    const file = path.join(dir, 'state.json');
    fs.writeFileSync(journalFileOf(file), '{"op":"set","key":"x","value":1}\n{"op":"set","key":"y","va', {
      mode: 0o600,
    });
    const store = open(file);
    expect(store.get('x')).toBe(1);
    expect(store.get('y')).toBeUndefined();
  });

  test('compaction keeps live entries and drops expired ones', () => {
    const file = path.join(tempDir(), 'state.json');
    const store = open(file, { compactMinLines: 10, compactRatio: 4 });
    store.set('live', 'yes', 3600);
    store.set('forever', 'yes');
    store.set('expired', 'no', -1); // already past its expiry
    expect(store.get('expired')).toBeUndefined();

    // Many changes to few keys: the journal is compacted once it holds > 10 lines and > 4 per entry.
    for (let i = 0; i < 30; i += 1) store.update('forever', i);
    expect(store.journalLines).toBeLessThanOrEqual(12);
    expect(lines(journalFileOf(file)).length).toBe(store.journalLines);
    const snapshot = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(Object.keys(snapshot).sort()).toEqual(['forever', 'live']);

    const reopened = open(file);
    expect(reopened.get('live')).toBe('yes');
    expect(reopened.get('forever')).toBe(29);
    expect(reopened.list('')).toHaveLength(2);
  });

  test('replaying a journal over a snapshot that already holds its changes changes nothing', () => {
    // As after a SIGKILL between a compaction's rename of the snapshot and its truncate of the journal.
    const file = path.join(tempDir(), 'state.json');
    const store = open(file);
    store.set('a', 1, 3600);
    store.update('a', 2);
    store.set('b', 1);
    store.delete('b');
    const journal = fs.readFileSync(journalFileOf(file), 'utf8');
    store.compact();
    store.close();
    fs.writeFileSync(journalFileOf(file), journal);

    const reopened = open(file);
    expect(reopened.get('a')).toBe(2);
    expect(reopened.get('b')).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).a.expiresAt).toBeGreaterThan(Date.now());
  });

  test('an old single-file state.json (no journal) is loaded', () => {
    const file = path.join(tempDir(), 'state.json');
    const old = { a: { value: { x: 1 } }, b: { value: 'gone', expiresAt: Date.now() - 1000 } };
    fs.writeFileSync(file, JSON.stringify(old), { mode: 0o600 });
    const store = open(file);
    expect(store.get('a')).toEqual({ x: 1 });
    expect(store.get('b')).toBeUndefined();
    store.set('c', 3);
    expect(open(file).get('c')).toBe(3);
  });

  test('snapshot and journal are owner-only (0600), also when an older run left them wider', () => {
    const dir = tempDir();
    const file = path.join(dir, 'state.json');
    const store = open(file);
    store.set('secret', 'token');
    expect(modeOf(file)).toBe(0o600);
    expect(modeOf(journalFileOf(file))).toBe(0o600);
    store.close();

    fs.chmodSync(journalFileOf(file), 0o644);
    open(file).set('more', 1);
    expect(modeOf(journalFileOf(file))).toBe(0o600);
    expect(modeOf(file)).toBe(0o600);
    // No temp file left behind by the atomic snapshot writes.
    expect(fs.readdirSync(dir).sort()).toEqual(['state.journal.jsonl', 'state.json']);
  });

  test('changes after close throw instead of being lost silently', () => {
    const store = open(path.join(tempDir(), 'state.json'));
    store.close();
    expect(() => store.set('a', 1)).toThrow(/closed/);
  });
});

describe('RequestLog', () => {
  test('appends one line per entry (0600) and skips a torn last line at start', () => {
    const dir = tempDir();
    const file = path.join(dir, 'requests.jsonl');
    const first = new RequestLog(dir);
    first.append({ endpoint: 'bc-authorize', status: 200, authReqId: 'r1', bindingMessage: 'Pay 5' });
    first.append({ endpoint: 'token', status: 400, error: 'authorization_pending', authReqId: 'r1' });
    expect(lines(file)).toHaveLength(2);
    expect(fs.readFileSync(file, 'utf8')).not.toMatch(/Pay 5/);
    expect(modeOf(file)).toBe(0o600);
    first.close();
    fs.appendFileSync(file, '{"at":"2026-01-01T00:00:00.000Z","endp');

    const second = new RequestLog(dir);
    expect(second.list({ authReqId: 'r1' })).toHaveLength(2);
    second.append({ endpoint: 'token', status: 200, authReqId: 'r1' });
    second.close();
    // The torn line was ended, so the new entry is a line of its own and is read back.
    const third = new RequestLog(dir);
    expect(third.list({ bindingMessage: 'Pay 5' }).map((e) => e.status)).toEqual([200, 400, 200]);
    third.close();
  });
});
