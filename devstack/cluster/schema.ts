/**
 * Temporal's SQL schemas in the cluster's PostgreSQL, with Temporal's own tool (`temporal-sql-tool`, built from the
 * same module as the server): `setup-schema -v 0.0` once, then `update-schema` from the module's versioned folders
 * (`schema/postgresql/v12/{temporal,visibility}/versioned`). Skipped when `schema_version` already says the newest
 * version: a restart finds the schema and goes on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { HOST, type ClusterLayout } from './layout';
import { run, type Log } from './native-process';
import { TEMPORAL_ROLE, type RunningPostgres, type Secrets } from './postgres';

const SCHEMAS = [
  { db: 'temporal', dir: 'schema/postgresql/v12/temporal/versioned' },
  { db: 'temporal_visibility', dir: 'schema/postgresql/v12/visibility/versioned' },
] as const;

/** Sets up or updates both schemas as needed; returns what it did per database. */
export function ensureSchemas(
  layout: ClusterLayout,
  postgres: RunningPostgres,
  secrets: Secrets,
  serverModuleDir: string,
  log: Log,
): Record<string, string> {
  const done: Record<string, string> = {};
  for (const { db, dir } of SCHEMAS) {
    const versionedDir = path.join(serverModuleDir, dir);
    const wanted = newestVersion(versionedDir);
    const current = currentVersion(postgres, db);
    if (current === wanted) {
      done[db] = `schema ${current} (current)`;
      continue;
    }
    const tool = (...args: string[]) =>
      run(
        layout.paths.bin.sqlTool,
        ['--plugin', 'postgres12', '--ep', HOST, '-p', String(postgres.port), '-u', TEMPORAL_ROLE, '--db', db, ...args],
        { env: { ...process.env, SQL_PASSWORD: secrets.temporalPassword } },
      );
    const started = Date.now();
    if (current === undefined) tool('setup-schema', '-v', '0.0');
    tool('update-schema', '-d', versionedDir);
    const now = currentVersion(postgres, db);
    if (now !== wanted) throw new Error(`${db}: schema at ${now} after update-schema, expected ${wanted}`);
    done[db] = `schema ${current ?? 'none'} -> ${now} in ${Date.now() - started} ms`;
    log(`${db}: ${done[db]}`);
  }
  return done;
}

/** `curr_version` in the database's `schema_version` table, or undefined when there is no table yet. */
function currentVersion(postgres: RunningPostgres, db: string): string | undefined {
  const exists = postgres.psql("SELECT to_regclass('public.schema_version') IS NOT NULL", db);
  if (exists !== 't') return undefined;
  return postgres.psql(`SELECT curr_version FROM schema_version WHERE db_name = '${db}'`, db) || undefined;
}

/** The highest `vX.Y` folder name, as `X.Y`. */
function newestVersion(versionedDir: string): string {
  const versions = fs
    .readdirSync(versionedDir)
    .map((name) => /^v(\d+)\.(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[1]), Number(m[2])] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const newest = versions.at(-1);
  if (!newest) throw new Error(`no versioned schema folders in ${versionedDir}`);
  return `${newest[0]}.${newest[1]}`;
}
