import assert from 'node:assert/strict';
import { test } from 'node:test';
import { current, generate } from './config-docs.js';

test('the configuration table in docs/compatibility.md is generated from src/config/keys.ts', () => {
  assert.equal(current(), generate(), 'run `npm run docs:config` to regenerate');
});
