/**
 * `ciba`: start, watch, wait for and cancel approvals from the shell.
 *
 *   ciba request --login-hint H --binding-message M [...]   (see USAGE below)
 *   ciba status ID [--json]          (ID: the workflow ID, or the key given to `request --id`)
 *   ciba wait ID [--json] [--show-tokens]
 *   ciba cancel ID [--json]
 *   ciba list [--status S] [--limit N] [--json]
 *
 * Tokens are redacted in the output unless --show-tokens. With --json every command prints one JSON document on
 * stdout, errors included ({"error": {...}, "exitCode": N}). Exit codes: see ExitCode and FAILURE_OUTCOMES
 * (common/outcomes.ts); `ciba --help` lists them.
 */
import { readFileSync } from 'node:fs';
import { WorkflowNotFoundError } from '@temporalio/client';
import { parseArgs } from 'node:util';
import { API_APPROVAL_ID_PREFIX, API_APPROVAL_KEY_PREFIX } from '../api/approval-ids';
import { describeJsonSyntaxProblem } from '../api/json-text';
import type { ApprovalRequestInput, ApprovalResult } from '../common/approval';
import { ConfigError } from '../common/config';
import { ExitCode, exitCodeList, exitCodeTable, failureOutcome, type ApprovalStatus } from '../common/outcomes';
import {
  ApprovalClient,
  ApprovalFailedError,
  ApprovalKeyMismatchError,
  InvalidApprovalRequestError,
  LISTABLE_STATUSES,
  type ApprovalProgress,
  type ListedApproval,
} from './approvals';

const USAGE = `usage:
  ciba request --login-hint H --binding-message M [--authorization-details JSON|@file] [--scope S]
               [--audience A] [--requested-expiry SECONDS] [--acr-values V]
               [--approval-timeout 24h] [--max-asks 3] [--ask-again-delay 60s]
               [--id KEY] [--wait] [--json] [--show-tokens]
  ciba status ID [--json]
  ciba wait ID [--json] [--show-tokens]
  ciba cancel ID [--json]
  ciba list [--status ${LISTABLE_STATUSES.join('|')}] [--limit N] [--json]

ID: an approval's workflow ID, or the key given to \`request --id\` (KEY names ciba-approval-KEY).
\`cancel\` of an approval that has already ended changes nothing and exits ${ExitCode.Ended}.
\`list\` shortens long IDs in the middle; --json prints them in full.
--json: one JSON document on stdout, errors included ({"error": {"type", "message"}, "exitCode"}).
On a terminal, \`wait\` redraws a progress line; otherwise it prints a line when the approval's state changes.

Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE.
Also: CIBA_TASK_QUEUE, the payload key (CIBA_PAYLOAD_KEY or CIBA_PAYLOAD_KEY_FILE), and TEMPORAL_UI_URL (links).
Exit codes: ${exitCodeList()}.
${exitCodeTable()}`;

class UsageError extends Error {}

/** `ciba cancel` of an approval that has already ended (the HTTP API answers 409 approval-ended). */
class ApprovalEndedError extends Error {
  override readonly name = 'ApprovalEnded';
  constructor(
    readonly workflowId: string,
    readonly execution: string,
  ) {
    super(
      `${workflowId} has already ended (${execution}): nothing to cancel; ciba wait ${workflowId} shows how it ended`,
    );
  }
}

const OPTIONS = {
  'login-hint': { type: 'string' },
  'login-hint-token': { type: 'string' },
  'id-token-hint': { type: 'string' },
  'binding-message': { type: 'string' },
  'authorization-details': { type: 'string' },
  scope: { type: 'string' },
  audience: { type: 'string' },
  'requested-expiry': { type: 'string' },
  'acr-values': { type: 'string' },
  'approval-timeout': { type: 'string' },
  'max-asks': { type: 'string' },
  'ask-again-delay': { type: 'string' },
  id: { type: 'string' },
  wait: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'show-tokens': { type: 'boolean', default: false },
  status: { type: 'string' },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Where `ciba wait` draws its progress: a terminal gets a line redrawn in place, anything else plain lines. */
export interface Terminal {
  isTTY: boolean;
  write(text: string): void;
}

const STDOUT: Terminal = {
  get isTTY() {
    return process.stdout.isTTY === true;
  },
  write: (text) => void process.stdout.write(text),
};

type Print = (human: string, json: unknown) => void;

export async function main(
  argv: string[],
  out: (line: string) => void = console.log,
  terminal: Terminal = STDOUT,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, id, ...extra] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return values.help ? ExitCode.Ok : ExitCode.Usage;
  }
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  const print: Print = (human, json) => out(values.json ? JSON.stringify(json, null, 2) : human);

  if (command === 'request') {
    if (id) throw new UsageError(`unexpected argument: ${id}`);
    if (values.id !== undefined && isHttpApiId(values.id)) {
      throw new UsageError(
        `--id ${values.id}: ids under ${API_APPROVAL_ID_PREFIX} (or ${API_APPROVAL_KEY_PREFIX}) belong to the HTTP API; choose another`,
      );
    }
    const request = requestFromOptions(values);
    return withClient(async (client) => {
      const started = await client.start(request, { key: values.id });
      const said = `${started.started ? 'started' : 'exists already'}: ${started.workflowId}`;
      if (!values.wait) {
        print(
          `${said}\n  ciba wait ${started.workflowId}\n  Temporal UI: ${client.uiLink(started.workflowId)}`,
          started,
        );
        return ExitCode.Ok;
      }
      if (!values.json) out(`${said}, waiting for the user...\n  Temporal UI: ${client.uiLink(started.workflowId)}`);
      return printOutcome(client, started.workflowId, values, print, terminal);
    });
  }
  if (command === 'list') {
    if (id) throw new UsageError(`unexpected argument: ${id}`);
    const status = listStatus(values.status);
    const limit = wholeNumber('--limit', values.limit) ?? 20;
    if (limit < 1 || limit > 1000) throw new UsageError('--limit takes a whole number from 1 to 1000');
    return withClient(async (client) => {
      const approvals = await client.list({ status, limit });
      print(listTable(approvals), { status: status ?? null, limit, approvals });
      return ExitCode.Ok;
    });
  }
  if (values.status !== undefined || values.limit !== undefined) {
    throw new UsageError('--status and --limit are options of ciba list');
  }
  if (!id) throw new UsageError(`${command} needs an approval ID`);
  switch (command) {
    case 'status':
      return withClient(async (client) => {
        const report = await client.status(await client.resolveId(id));
        const approval = report.approval;
        print(
          [
            `${report.workflowId}: ${report.execution}`,
            approval && `  status: ${approval.status}`,
            approval && `  binding message: ${approval.bindingMessage}`,
            approval &&
              `  approval deadline: ${approval.approvalDeadline}` +
                (approval.continuedAsNew ? ` (continued as new ${approval.continuedAsNew} times)` : ''),
            ...(approval?.asks ?? []).map(
              (ask) =>
                `  ask ${ask.number} (${ask.reason}) at ${ask.askedAt}, expires ${ask.expiresAt}${ask.outcome ? `: ${ask.outcome}` : ''}`,
            ),
            approval?.expiresAt && `  current ask expires: ${approval.expiresAt}`,
            approval?.intervalSeconds &&
              `  polling every ${approval.intervalSeconds}s, ${approval.polls} polls, ${approval.slowDowns} slow_down`,
            approval?.lastPollOutcome && `  last poll: ${approval.lastPollOutcome} at ${approval.lastPollAt}`,
            report.compactPolling &&
              `  compact polling (attempt ${report.compactPolling.attempt}): ${report.compactPolling.polls} polls of this ask` +
                (report.compactPolling.intervalSeconds ? `, every ${report.compactPolling.intervalSeconds}s` : '') +
                (report.compactPolling.lastAnswer
                  ? `, last answer ${report.compactPolling.lastAnswer} at ${report.compactPolling.lastPollAt}`
                  : ''),
            approval?.failure && `  failure: ${approval.failure.type}: ${approval.failure.message}`,
            !approval && report.failure && `  failure: ${report.failure.type}: ${report.failure.message}`,
            `  Temporal UI: ${client.uiLink(report.workflowId)}`,
          ]
            .filter(Boolean)
            .join('\n'),
          report,
        );
        return ExitCode.Ok;
      });
    case 'wait':
      return withClient(async (client) => {
        const workflowId = await client.resolveId(id);
        if (!values.json) out(`waiting for ${workflowId}\n  Temporal UI: ${client.uiLink(workflowId)}`);
        return printOutcome(client, workflowId, values, print, terminal);
      });
    case 'cancel':
      return withClient(async (client) => {
        const workflowId = await client.resolveId(id);
        // As the HTTP API: cancelling an approval that has ended is refused (it would change nothing), not "requested".
        const execution = (await client.client.workflow.getHandle(workflowId).describe()).status.name;
        if (execution !== 'RUNNING') throw new ApprovalEndedError(workflowId, execution);
        try {
          await client.cancel(workflowId);
        } catch (error) {
          // It ended between the two calls.
          if (error instanceof WorkflowNotFoundError) throw new ApprovalEndedError(workflowId, 'ended');
          throw error;
        }
        print(`cancellation requested: ${workflowId}`, { workflowId, cancelRequested: true });
        return ExitCode.Ok;
      });
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

async function printOutcome(
  client: ApprovalClient,
  workflowId: string,
  values: Values,
  print: Print,
  terminal: Terminal,
): Promise<number> {
  // --json prints one document: no progress then.
  const progress = values.json ? undefined : watchProgress(client, workflowId, terminal);
  let outcome: { result: ApprovalResult } | { error: unknown };
  try {
    outcome = { result: await client.result(workflowId) };
  } catch (error) {
    outcome = { error };
  } finally {
    await progress?.stop();
  }
  if ('result' in outcome) {
    const shown = values['show-tokens'] ? outcome.result : redactTokens(outcome.result);
    print(`approved: ${workflowId}\n${JSON.stringify(shown, null, 2)}`, {
      workflowId,
      outcome: 'approved',
      result: shown,
    });
    return ExitCode.Ok;
  }
  const error = outcome.error;
  if (!(error instanceof ApprovalFailedError)) throw error;
  // A key mismatch is not the approval's outcome to show, but a setup error: one line on stderr (see run()).
  if (error instanceof ApprovalKeyMismatchError && !values.json) throw error;
  print(`${error.type}: ${workflowId}\n  ${error.message}`, {
    workflowId,
    outcome: error.type,
    message: error.message,
    details: error.details,
  });
  return failureOutcome(error.type)?.exitCode ?? ExitCode.Failed;
}

/** How often `ciba wait` asks the approval where it stands (its status query). */
const PROGRESS_EVERY_MS = 1000;

/**
 * `ciba wait`'s progress until stop(): on a terminal one line, redrawn in place every second (status, ask, time left,
 * polls); otherwise a plain line each time the approval's state changes (not for the countdown alone).
 */
function watchProgress(client: ApprovalClient, workflowId: string, terminal: Terminal): { stop(): Promise<void> } {
  let stopped = false;
  let wake: (() => void) | undefined;
  let drawn = false;
  let lastKey: string | undefined;
  const loop = (async () => {
    while (!stopped) {
      const progress = await client.progress(workflowId).catch(() => undefined);
      if (stopped) break;
      if (progress) {
        if (terminal.isTTY) {
          terminal.write(`\r${progressLine(progress, Date.now())}\x1b[K`);
          drawn = true;
        } else {
          const key = progressKey(progress);
          if (key !== lastKey) terminal.write(`${progressLine(progress)}\n`);
          lastKey = key;
        }
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, PROGRESS_EVERY_MS).unref();
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      if (drawn) terminal.write('\r\x1b[K'); // the result replaces the progress line
    },
  };
}

/** What makes a plain (non-terminal) progress line worth printing again. */
function progressKey(progress: ApprovalProgress): string {
  return JSON.stringify([progress.status, progress.askCount, progress.expiresAt, progress.lastPollOutcome]);
}

/**
 * "pending · ask 1 · ask expires in 4m 57s · deadline in 23h 59m · 3 polls (authorization_pending)". With `nowMs`
 * (a terminal) the times are left as countdowns; without, as instants, so that the line only changes with the state.
 */
export function progressLine(progress: ApprovalProgress, nowMs?: number): string {
  const when = (iso: string) => (nowMs === undefined ? `at ${iso}` : `in ${timeLeft(Date.parse(iso) - nowMs)}`);
  const waiting = progress.status === 'initiating' || progress.status === 'pending';
  return [
    progress.status,
    progress.askCount > 0 && `ask ${progress.askCount}`,
    waiting && progress.expiresAt && `ask expires ${when(progress.expiresAt)}`,
    waiting && `deadline ${when(progress.approvalDeadline)}`,
    `${progress.polls} poll${progress.polls === 1 ? '' : 's'}` +
      (progress.lastPollOutcome ? ` (last: ${progress.lastPollOutcome})` : ''),
  ]
    .filter(Boolean)
    .join(' · ');
}

/** "3d 4h", "2h 5m", "4m 7s", "9s", "0s". */
export function timeLeft(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const [d, h, m, s] = [
    Math.floor(seconds / 86_400),
    Math.floor(seconds / 3600) % 24,
    Math.floor(seconds / 60) % 60,
    seconds % 60,
  ];
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function listStatus(value: string | undefined): ApprovalStatus | undefined {
  if (value === undefined) return undefined;
  if (!(LISTABLE_STATUSES as readonly string[]).includes(value)) {
    throw new UsageError(`--status takes one of ${LISTABLE_STATUSES.join(', ')}`);
  }
  return value as ApprovalStatus;
}

/**
 * Longest ID `ciba list` shows in full (the default `ciba-approval-<uuid>` has 50 characters); longer ones, such as an
 * agent's child approvals (`<agent id>/approval/<key>`, over 100), are shortened in the middle (--json: in full).
 */
export const LIST_ID_WIDTH = 64;

/** `text` at most `width` characters: its start and end, an ellipsis in the middle (where IDs differ least). */
export function middleEllipsis(text: string, width: number = LIST_ID_WIDTH): string {
  if (text.length <= width) return text;
  const tail = Math.floor((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(text.length - tail)}`;
}

/** id, status, started, summary: one approval a line, in columns; IDs over LIST_ID_WIDTH shortened in the middle. */
export function listTable(approvals: ListedApproval[]): string {
  if (!approvals.length) return 'no approvals';
  const rows = [
    ['ID', 'STATUS', 'STARTED', 'SUMMARY'],
    ...approvals.map((a) => [middleEllipsis(a.workflowId), a.status, a.startedAt, a.summary ?? '']),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) =>
    row
      .map((cell, column) => (column < 3 ? cell.padEnd(widths[column]!) : cell))
      .join('  ')
      .trimEnd(),
  );
  const shortened = approvals.some((a) => a.workflowId.length > LIST_ID_WIDTH);
  return [...table, ...(shortened ? ['(long IDs shortened with …: ciba list --json prints them in full)'] : [])].join(
    '\n',
  );
}

function requestFromOptions(values: Values): ApprovalRequestInput {
  const expiry = values['requested-expiry'];
  if (expiry !== undefined && !/^\d+$/.test(expiry)) throw new UsageError('--requested-expiry takes whole seconds');
  return {
    loginHint: values['login-hint'],
    loginHintToken: values['login-hint-token'],
    idTokenHint: values['id-token-hint'],
    bindingMessage: values['binding-message'] as string,
    authorizationDetails: parseAuthorizationDetails(values['authorization-details']),
    scope: values.scope,
    audience: values.audience,
    requestedExpiry: expiry === undefined ? undefined : Number(expiry),
    acrValues: values['acr-values']?.split(' ').filter(Boolean),
    approvalTimeout: duration(values['approval-timeout']),
    askAgain:
      values['max-asks'] === undefined && values['ask-again-delay'] === undefined
        ? undefined
        : {
            maxAsks: wholeNumber('--max-asks', values['max-asks']),
            delayBetweenAsks: duration(values['ask-again-delay']),
          },
  };
}

/** "90s", "15m", "24h", "3d", or whole seconds; validated with the request. */
function duration(value: string | undefined): string | number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : value;
}

function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number`);
  return Number(value);
}

/**
 * `--authorization-details JSON|@file`. A parse error names the file (or the option) and where the text stops being
 * JSON, never the text: the file may hold what only its owner should read, and Node's JSON.parse messages quote it.
 */
function parseAuthorizationDetails(value: string | undefined): ApprovalRequestInput['authorizationDetails'] {
  if (value === undefined) return undefined;
  let text = value;
  const source = value.startsWith('@') ? value.slice(1) : undefined;
  if (source !== undefined) {
    try {
      text = readFileSync(source, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(`--authorization-details: cannot read ${source}${code ? ` (${code})` : ''}`);
    }
  }
  try {
    return JSON.parse(text) as ApprovalRequestInput['authorizationDetails'];
  } catch {
    const where = describeJsonSyntaxProblem(text);
    throw new UsageError(
      source === undefined
        ? `--authorization-details is not valid JSON: ${where}`
        : `--authorization-details: ${source} is not valid JSON: ${where}`,
    );
  }
}

/**
 * The HTTP API's approval ids (api/approval-ids.ts): `ciba request` starts none. The API would not serve such an
 * approval to any API key anyway (its ids carry a tag only the API can make); refusing says so at once.
 */
function isHttpApiId(key: string): boolean {
  return key.startsWith(API_APPROVAL_KEY_PREFIX) || key.startsWith(API_APPROVAL_ID_PREFIX);
}

/** Tokens are credentials: show their kind and size, never their value. */
export function redactTokens(result: ApprovalResult): Record<string, unknown> {
  const redact = (token: string | undefined) =>
    token && `[redacted, ${token.length} characters; --show-tokens to print]`;
  return {
    ...result,
    accessToken: redact(result.accessToken),
    idToken: redact(result.idToken),
    refreshToken: redact(result.refreshToken),
  };
}

async function withClient(run: (client: ApprovalClient) => Promise<number>): Promise<number> {
  const client = await ApprovalClient.connect();
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

/** Runs the CLI and exits the process with its exit code. */
export function run(argv: string[]): void {
  // Errors too are one JSON document on stdout with --json (the exit code is the same as without).
  const json = argv.includes('--json');
  const fail = (code: ExitCode, type: string, message: string, human: string): never => {
    if (json) console.log(JSON.stringify({ error: { type, message }, exitCode: code }, null, 2));
    else console.error(human);
    process.exit(code);
  };
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError)
        fail(ExitCode.Usage, 'UsageError', error.message, `ciba: ${error.message}\n\n${USAGE}`);
      if (error instanceof ApprovalEndedError)
        fail(ExitCode.Ended, error.name, error.message, `ciba: ${error.message}`);
      if (error instanceof ApprovalKeyMismatchError) {
        const message =
          error.unreadableBy === 'worker'
            ? `${error.workflowId} failed, ${error.type}: ${error.reason}`
            : `${error.reason} (use the worker's CIBA_PAYLOAD_KEY)`;
        fail(ExitCode.Failed, error.type, message, `ciba: ${message}`);
      }
      if (error instanceof InvalidApprovalRequestError)
        fail(ExitCode.Usage, 'InvalidApprovalRequest', error.message, `ciba: ${error.message}`);
      if (error instanceof ConfigError) fail(ExitCode.Usage, 'ConfigError', error.message, `ciba: ${error.message}`);
      const message = error instanceof Error ? error.message : String(error);
      const type = error instanceof Error ? error.name : 'Error';
      fail(ExitCode.Failed, type, message, `ciba: ${message}`);
    },
  );
}

if (require.main === module) run(process.argv.slice(2));
