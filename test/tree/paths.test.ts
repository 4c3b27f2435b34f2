import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, childPath, parentOf, validatePath } from '../../src/lib/paths.js';

// Expected results follow ZooKeeper's PathUtils.validatePath.
const VALID = ['/', '/a', '/a/b', '/zookeeper', '/a.b', '/...', '/a/.b', '/a/b.', '/a..', '/ä', '/\u00a0', '/\uf900', '/\uffef', '/ '];
const INVALID: [string, string][] = [
  ['', 'Path length must be > 0'],
  ['a', 'Path must start with / character'],
  ['/a/', 'Path must not end with / character'],
  ['//', 'Path must not end with / character'],
  ['//a', 'empty node name specified @1'],
  ['/a//b', 'empty node name specified @3'],
  ['/.', 'relative paths not allowed @1'],
  ['/..', 'relative paths not allowed @2'],
  ['/a/./b', 'relative paths not allowed @3'],
  ['/a/../b', 'relative paths not allowed @4'],
  ['/a\u0000', 'null character not allowed @2'],
  ['/a\u0001', 'invalid character @2'],
  ['/\u001f', 'invalid character @1'],
  ['/\u007f', 'invalid character @1'],
  ['/\u009f', 'invalid character @1'],
  ['/\ud800', 'invalid character @1'],
  ['/\uf8ff', 'invalid character @1'],
  ['/\ufff0', 'invalid character @1'],
  ['/\uffff', 'invalid character @1'],
  ['/😀', 'invalid character @1'],
];

test('validatePath accepts what ZooKeeper accepts', () => {
  for (const p of VALID) assert.equal(validatePath(p), null, JSON.stringify(p));
});

test('validatePath rejects what ZooKeeper rejects, with its reason', () => {
  for (const [p, reason] of INVALID) {
    const got = validatePath(p);
    assert.ok(got !== null && got.includes(reason), `${JSON.stringify(p)}: ${got}`);
  }
});

test('sequential paths are checked with a digit appended', () => {
  assert.equal(validatePath('/q/', true), null);
  assert.equal(validatePath('/q/lock-', true), null);
  assert.equal(validatePath('/', true), null);
  assert.notEqual(validatePath('/q//', true), null);
  assert.notEqual(validatePath('/q/', false), null);
});

test('parentOf, basename, childPath', () => {
  assert.equal(parentOf('/a/b/c'), '/a/b');
  assert.equal(parentOf('/a'), '/');
  assert.equal(parentOf('/'), '/');
  assert.equal(basename('/a/b'), 'b');
  assert.equal(basename('/'), '');
  assert.equal(childPath('/', 'a'), '/a');
  assert.equal(childPath('/a', 'b'), '/a/b');
});
