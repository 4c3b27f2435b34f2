/**
 * The admin API, mntr and the Prometheus names against a real Apache ZooKeeper 3.8 running its
 * own AdminServer, after the same workload on both: the same commands, aliases and JSON keys.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { freePort } from '../support/ports.js';
import type { PaddockProcess } from '../support/paddock.js';
import { fourLetterWord, skipUnlessZooKeeper, startZooKeeper, type ZooKeeperProcess } from '../support/zookeeper.js';
import { getJson, getText, mntrKeys, shape, startPaddockWithAdmin } from './support.js';

const skip = skipUnlessZooKeeper();

interface Side {
  clientPort: number;
  adminPort: number;
  client: ZooKeeperClient;
}

let zk: ZooKeeperProcess | null = null;
let paddock: PaddockProcess | null = null;
const sides: { zk?: Side; paddock?: Side } = {};

/** One session with an ephemeral node and a data watch, so session-keyed answers are not empty. */
async function workload(connectString: string): Promise<ZooKeeperClient> {
  const client = await connect(connectString);
  await client.create('/admin-test', Buffer.from('x'), { mode: 'ephemeral' });
  await client.getData('/admin-test', { watch: () => undefined });
  return client;
}

before(async () => {
  if (skip) return;
  const adminPort = await freePort();
  zk = await startZooKeeper({ adminPort });
  paddock = await startPaddockWithAdmin();
  sides.zk = { clientPort: zk.port, adminPort, client: await workload(zk.connectString) };
  sides.paddock = { clientPort: paddock.port, adminPort: paddock.server.admin!.port, client: await workload(paddock.connectString) };
});

after(async () => {
  await sides.zk?.client.close();
  await sides.paddock?.client.close();
  await zk?.stop();
  await paddock?.stop();
});

function commandNames(indexHtml: string): string[] {
  return [...indexHtml.matchAll(/<a href="\/commands\/([a-z_]+)">/g)].map((m) => m[1]!).sort();
}

// Keys whose children are data (session ids, paths, expiry times), not fixed names.
const DATA_KEYS = new Set(['expiry_time_to_session_ids', 'session_id_to_ephemeral_paths', 'session_id_to_watched_paths', 'path_to_session_ids']);
// JVM system properties have no Node.js counterpart: compared by the command's own keys only.
const NOT_KEY_BY_KEY = new Set(['system_properties']);

test('the same commands, each with the same JSON keys as ZooKeeper 3.8', { skip }, async () => {
  const z = sides.zk!;
  const p = sides.paddock!;
  const zkNames = commandNames((await getText(z.adminPort, '/commands')).body);
  assert.ok(zkNames.length >= 25, `ZooKeeper's AdminServer lists its commands: ${zkNames.join(', ')}`);
  assert.deepEqual(commandNames((await getText(p.adminPort, '/commands')).body), zkNames);
  for (const name of zkNames) {
    const want = await getJson(z.adminPort, `/commands/${name}`);
    const got = await getJson(p.adminPort, `/commands/${name}`);
    if (NOT_KEY_BY_KEY.has(name)) {
      assert.equal(got.command, want.command);
      assert.ok('error' in got);
      continue;
    }
    assert.deepEqual(shape(got, DATA_KEYS), shape(want, DATA_KEYS), `/commands/${name}`);
  }
});

test('the short aliases name the same commands as in ZooKeeper', { skip }, async () => {
  const aliases = ['conf', 'config', 'crst', 'cons', 'env', 'envi', 'gtmk', 'icfg', 'isro', 'lsnp', 'lead', 'mntr', 'orst', 'obsr', 'srvr', 'stmk', 'srst', 'stat', 'sysp', 'wchs', 'wchc', 'wchp'];
  for (const alias of aliases) {
    const want = (await getJson(sides.zk!.adminPort, `/commands/${alias}`)).command;
    assert.equal((await getJson(sides.paddock!.adminPort, `/commands/${alias}`)).command, want, alias);
  }
});

test('mntr has every key ZooKeeper 3.8 standalone prints', { skip }, async () => {
  const want = mntrKeys(await fourLetterWord(sides.zk!.clientPort, 'mntr'));
  const got = mntrKeys(await fourLetterWord(sides.paddock!.clientPort, 'mntr'));
  assert.ok(want.length > 400, `ZooKeeper printed ${want.length} keys`);
  assert.deepEqual(got.filter((k) => !want.includes(k)), [], 'no key ZooKeeper lacks');
  assert.deepEqual(want.filter((k) => !got.includes(k)), [], 'no key missing');
});

test('monitor has the same keys as ZooKeeper; latencies and counts are real', { skip }, async () => {
  const want = await getJson(sides.zk!.adminPort, '/commands/monitor');
  const got = await getJson(sides.paddock!.adminPort, '/commands/monitor');
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
  assert.equal(got.ephemerals_count, 1);
  assert.ok((got.cnt_updatelatency as number) >= 1, 'the create counted as an update');
  assert.ok((got.cnt_readlatency as number) >= 1, 'the getData counted as a read');
  assert.ok((got.cnt_fsynctime as number) >= 1, 'the create was fsynced');
  assert.ok((got.open_file_descriptor_count as number) > 0);
  assert.ok((got.max_file_descriptor_count as number) >= (got.open_file_descriptor_count as number));
});

/**
 * Debian ships no ZooKeeper Prometheus provider (no simpleclient jars), so Paddock's /metrics
 * is checked against the names of ZooKeeper's mntr, which the provider exports under the same
 * names: every summary S (avg_S, min_S, ... in mntr) as a Prometheus summary S (a summary set's
 * <key>_S as S{key="<key>"}), every other number as a gauge or counter.
 */
test('/metrics parses and has a metric for each of ZooKeeper\'s mntr names, with its type', { skip }, async () => {
  const zkKeys = mntrKeys(await fourLetterWord(sides.zk!.clientPort, 'mntr')).filter((k) => k !== 'version' && k !== 'server_state');
  const summaries = new Set(zkKeys.filter((k) => k.startsWith('cnt_')).map((k) => k.slice(4)));
  const prefix = /^(avg|min|max|cnt|sum|p50|p95|p99|p999)_/;
  const plain = zkKeys.filter((k) => !(prefix.test(k) && summaries.has(k.replace(prefix, ''))));
  const metricsPort = paddock!.server.metrics!.port;
  const res = await getText(metricsPort, '/metrics');
  assert.equal(res.status, 200);
  const families = new Map(parsePrometheus(res.body).map((f) => [f.name, f]));
  for (const mntrName of summaries) {
    // A summary set's members (<namespace>_read_per_namespace) are one summary labelled key=<namespace>.
    const set = /^(.+)_((?:read|write)_per_namespace)$/.exec(mntrName);
    const name = set ? set[2]! : mntrName;
    const f = families.get(name);
    // (The parser folds a labelled summary's samples into one, so labels are read from the text.)
    if (set) assert.match(res.body, new RegExp(`^${name}_count\\{key="${set[1]}"\\} `, 'm'));
    assert.equal(f?.type, 'SUMMARY', `${name} is a summary`);
    assert.ok(f.metrics[0]?.quantiles?.['0.5'] !== undefined, `${name} has a median`);
  }
  for (const name of plain) {
    const type = families.get(name)?.type;
    assert.ok(type === 'GAUGE' || type === 'COUNTER', `${name} is a gauge or counter (got ${type})`);
  }
  assert.equal(families.get('updatelatency')?.metrics[0]?.quantiles?.['0.99'] !== undefined, true);
  for (const own of ['paddock_fsync_time_ms', 'paddock_txnlog_batch_size', 'paddock_event_loop_delay_seconds', 'paddock_request_latency_ms']) {
    assert.equal(families.get(own)?.type, 'SUMMARY', own);
  }
  for (const op of ['create', 'getData']) assert.match(res.body, new RegExp(`^paddock_request_latency_ms_count\\{op="${op}"\\} [1-9]`, 'm'));
  assert.equal(families.get('process_open_fds')?.type, 'GAUGE');
  assert.equal((await getText(metricsPort, '/other')).status, 404);
});

test('reply sizes and received bytes are counted as ZooKeeper counts them', { skip }, async () => {
  // A fresh session on each, then the same getData: the reply size is header + data + Stat.
  const read = async (side: Side): Promise<Record<string, unknown>> => {
    await side.client.getData('/admin-test');
    return (await getJson(side.adminPort, '/commands/srvr')).client_response as Record<string, unknown>;
  };
  // The same client made the same requests on both, so the smallest and largest replies match too.
  assert.deepEqual(await read(sides.paddock!), await read(sides.zk!));
  const monitor = await getJson(sides.paddock!.adminPort, '/commands/monitor');
  assert.ok((monitor.bytes_received_count as number) > 0);
});
