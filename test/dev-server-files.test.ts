/**
 * The dev server's SQLite database is the owner's only (devstack/temporal-server.ts): the folder made for it is 0700,
 * the file and SQLite's files beside it 0600, from the start and again after a restart on a file left readable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTemporalDevServer, type RunningTemporal } from '../devstack/temporal-server';
import { HANG_DETECTOR_MS } from './support/wait';

jest.setTimeout(3 * HANG_DETECTOR_MS);

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('the dev server database', () => {
  let tmp: string;
  let server: RunningTemporal | undefined;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-server-files-'));
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lives in a 0700 folder, in 0600 files, also when a restart finds them readable', async () => {
    const folder = path.join(tmp, 'state', 'temporal');
    const dbFile = path.join(folder, 'dev.sqlite');
    const options = { port: 0, headless: true, dbFile, logFile: path.join(tmp, 'logs', 'server.log'), log: () => {} };
    const sqliteFiles = () =>
      [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`].filter((file) => fs.existsSync(file));

    server = await startTemporalDevServer(options);
    expect(server.source).toBe('cli');
    expect(mode(folder)).toBe(0o700);
    expect(mode(path.join(tmp, 'state'))).toBe(0o700);
    expect(sqliteFiles()).toContain(dbFile);
    for (const file of sqliteFiles()) expect({ file, mode: mode(file) }).toEqual({ file, mode: 0o600 });
    expect(mode(options.logFile)).toBe(0o600);
    await server.stop();
    server = undefined;

    // Left readable (by an older version, or by hand): made the owner's again on the next start.
    fs.chmodSync(folder, 0o755);
    for (const file of sqliteFiles()) fs.chmodSync(file, 0o644);
    server = await startTemporalDevServer(options);
    expect(mode(folder)).toBe(0o755); // a folder it did not make is left as it is (a warning says so)...
    for (const file of sqliteFiles()) expect({ file, mode: mode(file) }).toEqual({ file, mode: 0o600 }); // ...the files are not
  });
});
