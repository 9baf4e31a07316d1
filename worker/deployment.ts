/**
 * Worker Versioning (docs/deploys.md): a worker that names its deployment and build gets only the workflow tasks the
 * Temporal server routes to that build. Approvals wait for a person for minutes to days, longer than a build lives, so
 * every workflow of this worker is AUTO_UPGRADE: its next workflow task goes to the deployment's current build, and
 * changes to workflow code stay behind `patched()` as without versioning. Off when neither variable is set.
 */
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import { z } from 'zod';
import { blankAsUnset } from '../common/config';

/** The server's longest build ID (dynamic config `limit.workerBuildIdSize`, default 255). */
const MAX_LENGTH = 255;
/** The server's name for "no build": never a build ID. */
const UNVERSIONED = '__unversioned__';

/** The two variables, merged into the worker's schema (worker/config.ts). */
export const WorkerDeploymentEnv = {
  /**
   * The Worker Deployment this worker belongs to: one name for every build of this service (e.g. `ciba-approvals`).
   * No `.` (the server joins name and build ID with one).
   */
  CIBA_WORKER_DEPLOYMENT_NAME: z.preprocess(
    blankAsUnset,
    z
      .string()
      .trim()
      .refine((v) => !v.includes('.'), "must not contain '.' (Temporal joins the name and the build ID with one)")
      .optional(),
  ),
  /** This build of the worker's code (e.g. the image tag or git commit): a new one for every deploy that changes workflows. */
  CIBA_WORKER_BUILD_ID: z.preprocess(
    blankAsUnset,
    z
      .string()
      .trim()
      .max(MAX_LENGTH)
      .refine((v) => v !== UNVERSIONED, `${UNVERSIONED} is Temporal's name for unversioned workers`)
      .optional(),
  ),
};

interface DeploymentEnv {
  CIBA_WORKER_DEPLOYMENT_NAME?: string;
  CIBA_WORKER_BUILD_ID?: string;
}

/**
 * The worker's deployment version when both variables are set, undefined when neither is; one without the other is
 * an issue naming the missing one (a worker that silently ran unversioned would take tasks meant for another build).
 */
export function workerDeploymentVersion(
  env: DeploymentEnv,
  ctx: Pick<z.core.$RefinementCtx, 'addIssue'>,
): WorkerDeploymentVersion | undefined {
  const { CIBA_WORKER_DEPLOYMENT_NAME: deploymentName, CIBA_WORKER_BUILD_ID: buildId } = env;
  if (deploymentName && buildId) return { deploymentName, buildId };
  if (deploymentName || buildId) {
    const [missing, other] = deploymentName
      ? ['CIBA_WORKER_BUILD_ID', 'CIBA_WORKER_DEPLOYMENT_NAME']
      : ['CIBA_WORKER_DEPLOYMENT_NAME', 'CIBA_WORKER_BUILD_ID'];
    ctx.addIssue({
      code: 'custom',
      path: [missing],
      message: `required with ${other} (Worker Versioning needs both; set neither to run unversioned)`,
    });
  }
  return undefined;
}

/**
 * Worker.create's `workerDeploymentOptions` for `version`: versioning on, every workflow AUTO_UPGRADE. Undefined
 * without a version (an unversioned worker, as before).
 */
export function workerDeploymentOptions(
  version: WorkerDeploymentVersion | undefined,
): WorkerDeploymentOptions | undefined {
  return version && { useWorkerVersioning: true, version, defaultVersioningBehavior: 'AUTO_UPGRADE' };
}

/**
 * The `workerDeploymentOptions` of a team's worker that runs the approvals (`withApprovals`): the configured version's
 * when the team's options have none, else theirs, which must then name the configured version, if any. Refused: a
 * `PINNED` default (approvals outlive builds: pin the team's own workflows one by one with `setWorkflowOptions`; a
 * per-workflow AUTO_UPGRADE in the approvals themselves would fail every workflow task on an unversioned worker).
 */
export function approvalWorkerDeployment(
  theirs: WorkerDeploymentOptions | undefined,
  configured: WorkerDeploymentVersion | undefined,
): WorkerDeploymentOptions | undefined {
  if (theirs?.useWorkerVersioning && theirs.defaultVersioningBehavior !== 'AUTO_UPGRADE') {
    throw new Error(
      `withApprovals: the worker's defaultVersioningBehavior must be AUTO_UPGRADE (approvals wait longer than a build ` +
        `lives; docs/deploys.md), not ${theirs.defaultVersioningBehavior}: pin your own workflows with setWorkflowOptions`,
    );
  }
  if (!configured) return theirs;
  if (!theirs) return workerDeploymentOptions(configured);
  const { deploymentName, buildId } = theirs.version;
  if (!theirs.useWorkerVersioning || deploymentName !== configured.deploymentName || buildId !== configured.buildId) {
    throw new Error(
      `withApprovals: the worker's workerDeploymentOptions (${theirs.useWorkerVersioning ? `${deploymentName}.${buildId}` : 'versioning off'}) ` +
        `are not the configured version ${configured.deploymentName}.${configured.buildId} ` +
        `(CIBA_WORKER_DEPLOYMENT_NAME, CIBA_WORKER_BUILD_ID)`,
    );
  }
  return theirs;
}
