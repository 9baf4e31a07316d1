/**
 * Safe text: what a user reads on their authentication device must be what the token grants. Characters that change
 * how text is shown without being seen themselves break that: a bidi control (U+202E RIGHT-TO-LEFT OVERRIDE shows
 * "corp" as "proc"), a zero-width character (two names that look alike but differ), any other format character
 * (Unicode category Cf), a control character (Cc: line breaks, escapes), a line or paragraph separator (U+2028,
 * U+2029), or half of a UTF-16 surrogate pair (not text at all: sent as U+FFFD, so the provider would grant something
 * else than was asked). Such a string is refused wherever a user will read it (the request's `bindingMessage` and
 * `authorizationDetails`, member names and values at every depth): {@link unsafeCharacter}.
 *
 * The categories are a fixed table (Unicode 17.0), not the runtime's `\p{Cf}`: this file is imported by workflow
 * code, whose answers must not change with the Node version that replays a history. Changing the table changes which
 * requests the workflow accepts: do it behind a patch, like any other workflow change.
 *
 * Also here, for display only (never as a rule: it reads the runtime's Unicode data): {@link mixedScripts}, which
 * tells when one string mixes letters of scripts that a reader could confuse ("ExаmpleCorp" with a Cyrillic а).
 *
 * Deterministic and free of Node APIs.
 */

/** Why a character is not allowed in text a user reads. */
export type UnsafeCharacterKind =
  'bidi control' | 'zero-width' | 'format' | 'control' | 'line or paragraph separator' | 'lone surrogate';

export interface UnsafeCharacter {
  /** The code point (for a lone surrogate, the code unit). */
  codePoint: number;
  /** Where it is in the string (UTF-16 index). */
  index: number;
  /** "U+202E". */
  code: string;
  /** Its Unicode name or alias, e.g. "RIGHT-TO-LEFT OVERRIDE"; undefined when the table has none. */
  name?: string;
  kind: UnsafeCharacterKind;
}

/** Unicode 17.0's format characters (General_Category Cf): [first, last, name of each or of the range]. */
const FORMAT_RANGES: ReadonlyArray<readonly [number, number, string | readonly string[]]> = [
  [0x00ad, 0x00ad, 'SOFT HYPHEN'],
  [
    0x0600,
    0x0605,
    [
      'ARABIC NUMBER SIGN',
      'ARABIC SIGN SANAH',
      'ARABIC FOOTNOTE MARKER',
      'ARABIC SIGN SAFHA',
      'ARABIC SIGN SAMVAT',
      'ARABIC NUMBER MARK ABOVE',
    ],
  ],
  [0x061c, 0x061c, 'ARABIC LETTER MARK'],
  [0x06dd, 0x06dd, 'ARABIC END OF AYAH'],
  [0x070f, 0x070f, 'SYRIAC ABBREVIATION MARK'],
  [0x0890, 0x0891, ['ARABIC POUND MARK ABOVE', 'ARABIC PIASTRE MARK ABOVE']],
  [0x08e2, 0x08e2, 'ARABIC DISPUTED END OF AYAH'],
  [0x180e, 0x180e, 'MONGOLIAN VOWEL SEPARATOR'],
  [
    0x200b,
    0x200f,
    ['ZERO WIDTH SPACE', 'ZERO WIDTH NON-JOINER', 'ZERO WIDTH JOINER', 'LEFT-TO-RIGHT MARK', 'RIGHT-TO-LEFT MARK'],
  ],
  [
    0x202a,
    0x202e,
    [
      'LEFT-TO-RIGHT EMBEDDING',
      'RIGHT-TO-LEFT EMBEDDING',
      'POP DIRECTIONAL FORMATTING',
      'LEFT-TO-RIGHT OVERRIDE',
      'RIGHT-TO-LEFT OVERRIDE',
    ],
  ],
  [0x2060, 0x2064, ['WORD JOINER', 'FUNCTION APPLICATION', 'INVISIBLE TIMES', 'INVISIBLE SEPARATOR', 'INVISIBLE PLUS']],
  [
    0x2066,
    0x206f,
    [
      'LEFT-TO-RIGHT ISOLATE',
      'RIGHT-TO-LEFT ISOLATE',
      'FIRST STRONG ISOLATE',
      'POP DIRECTIONAL ISOLATE',
      'INHIBIT SYMMETRIC SWAPPING',
      'ACTIVATE SYMMETRIC SWAPPING',
      'INHIBIT ARABIC FORM SHAPING',
      'ACTIVATE ARABIC FORM SHAPING',
      'NATIONAL DIGIT SHAPES',
      'NOMINAL DIGIT SHAPES',
    ],
  ],
  [0xfeff, 0xfeff, 'ZERO WIDTH NO-BREAK SPACE'],
  [
    0xfff9,
    0xfffb,
    ['INTERLINEAR ANNOTATION ANCHOR', 'INTERLINEAR ANNOTATION SEPARATOR', 'INTERLINEAR ANNOTATION TERMINATOR'],
  ],
  [0x110bd, 0x110bd, 'KAITHI NUMBER SIGN'],
  [0x110cd, 0x110cd, 'KAITHI NUMBER SIGN ABOVE'],
  [0x13430, 0x1343f, 'EGYPTIAN HIEROGLYPH FORMAT CONTROL'],
  [0x1bca0, 0x1bca3, 'SHORTHAND FORMAT CONTROL'],
  [0x1d173, 0x1d17a, 'MUSICAL SYMBOL FORMAT CONTROL'],
  [0xe0001, 0xe0001, 'LANGUAGE TAG'],
  [0xe0020, 0xe007f, 'TAG CHARACTER'],
];

/** Unicode's Bidi_Control characters. */
const BIDI_CONTROLS = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);
/** Format characters that are invisible spaces or joiners between two others. */
const ZERO_WIDTH = new Set([0x180e, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff]);

/** The C0 controls' names (Unicode name aliases), U+0000 to U+001F. */
const C0_NAMES = [
  'NULL',
  'START OF HEADING',
  'START OF TEXT',
  'END OF TEXT',
  'END OF TRANSMISSION',
  'ENQUIRY',
  'ACKNOWLEDGE',
  'ALERT',
  'BACKSPACE',
  'CHARACTER TABULATION',
  'LINE FEED',
  'LINE TABULATION',
  'FORM FEED',
  'CARRIAGE RETURN',
  'SHIFT OUT',
  'SHIFT IN',
  'DATA LINK ESCAPE',
  'DEVICE CONTROL ONE',
  'DEVICE CONTROL TWO',
  'DEVICE CONTROL THREE',
  'DEVICE CONTROL FOUR',
  'NEGATIVE ACKNOWLEDGE',
  'SYNCHRONOUS IDLE',
  'END OF TRANSMISSION BLOCK',
  'CANCEL',
  'END OF MEDIUM',
  'SUBSTITUTE',
  'ESCAPE',
  'INFORMATION SEPARATOR FOUR',
  'INFORMATION SEPARATOR THREE',
  'INFORMATION SEPARATOR TWO',
  'INFORMATION SEPARATOR ONE',
];

/** "U+202E", "U+E0041". */
export function codePointLabel(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** What `codePoint` is when it may not appear in text a user reads; undefined when it may. */
function classify(codePoint: number): { kind: UnsafeCharacterKind; name?: string } | undefined {
  if (codePoint < 0x20) return { kind: 'control', name: C0_NAMES[codePoint] };
  if (codePoint < 0x7f) return undefined;
  if (codePoint <= 0x9f) {
    const name = codePoint === 0x7f ? 'DELETE' : codePoint === 0x85 ? 'NEXT LINE' : undefined;
    return { kind: 'control', name };
  }
  if (codePoint === 0x2028) return { kind: 'line or paragraph separator', name: 'LINE SEPARATOR' };
  if (codePoint === 0x2029) return { kind: 'line or paragraph separator', name: 'PARAGRAPH SEPARATOR' };
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return { kind: 'lone surrogate' };
  for (const [first, last, names] of FORMAT_RANGES) {
    if (codePoint < first) return undefined; // the ranges are in order
    if (codePoint > last) continue;
    const name = typeof names === 'string' ? names : names[codePoint - first];
    const kind = BIDI_CONTROLS.has(codePoint) ? 'bidi control' : ZERO_WIDTH.has(codePoint) ? 'zero-width' : 'format';
    return { kind, name };
  }
  return undefined;
}

/** The first character of `text` a user must not be shown, or undefined when there is none. */
export function unsafeCharacter(text: string): UnsafeCharacter | undefined {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    // Printable ASCII is always safe: most text never goes further.
    if (unit >= 0x20 && unit < 0x7f) continue;
    let codePoint = unit;
    if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) codePoint = (unit - 0xd800) * 0x400 + (next - 0xdc00) + 0x10000;
    }
    const found = classify(codePoint);
    if (found) return { codePoint, index, code: codePointLabel(codePoint), ...found };
    if (codePoint > 0xffff) index++;
  }
  return undefined;
}

const KIND_WORDS: Record<UnsafeCharacterKind, string> = {
  'bidi control': 'a bidi control character',
  'zero-width': 'a zero-width character',
  format: 'an invisible format character',
  control: 'a control character',
  'line or paragraph separator': 'a line or paragraph separator',
  'lone surrogate': 'half of a UTF-16 surrogate pair, which is not text',
};

/** "U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character". */
export function describeUnsafeCharacter(character: UnsafeCharacter): string {
  return `${character.code}${character.name ? ` ${character.name}` : ''}, ${KIND_WORDS[character.kind]}`;
}

/** "`where` contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character", or undefined when `text` is safe. */
export function unsafeTextProblem(text: string, where: string): string | undefined {
  const character = unsafeCharacter(text);
  return character && `${where} contains ${describeUnsafeCharacter(character)}`;
}

/**
 * The first unsafe string in a JSON value (member names and string values, at every depth), in words that name its
 * path: "authorizationDetails[0].creditorName contains U+202E ...", "authorizationDetails[0] has a member name
 * "cred\u{202E}itor" that contains U+202E ...". Undefined when every string is safe. The path never repeats the
 * unsafe character itself: it is written as `\u{...}`.
 */
export function unsafeTextInJson(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return unsafeTextProblem(value, path);
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = unsafeTextInJson(value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, child] of Object.entries(value)) {
    const inKey = unsafeCharacter(key);
    if (inKey) {
      return `${path} has a member name "${revealUnsafe(key)}" that contains ${describeUnsafeCharacter(inKey)}`;
    }
    const problem = unsafeTextInJson(child, memberPath(path, key));
    if (problem) return problem;
  }
  return undefined;
}

/**
 * `path.key` for a name that reads as one, else `path["key"]`; at the root (`path` empty) `key` or `["key"]`. Unsafe
 * characters in `key` are written out (`\u{202E}`).
 */
export function memberPath(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(revealUnsafe(key))}]`;
}

/** `text` with every unsafe character written out as `\u{202E}`: what a log or a page may show of refused text. */
export function revealUnsafe(text: string): string {
  if (!unsafeCharacter(text)) return text;
  let out = '';
  for (const char of text) {
    const codePoint = char.codePointAt(0)!;
    out += classify(codePoint) ? `\\u{${codePointLabel(codePoint).slice(2)}}` : char;
  }
  return out;
}

/**
 * Scripts whose letters a reader could take for one another's (Latin, Greek and Cyrillic above all), by name. A
 * letter of none of these counts as "another script".
 */
const SCRIPTS = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Georgian',
  'Cherokee',
  'Coptic',
  'Hebrew',
  'Arabic',
  'Syriac',
  'Thaana',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
  'Thai',
  'Lao',
  'Tibetan',
  'Myanmar',
  'Khmer',
  'Mongolian',
  'Ethiopic',
  'Canadian_Aboriginal',
  'Tifinagh',
  'Lisu',
  'Vai',
  'Osage',
  'Deseret',
  'Han',
  'Hiragana',
  'Katakana',
  'Hangul',
  'Bopomofo',
] as const;

/** Per script, whether a character is of it; built on first use (display code only). */
let scriptTests: Array<[string, RegExp]> | undefined;
const NEUTRAL = /^[\p{Script=Common}\p{Script=Inherited}]$/u;

/** Mixes UTS #39 allows in "highly restrictive" text: Japanese, Chinese and Korean writing with Latin. */
const ALLOWED_MIXES = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

/**
 * The scripts of `text`'s letters and digits when it mixes scripts a reader could confuse (e.g. `['Latin',
 * 'Cyrillic']` for "ExаmpleCorp" with a Cyrillic а), else undefined. Punctuation, spaces, ASCII digits and combining
 * marks belong to no script here; Latin mixed with Han, Hiragana, Katakana, Bopomofo or Hangul the way Japanese,
 * Chinese and Korean are written is not flagged (UTS #39, highly restrictive). A hint for a display, not a rule.
 */
export function mixedScripts(text: string): string[] | undefined {
  scriptTests ??= SCRIPTS.map((name) => [name.replace('_', ' '), new RegExp(`^\\p{Script=${name}}$`, 'u')]);
  const seen: string[] = [];
  for (const char of text) {
    if (!/^[\p{L}\p{N}]$/u.test(char) || NEUTRAL.test(char)) continue;
    const script = scriptTests.find(([, test]) => test.test(char))?.[0] ?? 'another script';
    if (!seen.includes(script)) seen.push(script);
  }
  if (seen.length < 2) return undefined;
  if (ALLOWED_MIXES.some((allowed) => seen.every((script) => allowed.has(script)))) return undefined;
  return seen;
}

/** "Latin and Cyrillic", "Latin, Greek and Cyrillic". */
export function listInWords(words: readonly string[]): string {
  return words.length < 2 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}
