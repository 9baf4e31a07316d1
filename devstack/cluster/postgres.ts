/**
 * The cluster's PostgreSQL (the installed server binaries, `pg_config --bindir`): a data directory under
 * `.data/cluster/pg`, listening on 127.0.0.1 only (TCP, no Unix socket), password authentication (scram-sha-256)
 * for every connection. PostgreSQL refuses to run as root: as root, its commands run as a non-root user
 * (CIBA_CLUSTER_PG_USER, default `postgres`) that owns the data directory.
 *
 * Idempotent: an existing data directory is started as it is; the role, the databases and `btree_gin` are created
 * only when missing.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HOST, type ClusterLayout } from './layout';
import { run, type Log } from './native-process';

/** The databases Temporal uses (persistence, visibility) and the role that owns them. */
export const DATABASES = ['temporal', 'temporal_visibility'] as const;
export const TEMPORAL_ROLE = 'temporal';
const SUPERUSER = 'postgres';

export interface Secrets {
  /** PostgreSQL superuser `postgres`. */
  postgresPassword: string;
  /** Role `temporal`: the Temporal server and its schema tool. */
  temporalPassword: string;
  /** The local provider's Temporal API clients (provider/temporal-clients.ts): temporal-worker, -reader, -admin. */
  temporalClients: Record<'temporal-worker' | 'temporal-reader' | 'temporal-admin', string>;
}

function newTemporalClientSecrets(): Secrets['temporalClients'] {
  const secret = () => randomBytes(24).toString('hex');
  return { 'temporal-worker': secret(), 'temporal-reader': secret(), 'temporal-admin': secret() };
}

export interface RunningPostgres {
  port: number;
  /** True when this call started it (false: it was already running). */
  started: boolean;
  /** Runs one SQL statement as the superuser in `db`; returns the unaligned result. */
  psql(sql: string, db?: string): string;
  /** `pg_ctl stop -m fast` (`immediate`: no clean shutdown, recovery at the next start, like a crash). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

/** Generated passwords, kept in `.data/cluster/secrets.json` (mode 0600) beside the data they open. */
export function loadSecrets(layout: ClusterLayout): Secrets {
  const file = layout.paths.secrets;
  if (fs.existsSync(file)) {
    const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Secrets> & Omit<Secrets, 'temporalClients'>;
    if (kept.temporalClients) return kept as Secrets;
    // Made before Temporal authorization: add the clients' secrets.
    const secrets: Secrets = { ...kept, temporalClients: newTemporalClientSecrets() };
    fs.writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    return secrets;
  }
  if (fs.existsSync(path.join(layout.paths.pgData, 'PG_VERSION'))) {
    throw new Error(
      `${layout.paths.pgData} exists but ${file} (its passwords) does not: remove ${layout.paths.pgData} to start over`,
    );
  }
  const secrets: Secrets = {
    postgresPassword: randomBytes(24).toString('hex'),
    temporalPassword: randomBytes(24).toString('hex'),
    temporalClients: newTemporalClientSecrets(),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

/** Folder of initdb, pg_ctl, postgres, psql: PG_BINDIR, else `pg_config --bindir`. */
export function pgBinDir(): string {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  try {
    return run('pg_config', ['--bindir']).trim();
  } catch (error) {
    throw new Error(
      `npm run cluster needs the PostgreSQL server binaries (initdb, pg_ctl; e.g. Debian's postgresql-15), found ` +
        `by pg_config or PG_BINDIR: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The user PostgreSQL runs as, and how to run a command as that user. */
function pgUser(): {
  name: string;
  uid: number;
  gid: number;
  wrap: (cmd: string, args: string[]) => [string, string[]];
} {
  if (process.getuid?.() !== 0) {
    return { name: '', uid: -1, gid: -1, wrap: (cmd, args) => [cmd, args] };
  }
  const name = process.env.CIBA_CLUSTER_PG_USER || 'postgres';
  let uid: number;
  let gid: number;
  try {
    uid = Number(run('id', ['-u', name]).trim());
    gid = Number(run('id', ['-g', name]).trim());
  } catch {
    throw new Error(
      `running as root, PostgreSQL needs a non-root user to run as: create one (useradd --system postgres) or ` +
        `set CIBA_CLUSTER_PG_USER`,
    );
  }
  return {
    name,
    uid,
    gid,
    wrap: (cmd, args) => ['runuser', ['-u', name, '--', cmd, ...args]],
  };
}

/** initdb when there is no data directory yet, start (or find running), then role, databases and btree_gin. */
export async function startPostgres(layout: ClusterLayout, secrets: Secrets, log: Log): Promise<RunningPostgres> {
  const bin = pgBinDir();
  const user = pgUser();
  const { pgData, pgLog } = layout.paths;
  const port = layout.ports.postgres;
  const asUser = (cmd: string, args: string[]) => {
    const [c, a] = user.wrap(path.join(bin, cmd), args);
    return run(c, a, { cwd: '/' });
  };
  const own = (file: string) => {
    if (user.uid >= 0) fs.chownSync(file, user.uid, user.gid);
  };

  if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) {
    log(`initdb ${pgData}${user.name ? ` (as user ${user.name})` : ''}`);
    fs.mkdirSync(pgData, { recursive: true, mode: 0o700 });
    own(pgData);
    const pwFile = path.join(pgData, '..', `.pwfile-${process.pid}`);
    fs.writeFileSync(pwFile, `${secrets.postgresPassword}\n`, { mode: 0o600 });
    own(pwFile);
    try {
      asUser('initdb', [
        '-D',
        pgData,
        '-U',
        SUPERUSER,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '-E',
        'UTF8',
        '--no-locale',
      ]);
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
    fs.appendFileSync(path.join(pgData, 'postgresql.conf'), "\ninclude_if_exists = 'cluster.conf'\n");
  }
  // Written at every start: the port may have changed (CIBA_CLUSTER_PORT_OFFSET).
  const conf = path.join(pgData, 'cluster.conf');
  fs.writeFileSync(
    conf,
    [
      '# Written by devstack/cluster/postgres.ts at every start.',
      `listen_addresses = '${HOST}'`,
      `port = ${port}`,
      "unix_socket_directories = ''",
      // 4 Temporal services x (20 + 2) connections, the schema tool, psql.
      'max_connections = 200',
      '',
    ].join('\n'),
  );
  own(conf);
  fs.mkdirSync(path.dirname(pgLog), { recursive: true });
  if (!fs.existsSync(pgLog)) fs.writeFileSync(pgLog, '');
  own(pgLog);

  const running = isRunning(asUser, pgData);
  if (running) {
    log(`PostgreSQL already running on ${HOST}:${port} (${pgData}): reusing it`);
  } else {
    const started = Date.now();
    asUser('pg_ctl', ['-D', pgData, '-l', pgLog, '-w', '-t', '60', 'start']);
    log(`PostgreSQL started on ${HOST}:${port} in ${Date.now() - started} ms (data ${pgData}, log ${pgLog})`);
  }

  const psql = (sql: string, db = 'postgres') =>
    run(
      path.join(bin, 'psql'),
      ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', HOST, '-p', String(port), '-U', SUPERUSER, '-d', db],
      {
        input: sql,
        env: { ...process.env, PGPASSWORD: secrets.postgresPassword, PGCONNECT_TIMEOUT: '10' },
      },
    ).trim();
  if (psql(`SELECT 1 FROM pg_roles WHERE rolname = '${TEMPORAL_ROLE}'`) !== '1') {
    log(`creating role ${TEMPORAL_ROLE}`);
    psql(`CREATE ROLE ${TEMPORAL_ROLE} LOGIN PASSWORD '${secrets.temporalPassword}'`);
  }
  for (const db of DATABASES) {
    if (psql(`SELECT 1 FROM pg_database WHERE datname = '${db}'`) !== '1') {
      log(`creating database ${db}`);
      psql(`CREATE DATABASE ${db} OWNER ${TEMPORAL_ROLE}`);
    }
  }
  // The visibility schema's GIN indexes need btree_gin, which only a superuser may create.
  psql('CREATE EXTENSION IF NOT EXISTS btree_gin', 'temporal_visibility');

  return {
    port,
    started: !running,
    psql,
    stop: async (mode = 'fast') => {
      if (!isRunning(asUser, pgData)) return;
      asUser('pg_ctl', ['-D', pgData, '-m', mode, '-w', '-t', '60', 'stop']);
      log(`PostgreSQL stopped${mode === 'fast' ? '' : ` (${mode})`}`);
    },
  };
}

function isRunning(asUser: (cmd: string, args: string[]) => string, pgData: string): boolean {
  try {
    asUser('pg_ctl', ['-D', pgData, 'status']);
    return true;
  } catch {
    return false; // exit code 3: not running
  }
}
