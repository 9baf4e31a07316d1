/**
 * Fault injection on a running cluster (cluster.ts `RunningCluster.faults`): the deaths a production deployment
 * sees, done to the real processes. An approval worker or an HTTP API instance killed with SIGKILL (no shutdown, no
 * drain) and started again; a Temporal service killed or stopped and started again; PostgreSQL stopped like a crash
 * (`pg_ctl stop -m immediate`: recovery at the next start) for a while and started again.
 *
 * Each call resolves once the fault is done: a kill once the process has exited, a start once the part is ready
 * again (a worker polls, an API listens, a Temporal service's health check says SERVING, PostgreSQL accepts
 * connections). test/cluster-faults.test.ts applies them to approvals in flight (docs/cluster.md: Faults).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedProcess } from '../ts-process';
import type { TemporalService } from './layout';
import type { Log, NativeProcess } from './native-process';

/** One restartable Node process of the cluster (an approval worker, an API instance): its current process, if any. */
export interface ProcessSlot {
  name: string;
  current?: ManagedProcess;
  /** Starts it again (same ports, same environment); resolves once it is ready. */
  start(): Promise<ManagedProcess>;
}

/** What faults.ts needs of the cluster (cluster.ts hands it over). */
export interface FaultTargets {
  log: Log;
  workers: ProcessSlot[];
  apis: ProcessSlot[];
  /** The running Temporal services by name; a restart replaces the entry. */
  services: Map<TemporalService, NativeProcess>;
  startService(service: TemporalService): Promise<NativeProcess>;
  stopPostgres(mode: 'fast' | 'immediate'): Promise<void>;
  startPostgres(): Promise<void>;
}

/** One fault applied, for reports. */
export interface AppliedFault {
  fault: string;
  /** Milliseconds from the fault to the part being ready again (for a kill alone: to its exit). */
  ms: number;
}

export interface ClusterFaults {
  /** SIGKILL approval worker `index` (0-based); resolves once it has exited. */
  killWorker(index: number): Promise<void>;
  /** Starts approval worker `index` again; resolves once it polls its task queue. */
  startWorker(index: number): Promise<void>;
  /** SIGKILL HTTP API instance `index` (0-based), its open requests (long polls) cut; resolves once it has exited. */
  killApi(index: number): Promise<void>;
  /** Starts API instance `index` again; resolves once it listens. */
  startApi(index: number): Promise<void>;
  /**
   * Restarts a Temporal service: SIGTERM (its own shutdown) or, with `kill`, SIGKILL; then starts it again and
   * resolves once its health check says SERVING (history: once it owns its shards again).
   */
  restartTemporalService(service: TemporalService, options?: { kill?: boolean }): Promise<void>;
  /** Stops PostgreSQL like a crash (`pg_ctl stop -m immediate`, or `fast`: clients disconnected, clean shutdown). */
  stopPostgres(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts PostgreSQL again; resolves once it accepts connections. */
  startPostgres(): Promise<void>;
  /** stopPostgres, `downMs` without a database, startPostgres. */
  postgresOutage(downMs: number, mode?: 'fast' | 'immediate'): Promise<void>;
  /** The faults applied so far, in order. */
  readonly applied: readonly AppliedFault[];
}

/** The fault methods over the cluster's parts. */
export function clusterFaults(targets: FaultTargets): ClusterFaults {
  const applied: AppliedFault[] = [];
  const timed = async (fault: string, action: () => Promise<void>) => {
    const started = Date.now();
    targets.log(`fault: ${fault}`);
    await action();
    const ms = Date.now() - started;
    applied.push({ fault, ms });
    targets.log(`fault: ${fault} done in ${ms} ms`);
  };
  const slot = (slots: ProcessSlot[], index: number, what: string) => {
    const found = slots[index];
    if (!found) throw new RangeError(`no ${what} ${index} (the cluster runs ${slots.length}, numbered from 0)`);
    return found;
  };
  const kill = (s: ProcessSlot) =>
    timed(`SIGKILL ${s.name}`, async () => {
      const running = s.current;
      if (!running) throw new Error(`${s.name} is not running`);
      s.current = undefined;
      await running.kill('SIGKILL');
    });
  const start = (s: ProcessSlot) =>
    timed(`start ${s.name}`, async () => {
      if (s.current) throw new Error(`${s.name} is running already`);
      s.current = await s.start();
    });

  return {
    applied,
    killWorker: (index) => kill(slot(targets.workers, index, 'worker')),
    startWorker: (index) => start(slot(targets.workers, index, 'worker')),
    killApi: (index) => kill(slot(targets.apis, index, 'API instance')),
    startApi: (index) => start(slot(targets.apis, index, 'API instance')),
    restartTemporalService: (service, { kill: hard = false } = {}) =>
      timed(`${hard ? 'SIGKILL' : 'SIGTERM'} and restart temporal ${service}`, async () => {
        const running = targets.services.get(service);
        if (!running) throw new Error(`temporal ${service} is not running`);
        targets.services.delete(service);
        if (hard && running.exitReason() === undefined) running.child.kill('SIGKILL');
        await running.stop(15_000);
        targets.services.set(service, await targets.startService(service));
      }),
    stopPostgres: (mode = 'immediate') => timed(`stop PostgreSQL (${mode})`, () => targets.stopPostgres(mode)),
    startPostgres: () => timed('start PostgreSQL', () => targets.startPostgres()),
    postgresOutage: (downMs, mode = 'immediate') =>
      timed(`PostgreSQL down for ${downMs} ms (${mode})`, async () => {
        await targets.stopPostgres(mode);
        await sleep(downMs);
        await targets.startPostgres();
      }),
  };
}
