/**
 * kazoo (python3-kazoo) runs test/compat/kazoo_scenario.py against Apache ZooKeeper and against
 * the target: create modes, get/set/delete with versions, children, multi transactions (commit,
 * failure midway, rollback), raw watches, DataWatch/ChildrenWatch, ephemerals vanishing with
 * their session, Lock and Election recipes across two sessions, digest ACLs and auth. The
 * script prints a normalised transcript; the target's must equal ZooKeeper's.
 */
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kazooMissing, skipUnless } from '../support/clients.js';
import { zookeeperMissing } from '../support/zookeeper.js';
import { compareWithZooKeeper } from './transcript.js';
import { runPythonScenario } from './python.js';

// Compiled to dist/test/compat/; the python script stays in the source tree.
const SCRIPT = fileURLToPath(new URL('../../../test/compat/kazoo_scenario.py', import.meta.url));

test('kazoo scenario matches Apache ZooKeeper', { skip: skipUnless(zookeeperMissing(), kazooMissing()), timeout: 150_000 }, async () => {
  await compareWithZooKeeper('kazoo', (connectString) => runPythonScenario(SCRIPT, [connectString]));
});
