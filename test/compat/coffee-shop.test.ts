/**
 * The seed-002 coffee shop (originally Perl Net::ZooKeeper over the C client) expressed through
 * kazoo: ephemeral barista registrations under /barista_group, per-barista order queues under
 * /orders, concurrent customers enqueueing sequential order nodes, child/exists watches with
 * timeouts, registrations vanishing when baristas leave, and a SIGKILLed barista process whose
 * registration lasts until its session expires. See test/compat/coffee_shop.py.
 * The transcript against the target must equal Apache ZooKeeper's.
 */
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kazooMissing, skipUnless } from '../support/clients.js';
import { zookeeperMissing } from '../support/zookeeper.js';
import { compareWithZooKeeper } from './transcript.js';
import { runPythonScenario } from './python.js';

const SCRIPT = fileURLToPath(new URL('../../../test/compat/coffee_shop.py', import.meta.url));

test('coffee shop (seed 002) through kazoo matches Apache ZooKeeper', { skip: skipUnless(zookeeperMissing(), kazooMissing()), timeout: 150_000 }, async () => {
  await compareWithZooKeeper('coffee shop', (connectString) => runPythonScenario(SCRIPT, [connectString], 90_000));
});
