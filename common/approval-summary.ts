/**
 * How an approval reads in the Temporal UI: a one-line summary for the list ("Pay 50.00 USD to ExampleCorp ·
 * alice@…") and a details table of what is asked, given at start as the workflow's static summary and details.
 * Both are payloads, encrypted by the payload codec like the input (the UI reads them through the codec server);
 * even so the user is shown only in part.
 *
 * Plain functions without zod: requestApproval calls them inside agent workflows, where every module is evaluated
 * again for each new workflow.
 */
import type { AuthorizationDetail } from './approval';

/** What the summary and details are made from: an approval request, as given or as validated. */
export interface SummarySource {
  bindingMessage: string;
  loginHint?: string;
  loginHintToken?: string;
  idTokenHint?: string;
  authorizationDetails?: ReadonlyArray<AuthorizationDetail>;
}

/** The entries that are objects: callers may pass a request not validated yet, and a summary must never throw. */
function entries(source: SummarySource): AuthorizationDetail[] {
  const details: unknown = source.authorizationDetails;
  return Array.isArray(details) ? details.filter((d): d is AuthorizationDetail => isRecord(d)) : [];
}

/** The UI trims summaries; keep within its limit. */
const MAX_SUMMARY = 200;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** One line for one authorization_details entry: the RFC 9396 example types in words, any other by its type. */
export function describeAuthorizationDetail(detail: AuthorizationDetail): string {
  const amount = detail.instructedAmount;
  if (detail.type === 'payment_initiation' && isRecord(amount) && typeof detail.creditorName === 'string') {
    return `Pay ${String(amount.amount)} ${String(amount.currency)} to ${detail.creditorName}`;
  }
  if (detail.type === 'account_information') {
    const actions = Array.isArray(detail.actions) ? detail.actions.join(', ') : 'access';
    return `Account information: ${actions}`;
  }
  return String(detail.type);
}

/**
 * Who is asked, shown in part: the local part of an e-mail address ("alice@…"), the first characters of another
 * hint, or only the kind of hint for tokens.
 */
export function maskedUser(source: SummarySource): string {
  if (typeof source.loginHint === 'string') {
    const hint = source.loginHint;
    if (hint.startsWith('{')) return 'user by issuer and subject';
    const at = hint.indexOf('@');
    if (at > 0) return `${hint.slice(0, Math.min(at, 24))}@…`;
    return hint.length <= 4 ? `${hint.slice(0, 1)}…` : `${hint.slice(0, 4)}…`;
  }
  if (source.loginHintToken !== undefined) return 'user by login_hint_token';
  if (source.idTokenHint !== undefined) return 'user by id_token_hint';
  return 'no user';
}

/** "Pay 50.00 USD to ExampleCorp · alice@…"; without authorization_details, the binding message. */
export function approvalSummary(source: SummarySource): string {
  const details = entries(source);
  const what = details.length
    ? `${describeAuthorizationDetail(details[0]!)}${details.length > 1 ? ` (+${details.length - 1} more)` : ''}`
    : String(source.bindingMessage);
  const line = `${what} · ${maskedUser(source)}`;
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY - 1)}…` : line;
}

/** Markdown (the UI renders it): the binding message, the user in part, and each authorization_details entry as a table. */
export function approvalDetails(source: SummarySource): string {
  const lines = [`**${escapeMarkdown(String(source.bindingMessage))}** · ${escapeMarkdown(maskedUser(source))}`];
  for (const [i, detail] of entries(source).entries()) {
    lines.push(
      '',
      `**${i + 1}. ${escapeMarkdown(describeAuthorizationDetail(detail))}**`,
      '',
      '| field | value |',
      '|---|---|',
    );
    for (const [path, value] of flatten(detail)) lines.push(`| ${escapeMarkdown(path)} | ${escapeMarkdown(value)} |`);
  }
  return lines.join('\n');
}

/** Nested members as dotted paths ("instructedAmount.currency"), arrays by index; values as text. */
function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (Array.isArray(value)) {
    return value.length ? value.flatMap((item, i) => flatten(item, `${prefix}[${i}]`)) : [[prefix, '(none)']];
  }
  if (isRecord(value)) {
    const entries = Object.entries(value);
    return entries.length
      ? entries.flatMap(([key, item]) => flatten(item, prefix ? `${prefix}.${key}` : key))
      : [[prefix, '(none)']];
  }
  return [[prefix, value === null ? 'null' : String(value)]];
}

/** Text shown as text: no markup, links, or table breaks from client-sent values. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}
