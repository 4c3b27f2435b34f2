/** The comparison machinery itself: placeholders and the diff a failing compatibility test prints. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSameTranscript, isSpecialOwner, lineDiff, Placeholders } from './transcript.js';

test('placeholders are stable by first appearance and per kind', () => {
  const ph = new Placeholders();
  assert.equal(ph.get('zxid', '0x5'), '<zxid#1>');
  assert.equal(ph.get('zxid', '0x9'), '<zxid#2>');
  assert.equal(ph.get('zxid', '0x5'), '<zxid#1>');
  assert.equal(ph.get('session', '0x5'), '<session#1>');
});

test('special ephemeralOwner values are recognised', () => {
  assert.equal(isSpecialOwner('0x0'), true);
  assert.equal(isSpecialOwner('0x8000000000000000'), true);
  assert.equal(isSpecialOwner('0xff00000000000064'), true);
  assert.equal(isSpecialOwner('0x100007f3a2b0000'), false);
});

test('lineDiff marks removed and added lines with context', () => {
  const d = lineDiff(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'], ['a', 'b', 'c', 'd', 'X', 'f', 'g', 'h', 'i'], 1);
  assert.equal(d, ['   ...', '   d', '-  e', '+  X', '   f', '   ...'].join('\n'));
});

test('assertSameTranscript passes on equal and fails with a diff on different transcripts', () => {
  assertSameTranscript(['x', 'y'], ['x', 'y'], 'same');
  assert.throws(() => assertSameTranscript(['x', 'y'], ['x', 'z'], 'demo'), (err: Error) => {
    assert.match(err.message, /demo: the target's transcript differs/);
    assert.match(err.message, /-  y\n\+  z/);
    return true;
  });
});
