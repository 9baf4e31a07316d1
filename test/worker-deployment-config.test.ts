/** Worker Versioning settings (worker/deployment.ts): off unless both variables are set, and clear when one is missing. */
import { ConfigError } from '../common/config';
import { generatePayloadKey } from '../common/payload-codec';
import { loadWorkerConfig } from '../worker/config';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import { approvalWorkerDeployment, workerDeploymentOptions } from '../worker/deployment';

const valid = {
  CIBA_ISSUER: 'https://tenant.example.com/',
  CIBA_CLIENT_ID: 'client',
  CIBA_CLIENT_SECRET: 'secret',
  CIBA_PAYLOAD_KEY: generatePayloadKey(),
};

function errorOf(env: Record<string, string>): string {
  try {
    loadWorkerConfig({ ...valid, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a configuration error');
}

it('is off when neither variable is set (or both are blank): an unversioned worker, as before', () => {
  expect(loadWorkerConfig(valid).workerDeployment).toBeUndefined();
  const blank = loadWorkerConfig({ ...valid, CIBA_WORKER_DEPLOYMENT_NAME: ' ', CIBA_WORKER_BUILD_ID: '' });
  expect(blank.workerDeployment).toBeUndefined();
  expect(workerDeploymentOptions(undefined)).toBeUndefined();
});

it('gives the worker its deployment version, every workflow AUTO_UPGRADE', () => {
  const config = loadWorkerConfig({
    ...valid,
    CIBA_WORKER_DEPLOYMENT_NAME: 'ciba-approvals',
    CIBA_WORKER_BUILD_ID: '2026.12.07-3f2a1c9',
  });
  expect(config.workerDeployment).toEqual({ deploymentName: 'ciba-approvals', buildId: '2026.12.07-3f2a1c9' });
  expect(workerDeploymentOptions(config.workerDeployment)).toEqual({
    useWorkerVersioning: true,
    version: { deploymentName: 'ciba-approvals', buildId: '2026.12.07-3f2a1c9' },
    defaultVersioningBehavior: 'AUTO_UPGRADE',
  });
});

it.each([
  [
    { CIBA_WORKER_DEPLOYMENT_NAME: 'ciba-approvals' },
    'CIBA_WORKER_BUILD_ID: required with CIBA_WORKER_DEPLOYMENT_NAME',
  ],
  [{ CIBA_WORKER_BUILD_ID: 'b1' }, 'CIBA_WORKER_DEPLOYMENT_NAME: required with CIBA_WORKER_BUILD_ID'],
])('refuses one variable without the other, naming the missing one (%j)', (env, message) => {
  expect(errorOf(env)).toContain(message);
});

it.each([
  [
    'a name with a dot',
    { CIBA_WORKER_DEPLOYMENT_NAME: 'ciba.approvals', CIBA_WORKER_BUILD_ID: 'b1' },
    'CIBA_WORKER_DEPLOYMENT_NAME',
  ],
  [
    "the server's unversioned build",
    { CIBA_WORKER_DEPLOYMENT_NAME: 'ciba-approvals', CIBA_WORKER_BUILD_ID: '__unversioned__' },
    'CIBA_WORKER_BUILD_ID',
  ],
  [
    'a build ID over 255 characters',
    { CIBA_WORKER_DEPLOYMENT_NAME: 'ciba-approvals', CIBA_WORKER_BUILD_ID: 'x'.repeat(256) },
    'CIBA_WORKER_BUILD_ID',
  ],
])('refuses what the server would: %s', (_what, env, variable) => {
  expect(errorOf(env)).toContain(`${variable}:`);
});

describe("a team's worker through withApprovals (approvalWorkerDeployment)", () => {
  const configured = { deploymentName: 'ciba-approvals', buildId: 'b1' };
  const theirs = (
    version = configured,
    defaultVersioningBehavior: 'AUTO_UPGRADE' | 'PINNED' = 'AUTO_UPGRADE',
  ): WorkerDeploymentOptions => ({ useWorkerVersioning: true, version, defaultVersioningBehavior });

  it('gets the configured version when its options have none, and keeps its own when they agree', () => {
    expect(approvalWorkerDeployment(undefined, configured)).toEqual(workerDeploymentOptions(configured));
    expect(approvalWorkerDeployment(theirs(), configured)).toEqual(theirs());
    expect(approvalWorkerDeployment(theirs(), undefined)).toEqual(theirs());
    expect(approvalWorkerDeployment(undefined, undefined)).toBeUndefined();
  });

  it('refuses a PINNED default (approvals outlive builds) and another version than the configured one', () => {
    expect(() => approvalWorkerDeployment(theirs(configured, 'PINNED'), undefined)).toThrow(/must be AUTO_UPGRADE/);
    expect(() => approvalWorkerDeployment(theirs({ ...configured, buildId: 'b2' }), configured)).toThrow(
      /ciba-approvals\.b2\) are not the configured version ciba-approvals\.b1/,
    );
    expect(() => approvalWorkerDeployment({ useWorkerVersioning: false, version: configured }, configured)).toThrow(
      /versioning off/,
    );
  });
});
