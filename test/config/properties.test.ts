import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProperties } from '../../src/config/properties.js';
import { ConfigError } from '../../src/config/config.js';

function props(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of parseProperties(text)) out[e.key] = e.value;
  return out;
}

test('key=value, key: value, key value and blanks around separators', () => {
  assert.deepEqual(props('a=1\nb: 2\nc 3\n  d  =  4\ne\t:\t5\nf   6'), { a: '1', b: '2', c: '3', d: '4', e: '5', f: '6' });
});

test('comments with # and ! and blank lines are skipped', () => {
  assert.deepEqual(props('# c=1\n   ! d=2\n\n   \n\t\na=1\n#x'), { a: '1' });
});

test('a # after a value is part of the value', () => {
  assert.deepEqual(props('a=1 # not a comment'), { a: '1 # not a comment' });
});

test('empty values and keys without a value', () => {
  assert.deepEqual(props('a=\nb\nc:'), { a: '', b: '', c: '' });
});

test('only the first separator splits; the value keeps the rest', () => {
  assert.deepEqual(props('a=b=c\nx:y:z\nk = =v'), { a: 'b=c', x: 'y:z', k: '=v' });
});

test('trailing blanks of the value are kept (ZooKeeper trims them later)', () => {
  assert.equal(parseProperties('a=1  ')[0]!.value, '1  ');
});

test('backslash continuation joins lines and drops leading blanks of the next', () => {
  assert.deepEqual(props('a=one,\\\n    two,\\\n\tthree\nb=2'), { a: 'one,two,three', b: '2' });
});

test('an even number of trailing backslashes does not continue the line', () => {
  assert.deepEqual(props('a=x\\\\\nb=2'), { a: 'x\\', b: '2' });
});

test('a comment line ending in a backslash is not continued', () => {
  assert.deepEqual(props('# comment \\\na=1'), { a: '1' });
});

test('continuation at end of input is dropped', () => {
  assert.deepEqual(props('a=1\\'), { a: '1' });
});

test('escapes: \\t \\n \\r \\f \\uXXXX and an escaped ordinary character', () => {
  assert.deepEqual(props('a=x\\ty\\nz\\r\\f\nb=\\u0041\\u00e9\nc=\\q\\\\'), { a: 'x\ty\nz\r\f', b: 'Aé', c: 'q\\' });
});

test('escaped separators and blanks belong to the key', () => {
  assert.deepEqual(props('a\\=b=1\nc\\:d:2\ne\\ f 3'), { 'a=b': '1', 'c:d': '2', 'e f': '3' });
});

test('CRLF, CR and LF line ends', () => {
  assert.deepEqual(props('a=1\r\nb=2\rc=3\nd=4'), { a: '1', b: '2', c: '3', d: '4' });
});

test('continuation across CRLF', () => {
  assert.deepEqual(props('a=1,\\\r\n  2'), { a: '1,2' });
});

test('a byte order mark is ignored', () => {
  assert.deepEqual(props('\ufeffa=1'), { a: '1' });
});

test('a malformed \\u escape is a ConfigError naming the line', () => {
  assert.throws(() => parseProperties('a=1\nb=\\u12x4'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /line 2/);
    assert.match(e.message, /\\u12x4/);
    return true;
  });
});

test('entries keep the line they started on; duplicates are all returned', () => {
  const entries = parseProperties('# x\na=1\nb=2\\\n  3\na=4');
  assert.deepEqual(entries.map((e) => [e.key, e.value, e.line]), [['a', '1', 2], ['b', '23', 3], ['a', '4', 5]]);
});
