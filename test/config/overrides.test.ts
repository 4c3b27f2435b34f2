import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  EMBEDDED_FOUR_LETTER_WHITELIST,
  defaultConfig,
  fourLetterWordAllowed,
  isDistributed,
  sessionTimeoutBounds,
} from '../../src/config/config.js';
import { configFromOverrides, validateConfig } from '../../src/config/validate.js';

test('embedded defaults for npm start', () => {
  const c = defaultConfig();
  assert.equal(c.clientPort, 2181);
  assert.equal(c.tickTime, 2000);
  assert.equal(c.dataDir, 'data');
  assert.deepEqual([...c.fourLetterWhitelist].sort(), [...EMBEDDED_FOUR_LETTER_WHITELIST].sort());
  assert.deepEqual([...c.fourLetterWhitelist].sort(), ['conf', 'isro', 'mntr', 'ruok', 'srvr', 'stat']);
  assert.deepEqual(sessionTimeoutBounds(c), { min: 4000, max: 40000 });
  assert.equal(isDistributed(c), false);
  validateConfig(c);
});

test('defaultConfig returns a fresh object each time', () => {
  const a = defaultConfig();
  a.tickTime = 1;
  assert.equal(defaultConfig().tickTime, 2000);
});

test('configFromOverrides merges, ignores undefined and lets dataLogDir follow dataDir', () => {
  const c = configFromOverrides({ clientPort: 0, tickTime: 100, dataDir: '/tmp/x', maxSessionTimeout: undefined });
  assert.equal(c.clientPort, 0);
  assert.equal(c.tickTime, 100);
  assert.equal(c.dataDir, '/tmp/x');
  assert.equal(c.dataLogDir, '/tmp/x');
  assert.equal(c.maxSessionTimeout, -1);
  assert.equal(configFromOverrides({ dataDir: '/a', dataLogDir: '/b' }).dataLogDir, '/b');
  assert.deepEqual(configFromOverrides(), defaultConfig());
});

test('configFromOverrides validates', () => {
  assert.throws(() => configFromOverrides({ clientPort: 70000 }), (e: unknown) => e instanceof ConfigError && /clientPort '70000'/.test(e.message));
  assert.throws(() => configFromOverrides({ tickTime: 0 }), /tickTime '0'/);
  assert.throws(() => configFromOverrides({ minSessionTimeout: 10, maxSessionTimeout: 5 }), /minSessionTimeout \(10\) must not be larger than maxSessionTimeout \(5\)/);
  assert.throws(() => configFromOverrides({ tickTime: 100, minSessionTimeout: 5000 }), /maxSessionTimeout \(2000\)/);
  assert.throws(() => configFromOverrides({ dataDir: '' }), /dataDir is not set/);
  assert.throws(() => configFromOverrides({ autopurgeSnapRetainCount: 2 }), /autopurge.snapRetainCount '2'/);
});

test('fourLetterWordAllowed honours *', () => {
  assert.equal(fourLetterWordAllowed(defaultConfig(), 'ruok'), true);
  assert.equal(fourLetterWordAllowed(defaultConfig(), 'dump'), false);
  assert.equal(fourLetterWordAllowed(configFromOverrides({ fourLetterWhitelist: new Set(['*']) }), 'dump'), true);
});
