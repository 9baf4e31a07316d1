/**
 * `ciba` and approval IDs: `status`, `wait` and `cancel` take the key given to `request --id` as well as the workflow
 * ID; `cancel` of an ended approval says so (exit code Ended, as the HTTP API's 409); `list` gives every approval a
 * status (runs that never set CibaApprovalStatus too) and shortens long IDs in the table, not in --json. Real
 * processes against the real stack, and the table's pure rendering.
 */
import { newStartSeal, statusOfExecution, type ListedApproval } from '../client/approvals';
import { LIST_ID_WIDTH, listTable, middleEllipsis } from '../client/cli';
import { ExitCode } from '../common/outcomes';
import { cibaApproval } from '../workflows/approval';
import { isPending, waitForApprovalState } from './support/approvals';
import { uniqueBindingMessage } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';
import { runCiba, type CibaRun } from './support/ciba-cli';

jest.setTimeout(4 * HANG_DETECTOR_MS);

const fixture = useWorkerFixture('cli-ids');
const UI = 'http://ui.example.test:8233';

async function ciba(...args: string[]): Promise<CibaRun> {
  return runCiba({ ...fixture.env, TEMPORAL_UI_URL: UI }, ...args);
}

/** An approval whose input the worker refuses (a blank binding message): it fails before it sets any status. */
async function startRefusedRun(workflowId: string): Promise<void> {
  const handle = await fixture.temporal.workflow.start(cibaApproval, {
    workflowId,
    taskQueue: fixture.env.CIBA_TASK_QUEUE!,
    args: [{ loginHint: 'alice@example.com', bindingMessage: '   ', seal: newStartSeal(workflowId) }],
  });
  await expect(handle.result()).rejects.toThrow();
}

it('status, wait and cancel take the key given to request --id; cancel of an ended approval exits Ended', async () => {
  const key = `ids-${Date.now()}`;
  const workflowId = `ciba-approval-${key}`;
  const started = await ciba(
    'request',
    '--login-hint',
    'alice@example.com',
    '--binding-message',
    uniqueBindingMessage('CLI ids'),
    '--id',
    key,
  );
  expect(started.code).toBe(ExitCode.Ok);
  await waitForApprovalState(fixture.temporal, workflowId, isPending);

  const status = await ciba('status', key, '--json');
  expect({ code: status.code, stderr: status.stderr }).toEqual({ code: ExitCode.Ok, stderr: '' });
  expect(JSON.parse(status.stdout)).toMatchObject({ workflowId, approval: { status: 'pending' } });
  // The full workflow ID still works.
  expect(JSON.parse((await ciba('status', workflowId, '--json')).stdout)).toMatchObject({ workflowId });

  const cancelled = await ciba('cancel', key, '--json');
  expect({ code: cancelled.code, json: JSON.parse(cancelled.stdout) as unknown }).toEqual({
    code: ExitCode.Ok,
    json: { workflowId, cancelRequested: true },
  });
  const waited = await ciba('wait', key);
  expect(waited.code).toBe(ExitCode.Failed);
  expect(waited.stdout).toContain(`waiting for ${workflowId}`);
  expect(waited.stdout).toContain(`Temporal UI: ${UI}/namespaces/default/workflows/${workflowId}`);
  expect(waited.stdout).toContain(`ApprovalCancelled: ${workflowId}`);

  // Cancelled already: as the HTTP API (409 approval-ended), not "cancellation requested".
  const again = await ciba('cancel', key);
  expect(again.code).toBe(ExitCode.Ended);
  expect(again.stdout).not.toContain('cancellation requested');
  expect(again.stderr).toContain(`${workflowId} has already ended (CANCELLED)`);
  const againJson = await ciba('cancel', workflowId, '--json');
  expect({ code: againJson.code, json: JSON.parse(againJson.stdout) as unknown }).toEqual({
    code: ExitCode.Ended,
    json: { error: { type: 'ApprovalEnded', message: expect.stringContaining('already ended') }, exitCode: 5 },
  });
});

it('lists runs that never set a status with the status their execution implies, long IDs shortened in the table', async () => {
  const stamp = Date.now();
  // Shaped like an agent's child approval: `<parent id>/approval/<key>`, far over the table's width.
  const longId = `pay-invoice-agent-${stamp}-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/approval/payInvoice-call_abcdefghijklmnop`;
  const plainId = `cli-ids-plain-${stamp}`; // a workflow ID without the prefix that is not a key of ciba-approval-*
  await startRefusedRun(longId);
  await startRefusedRun(plainId);

  // Full IDs that are not keys are taken as they are.
  for (const id of [longId, plainId]) {
    const status = await ciba('status', id, '--json');
    expect(status.code).toBe(ExitCode.Ok);
    expect(JSON.parse(status.stdout)).toMatchObject({ workflowId: id, execution: 'FAILED' });
  }

  const listed = await waitUntil(async () => {
    const run = await ciba('list', '--status', 'failed', '--limit', '50', '--json');
    expect(run.code).toBe(ExitCode.Ok);
    const approvals = (JSON.parse(run.stdout) as { approvals: ListedApproval[] }).approvals;
    const mine = approvals.filter((a) => a.workflowId === longId || a.workflowId === plainId);
    return mine.length === 2 && mine;
  }, 'the refused runs listed as failed');
  for (const approval of listed) expect(approval).toMatchObject({ status: 'failed', execution: 'FAILED' });

  const table = await ciba('list', '--limit', '50');
  expect(table.stdout).not.toContain(longId);
  expect(table.stdout).toContain(middleEllipsis(longId));
  expect(table.stdout).toMatch(new RegExp(`^${middleEllipsis(longId)}\\s+failed\\s`, 'm'));
  expect(table.stdout).toContain('ciba list --json prints them in full');
});

describe('the list table', () => {
  const approval = (workflowId: string): ListedApproval => ({
    workflowId,
    status: 'pending',
    execution: 'RUNNING',
    startedAt: '2026-12-07T10:00:00.000Z',
    summary: 'Pay 5.00 USD to ExampleCorp',
  });

  it('shortens IDs over LIST_ID_WIDTH in the middle, keeping both ends, and says so', () => {
    const long = `pay-invoice-agent-${'x'.repeat(60)}/approval/payInvoice-call_1`;
    const short = middleEllipsis(long);
    expect(short).toHaveLength(LIST_ID_WIDTH);
    const [head, tail] = short.split('…') as [string, string];
    // Both ends: the agent run's id starts it, the approval's key ends it.
    expect(head.length).toBeGreaterThan(LIST_ID_WIDTH / 3);
    expect(tail.length).toBeGreaterThan(LIST_ID_WIDTH / 3);
    expect(long.startsWith(head) && long.endsWith(tail)).toBe(true);
    const lines = listTable([approval(long), approval('ciba-approval-a')]).split('\n');
    expect(Math.max(...lines.slice(0, 3).map((line) => line.indexOf('pending')))).toBeLessThanOrEqual(
      LIST_ID_WIDTH + 2,
    );
    expect(lines[3]).toContain('--json prints them in full');
  });

  it('leaves IDs that fit as they are, without a note', () => {
    const id = 'ciba-approval-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9'; // the ID of a start without a key
    expect(middleEllipsis(id)).toBe(id);
    expect(listTable([approval(id)])).not.toContain('…');
    expect(listTable([approval(id)]).split('\n')).toHaveLength(2);
  });

  it('gives runs without a status attribute the status their execution implies', () => {
    expect(statusOfExecution('FAILED')).toBe('failed');
    expect(statusOfExecution('TERMINATED')).toBe('failed');
    expect(statusOfExecution('CANCELLED')).toBe('cancelled');
    expect(statusOfExecution('COMPLETED')).toBe('approved');
    expect(statusOfExecution('RUNNING')).toBe('initiating');
  });
});
