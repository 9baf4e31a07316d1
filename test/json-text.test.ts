/**
 * api/json-text.ts: where a text stops being JSON, as JSON.parse decides it, and keys that poison prototypes.
 */
import fc from 'fast-check';
import { describeJsonSyntaxProblem, jsonSyntaxProblem, poisonedKey } from '../api/json-text';

const parses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe('jsonSyntaxProblem', () => {
  it('finds a problem exactly when JSON.parse refuses the text (JSON texts, and JSON texts with one character changed)', () => {
    const mutated = fc
      .tuple(
        fc.json(),
        fc.nat(),
        fc.constantFrom('', ',', '}', ']', '"', '\\', ':', ' ', 'x', '0', '-', '\n', '\u0001'),
      )
      .map(([text, at, insert]) => {
        const i = at % (text.length + 1);
        return at % 2 ? text.slice(0, i) + insert + text.slice(i) : text.slice(0, i) + insert + text.slice(i + 1);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), mutated, fc.string()), (text) => {
        expect(jsonSyntaxProblem(text) === undefined).toBe(parses(text));
      }),
      { seed: 4711, numRuns: 5000 },
    );
  });

  it('says where and what was expected, never the text', () => {
    expect(jsonSyntaxProblem('{"a": 1 "b": 2}')).toEqual({ position: 8, line: 1, column: 9, expected: "',' or '}'" });
    expect(jsonSyntaxProblem('[1,\n 2,\n ]')).toMatchObject({ position: 9, line: 3, column: 2 });
    expect(describeJsonSyntaxProblem('{"secret": "hunter2')).toBe(
      'expected a string: printable characters and valid escapes, ending in " (the text ends here) at line 1, column 20 (position 19)',
    );
    expect(describeJsonSyntaxProblem('hunter2')).not.toContain('hunter2');
    // Deep nesting costs no stack.
    expect(jsonSyntaxProblem(`${'['.repeat(200_000)}${']'.repeat(200_000)}`)).toBeUndefined();
  });
});

describe('poisonedKey', () => {
  it('finds __proto__ and constructor.prototype at any depth, and nothing in ordinary JSON', () => {
    expect(poisonedKey(JSON.parse('{"__proto__": {"x": 1}}'))).toEqual({ key: '__proto__', pointer: '/__proto__' });
    expect(poisonedKey(JSON.parse('[{"a": [{"constructor": {"prototype": {}}}]}]'))).toEqual({
      key: 'constructor.prototype',
      pointer: '/0/a/0/constructor/prototype',
    });
    expect(poisonedKey(JSON.parse('{"a/b~c": {"__proto__": null}}'))).toEqual({
      key: '__proto__',
      pointer: '/a~1b~0c/__proto__',
    });
    expect(poisonedKey(JSON.parse('{"constructor": "Acme", "prototype": {"x": 1}}'))).toBeUndefined();
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        if (!/__proto__|constructor/.test(text)) expect(poisonedKey(JSON.parse(text))).toBeUndefined();
      }),
      { seed: 4711, numRuns: 500 },
    );
  });
});
