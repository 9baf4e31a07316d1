/**
 * JSON text that may hold secrets, read without ever repeating it: where it stops being JSON (line, column, position,
 * and what was expected there), and whether it tries to poison a prototype. Node's own JSON.parse errors quote the
 * text (`Unexpected token 'h', "hunter2" is not valid JSON`), so nothing here passes them on.
 *
 * Used by the HTTP API for request bodies (api/app.ts) and by the `ciba` CLI for `--authorization-details @file`
 * (client/cli.ts). Pure functions, no I/O.
 */

/** Where and why a text is not JSON: never any of the text itself. */
export interface JsonSyntaxProblem {
  /** Offset of the first character that cannot be there (UTF-16 code units from 0; the text's length at its end). */
  position: number;
  /** 1-based line and column of that character. */
  line: number;
  column: number;
  /** What JSON allows at that place, in words. */
  expected: string;
}

const JSON_WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/**
 * The first place where `text` stops being JSON (RFC 8259), or undefined when it is JSON. Iterative: nesting depth
 * costs no stack.
 */
export function jsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  let i = 0;
  const open: ('{' | '[')[] = [];
  type State = 'value' | 'first-value' | 'key' | 'first-key' | 'after-value';
  let state: State = 'value';
  const fail = (expected: string): JsonSyntaxProblem => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    const column = i - (before.lastIndexOf('\n') + 1) + 1;
    return { position: i, line, column, expected: i >= text.length ? `${expected} (the text ends here)` : expected };
  };
  /** Reads a string starting at text[i] === '"'; false with i at the offending character. */
  const string = (): boolean => {
    i++;
    while (i < text.length) {
      const char = text[i]!;
      if (char === '"') {
        i++;
        return true;
      }
      if (char.charCodeAt(0) < 0x20) return false;
      if (char === '\\') {
        const next = text[i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            return false;
          }
          i += 6;
          continue;
        }
        if (next === undefined || !ESCAPES.has(next)) {
          i++;
          return false;
        }
        i += 2;
        continue;
      }
      i++;
    }
    return false;
  };
  for (;;) {
    while (i < text.length && JSON_WHITESPACE.has(text[i]!)) i++;
    const char = text[i];
    if (state === 'value' || state === 'first-value') {
      if (state === 'first-value' && char === ']') {
        open.pop();
        i++;
        state = 'after-value';
        continue;
      }
      if (char === '{' || char === '[') {
        open.push(char);
        i++;
        state = char === '{' ? 'first-key' : 'first-value';
        continue;
      }
      if (char === '"') {
        if (!string()) return fail('a string: printable characters and valid escapes, ending in "');
        state = 'after-value';
        continue;
      }
      if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) {
        NUMBER.lastIndex = i;
        const match = NUMBER.exec(text);
        if (!match) return fail('a number');
        i += match[0].length;
        state = 'after-value';
        continue;
      }
      const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, i));
      if (literal) {
        i += literal.length;
        state = 'after-value';
        continue;
      }
      return fail('a value (an object, array, string, number, true, false or null)');
    }
    if (state === 'key' || state === 'first-key') {
      if (state === 'first-key' && char === '}') {
        open.pop();
        i++;
        state = 'after-value';
        continue;
      }
      if (char !== '"') return fail('a property name in double quotes');
      if (!string()) return fail('a property name: printable characters and valid escapes, ending in "');
      while (i < text.length && JSON_WHITESPACE.has(text[i]!)) i++;
      if (text[i] !== ':') return fail("':' after the property name");
      i++;
      state = 'value';
      continue;
    }
    // After a value: the end of the text, or the next member or element, or the end of the container.
    const container = open[open.length - 1];
    if (container === undefined) return i === text.length ? undefined : fail('the end of the text');
    if (char === ',') {
      i++;
      state = container === '{' ? 'key' : 'value';
      continue;
    }
    if (char === (container === '{' ? '}' : ']')) {
      open.pop();
      i++;
      continue;
    }
    return fail(container === '{' ? "',' or '}'" : "',' or ']'");
  }
}

/** "expected ',' or '}' at line 3, column 7 (position 41)": where a text is not JSON, in words, without its content. */
export function describeJsonSyntaxProblem(text: string): string {
  const problem = jsonSyntaxProblem(text);
  if (!problem) return 'not valid JSON';
  return `expected ${problem.expected} at line ${problem.line}, column ${problem.column} (position ${problem.position})`;
}

/** A `__proto__` member, or a `constructor` member holding a `prototype` member: keys that poison prototypes. */
export interface PoisonedKey {
  key: '__proto__' | 'constructor.prototype';
  /** RFC 6901 pointer to the member ("/authorizationDetails/0/__proto__"). */
  pointer: string;
}

/**
 * The first key in parsed JSON `value` that would poison a prototype when the value is merged into another object
 * (`Object.assign`, spread into a class instance, a deep merge): what Fastify's `onProtoPoisoning` and
 * `onConstructorPoisoning` look for. JSON.parse makes `__proto__` an own property; it does no harm until merged.
 */
export function poisonedKey(value: unknown): PoisonedKey | undefined {
  const pending: { value: unknown; pointer: string }[] = [{ value, pointer: '' }];
  const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
  while (pending.length) {
    const { value: current, pointer } = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (Array.isArray(current)) {
      current.forEach((child, index) => pending.push({ value: child, pointer: `${pointer}/${index}` }));
      continue;
    }
    for (const key of Object.keys(current)) {
      const child = (current as Record<string, unknown>)[key];
      if (key === '__proto__') return { key: '__proto__', pointer: `${pointer}/__proto__` };
      if (
        key === 'constructor' &&
        child !== null &&
        typeof child === 'object' &&
        Object.prototype.hasOwnProperty.call(child, 'prototype')
      ) {
        return { key: 'constructor.prototype', pointer: `${pointer}/constructor/prototype` };
      }
      pending.push({ value: child, pointer: `${pointer}/${escape(key)}` });
    }
  }
  return undefined;
}
