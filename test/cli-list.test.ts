/**
 * The `ciba` CLI for people: `list` by status, exit codes per outcome, `--json` on every command (errors included),
 * the Temporal UI link, and `wait`'s progress line on a terminal (a pseudo-terminal from Python's pty module) and
 * off one. Real processes against the real stack.
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../devstack/ts-process';
import { ExitCode } from '../common/outcomes';
import { isPending, waitForApprovalState } from './support/approvals';
import { Device, sharedStack, uniqueBindingMessage } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';
import { CIBA, runCiba, type CibaRun } from './support/ciba-cli';

jest.setTimeout(4 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('cli-list');
const UI = 'http://ui.example.test:8233';

async function ciba(...args: string[]): Promise<CibaRun> {
  return runCiba({ ...fixture.env, TEMPORAL_UI_URL: UI }, ...args);
}

/** Runs `ciba --json` and parses stdout: it must be one JSON document, whatever the exit code. */
async function cibaJson<T = Record<string, unknown>>(...args: string[]): Promise<{ code: number; json: T }> {
  const run = await ciba(...args, '--json');
  let json: T;
  try {
    json = JSON.parse(run.stdout) as T;
  } catch (error) {
    throw new Error(
      `ciba ${args.join(' ')} --json printed no JSON document (${(error as Error).message}):\n${run.stdout}\n${run.stderr}`,
      { cause: error },
    );
  }
  return { code: run.code, json };
}

/** A CLI process whose output is read as it comes; `pty` runs it on a pseudo-terminal (Python's pty module). */
function spawnCiba(args: string[], options: { pty: boolean }) {
  const command = options.pty
    ? [
        'python3',
        '-c',
        [
          'import os, pty, sys',
          'pid, fd = pty.fork()',
          'if pid == 0:',
          '    os.execv(sys.argv[1], sys.argv[1:])',
          'while True:',
          '    try:',
          '        data = os.read(fd, 4096)',
          '    except OSError:',
          '        break',
          '    if not data:',
          '        break',
          '    os.write(1, data)',
          'sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))',
        ].join('\n'),
        process.execPath,
        CIBA,
        ...args,
      ]
    : [process.execPath, CIBA, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...fixture.env, TEMPORAL_UI_URL: UI },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { output: () => output, errors: () => errors, exited };
}

async function requestApproval(label: string, ...extra: string[]): Promise<{ workflowId: string; message: string }> {
  const message = uniqueBindingMessage(label);
  const started = await cibaJson<{ workflowId: string; started: boolean }>(
    'request',
    '--login-hint',
    'alice@example.com',
    '--binding-message',
    message,
    ...extra,
  );
  expect(started.code).toBe(ExitCode.Ok);
  expect(started.json.started).toBe(true);
  return { workflowId: started.json.workflowId, message };
}

it('lists approvals by status, exits by outcome, and prints one JSON document with --json on every command', async () => {
  const approved = await requestApproval('List approve');
  const denied = await requestApproval('List deny');
  const expired = await requestApproval('List expire', '--requested-expiry', '10', '--max-asks', '1');
  const cancelled = await requestApproval('List cancel');

  // Pending ones are listed as pending, with their summary (the binding message, decrypted), never a token.
  await waitUntil(async () => {
    const listed = await cibaJson<{ approvals: { workflowId: string; status: string; summary?: string }[] }>(
      'list',
      '--status',
      'pending',
    );
    const ids = listed.json.approvals.map((a) => a.workflowId);
    return ids.includes(denied.workflowId) && ids.includes(cancelled.workflowId) && listed;
  }, 'denied and cancelled approvals listed as pending');

  const a = await waitForApprovalState(fixture.temporal, approved.workflowId, isPending);
  await device.decide(a.authReqId!, 'approve');
  const d = await waitForApprovalState(fixture.temporal, denied.workflowId, isPending);
  await device.decide(d.authReqId!, 'deny');
  const cancel = await cibaJson('cancel', cancelled.workflowId);
  expect(cancel).toEqual({ code: ExitCode.Ok, json: { workflowId: cancelled.workflowId, cancelRequested: true } });

  // Exit codes by outcome, with --json: one document each.
  const outcomes = [
    [approved, ExitCode.Ok, 'approved'],
    [denied, ExitCode.Denied, 'ApprovalDenied'],
    [expired, ExitCode.Expired, 'ApprovalExpired'],
    [cancelled, ExitCode.Failed, 'ApprovalCancelled'],
  ] as const;
  for (const [approval, code, outcome] of outcomes) {
    const waited = await cibaJson<{ workflowId: string; outcome: string }>('wait', approval.workflowId);
    expect({ code: waited.code, outcome: waited.json.outcome }).toEqual({ code, outcome });
  }
  // ... and the same exit codes in human mode (denied: 3, expired: 4).
  expect((await ciba('wait', denied.workflowId)).code).toBe(ExitCode.Denied);
  expect((await ciba('wait', expired.workflowId)).code).toBe(ExitCode.Expired);

  // list --status finds each by its status word (visibility is eventually consistent: wait for it).
  const statuses = [
    [approved, 'approved'],
    [denied, 'denied'],
    [expired, 'expired'],
    [cancelled, 'cancelled'],
  ] as const;
  for (const [approval, status] of statuses) {
    const listed = await waitUntil(async () => {
      const run = await cibaJson<{ approvals: { workflowId: string; status: string; summary?: string }[] }>(
        'list',
        '--status',
        status,
      );
      expect(run.code).toBe(ExitCode.Ok);
      return run.json.approvals.find((x) => x.workflowId === approval.workflowId);
    }, `${approval.workflowId} listed as ${status}`);
    expect(listed.status).toBe(status);
    // The static summary (common/approval-summary.ts), decrypted: it names the transaction.
    expect(listed.summary).toContain(approval.message);
  }
  const human = await ciba('list', '--status', 'approved', '--limit', '5');
  expect(human.code).toBe(ExitCode.Ok);
  expect(human.stdout).toMatch(/^ID\s+STATUS\s+STARTED\s+SUMMARY/);
  expect(human.stdout).toContain(approved.workflowId);
  expect(human.stdout).toContain(approved.message);
  expect(human.stdout).not.toContain(denied.workflowId);
  expect(human.stdout).not.toContain('eyJ');
  const all = await cibaJson<{ approvals: unknown[] }>('list', '--limit', '2');
  expect(all.json.approvals).toHaveLength(2);

  // status: JSON, and the link to the run in the Temporal UI in human output.
  const status = await cibaJson<{ workflowId: string; approval: { status: string } }>('status', approved.workflowId);
  expect(status.json).toMatchObject({ workflowId: approved.workflowId, approval: { status: 'approved' } });
  const humanStatus = await ciba('status', approved.workflowId);
  expect(humanStatus.stdout).toContain(`Temporal UI: ${UI}/namespaces/default/workflows/${approved.workflowId}`);

  // Errors in --json mode are JSON too, with the exit code.
  const unknown = await cibaJson<{ error: { type: string; message: string }; exitCode: number }>(
    'status',
    'ciba-approval-no-such-approval',
  );
  expect(unknown.code).toBe(ExitCode.Failed);
  expect(unknown.json.exitCode).toBe(ExitCode.Failed);
  expect(unknown.json.error.message).toBeTruthy();
  const usage = await cibaJson<{ error: { type: string }; exitCode: number }>('list', '--status', 'bogus');
  expect(usage).toEqual({
    code: ExitCode.Usage,
    json: { error: { type: 'UsageError', message: expect.stringContaining('--status') }, exitCode: ExitCode.Usage },
  });
  const refused = await cibaJson<{ error: { type: string } }>('request', '--binding-message', 'Pay 1.00 USD');
  expect(refused.code).toBe(ExitCode.Usage);
  expect(refused.json.error.type).toBe('InvalidApprovalRequest');
});

it('`ciba wait` redraws a progress line on a terminal, and prints plain lines when the state changes otherwise', async () => {
  const onTerminal = await requestApproval('Progress tty');
  const offTerminal = await requestApproval('Progress plain');
  const ttyState = await waitForApprovalState(fixture.temporal, onTerminal.workflowId, isPending);
  const plainState = await waitForApprovalState(fixture.temporal, offTerminal.workflowId, isPending);

  const tty = spawnCiba(['wait', onTerminal.workflowId], { pty: true });
  const plain = spawnCiba(['wait', offTerminal.workflowId], { pty: false });
  // A redraw: a carriage return not followed by a newline (a pty turns "\n" into "\r\n"), then the line.
  const redraw = /\r(?!\n)[^\r\n]*pending · ask 1 · ask expires in \d[^\r\n]*deadline in [^\r\n]* polls?/g;
  await waitUntil(() => (tty.output().match(redraw)?.length ?? 0) >= 2, 'two progress redraws on the terminal');
  await waitUntil(
    () => /^pending · ask 1 · ask expires at \S+ · deadline at \S+/m.test(plain.output()),
    'a plain line',
  );

  await device.decide(ttyState.authReqId!, 'approve');
  await device.decide(plainState.authReqId!, 'approve');
  expect(await tty.exited).toBe(ExitCode.Ok);
  expect(await plain.exited).toBe(ExitCode.Ok);
  expect(tty.output()).toContain(`approved: ${onTerminal.workflowId}`);
  expect(tty.output()).toContain(`Temporal UI: ${UI}/namespaces/default/workflows/${onTerminal.workflowId}`);
  expect(tty.output()).not.toContain('eyJ');

  const lines = plain.output();
  expect(lines).not.toContain('\r');
  expect(lines).toContain(`approved: ${offTerminal.workflowId}`);
  // A line per change of state, not per second: no line repeats the one before (the poll count aside).
  const pendingLines = lines.split('\n').filter((line) => line.startsWith('pending'));
  expect(pendingLines.length).toBeGreaterThan(0);
  const states = pendingLines.map((line) => line.replace(/ · \d+ polls?/, ''));
  states.slice(1).forEach((state, index) => expect(state).not.toBe(states[index]));
});
