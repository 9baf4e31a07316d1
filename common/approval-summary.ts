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

/** The UI's limit for a summary, in UTF-8 bytes. */
const MAX_SUMMARY_BYTES = 200;

/** UTF-8 length of one code point. */
const utf8Bytes = (codePoint: number) => (codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4);

/** `text` within `maxBytes` of UTF-8, ending in "…" when cut (whole characters only). */
function clip(text: string, maxBytes: number): string {
  const chars = [...text];
  const total = chars.reduce((n, c) => n + utf8Bytes(c.codePointAt(0)!), 0);
  if (total <= maxBytes) return text;
  let kept = '';
  let bytes = 3; // the "…"
  for (const c of chars) {
    bytes += utf8Bytes(c.codePointAt(0)!);
    if (bytes > maxBytes) break;
    kept += c;
  }
  return `${kept}…`;
}

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

/** What is asked, in words: the first authorization_details entry (and how many more), else the binding message. */
function whatIsAsked(source: SummarySource): string {
  const details = entries(source);
  return details.length
    ? `${describeAuthorizationDetail(details[0]!)}${details.length > 1 ? ` (+${details.length - 1} more)` : ''}`
    : String(source.bindingMessage);
}

/** "Pay 50.00 USD to ExampleCorp · alice@…" (at most 200 bytes): the run's summary (encrypted, like every payload). */
export function approvalSummary(source: SummarySource): string {
  return clip(`${whatIsAsked(source)} · ${maskedUser(source)}`, MAX_SUMMARY_BYTES);
}

/**
 * "Pay 50.00 USD to ExampleCorp": what is asked without the user, for the CibaSummary search attribute (plaintext on
 * the server; opt-in).
 */
export function listSummary(source: SummarySource): string {
  return clip(whatIsAsked(source), MAX_SUMMARY_BYTES);
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
