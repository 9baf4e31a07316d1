import path from 'node:path';

/** Recorded histories of every path of the approval workflow (test/replay/record-histories.ts writes them). */
export const FIXTURE_DIR = path.join(__dirname, 'histories');

/**
 * The payload key the fixtures were recorded with. A public test key: it protects nothing, and the tokens inside
 * the fixtures come from the local demo provider's throw-away keys.
 */
export const FIXTURE_PAYLOAD_KEY = Buffer.from('replay-fixtures-only-not-a-secre').toString('base64');
