import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The first generation of recorded histories of every path of the approval workflow (test/replay/record-histories.ts
 * wrote them). Later generations live beside it, in `histories-<date>/`: each is recorded by the code of its day and
 * kept, so that the current code must replay what every earlier version wrote (the runs still waiting in production).
 */
export const FIXTURE_DIR = path.join(__dirname, 'histories');

/** A later generation's folder name: `histories-<YYYY-MM-DD>`, or `histories-<YYYY-MM-DD>.<n>` for the n-th that day. */
const GENERATION = /^histories-\d{4}-\d{2}-\d{2}(\.\d+)?$/;

/** Every generation's folder, oldest first (`histories`, then `histories-<YYYY-MM-DD>[.<n>]` by date). */
export function fixtureGenerations(): string[] {
  const later = readdirSync(__dirname, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && GENERATION.test(entry.name))
    .map((entry) => path.join(__dirname, entry.name))
    .sort();
  return [FIXTURE_DIR, ...later].filter((dir) => existsSync(path.join(dir, 'index.json')));
}

/**
 * The folder a new recording goes to (record-histories.ts): `histories-<YYYY-MM-DD>`, or, when that day has one
 * already, `histories-<YYYY-MM-DD>.2`, `.3`, … (a generation is never recorded over).
 */
export function generationDirFor(date: Date): string {
  const day = path.join(__dirname, `histories-${date.toISOString().slice(0, 10)}`);
  if (!existsSync(day)) return day;
  for (let n = 2; ; n++) if (!existsSync(`${day}.${n}`)) return `${day}.${n}`;
}

/**
 * The payload key the fixtures were recorded with. A public test key: it protects nothing, and the tokens inside
 * the fixtures come from the local demo provider's throw-away keys.
 */
export const FIXTURE_PAYLOAD_KEY = Buffer.from('replay-fixtures-only-not-a-secre').toString('base64');
