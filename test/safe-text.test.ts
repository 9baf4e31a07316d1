/**
 * common/safe-text.ts: which characters a user must never be shown unseen (bidi controls, zero-width and other format
 * characters, controls, line separators, lone surrogates), named with their path; and the mixed-script hint the
 * device page shows.
 */
import fc from 'fast-check';

import {
  describeUnsafeCharacter,
  listInWords,
  memberPath,
  mixedScripts,
  revealUnsafe,
  unsafeCharacter,
  unsafeTextInJson,
  unsafeTextProblem,
} from '../common/safe-text';

const described = (text: string) => {
  const character = unsafeCharacter(text);
  return character && describeUnsafeCharacter(character);
};

describe('unsafeCharacter', () => {
  it.each([
    ['\u202E', 'U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character'],
    ['\u202A', 'U+202A LEFT-TO-RIGHT EMBEDDING, a bidi control character'],
    ['\u2066', 'U+2066 LEFT-TO-RIGHT ISOLATE, a bidi control character'],
    ['\u2069', 'U+2069 POP DIRECTIONAL ISOLATE, a bidi control character'],
    ['\u200F', 'U+200F RIGHT-TO-LEFT MARK, a bidi control character'],
    ['\u061C', 'U+061C ARABIC LETTER MARK, a bidi control character'],
    ['\u200B', 'U+200B ZERO WIDTH SPACE, a zero-width character'],
    ['\u200D', 'U+200D ZERO WIDTH JOINER, a zero-width character'],
    ['\u2060', 'U+2060 WORD JOINER, a zero-width character'],
    ['\uFEFF', 'U+FEFF ZERO WIDTH NO-BREAK SPACE, a zero-width character'],
    ['\u00AD', 'U+00AD SOFT HYPHEN, an invisible format character'],
    ['\u2062', 'U+2062 INVISIBLE TIMES, an invisible format character'],
    ['\u{E0041}', 'U+E0041 TAG CHARACTER, an invisible format character'],
    ['\u{E0001}', 'U+E0001 LANGUAGE TAG, an invisible format character'],
    ['\n', 'U+000A LINE FEED, a control character'],
    ['\t', 'U+0009 CHARACTER TABULATION, a control character'],
    ['\u0000', 'U+0000 NULL, a control character'],
    ['\u001B', 'U+001B ESCAPE, a control character'],
    ['\u007F', 'U+007F DELETE, a control character'],
    ['\u0085', 'U+0085 NEXT LINE, a control character'],
    ['\u0090', 'U+0090, a control character'],
    ['\u2028', 'U+2028 LINE SEPARATOR, a line or paragraph separator'],
    ['\u2029', 'U+2029 PARAGRAPH SEPARATOR, a line or paragraph separator'],
    ['\uD800', 'U+D800, half of a UTF-16 surrogate pair, which is not text'],
    ['\uDC00', 'U+DC00, half of a UTF-16 surrogate pair, which is not text'],
  ])('%j is %s', (character, description) => {
    expect(described(`Pay 50${character}.00`)).toBe(description);
    expect(unsafeCharacter(`Pay 50${character}.00`)).toMatchObject({ index: 6 });
  });

  it.each([
    'Pay 50.00 USD to ExampleCorp',
    'Überweisung an Müller & Söhne, 12 €',
    'Zahlung ✓ 😀',
    '東京 とうきょう 서울',
    'مرحبا',
    'שלום',
    'Ελλάδα',
    'Москва',
    ' ',
    '',
  ])('%j is safe', (text) => {
    expect(unsafeCharacter(text)).toBeUndefined();
  });

  it('refuses an emoji joined by U+200D too: the rule has no exceptions a reader could not see', () => {
    expect(described('👩\u200D💻')).toBe('U+200D ZERO WIDTH JOINER, a zero-width character');
  });

  it('reads astral characters whole: a surrogate pair is one character, its index the first half', () => {
    expect(unsafeCharacter('😀\u202E')).toMatchObject({ index: 2, code: 'U+202E' });
    expect(unsafeCharacter('😀')).toBeUndefined();
    expect(unsafeCharacter('a\uD83D')).toMatchObject({ index: 1, kind: 'lone surrogate' }); // a pair cut short
  });

  it("its fixed table is every Cc and Cf character of this runtime's Unicode, and no other", () => {
    // The table is fixed (deterministic across Node versions); this fails when a newer Unicode adds a format
    // character, to be added to the table behind a workflow patch. Every code point, so no sample can miss one.
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      const text = String.fromCodePoint(codePoint);
      if (/^[\p{Cc}\p{Cf}\u2028\u2029]$/u.test(text) !== (unsafeCharacter(text) !== undefined)) {
        throw new Error(`U+${codePoint.toString(16)}: the table and \\p{Cc}/\\p{Cf} disagree`);
      }
    }
  });

  it('finds any unsafe character put anywhere into safe text (property)', () => {
    const safe = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((text) => unsafeCharacter(text) === undefined);
    const unsafe = fc.constantFrom('\u202E', '\u200B', '\u2066', '\u00AD', '\n', '\u0000', '\u{E0020}', '\u2028');
    fc.assert(
      fc.property(safe, unsafe, safe, (before, character, after) => {
        const found = unsafeCharacter(before + character + after);
        expect(found).toMatchObject({ index: before.length, codePoint: character.codePointAt(0) });
      }),
    );
  });
});

describe('unsafeTextInJson', () => {
  it('names the path of the first unsafe value, at any depth', () => {
    const details = [
      { type: 'payment_initiation', creditorName: 'ExampleCorp' },
      { type: 'x', nested: { list: ['ok', { deep: 'Evil\u202ECorp' }] } },
    ];
    expect(unsafeTextInJson(details, 'authorizationDetails')).toBe(
      'authorizationDetails[1].nested.list[1].deep contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character',
    );
    expect(unsafeTextInJson([{ type: 'x', creditorName: 'Evil\u202ECorp' }], 'authorizationDetails')).toBe(
      'authorizationDetails[0].creditorName contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character',
    );
  });

  it('checks member names too, and never repeats the character itself in the message', () => {
    const problem = unsafeTextInJson([{ type: 'x', a: { ['cred\u202Eitor']: 'x' } }], 'authorizationDetails');
    expect(problem).toBe(
      'authorizationDetails[0].a has a member name "cred\\u{202E}itor" that contains U+202E RIGHT-TO-LEFT OVERRIDE, ' +
        'a bidi control character',
    );
    expect(problem).not.toContain('\u202E');
  });

  it('writes names that are not identifiers in brackets', () => {
    expect(unsafeTextInJson({ 'urn:x:y': { 'a b': '\u200B' } }, 'd')).toBe(
      'd["urn:x:y"]["a b"] contains U+200B ZERO WIDTH SPACE, a zero-width character',
    );
    expect(memberPath('', 'creditorName')).toBe('creditorName');
    expect(memberPath('', 'a.b')).toBe('["a.b"]');
  });

  it('passes every JSON value without unsafe strings, whatever its shape (property)', () => {
    const safeString = fc.string({ unit: 'grapheme' }).filter((text) => unsafeCharacter(text) === undefined);
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        safeString,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(safeString, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(fc.property(json, (value) => expect(unsafeTextInJson(value, 'v')).toBeUndefined()));
  });

  it('unsafeTextProblem names the field', () => {
    expect(unsafeTextProblem('Pay\u202E', 'bindingMessage')).toBe(
      'bindingMessage contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character',
    );
    expect(unsafeTextProblem('Pay', 'bindingMessage')).toBeUndefined();
  });
});

describe('revealUnsafe', () => {
  it('writes each unsafe character out, and leaves safe text as it is', () => {
    expect(revealUnsafe('Evil\u202ECorp\u200B😀\u{E0041}')).toBe('Evil\\u{202E}Corp\\u{200B}😀\\u{E0041}');
    expect(revealUnsafe('Müller 東京')).toBe('Müller 東京');
  });

  it('always yields safe text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) =>
        expect(unsafeCharacter(revealUnsafe(text))).toBeUndefined(),
      ),
    );
  });
});

describe('mixedScripts (a display hint, not a rule)', () => {
  it.each([
    ['Ex\u0430mpleCorp', ['Latin', 'Cyrillic']], // Cyrillic а
    ['\u0420aypal', ['Cyrillic', 'Latin']], // Cyrillic Р
    ['Ex\u03BFmpleCorp', ['Latin', 'Greek']], // Greek ο
    ['Αθήνα Athens', ['Greek', 'Latin']],
    ['G\u043E\u043Egle', ['Latin', 'Cyrillic']], // Cyrillic о
  ])('flags %j', (text, scripts) => {
    expect(mixedScripts(text)).toEqual(scripts);
  });

  it.each([
    'ExampleCorp',
    'Müller & Söhne GmbH, 12.50 €',
    'Москва',
    'Ελλάδα',
    '東京 Tokyo とうきょう トウキョウ', // Japanese with Latin
    '서울 Seoul 漢字', // Korean with Latin
    'DE89 3704 0044 0532 0130 00',
    '',
  ])('does not flag %j', (text) => {
    expect(mixedScripts(text)).toBeUndefined();
  });

  it('lists scripts in words', () => {
    expect(listInWords(['Latin'])).toBe('Latin');
    expect(listInWords(['Latin', 'Cyrillic'])).toBe('Latin and Cyrillic');
    expect(listInWords(['Latin', 'Greek', 'Cyrillic'])).toBe('Latin, Greek and Cyrillic');
  });
});
