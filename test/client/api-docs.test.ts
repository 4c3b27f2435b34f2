import assert from 'node:assert/strict';
import { test } from 'node:test';
import { current, generate } from './api-docs.js';

test('docs/recipes/api-reference.md is generated from the current types', () => {
  assert.equal(current(), generate(), 'run `node dist/test/client/api-docs.js` to regenerate');
});
