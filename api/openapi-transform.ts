/**
 * The OpenAPI document as the running API behaves: what the zod schemas alone cannot say, added to the document
 * @fastify/swagger generates from them (api/app.ts runs these on GET /openapi.json and `npm run api:openapi`).
 *
 * - The request body's rules zod checks in code (refinements, the provider profile) and the API's own: exactly one of
 *   the three hints (`oneOf`), no whitespace around identifiers, the running API's provider profile's
 *   `bindingMessage` pattern (and its shorter limit when a repeat must be marked), its `authorizationDetails` limits,
 *   safe text where the user reads it, the duration ranges; `seal` left out (the API adds it). Where another part
 *   of the project decides a rule (safe text, the shortest delay between asks), the rule is asked of the request
 *   schema itself, so the document follows it.
 * - Patterns every JSON Schema tool reads alike: JavaScript's `\p{...}`, `\s`, `\d`, `\w` and `.` spelled out as the
 *   characters they mean in JavaScript (Python's `re`, hence schemathesis, reads `\s`, `\d` and `.` otherwise).
 * - `Idempotency-Key` spelled as HTTP does; `wait` as the integer it is; `Retry-After` on 429 answers.
 * - Component schemas nothing refers to dropped.
 *
 * test/http-api-contract.test.ts checks that the document and the running API agree, value by value; schemathesis
 * (test/http-api-openapi.test.ts) checks it by generating requests from the document.
 */
import { ApprovalRequestSchema, AuthorizationDetailsSchema, MAX_APPROVAL_TIMEOUT_SECONDS } from '../common/approval';
import type { AuthorizationDetailsLimits, ProviderProfile } from '../common/provider-profile';
import { TRIMMED_STRING_FIELDS } from './routes';

type Json = Record<string, any>;

export interface DocumentSettings {
  /** The provider profile the API checks requests against. */
  profile: ProviderProfile;
  /** GET /approvals/{id}/result: the wait without ?wait=, and the longest. */
  defaultWaitSeconds: number;
  maxWaitSeconds: number;
  /** Starts per minute per API key. */
  startsPerMinute: number;
}

/** JavaScript's whitespace (`\s`, and what String.prototype.trim removes), as a character class body. */
export const JS_WHITESPACE = String.raw`\t\n\v\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF`;
const WS = `[${JS_WHITESPACE}]`;

/** Everything the running API checks, added to the generated document (see the file comment). */
export function describeRunningApi(document: Json, settings: DocumentSettings): Json {
  const copy = structuredClone(document);
  const request = requestBodySchema(copy, '/approvals', 'post');
  if (request) describeApprovalRequest(copy, request, settings);
  describeIdempotencyKey(copy);
  describeWait(copy, settings);
  describeRateLimit(copy, settings);
  return copy;
}

function requestBodySchema(document: Json, path: string, method: string): Json | undefined {
  const schema = document.paths?.[path]?.[method]?.requestBody?.content?.['application/json']?.schema as Json;
  const name = /^#\/components\/schemas\/(.+)$/.exec(String(schema?.$ref ?? ''))?.[1];
  return name ? document.components.schemas[name] : schema;
}

function describeApprovalRequest(document: Json, request: Json, settings: DocumentSettings): void {
  const { profile } = settings;
  const properties = request.properties as Json;
  delete properties.seal; // the API seals every start itself: a body with a seal is refused

  const hints = ['loginHint', 'loginHintToken', 'idTokenHint'];
  request.oneOf = hints.map((hint) => ({ required: [hint] }));
  request.description =
    'Exactly one of loginHint, loginHintToken or idTokenHint identifies the user. Identifiers, scope, audience and ' +
    'ACR values may not begin or end with whitespace. Text the user reads (bindingMessage, every name and string ' +
    'in authorizationDetails) holds no control, format, bidi or zero-width character, no line separator and no ' +
    'lone surrogate.';

  for (const name of TRIMMED_STRING_FIELDS) {
    const schema = name === 'acrValues' ? properties.acrValues?.items : properties[name];
    // scope's own pattern (space-separated tokens) already says it.
    if (schema && name !== 'scope') schema.pattern = NO_SURROUNDING_WHITESPACE;
  }
  Object.assign(properties.loginHint, {
    description:
      'A user identifier the provider understands (e-mail, user id, ...); one that starts with "{" must be an ' +
      'iss_sub JSON object: {"format":"iss_sub","iss":"<issuer URL>","sub":"<user id>"}.',
    anyOf: [{ pattern: '^[^{]' }, { pattern: ISS_SUB_HINT }],
  });

  const safe = safeTextPattern();
  const { pattern, rule, repeatPrefix } = profile.bindingMessage;
  const longest = longestMatch(pattern);
  const longestRepeatable = longest - repeatPrefix.length;
  if (!pattern.test(`${repeatPrefix}${'A'.repeat(longestRepeatable)}`)) {
    throw new Error(`the ${profile.name} profile's repeat mark does not fit its own binding message rule`);
  }
  properties.bindingMessage = {
    type: 'string',
    pattern: pattern.source,
    allOf: [{ pattern: safe }],
    description:
      `Shown on the user's device and in the client, so that they can tell the two belong together: ${rule} ` +
      `(this API's provider profile, ${profile.name}). With askAgain.afterLostAnswer: at most ` +
      `${longestRepeatable} characters, so that a repeat can be marked ("${repeatPrefix}...").`,
  };
  request.anyOf = [
    { properties: { askAgain: { properties: { afterLostAnswer: { const: false } } } } },
    { properties: { bindingMessage: { maxLength: longestRepeatable } } },
  ];

  describeAuthorizationDetails(document, properties, profile, safe);

  properties.approvalTimeout = {
    description:
      'The approval\'s own deadline: whole seconds, or a whole number with s, m, h or d ("90s", "15m", "24h", ' +
      `"3d"), from 1 second to ${MAX_APPROVAL_TIMEOUT_SECONDS / 86_400} days. Default 24 h.`,
    anyOf: [
      { type: 'integer', minimum: 1, maximum: MAX_APPROVAL_TIMEOUT_SECONDS },
      { type: 'string', pattern: durationBetween(1, MAX_APPROVAL_TIMEOUT_SECONDS) },
    ],
  };
  const delay = properties.askAgain?.properties?.delayBetweenAsks as Json | undefined;
  if (delay) {
    const shortest = shortestDelayBetweenAsks();
    Object.assign(delay, {
      description:
        'How long to wait after an ask ended undecided before asking again: whole seconds, or a whole number with ' +
        `s, m, h or d; at least ${shortest} seconds. Default 60 s.`,
      anyOf: [
        { type: 'integer', minimum: shortest, maximum: Number.MAX_SAFE_INTEGER },
        { type: 'string', pattern: durationBetween(shortest, Infinity) },
      ],
    });
  }
}

/** Any character, line terminators included, portably (`[^]` and `[\s\S]` are not read alike by every tool). */
const ANY = String.raw`(?:[^\n\r\u2028\u2029]|[\n\r\u2028\u2029])`;
/** A non-empty string that neither begins nor ends with whitespace. */
const NO_SURROUNDING_WHITESPACE = `^[^${JS_WHITESPACE}](?:${ANY}*[^${JS_WHITESPACE}])?$`;

/**
 * An iss_sub login hint as the document describes it: the compact form with the members in this order (the API also
 * takes other spacing and orders).
 */
const ISS_SUB_HINT = String.raw`^\{"format":"iss_sub","iss":"https://[a-z0-9]+(?:\.[a-z0-9]+)*(?:/[A-Za-z0-9._~-]*)*","sub":"[!#-\[\]-~]+"\}$`;

let safeText: string | undefined;

/**
 * Text a user reads, as a pattern: none of the characters the request schema refuses there (common/approval.ts, safe
 * text), asked of the schema itself so that the document says what the schema does. Characters of the Basic
 * Multilingual Plane as escapes, characters beyond it (e.g. U+E0001 LANGUAGE TAG) as themselves, which Python's
 * `re`, Rust's regex (schemathesis' validator) and ECMA-262 with the `u` flag all read as code points. Lone UTF-16
 * surrogates, which the API refuses too, cannot be written in a pattern those tools read (a Rust or Python string
 * holds none): the descriptions say it. Computed once, by halving blocks of characters the schema refuses.
 */
export function safeTextPattern(): string {
  if (safeText !== undefined) return safeText;
  const refused = (text: string) => !AuthorizationDetailsSchema.safeParse([{ type: 't', value: text }]).success;
  const unsafe: [number, number][] = [];
  const add = (first: number, last: number) => {
    const previous = unsafe[unsafe.length - 1];
    if (previous && previous[1] === first - 1) previous[1] = last;
    else unsafe.push([first, last]);
  };
  const search = (low: number, high: number): void => {
    let text = '';
    for (let code = low; code <= high; code++) text += String.fromCodePoint(code);
    if (!refused(text)) return;
    if (low === high) return add(low, low);
    const middle = Math.floor((low + high) / 2);
    search(low, middle);
    search(middle + 1, high);
  };
  const BLOCK = 2048;
  for (let low = 0; low <= 0x10ffff; low += BLOCK) {
    if (low < 0xd800 || low > 0xdfff) search(low, Math.min(low + BLOCK - 1, 0x10ffff));
  }
  safeText = unsafe.length ? `^[^${spellRanges(unsafe)}]*$` : `^${ANY}*$`;
  return safeText;
}

/** Code point ranges as the body of a character class: BMP as `\uXXXX` escapes, beyond it as the characters. */
function spellRanges(ranges: [number, number][]): string {
  const spell = (code: number) =>
    code <= 0xffff ? `\\u${code.toString(16).toUpperCase().padStart(4, '0')}` : String.fromCodePoint(code);
  return ranges.map(([first, last]) => (first === last ? spell(first) : `${spell(first)}-${spell(last)}`)).join('');
}

/** The shortest askAgain.delayBetweenAsks the request schema takes, asked of the schema (0 to 3600 s). */
function shortestDelayBetweenAsks(): number {
  for (let seconds = 0; seconds <= 3600; seconds++) {
    const request = { loginHint: 'a', bindingMessage: 'a', askAgain: { delayBetweenAsks: seconds } };
    if (ApprovalRequestSchema.safeParse(request).success) return seconds;
  }
  throw new Error('the request schema takes no askAgain.delayBetweenAsks up to an hour');
}

/** The longest string of `A`s `pattern` takes (the binding message rules' length limit). */
function longestMatch(pattern: RegExp): number {
  let longest = 0;
  for (let length = 1; length <= 1024; length++) if (pattern.test('A'.repeat(length))) longest = length;
  return longest;
}

/**
 * The provider profile's limits on authorization_details, as far as JSON Schema can say them: entries, members per
 * object, string and member name lengths, nesting depth (as common/provider-profile.ts counts it: the list at depth 0,
 * each entry at 1), safe text in every name and string. The size in bytes is in the description only.
 */
function describeAuthorizationDetails(document: Json, properties: Json, profile: ProviderProfile, safe: string): void {
  const limits: AuthorizationDetailsLimits = profile.authorizationDetails;
  const schemas = document.components.schemas as Json;
  const valueAt = (depth: number) => `AuthorizationDetailValueAtDepth${depth}`;
  const names = { maxLength: limits.maxStringLength, pattern: safe };
  for (let depth = 2; depth <= limits.maxDepth + 1; depth++) {
    const container = depth <= limits.maxDepth;
    schemas[valueAt(depth)] = {
      description: container
        ? `A value inside an authorization_details entry, at depth ${depth} (at most ${limits.maxDepth} levels)`
        : `A value at depth ${depth}: no deeper object or array (at most ${limits.maxDepth} levels)`,
      type: container
        ? ['string', 'number', 'boolean', 'null', 'object', 'array']
        : ['string', 'number', 'boolean', 'null'],
      maxLength: limits.maxStringLength,
      // Applies to strings only: numbers, booleans, null and containers take no pattern.
      pattern: safe,
      ...(container && {
        maxProperties: limits.maxProperties,
        propertyNames: names,
        additionalProperties: { $ref: `#/components/schemas/${valueAt(depth + 1)}` },
        items: { $ref: `#/components/schemas/${valueAt(depth + 1)}` },
      }),
    };
  }
  properties.authorizationDetails = {
    description:
      "RFC 9396 authorization_details: the exact transaction the user approves. Limits of this API's provider " +
      `profile (${profile.name}): at most ${limits.maxEntries} entries, ${limits.maxBytes} bytes as JSON, ` +
      `${limits.maxProperties} members per object, ${limits.maxStringLength} characters per string or member name, ` +
      `${limits.maxDepth} levels deep; no control, format, bidi or zero-width character, line separator or lone ` +
      'surrogate in any name or string.',
    type: 'array',
    minItems: 1,
    maxItems: limits.maxEntries,
    items: {
      type: 'object',
      required: ['type'],
      properties: { type: { type: 'string', minLength: 1, maxLength: limits.maxStringLength, pattern: safe } },
      maxProperties: limits.maxProperties,
      propertyNames: names,
      additionalProperties: { $ref: `#/components/schemas/${valueAt(2)}` },
    },
  };
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** common/approval.ts reads at most 9 digits before the unit. */
const DURATION_DIGITS = 9;

/**
 * A duration string from `minSeconds` to `maxSeconds` as common/approval.ts reads it: optional whitespace, 1 to 9
 * digits (leading zeros allowed), a unit.
 */
export function durationBetween(minSeconds: number, maxSeconds: number): string {
  const most = 10 ** DURATION_DIGITS - 1;
  const units = Object.entries(UNIT_SECONDS).flatMap(([unit, seconds]) => {
    const low = Math.max(1, Math.ceil(minSeconds / seconds));
    const high = Math.min(most, Math.floor(maxSeconds / seconds));
    return low <= high ? [`${wholeNumbersBetween(low, high, DURATION_DIGITS)}${unit}`] : [];
  });
  return `^${WS}*(?:${units.join('|')})${WS}*$`;
}

/** Whole numbers from `low` (at least 1) to `high`, with at most `digits` digits, leading zeros allowed (no anchors). */
export function wholeNumbersBetween(low: number, high: number, digits: number): string {
  const alternatives: string[] = [];
  for (let length = String(low).length; length <= String(high).length; length++) {
    const from = length === String(low).length ? low : 10 ** (length - 1);
    const to = length === String(high).length ? high : 10 ** length - 1;
    const zeros = digits - length;
    alternatives.push(`${zeros > 0 ? `0{0,${zeros}}` : ''}(?:${sameLengthBetween(String(from), String(to))})`);
  }
  return `(?:${alternatives.join('|')})`;
}

/** Numbers from `from` to `to`, both with the same number of digits (a range regex, digit by digit). */
function sameLengthBetween(from: string, to: string): string {
  const digits = (low: number, high: number) => (low === high ? `${low}` : `[${low}-${high}]`);
  if (from.length === 1) return digits(Number(from), Number(to));
  const rest = from.length - 1;
  const [a, b] = [Number(from[0]), Number(to[0])];
  const [fromRest, toRest] = [from.slice(1), to.slice(1)];
  if (a === b) return `${a}(?:${sameLengthBetween(fromRest, toRest)})`;
  const lowFull = /^0*$/.test(fromRest);
  const highFull = /^9*$/.test(toRest);
  const parts: string[] = [];
  if (!lowFull) parts.push(`${a}(?:${sameLengthBetween(fromRest, '9'.repeat(rest))})`);
  const [first, last] = [lowFull ? a : a + 1, highFull ? b : b - 1];
  if (first <= last) parts.push(`${digits(first, last)}[0-9]{${rest}}`);
  if (!highFull) parts.push(`${b}(?:${sameLengthBetween('0'.repeat(rest), toRest)})`);
  return parts.join('|');
}

/** The Idempotency-Key header: named as HTTP spells it, and said to be required. */
function describeIdempotencyKey(document: Json): void {
  for (const parameter of (document.paths?.['/approvals']?.post?.parameters ?? []) as Json[]) {
    if (parameter.in === 'header' && parameter.name === 'idempotency-key') {
      parameter.name = 'Idempotency-Key';
      parameter.required = true;
    }
  }
}

function describeWait(document: Json, settings: DocumentSettings): void {
  for (const parameter of (document.paths?.['/approvals/{id}/result']?.get?.parameters ?? []) as Json[]) {
    if (parameter.in === 'query' && parameter.name === 'wait') {
      parameter.required = false;
      parameter.schema = {
        type: 'integer',
        minimum: 0,
        maximum: settings.maxWaitSeconds,
        default: settings.defaultWaitSeconds,
      };
    }
  }
}

/** Every 429 answer carries Retry-After (seconds). */
function describeRateLimit(document: Json, settings: DocumentSettings): void {
  for (const operations of Object.values((document.paths ?? {}) as Json)) {
    for (const operation of Object.values(operations as Json) as Json[]) {
      const tooMany = operation?.responses?.['429'] as Json | undefined;
      if (!tooMany) continue;
      tooMany.description =
        `Too many starts with this API key: at most ${settings.startsPerMinute} a minute (per API instance). ` +
        'Retry after the seconds Retry-After says.';
      tooMany.headers = {
        'Retry-After': {
          description: 'Seconds until this API key may start approvals again',
          required: true,
          schema: { type: 'integer', minimum: 0 },
        },
      };
    }
  }
}

/** The document without the component schemas nothing refers to (each registered schema has an input and an output form). */
export function withoutUnusedSchemas<T>(document: T): T {
  const components = (document as Json).components as Json | undefined;
  const schemas = components?.schemas as Json | undefined;
  if (!schemas) return document;
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const name =
        key === '$ref' && typeof child === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(child)?.[1] : undefined;
      if (name !== undefined && !used.has(name)) {
        used.add(name);
        visit(schemas[name]);
      }
      visit(child);
    }
  };
  visit({ ...(document as Json), components: { ...components, schemas: {} } });
  return {
    ...(document as Json),
    components: {
      ...components,
      schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name))),
    },
  } as T;
}

/**
 * The document with every regex pattern in a syntax that JSON Schema's ECMA-262 patterns and tools in other
 * languages (Python's `re`, hence schemathesis) read alike, meaning what JavaScript means by it:
 * - character classes with Unicode properties (`[^\p{Cc}\p{Cf}]`) spelled out as ranges, computed from this Node's
 *   Unicode tables: of the Basic Multilingual Plane as escapes (`[^\u0000-\u001F...]`), beyond it as the characters
 *   themselves (`𑐀-𑐴`), which Python's `re` and ECMA-262 with the `u` flag (as JSON Schema 2020-12 validators use
 *   it) read as code points;
 * - `\s`, `\S`, `\d`, `\D`, `\w`, `\W` and `.` as JavaScript's characters (Python's `\s` and `\d` take other
 *   characters, and its `.` takes `\r` and the Unicode line separators).
 */
export function withPortablePatterns<T>(document: T): T {
  return JSON.parse(JSON.stringify(document), (key, value: unknown) =>
    key === 'pattern' && typeof value === 'string' ? portablePattern(value) : value,
  ) as T;
}

export function portablePattern(pattern: string): string {
  return spellShorthands(spellUnicodeProperties(pattern));
}

const spelledClasses = new Map<string, string>();

function spellUnicodeProperties(pattern: string): string {
  return pattern.replace(/\[(\^?)((?:\\.|[^\]\\])*)\]/g, (whole, negated: string, body: string) => {
    if (!body.includes('\\p{')) return whole;
    let ranges = spelledClasses.get(body);
    if (ranges === undefined) {
      ranges = spellRanges(codePointRanges(body));
      spelledClasses.set(body, ranges);
    }
    return `[${negated}${ranges}]`;
  });
}

/**
 * The code points in the character class `[body]` (read with the `u` flag), as ranges, surrogates left out: found by
 * halving blocks that hold some but not all of them.
 */
function codePointRanges(body: string): [number, number][] {
  const all = new RegExp(`^[${body}]+$`, 'u');
  const some = new RegExp(`[${body}]`, 'u');
  const ranges: [number, number][] = [];
  const add = (first: number, last: number) => {
    const previous = ranges[ranges.length - 1];
    if (previous && previous[1] === first - 1) previous[1] = last;
    else ranges.push([first, last]);
  };
  const search = (first: number, last: number): void => {
    let text = '';
    for (let code = first; code <= last; code++) text += String.fromCodePoint(code);
    if (!some.test(text)) return;
    if (all.test(text)) return add(first, last);
    const middle = Math.floor((first + last) / 2);
    search(first, middle);
    search(middle + 1, last);
  };
  const BLOCK = 4096;
  for (let first = 0; first <= 0x10ffff; first += BLOCK) {
    const last = Math.min(first + BLOCK - 1, 0x10ffff);
    if (first > 0xdfff || last < 0xd800) search(first, last);
    else {
      if (first < 0xd800) search(first, 0xd7ff);
      if (last > 0xdfff) search(0xe000, last);
    }
  }
  return ranges;
}

const CLASS_BODIES: Record<string, string> = { s: JS_WHITESPACE, d: '0-9', w: 'A-Za-z0-9_' };
const LINE_TERMINATORS = String.raw`\n\r\u2028\u2029`;

/** `\s`, `\d`, `\w` (and their negations) and `.` as explicit character classes. */
function spellShorthands(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '\\') {
      const next = pattern[i + 1] ?? '';
      i++;
      const lower = next.toLowerCase();
      if (lower in CLASS_BODIES) {
        const negated = next !== lower;
        if (inClass && negated) throw new Error(`pattern ${pattern}: \\${next} inside a class is not spelled out`);
        out += inClass ? CLASS_BODIES[lower] : `[${negated ? '^' : ''}${CLASS_BODIES[lower]}]`;
      } else {
        out += `\\${next}`;
      }
      continue;
    }
    if (!inClass && char === '[') inClass = true;
    else if (inClass && char === ']') inClass = false;
    else if (!inClass && char === '.') {
      out += `[^${LINE_TERMINATORS}]`;
      continue;
    }
    out += char;
  }
  return out;
}
