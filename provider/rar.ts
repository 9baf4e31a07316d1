import { errors, type AuthorizationDetail, type RichAuthorizationRequestType } from 'oidc-provider';
import { z } from 'zod';

import { formatZodError } from '../common/approval';

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

function validator(schema: z.ZodType): RichAuthorizationRequestType {
  return {
    validate(_ctx, detail) {
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

/** Human-readable line for a type the device knows, e.g. "Pay 50.00 USD to ExampleCorp"; undefined for others. */
export function knownAuthorizationDetailLine(detail: AuthorizationDetail): string | undefined {
  const payment = PaymentInitiationSchema.safeParse(detail);
  if (payment.success) {
    const { instructedAmount, creditorName, remittanceInformationUnstructured: note } = payment.data;
    return `Pay ${instructedAmount.amount} ${instructedAmount.currency} to ${creditorName}${note ? ` (${note})` : ''}`;
  }
  if (detail.type === 'account_information') {
    const actions = Array.isArray(detail.actions) ? detail.actions.join(', ') : 'access';
    const where = Array.isArray(detail.locations) ? ` at ${detail.locations.join(', ')}` : '';
    return `Account information: ${actions}${where}`;
  }
  return undefined;
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
 * with textContent only, so markup in a client-sent value stays text.
 */
export type DetailNode = { text: string } | { list: DetailNode[] } | { rows: DetailRow[] };

export interface DetailRow {
  /** The member's name as sent. */
  key: string;
  /** The name in words: "instructedAmount" and "instructed_amount" are "Instructed amount". */
  label: string;
  value: DetailNode;
}

/** One authorization_details entry on the device: a sentence for a known type, else the table of its members. */
export interface AuthorizationDetailView {
  type: string;
  /** The sentence for a known type (as in `summary`), else null. */
  line: string | null;
  /** The members other than `type`, for a type the device does not know; else null. */
  rows: DetailRow[] | null;
}

/** Deeper than this, a value is shown as "…" (the provider profile allows 5 levels; a page must not recurse forever). */
const MAX_VIEW_DEPTH = 12;

export function authorizationDetailView(detail: AuthorizationDetail): AuthorizationDetailView {
  const line = knownAuthorizationDetailLine(detail);
  const type = String(detail.type);
  if (line !== undefined) return { type, line, rows: null };
  const { type: _type, ...members } = detail as Record<string, unknown>;
  return { type, line: null, rows: detailRows(members, 1) };
}

function detailRows(object: Record<string, unknown>, depth: number): DetailRow[] {
  return Object.entries(object).map(([key, value]) => ({ key, label: keyLabel(key), value: detailNode(value, depth) }));
}

function detailNode(value: unknown, depth: number): DetailNode {
  if (value === null || value === undefined) return { text: '—' };
  if (typeof value === 'boolean') return { text: value ? 'yes' : 'no' };
  if (typeof value === 'string') return { text: value };
  if (typeof value === 'number' || typeof value === 'bigint') return { text: String(value) };
  if (typeof value !== 'object') return { text: String(value) };
  if (depth >= MAX_VIEW_DEPTH) return { text: '…' };
  if (Array.isArray(value)) {
    return value.length ? { list: value.map((item) => detailNode(item, depth + 1)) } : { text: 'none' };
  }
  const rows = detailRows(value as Record<string, unknown>, depth + 1);
  return rows.length ? { rows } : { text: 'none' };
}

/** "instructedAmount", "instructed_amount", "instructed-amount" → "Instructed amount"; URIs and the like as sent. */
export function keyLabel(key: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key)) return key;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((word, i) => (/^[A-Z0-9]+$/.test(word) && word.length > 1 ? word : i === 0 ? word : word.toLowerCase()));
  const sentence = words.join(' ');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}
