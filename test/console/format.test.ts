/** The console's data views (web/format.ts, pure): which view a value opens in, and lossless round trips. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectFormat, fromBase64, indentJson, parse, render, toBase64 } from '../../src/admin/console/web/format.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('a value opens as JSON, text or hex by what it holds', () => {
  assert.equal(detectFormat(bytes('{"a":1}')), 'json');
  assert.equal(detectFormat(bytes('[1,2]')), 'json');
  assert.equal(detectFormat(bytes('{not json')), 'text');
  assert.equal(detectFormat(bytes('héllo\nworld')), 'text');
  assert.equal(detectFormat(new Uint8Array([0, 1, 0xfe, 0xff])), 'hex');
  assert.equal(detectFormat(bytes('a\u0001b')), 'hex');
  assert.equal(detectFormat(new Uint8Array()), 'text');
});

test('JSON is laid out token for token: big numbers and escapes survive a save unchanged', () => {
  const compact = '{"id":12345678901234567890,"s":"a,b:{c}\\"q\\"","e":{},"l":[],"n":[1,{"x":null}]}';
  const shown = render(bytes(compact), 'json')!;
  assert.equal(shown, indentJson(compact));
  assert.match(shown, /"id": 12345678901234567890,/);
  assert.match(shown, /"s": "a,b:\{c\}\\"q\\"",/);
  assert.match(shown, /"e": \{\},\n  "l": \[\],/);
  assert.deepEqual(JSON.parse(shown), JSON.parse(compact));
  const already = '{\n    "kept": "layout"\n}';
  assert.equal(render(bytes(already), 'json'), already, 'JSON already on several lines is shown as written');
  assert.equal(render(bytes('nope'), 'json'), null);
  assert.throws(() => parse('{"a":', 'json'), SyntaxError);
});

test('hex and base64 round-trip every byte', () => {
  const all = new Uint8Array(256).map((_, i) => i);
  assert.deepEqual(parse(render(all, 'hex')!, 'hex'), all);
  assert.deepEqual(fromBase64(toBase64(all)), all);
  assert.equal(render(new Uint8Array([0xde, 0xad]), 'hex'), 'de ad');
  assert.throws(() => parse('abc', 'hex'), /pairs of hex digits/);
  assert.throws(() => parse('zz', 'hex'), /pairs of hex digits/);
  assert.equal(render(new Uint8Array([0xff]), 'text'), null, 'invalid UTF-8 cannot be shown as text');
});
