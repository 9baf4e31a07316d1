/**
 * Replay safety: the recorded histories of every approval path (test/replay/histories, recorded from real runs by
 * `npm run record:histories`) must replay on the current workflow code. A change that would break running
 * approvals fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { temporalSettings, workerDataConverter } from '../common/config';
import { approvalBundlerOptions } from '../worker/bundler-options';
import { workerInterceptors } from '../worker/worker';
import { FIXTURE_PAYLOAD_KEY, fixtureGenerations } from './replay/fixtures';

/** Each recorded run of every generation: its folder, file and the workflow ID it ran under (replay needs the ID). */
const generations = fixtureGenerations().map((dir) => ({
  dir,
  index: JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as Array<{ file: string; workflowId: string }>,
}));
const recorded = generations.flatMap(({ dir, index }) => index.map((entry) => ({ dir, ...entry })));

it('has a fixture for every path, in every generation', () => {
  expect(generations.length).toBeGreaterThanOrEqual(2);
  for (const { dir, index } of generations) {
    const files = index.map((entry) => entry.file);
    const paths = new Set(files.map((f) => f.replace(/(\.run\d+)?\.binpb$/, '')));
    for (const name of [
      'approve',
      'deny',
      'expire',
      'slow-down',
      'ask-again',
      'continue-as-new',
      'cancel',
      'provider-error',
      'payment-agent',
      'payment-agent-approval',
    ]) {
      expect([path.basename(dir), paths.has(name)]).toEqual([path.basename(dir), true]);
    }
    expect(files.filter((f) => f.startsWith('continue-as-new.run')).length).toBeGreaterThanOrEqual(3);
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.binpb'))
        .sort(),
    ).toEqual([...files].sort());
  }
  // The latest generation was recorded with compact polling's tiers too.
  const latest = generations.at(-1)!.index.map((entry) => entry.file);
  expect(latest).toContain('compact-approve.binpb');
});

/** The sample agent's runs replay on the agent's bundle; every other run on the approval worker's. */
const AGENT_HISTORIES = new Set(['payment-agent.binpb']);

it('replays every recorded history on the current workflow code, each on the bundle of the worker that runs it', async () => {
  // The worker's data converter and interceptors, as in production (worker/worker.ts).
  const dataConverter = workerDataConverter(temporalSettings({ CIBA_PAYLOAD_KEY: FIXTURE_PAYLOAD_KEY }));
  const historiesOf = (agent: boolean) =>
    recorded
      .filter(({ file }) => AGENT_HISTORIES.has(file) === agent)
      .map(({ dir, file, workflowId }) => ({
        workflowId,
        history: proto.api.history.v1.History.decode(readFileSync(path.join(dir, file))),
      }));
  const failures: string[] = [];
  let replayed = 0;
  for (const [workflowsPath, histories] of [
    [require.resolve('../workflows/approval-workflows'), historiesOf(false)],
    [require.resolve('../workflows'), historiesOf(true)],
  ] as const) {
    for await (const result of Worker.runReplayHistories(
      {
        workflowsPath,
        dataConverter,
        interceptors: { workflowModules: workerInterceptors.workflowModules },
        // As the worker bundles: the input rules shared by every workflow of the isolate (workflows/isolate-shared.ts).
        bundlerOptions: approvalBundlerOptions(),
      },
      histories,
    )) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId} (${result.runId}): ${result.error.message}`);
    }
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(recorded.length);
});
