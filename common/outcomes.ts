/**
 * How an approval can end: every failure type, with the status word the approval reports, the `ciba` CLI's exit
 * code and a one-line meaning. The README's outcome table and the CLI's exit codes are built from (and tested
 * against) this file.
 *
 * Imported by workflow code: keep it deterministic (no I/O, no Node APIs).
 */

/** Where an approval stands: the status query's `status`, and the `CibaApprovalStatus` search attribute. */
export type ApprovalStatus = 'initiating' | 'pending' | 'approved' | 'denied' | 'expired' | 'failed' | 'cancelled';

/** Exit codes of the `ciba` CLI. */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Denied: 3,
  Expired: 4,
  Ended: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code means, as `ciba --help` and the README list them. */
export const EXIT_CODE_MEANINGS: Record<ExitCode, string> = {
  [ExitCode.Ok]: 'approved (status, cancel: done)',
  [ExitCode.Failed]: 'other failure',
  [ExitCode.Usage]: 'bad usage or a request refused before it started',
  [ExitCode.Denied]: 'denied',
  [ExitCode.Expired]: 'expired',
  [ExitCode.Ended]: 'cancel: the approval had already ended, nothing changed (the HTTP API answers 409)',
};

/** "0 approved, 1 other failure, ...": the exit codes in one line. */
export function exitCodeList(): string {
  return Object.entries(EXIT_CODE_MEANINGS)
    .map(([code, meaning]) => `${code} ${meaning}`)
    .join(', ');
}

/** The exit codes, one row each: the code, what it means, and the outcomes (failure types) that end with it. */
export interface ExitCodeRow {
  code: ExitCode;
  meaning: string;
  /** 'tokens' for the approval, then the failure types with this exit code, in FAILURE_OUTCOMES order. */
  outcomes: string[];
}

export function exitCodeRows(): ExitCodeRow[] {
  return (Object.keys(EXIT_CODE_MEANINGS).map(Number) as ExitCode[]).map((code) => ({
    code,
    meaning: EXIT_CODE_MEANINGS[code],
    outcomes: [
      ...(code === ExitCode.Ok ? ['tokens'] : []),
      ...Object.entries(FAILURE_OUTCOMES)
        .filter(([, outcome]) => outcome.exitCode === code)
        .map(([type]) => type),
    ],
  }));
}

/**
 * The exit codes as a markdown table: the README's block between `<!-- exit-codes -->` and `<!-- /exit-codes -->` is
 * exactly this (test/exit-codes.test.ts).
 */
export function exitCodeMarkdown(): string {
  const cell = (row: ExitCodeRow) =>
    row.outcomes.length ? row.outcomes.map((o) => (o === 'tokens' ? 'tokens' : `\`${o}\``)).join(', ') : '—';
  return [
    '| exit code | meaning | outcomes |',
    '|---|---|---|',
    ...exitCodeRows().map((row) => `| ${row.code} | ${row.meaning} | ${cell(row)} |`),
  ].join('\n');
}

/** The exit codes as plain text for `ciba --help`: one line per code. */
export function exitCodeTable(): string {
  const rows = exitCodeRows();
  return rows
    .map((row) => `  ${row.code}  ${row.meaning}${row.outcomes.length ? `: ${row.outcomes.join(', ')}` : ''}`)
    .join('\n');
}

export interface FailureOutcome {
  /**
   * The status word of an approval that ended so. Absent when the approval was stopped from outside (terminated,
   * timed out): its status then stays what it was.
   */
  status?: Exclude<ApprovalStatus, 'initiating' | 'pending' | 'approved'>;
  /** The exit code of `ciba request --wait` and `ciba wait`. */
  exitCode: ExitCode;
  meaning: string;
}

/**
 * Every failure type (ApplicationFailure.type) an approval can end with. A parent workflow sees it as the `cause` of
 * a ChildWorkflowFailure; ApprovalClient as ApprovalFailedError.type. ActivityFailed is the workflow's name for an
 * activity failure no rule covers; the last four are the client's names for a run that ended cancelled, terminated,
 * timed out, or failed without a type.
 */
export const FAILURE_OUTCOMES = {
  // details[0] = { requested, granted }
  AuthorizationDetailsNotGranted: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning:
      'the user approved, but the provider did not grant the requested authorization_details: the tokens are withheld, and revoked where the provider can',
  },
  ApprovalDenied: { status: 'denied', exitCode: ExitCode.Denied, meaning: 'the user denied the request' },
  ApprovalExpired: {
    status: 'expired',
    exitCode: ExitCode.Expired,
    meaning: 'no decision before the last ask expired, or before the approval deadline',
  },
  // details[0] = { possibleAnswers: ['approved', 'denied'], askedAgainAfterLostAnswer } (workflows/polling.ts)
  ApprovalLost: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning:
      "the provider's final answer (an approval or a denial) was lost on the way back; not asked again by default",
  },
  // details[0] = { error, errorDescription, status, cibaError } (ProviderErrorDetails, common/approval.ts)
  CibaProviderError: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'the provider rejected the backchannel request',
  },
  ApprovalInitiationUncertain: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'the backchannel request may have reached the provider, but no answer came back; not sent again',
  },
  ProviderUnavailable: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'the backchannel request could not reach the provider in 5 attempts',
  },
  InvalidProviderResponse: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: "the provider's answer is not valid OAuth/CIBA",
  },
  InvalidApprovalRequest: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: "the request failed validation in the worker, or the provider profile's rules; nothing was sent",
  },
  PayloadNotEncrypted: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'a payload was not encrypted with the payload key; nothing was sent',
  },
  PayloadKeyMismatch: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'a payload was encrypted with a key the reader does not have',
  },
  InputNotSealed: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'the input carries no valid start seal (it was not made by a client of this version); nothing was sent',
  },
  InputReplayed: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning:
      'the input was made for another workflow ID, is older than the freshness window, or was used once already: a replay; nothing was sent',
  },
  // details[0] = { retryAt, limit: 'pending' | 'hourly', max } (workflows/user-asks.ts)
  AskRateLimited: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'the user has too many pending asks, or was asked too often lately; retry after details[0].retryAt',
  },
  ActivityFailed: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'an activity failed in a way no rule covers (a bug or an unexpected worker error)',
  },
  ApprovalCancelled: {
    status: 'cancelled',
    exitCode: ExitCode.Failed,
    meaning: 'the agent (or an operator) cancelled the approval',
  },
  ApprovalTerminated: { exitCode: ExitCode.Failed, meaning: 'the approval workflow was terminated' },
  ApprovalTimedOut: {
    exitCode: ExitCode.Failed,
    meaning: 'the approval workflow hit a Temporal timeout set at its start',
  },
  ApprovalFailed: {
    status: 'failed',
    exitCode: ExitCode.Failed,
    meaning: 'the approval failed without a failure type',
  },
} as const satisfies Record<string, FailureOutcome>;

/** A failure type: a key of FAILURE_OUTCOMES. */
export type ApprovalFailureType = keyof typeof FAILURE_OUTCOMES;

/** The failure types by name, for code: `ApprovalFailureType.Denied` is 'ApprovalDenied'. */
export const ApprovalFailureType = {
  AuthorizationDetailsNotGranted: 'AuthorizationDetailsNotGranted',
  Denied: 'ApprovalDenied',
  Expired: 'ApprovalExpired',
  Lost: 'ApprovalLost',
  ProviderRejected: 'CibaProviderError',
  InitiationUncertain: 'ApprovalInitiationUncertain',
  ProviderUnavailable: 'ProviderUnavailable',
  InvalidProviderResponse: 'InvalidProviderResponse',
  InvalidRequest: 'InvalidApprovalRequest',
  PayloadNotEncrypted: 'PayloadNotEncrypted',
  PayloadKeyMismatch: 'PayloadKeyMismatch',
  InputNotSealed: 'InputNotSealed',
  InputReplayed: 'InputReplayed',
  AskRateLimited: 'AskRateLimited',
  ActivityFailed: 'ActivityFailed',
  Cancelled: 'ApprovalCancelled',
  Terminated: 'ApprovalTerminated',
  TimedOut: 'ApprovalTimedOut',
  Failed: 'ApprovalFailed',
} as const satisfies Record<string, ApprovalFailureType>;

/** The row of a failure type; undefined for a type this table does not know (e.g. from a newer worker). */
export function failureOutcome(type: string): FailureOutcome | undefined {
  return Object.prototype.hasOwnProperty.call(FAILURE_OUTCOMES, type)
    ? FAILURE_OUTCOMES[type as ApprovalFailureType]
    : undefined;
}

/**
 * Failure types between activities and the approval workflow, never an approval's own: the workflow turns them into
 * an approval failure (InitiationNotSent, five times in a row, into ProviderUnavailable) or lets Temporal retry them.
 */
export const ActivityFailureType = {
  /** The backchannel request certainly did not reach the provider (no connection, or HTTP 429/503): safe to send again. */
  InitiationNotSent: 'InitiationNotSent',
  /** A transient fault at the provider (5xx, 429, timeout, reset); polls are retried by the retry policy. */
  ProviderUnavailable: 'ProviderUnavailable',
} as const;
export type ActivityFailureType = (typeof ActivityFailureType)[keyof typeof ActivityFailureType];
