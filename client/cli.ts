/**
 * `ciba`: start, watch, wait for and cancel approvals from the shell.
 *
 *   ciba request --login-hint H --binding-message M [...]   (see USAGE below)
 *   ciba status ID [--json]
 *   ciba wait ID [--json] [--show-tokens]
 *   ciba cancel ID
 *
 * Tokens are redacted in the output unless --show-tokens. Exit codes: see ExitCode and FAILURE_OUTCOMES
 * (common/outcomes.ts); `ciba --help` lists them.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ApprovalRequestInput, ApprovalResult } from '../common/approval';
import { ConfigError } from '../common/config';
import { ExitCode, exitCodeList, failureOutcome } from '../common/outcomes';
import {
  ApprovalClient,
  ApprovalFailedError,
  ApprovalKeyMismatchError,
  InvalidApprovalRequestError,
} from './approvals';

const USAGE = `usage:
  ciba request --login-hint H --binding-message M [--authorization-details JSON|@file] [--scope S]
               [--audience A] [--requested-expiry SECONDS] [--acr-values V]
               [--approval-timeout 24h] [--max-asks 3] [--ask-again-delay 60s]
               [--id KEY] [--wait] [--json] [--show-tokens]
  ciba status ID [--json]
  ciba wait ID [--json] [--show-tokens]
  ciba cancel ID

Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE.
Also: CIBA_TASK_QUEUE, and the payload key: CIBA_PAYLOAD_KEY or CIBA_PAYLOAD_KEY_FILE.
Exit codes: ${exitCodeList()}.`;

class UsageError extends Error {}

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
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function main(argv: string[], out: (line: string) => void = console.log): Promise<number> {
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
  const print = (human: string, json: unknown) => out(values.json ? JSON.stringify(json, null, 2) : human);

  if (command === 'request') {
    if (id) throw new UsageError(`unexpected argument: ${id}`);
    const request = requestFromOptions(values);
    return withClient(async (client) => {
      const started = await client.start(request, { key: values.id });
      if (!values.wait) {
        print(
          `${started.started ? 'started' : 'exists already'}: ${started.workflowId}\n  ciba wait ${started.workflowId}`,
          started,
        );
        return ExitCode.Ok;
      }
      if (!values.json)
        out(`${started.started ? 'started' : 'exists already'}: ${started.workflowId}, waiting for the user...`);
      return printOutcome(client, started.workflowId, values, print);
    });
  }
  if (!id) throw new UsageError(`${command} needs an approval ID`);
  switch (command) {
    case 'status':
      return withClient(async (client) => {
        const report = await client.status(id);
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
          ]
            .filter(Boolean)
            .join('\n'),
          report,
        );
        return ExitCode.Ok;
      });
    case 'wait':
      return withClient((client) => printOutcome(client, id, values, print));
    case 'cancel':
      return withClient(async (client) => {
        await client.cancel(id);
        print(`cancellation requested: ${id}`, { workflowId: id, cancelRequested: true });
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
  print: (human: string, json: unknown) => void,
): Promise<number> {
  try {
    const result = await client.result(workflowId);
    const shown = values['show-tokens'] ? result : redactTokens(result);
    print(`approved: ${workflowId}\n${JSON.stringify(shown, null, 2)}`, {
      workflowId,
      outcome: 'approved',
      result: shown,
    });
    return ExitCode.Ok;
  } catch (error) {
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

function parseAuthorizationDetails(value: string | undefined): ApprovalRequestInput['authorizationDetails'] {
  if (value === undefined) return undefined;
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`--authorization-details: cannot read ${value.slice(1)}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text) as ApprovalRequestInput['authorizationDetails'];
  } catch (error) {
    throw new UsageError(`--authorization-details is not valid JSON: ${(error as Error).message}`);
  }
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
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) {
        console.error(`ciba: ${error.message}\n\n${USAGE}`);
        process.exit(ExitCode.Usage);
      }
      if (error instanceof ApprovalKeyMismatchError) {
        console.error(
          error.unreadableBy === 'worker'
            ? `ciba: ${error.workflowId} failed, ${error.type}: ${error.reason}`
            : `ciba: ${error.reason} (use the worker's CIBA_PAYLOAD_KEY)`,
        );
        process.exit(ExitCode.Failed);
      }
      if (error instanceof InvalidApprovalRequestError || error instanceof ConfigError) {
        console.error(`ciba: ${error.message}`);
        process.exit(ExitCode.Usage);
      }
      console.error(`ciba: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(ExitCode.Failed);
    },
  );
}

if (require.main === module) run(process.argv.slice(2));
