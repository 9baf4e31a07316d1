/**
 * `npm run bench -- --cluster`: the same runs against the production-shaped cluster of `npm run cluster`
 * (devstack/cluster/, started here with startCluster), after the dev server's, in the same invocation. The cluster gets
 * its own port offset and data root (default 24000 and .data/cluster-bench; CIBA_BENCH_CLUSTER_OFFSET and
 * CIBA_BENCH_CLUSTER_DIR move them) and shares the Go binaries of .data/cluster/build, so a cluster someone runs at the
 * default offset is never touched. Each run brings its own provider and one worker process, as on the dev server; the
 * worker and the client present the cluster's client-credentials token (its frontend's authorizer is on).
 *
 * The server's parts, measured apart (CPU and memory): each Temporal service (one process each) and PostgreSQL (its
 * postmaster and every backend). The cluster's own apps (its three idle approval workers, two API instances, its
 * provider, the UI server) run too, unmeasured: they are not the engine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startCluster } from '../../devstack/cluster/cluster';
import { DEFAULT_CLUSTER_BUILD, HOST, TEMPORAL_SERVICES, clusterLayout } from '../../devstack/cluster/layout';
import { ENV_FILE, prepareLocalConfig } from '../../devstack/local-config';
import { REPO_ROOT } from '../../devstack/ts-process';
import { log, type ServerParts } from './measure';
import { onCleanup, type BenchServer } from './stack';

/**
 * Below 25,828: the server stores membership ports as a PostgreSQL smallint (at most 32,767; 6939 + offset), and at
 * 30,000 the history service failed to start ("value 36934 is out of range for type smallint"). The default cluster
 * is at 10,000, the test clusters at 20,000.
 */
export const DEFAULT_BENCH_CLUSTER_OFFSET = 24_000;
export const DEFAULT_BENCH_CLUSTER_DIR = path.join(REPO_ROOT, '.data', 'cluster-bench');

export async function startClusterServer(
  offset = Number(process.env.CIBA_BENCH_CLUSTER_OFFSET || DEFAULT_BENCH_CLUSTER_OFFSET),
  root = process.env.CIBA_BENCH_CLUSTER_DIR
    ? path.resolve(REPO_ROOT, process.env.CIBA_BENCH_CLUSTER_DIR)
    : DEFAULT_BENCH_CLUSTER_DIR,
): Promise<BenchServer> {
  const layout = clusterLayout(offset, root, DEFAULT_CLUSTER_BUILD);
  const started = Date.now();
  log(`cluster: starting at port offset ${offset}, data in ${path.relative(REPO_ROOT, root)} (logs there)`);
  // The cluster starts as `npm run cluster` does: over .env (its apps' CIBA client, the payload key). Only while it
  // starts: the bench's own processes get their settings from stackEnv, not from .env.
  const saved = { ...process.env };
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  try {
    prepareLocalConfig();
    process.loadEnvFile(ENV_FILE);
    cluster = await startCluster((message) => log(`cluster: ${message}`), layout);
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
  const stop = onCleanup('cluster', () => cluster.stop());
  log(`cluster: up in ${((Date.now() - started) / 1000).toFixed(0)} s at ${cluster.temporalAddress}`);

  const parts: ServerParts = {};
  for (const service of TEMPORAL_SERVICES) {
    parts[`temporal ${service}`] = cachedPids(() =>
      processes()
        .filter((p) => p.args.includes(layout.paths.temporalConfig) && p.args.includes(service))
        .filter((p) => p.args[p.args.indexOf('--service') + 1] === service)
        .map((p) => p.pid),
    );
  }
  parts.postgres = () => {
    const all = processes();
    const postmaster = all.find((p) => p.args.includes(layout.paths.pgData) && p.args.includes('-D'));
    return postmaster ? [postmaster.pid, ...all.filter((p) => p.ppid === postmaster.pid).map((p) => p.pid)] : [];
  };
  const clientEnv = Object.fromEntries(
    Object.entries(cluster.env).filter(([name]) => name.startsWith('TEMPORAL_') || name.startsWith('CIBA_TEMPORAL_')),
  );
  return {
    name: 'cluster',
    address: cluster.temporalAddress,
    parts,
    // The frontends count the actions (the API calls and the commands of completed workflow tasks).
    metricsUrl: [`http://${HOST}:${layout.ports.temporal.frontend.metrics}/metrics`],
    clientEnv,
    faults: cluster.faults,
    stop,
  };
}

interface ProcessInfo {
  pid: number;
  ppid: number;
  args: string[];
}

/** Every process's pid, parent and command line (/proc). */
function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      found.push({ pid: Number(entry), ppid, args });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The pids `find` gives, found again only when one of them has exited (a service restarted). */
function cachedPids(find: () => number[]): () => number[] {
  let pids: number[] = [];
  return () => {
    const alive = pids.length > 0 && pids.every((pid) => isAlive(pid));
    if (!alive) pids = find();
    return pids;
  };
}

function isAlive(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}
