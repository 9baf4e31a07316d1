/**
 * What a new approval workflow evaluates (docs/bench-start-costs.md): the SDK evaluates the bundle's workflow modules
 * again for every workflow, so the approval worker's bundle holds the approval workflows only, and a new workflow
 * evaluates neither zod nor the input rules built on it (workflows/input-rules.ts shares them per isolate).
 *
 * The workflows are created as the SDK's workflow thread creates them (its reusable V8 context, an SDK internal), from
 * the bundle the worker builds (same interceptor modules and bundler options).
 */
import { sharedPerIsolate } from '../workflows/isolate-shared';
import { workflowCreator } from './support/workflow-creator';

/** The modules one new workflow evaluated (webpack module ids: paths such as ./common/approval.ts). */
async function modulesOfNewWorkflows(workflowsPath: string, count: number): Promise<string[][]> {
  const creator = await workflowCreator(workflowsPath);
  try {
    const evaluated: string[][] = [];
    for (let i = 0; i < count; i++) {
      const workflow = await creator.create(i, 'cibaApproval');
      const { activator } = workflow as unknown as { activator: { moduleCache: Map<string, unknown> } };
      evaluated.push([...activator.moduleCache.keys()].map(String));
      await workflow.dispose();
    }
    return evaluated;
  } finally {
    await creator.destroy();
  }
}

it('sharedPerIsolate builds a value once per key', () => {
  let builds = 0;
  const build = () => ({ built: ++builds });
  const first = sharedPerIsolate('test-key', build);
  expect(sharedPerIsolate('test-key', build)).toBe(first);
  expect(builds).toBe(1);
  expect(sharedPerIsolate('test-other-key', build)).toEqual({ built: 2 });
});

it('a new approval workflow evaluates the approval modules, but no zod, input rules or sample agent', async () => {
  const [first, second] = await modulesOfNewWorkflows(require.resolve('../workflows/approval-workflows'), 2);
  for (const modules of [first!, second!]) {
    expect(modules).toEqual(expect.arrayContaining(['./workflows/approval.ts', './workflows/input-rules.ts']));
    expect(modules.filter((m) => /zod|common\/approval\.ts|common\/start-seal\.ts|payment/.test(m))).toEqual([]);
    // Preloaded once per isolate, not per workflow.
    expect(modules).not.toContain('./workflows/isolate-shared.ts');
  }
}, 120_000);
