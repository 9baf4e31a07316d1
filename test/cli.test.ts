/** The `ciba` CLI as a user runs it: a real process, against the real stack. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../devstack/ts-process';
import { isPending, waitForApprovalState } from './support/approvals';
import { Device, sharedStack, uniqueBindingMessage } from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row (each CLI run is a Node process of its own).
jest.setTimeout(3 * HANG_DETECTOR_MS);

const run = promisify(execFile);
const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('cli');

async function ciba(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(REPO_ROOT, 'bin', 'ciba.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...fixture.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

it('requests, reports status, waits, and redacts tokens unless --show-tokens', async () => {
  const bindingMessage = uniqueBindingMessage('CLI payment');
  const id = `cli-${Date.now()}`;
  const requestedAtMs = Date.now();
  const details = JSON.stringify([
    { type: 'payment_initiation', instructedAmount: { currency: 'USD', amount: '5.00' }, creditorName: 'ExampleCorp' },
  ]);
  const started = await ciba(
    'request',
    '--login-hint',
    'alice@example.com',
    '--binding-message',
    bindingMessage,
    '--authorization-details',
    details,
    '--id',
    id,
    '--approval-timeout',
    '2h',
    '--max-asks',
    '2',
    '--ask-again-delay',
    '30s',
    '--json',
  );
  expect(started.code).toBe(0);
  const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
  expect(workflowId).toBe(`ciba-approval-${id}`);

  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  const status = await ciba('status', workflowId);
  const statusAtMs = Date.now();
  expect(status.stdout).toContain('status: pending');
  expect(status.stdout).toContain(`binding message: ${bindingMessage}`);
  expect(status.stdout).toMatch(/ask 1 \(first\) at /);
  // 2 h from the approval's start, which came after the request was made and before the status was answered (the
  // Temporal server's clock and this process's are the same machine's).
  const deadline = Date.parse(/approval deadline: (\S+)/.exec(status.stdout)![1]!);
  expect(deadline).toBeGreaterThanOrEqual(requestedAtMs + 7_200_000);
  expect(deadline).toBeLessThanOrEqual(statusAtMs + 7_200_000);

  await device.decide(authReqId!, 'approve');
  const waited = await ciba('wait', workflowId, '--json');
  expect(waited.code).toBe(0);
  const output = JSON.parse(waited.stdout) as { outcome: string; result: Record<string, unknown> };
  expect(output.outcome).toBe('approved');
  expect(output.result.accessToken).toMatch(/^\[redacted, \d+ characters/);
  expect(waited.stdout).not.toContain('eyJ');

  const shown = await ciba('wait', workflowId, '--json', '--show-tokens');
  expect((JSON.parse(shown.stdout) as typeof output).result.accessToken).toMatch(/^eyJ/);
});

it('`ciba wait` follows the approval through continue-as-new runs to its result', async () => {
  const { workflowId } = await fixture.approvals.start({
    loginHint: 'alice@example.com',
    bindingMessage: uniqueBindingMessage('CLI long wait'),
    continueAsNewAfterEvents: 30,
  });
  const waiting = ciba('wait', workflowId, '--json');
  const state = await waitForApprovalState(fixture.temporal, workflowId, (s) => isPending(s) && s.continuedAsNew >= 3);
  await device.decide(state.authReqId!, 'approve');
  const waited = await waiting;
  // The output too, so that a failure says why.
  expect({ code: waited.code, stdout: waited.stdout, stderr: waited.stderr }).toMatchObject({ code: 0 });
  expect(JSON.parse(waited.stdout)).toMatchObject({ workflowId, outcome: 'approved' });
});

it('exits 3 with ApprovalDenied when the user denies', async () => {
  const bindingMessage = uniqueBindingMessage('CLI deny');
  const started = await ciba(
    'request',
    '--login-hint',
    'bob@example.com',
    '--binding-message',
    bindingMessage,
    '--json',
  );
  const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await device.decide(authReqId!, 'deny');
  const waited = await ciba('wait', workflowId);
  expect(waited.code).toBe(3);
  expect(waited.stdout).toContain('ApprovalDenied');
});

it('rejects bad input with exit code 2 and a message that says what is wrong', async () => {
  const noHint = await ciba('request', '--binding-message', 'Pay 1.00 USD');
  expect(noHint.code).toBe(2);
  expect(noHint.stderr).toContain('one of loginHint, loginHintToken or idTokenHint is required');

  const badJson = await ciba(
    'request',
    '--login-hint',
    'alice',
    '--binding-message',
    'Pay',
    '--authorization-details',
    '{nope',
  );
  expect(badJson.code).toBe(2);
  expect(badJson.stderr).toContain('--authorization-details is not valid JSON');

  const unknown = await ciba('frobnicate', 'x');
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('unknown command: frobnicate');
});
