/**
 * A Worker Deployment as an operator drives it: the `temporal worker deployment` commands docs/deploys.md gives, run
 * with the project's Temporal CLI against one server, and the histories' record of which build ran each workflow task.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { temporal } from '@temporalio/proto';
import { waitUntil } from '../support/wait';

const execFileAsync = promisify(execFile);

/** What `describe-version -o json` says of a version's drainage (AUTO_UPGRADE runs never keep it draining). */
export type DrainageStatus = 'unspecified' | 'draining' | 'drained';

export class DeploymentCli {
  constructor(
    private readonly cli: string,
    private readonly address: string,
    readonly deploymentName: string,
  ) {}

  /** `temporal <args> --address ...`, its stdout. */
  async run(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(this.cli, [...args, '--address', this.address, '--namespace', 'default']);
    return stdout;
  }

  /** `worker deployment set-current-version`: new workflow tasks of AUTO_UPGRADE runs go to this build. */
  async setCurrent(buildId: string): Promise<void> {
    await this.run(
      'worker',
      'deployment',
      'set-current-version',
      '--deployment-name',
      this.deploymentName,
      '--build-id',
      buildId,
      '--yes',
    );
  }

  /** `worker deployment describe -o json`: the current build and the versions the server knows. */
  async describe(): Promise<{
    routingConfig: { currentVersionBuildID: string };
    versionSummaries?: Array<{ BuildID: string; drainageStatus: DrainageStatus }>;
  }> {
    return JSON.parse(await this.run('worker', 'deployment', 'describe', '--name', this.deploymentName, '-o', 'json'));
  }

  /** `worker deployment describe-version -o json`: the version's drainage and task queues. */
  async drainage(buildId: string): Promise<DrainageStatus> {
    const version = JSON.parse(
      await this.run(
        'worker',
        'deployment',
        'describe-version',
        '--deployment-name',
        this.deploymentName,
        '--build-id',
        buildId,
        '-o',
        'json',
      ),
    ) as { drainageInfo?: { drainageStatus: DrainageStatus } };
    return version.drainageInfo?.drainageStatus ?? 'unspecified';
  }

  /** Waits until a worker of `buildId` has polled (the server then knows the version). */
  async waitForVersion(buildId: string): Promise<void> {
    await waitUntil(
      async () => (await this.describe().catch(() => undefined))?.versionSummaries?.some((v) => v.BuildID === buildId),
      `version ${buildId} registered by its workers`,
      undefined,
      500,
    );
  }
}

/** The build that completed each workflow task of a history, in order (`-` for an unversioned worker). */
export function buildsOf(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? []).flatMap((event) => {
    const completed = event.workflowTaskCompletedEventAttributes;
    return completed ? [completed.deploymentVersion?.buildId || '-'] : [];
  });
}

/** `['a', 'a', 'b', 'b', 'a']` → `['a', 'b', 'a']`: the builds a run went through. */
export function buildSequence(builds: string[]): string[] {
  return builds.filter((build, i) => build !== builds[i - 1]);
}
