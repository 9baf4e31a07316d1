import { errors, type AuthorizationDetail, type RichAuthorizationRequestType } from 'oidc-provider';
import { z } from 'zod';

import { AUTHORIZATION_DETAILS_HARD_LIMITS, formatZodError } from '../common/approval';
import { authorizationDetailsProblem } from '../common/provider-profile';
import {
  listInWords,
  memberPath,
  mixedScripts,
  revealUnsafe,
  unsafeCharacter,
  unsafeTextInJson,
} from '../common/safe-text';

const StringList = z.array(z.string().min(1));

/** RFC 9396 section 2 example type. Unknown extra members are allowed (kept as sent). */
export const PaymentInitiationSchema = z.looseObject({
  type: z.literal('payment_initiation'),
  locations: StringList.optional(),
  actions: StringList.optional(),
  instructedAmount: z.object({
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code, e.g. "EUR"'),
    amount: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal string, e.g. "123.50"'),
  }),
  creditorName: z.string().min(1),
  creditorAccount: z.record(z.string(), z.unknown()).optional(),
  remittanceInformationUnstructured: z.string().optional(),
});
export type PaymentInitiation = z.infer<typeof PaymentInitiationSchema>;

/** Free-form account access (RFC 9396 examples), only the common members are checked. */
const AccountInformationSchema = z.looseObject({
  type: z.literal('account_information'),
  locations: StringList.optional(),
  actions: StringList.optional(),
});

/**
 * Every type's check at /bc-authorize: its schema; safe text in every member name and string value at every depth
 * (common/safe-text.ts: no bidi control, zero-width, format or control character), the rule ApprovalRequestSchema
 * applies, so that a client that skips our schema cannot put on the device what it would not show as sent; and the
 * hard limits of common/approval.ts (size, members, depth), so that the device page can show every member.
 */
function validator(schema: z.ZodType): RichAuthorizationRequestType {
  return {
    validate(_ctx, detail) {
      const problem =
        unsafeTextInJson(detail, '') ?? authorizationDetailsProblem([detail], AUTHORIZATION_DETAILS_HARD_LIMITS);
      if (problem) throw new errors.InvalidAuthorizationDetails(`${detail.type}: ${problem}`);
      const result = schema.safeParse(detail);
      if (!result.success) {
        throw new errors.InvalidAuthorizationDetails(`${detail.type}: ${formatZodError(result.error)}`);
      }
    },
  };
}

/** The types the device describes in a sentence. */
const KNOWN_TYPES = {
  payment_initiation: validator(PaymentInitiationSchema),
  account_information: validator(AccountInformationSchema),
};

/** A type name the provider may be told to accept besides its own (IDP_EXTRA_AUTHORIZATION_DETAILS_TYPES). */
export const EXTRA_TYPE_NAME = /^[\x21-\x7E]{1,255}$/;

/**
 * features.richAuthorizationRequests.types: the known types, checked by their schemas, and `extra` types accepted with
 * any members (as an Auth0 tenant accepts the types registered on its API; the device shows them as a table). Any
 * other type is rejected with invalid_authorization_details.
 */
export function authorizationDetailsTypes(extra: readonly string[] = []): Record<string, RichAuthorizationRequestType> {
  return {
    ...KNOWN_TYPES,
    ...Object.fromEntries(
      extra
        .filter((name) => !Object.hasOwn(KNOWN_TYPES, name))
        .map((name) => [name, validator(z.looseObject({ type: z.literal(name) }))]),
    ),
  };
}

/** A known type's sentence, and the members it says (by path), so that the device shows every other member beside it. */
interface KnownSentence {
  /** "Pay 50.00 USD to ExampleCorp (Invoice 42)". */
  line: string;
  /** The members the sentence says in full, by path (`pathKey(['instructedAmount', 'amount'])`); `type` always. */
  said: Set<string>;
  /** The strings it says, by label, for warnings (mixed scripts). */
  values: Array<[label: string, value: string]>;
}

function knownSentence(detail: AuthorizationDetail): KnownSentence | undefined {
  const payment = PaymentInitiationSchema.safeParse(detail);
  if (payment.success) {
    const { instructedAmount, creditorName, remittanceInformationUnstructured: note } = payment.data;
    const said = new Set(
      [['type'], ['instructedAmount', 'amount'], ['instructedAmount', 'currency'], ['creditorName']].map(pathKey),
    );
    const values: KnownSentence['values'] = [['Creditor name', creditorName]];
    if (note) {
      said.add(pathKey(['remittanceInformationUnstructured']));
      values.push(['Remittance information', note]);
    }
    const line = `Pay ${instructedAmount.amount} ${instructedAmount.currency} to ${revealUnsafe(creditorName)}${
      note ? ` (${revealUnsafe(note)})` : ''
    }`;
    return { line, said, values };
  }
  const account = AccountInformationSchema.safeParse(detail);
  if (account.success) {
    const { actions, locations } = account.data;
    const said = new Set([pathKey(['type'])]);
    const values: KnownSentence['values'] = [];
    const words = (member: 'actions' | 'locations', list: string[] | undefined) => {
      if (!list?.length) return undefined;
      said.add(pathKey([member]));
      for (const item of list) values.push([keyLabel(member), item]);
      return list.map(revealUnsafe).join(', ');
    };
    const what = words('actions', actions) ?? 'access';
    const where = words('locations', locations);
    return { line: `Account information: ${what}${where ? ` at ${where}` : ''}`, said, values };
  }
  return undefined;
}

/** Human-readable line for a type the device knows, e.g. "Pay 50.00 USD to ExampleCorp"; undefined for others. */
export function knownAuthorizationDetailLine(detail: AuthorizationDetail): string | undefined {
  return knownSentence(detail)?.line;
}

/**
 * Human-readable line for the authentication device, e.g. "Pay 50.00 USD to ExampleCorp"; for a type the device
 * does not know, its name (its members are shown as a table: authorizationDetailView).
 */
export function describeAuthorizationDetail(detail: AuthorizationDetail): string {
  return knownAuthorizationDetailLine(detail) ?? `Request of type ${String(detail.type)}`;
}

/**
 * A JSON value as the device shows it: text, a list, or a table of rows. The page builds its elements from this
 * with textContent only, so markup in a client-sent value stays text. `warning`: what the reader must know about the
 * text (it mixes scripts, so letters that look alike may differ), shown beside it.
 */
export type DetailNode = { text: string; warning?: string } | { list: DetailNode[] } | { rows: DetailRow[] };

export interface DetailRow {
  /** The member's name as sent; for a known type's members, its path ("creditorAccount.iban"). */
  key: string;
  /** The name in words: "instructedAmount" and "instructed_amount" are "Instructed amount"; a path "Creditor account › Iban". */
  label: string;
  /** What the reader must know about the name (mixed scripts), shown beside it. */
  keyWarning?: string;
  value: DetailNode;
}

/**
 * One authorization_details entry on the device: every member of it. A known type: its sentence, then every member the
 * sentence does not say, labelled by its path. Another type: the table of its members.
 */
export interface AuthorizationDetailView {
  type: string;
  /** The sentence for a known type (as in `summary`), else null. */
  line: string | null;
  /** What the reader must know about the values in the sentence (mixed scripts), shown beside it. */
  lineWarnings: string[];
  /**
   * A known type: the members its sentence does not say (none: []), objects flattened into rows labelled by their
   * path. Another type: every member other than `type`, nested objects as nested tables.
   */
  rows: DetailRow[];
}

/**
 * Deeper than this, a value is shown as "…". Never reached: the provider refuses details nested deeper than
 * AUTHORIZATION_DETAILS_HARD_LIMITS.maxDepth (16) at /bc-authorize, so the device shows every member.
 */
const MAX_VIEW_DEPTH = 32;

export function authorizationDetailView(detail: AuthorizationDetail): AuthorizationDetailView {
  const type = String(detail.type);
  const known = knownSentence(detail);
  if (known) {
    const lineWarnings = known.values.flatMap(([label, value]) => {
      const warning = textWarning(value);
      return warning ? [`${label} "${revealUnsafe(value)}" ${warning}`] : [];
    });
    const rows = unsaidRows(detail as Record<string, unknown>, [], '', known.said);
    return { type, line: known.line, lineWarnings, rows };
  }
  const { type: _type, ...members } = detail as Record<string, unknown>;
  return { type, line: null, lineWarnings: [], rows: detailRows(members, 1) };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A member's path as a set key: by its names, so that a member named "a.b" is never taken for b inside a. */
const pathKey = (path: readonly string[]): string => JSON.stringify(path);

/**
 * The members of `object` (at `path`) that the sentence does not say, as rows labelled by their path. An object is
 * flattened into its members' rows ("Creditor account › Iban"); an empty one, an array or a scalar is one row.
 */
function unsaidRows(object: Record<string, unknown>, path: string[], label: string, said: Set<string>): DetailRow[] {
  return Object.entries(object).flatMap(([key, value]) => {
    const at = [...path, key];
    if (said.has(pathKey(at))) return [];
    const atLabel = label ? `${label} › ${keyLabel(key)}` : keyLabel(key);
    if (isPlainObject(value) && Object.keys(value).length) return unsaidRows(value, at, atLabel, said);
    return [row(at.reduce(memberPath, ''), revealUnsafe(atLabel), value, at.length, key)];
  });
}

function detailRows(object: Record<string, unknown>, depth: number): DetailRow[] {
  return Object.entries(object).map(([key, value]) => row(key, revealUnsafe(keyLabel(key)), value, depth, key));
}

function row(key: string, label: string, value: unknown, depth: number, name: string): DetailRow {
  const keyWarning = textWarning(name);
  return { key: revealUnsafe(key), label, ...(keyWarning && { keyWarning }), value: detailNode(value, depth) };
}

/**
 * What a reader must be told about `text`, shown beside it: it mixes scripts (common/safe-text.ts mixedScripts), or
 * it holds invisible or direction-changing characters (refused at /bc-authorize; only in a request stored before that
 * rule), which the page writes out as `\u{202E}` (revealUnsafe) instead of showing them.
 */
export function textWarning(text: string): string | undefined {
  if (unsafeCharacter(text)) return 'holds invisible or direction-changing characters (shown as \\u{…})';
  const scripts = mixedScripts(text);
  return scripts && `mixes ${listInWords(scripts)} letters: look-alike letters may differ`;
}

function textNode(text: string): DetailNode {
  const warning = textWarning(text);
  return { text: revealUnsafe(text), ...(warning && { warning }) };
}

function detailNode(value: unknown, depth: number): DetailNode {
  if (value === null || value === undefined) return { text: '—' };
  if (typeof value === 'boolean') return { text: value ? 'yes' : 'no' };
  if (typeof value === 'string') return value === '' ? { text: '(empty)' } : textNode(value);
  if (typeof value === 'number' || typeof value === 'bigint') return { text: String(value) };
  if (typeof value !== 'object') return { text: String(value) };
  if (depth >= MAX_VIEW_DEPTH) return { text: '…' };
  if (Array.isArray(value)) {
    return value.length ? { list: value.map((item) => detailNode(item, depth + 1)) } : { text: 'none' };
  }
  const rows = detailRows(value as Record<string, unknown>, depth + 1);
  return rows.length ? { rows } : { text: 'none' };
}

/** Words a label writes in capitals, however the member name writes them ("iban" → "IBAN"). */
const ACRONYMS = new Set(['iban', 'bic', 'id', 'url', 'uri', 'iso']);

/**
 * "instructedAmount", "instructed_amount", "instructed-amount" → "Instructed amount"; "iban" → "IBAN"; URIs and the
 * like as sent.
 */
export function keyLabel(key: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key)) return key;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((word) => (ACRONYMS.has(word.toLowerCase()) ? word.toUpperCase() : word))
    .map((word, i) => (/^[A-Z0-9]+$/.test(word) && word.length > 1 ? word : i === 0 ? word : word.toLowerCase()));
  const sentence = words.join(' ');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}
