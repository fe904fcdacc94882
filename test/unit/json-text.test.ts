import { describe, expect, it } from 'vitest';
import { JsonText, stringifyWithJsonText } from '../../src/domain/json-text.js';

describe('stringifyWithJsonText', () => {
  it('writes each JsonText’s text in place, byte for byte, wherever it sits', () => {
    const value = { a: new JsonText('{"x": [1, 2]}'), list: [new JsonText('null'), 'plain', new JsonText('"s\\"q"')], n: 1 };
    expect(stringifyWithJsonText(value)).toBe('{"a":{"x": [1, 2]},"list":[null,"plain","s\\"q"],"n":1}');
  });

  it('is JSON.stringify for everything else, strings that look like its stand-ins included', () => {
    const value = { s: '\u0000abc:0', t: '"\\u0000', nested: { d: new Date(0), u: undefined, list: [1, 'two'] } };
    expect(stringifyWithJsonText(value)).toBe(JSON.stringify(value));
    expect(stringifyWithJsonText({ s: '\u0000x:0', j: new JsonText('[1]') })).toBe('{"s":"\\u0000x:0","j":[1]}');
  });

  it('leaves JSON.stringify giving the parsed value, also after a call that threw and inside a toJSON', () => {
    expect(JSON.stringify({ j: new JsonText('{"k": [true]}') })).toBe('{"j":{"k":[true]}}');
    expect(() => stringifyWithJsonText({ j: new JsonText('1'), big: 1n })).toThrow(TypeError);
    expect(JSON.stringify([new JsonText('2')])).toBe('[2]');
    const inner = { toJSON: () => stringifyWithJsonText({ k: new JsonText('3') }) };
    expect(stringifyWithJsonText([new JsonText('[4, 4]'), inner, new JsonText('[5, 5]')])).toBe('[[4, 4],"{\\"k\\":3}",[5, 5]]');
  });
});
