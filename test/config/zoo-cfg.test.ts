import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, DEFAULT_METRICS_PROVIDER, isDistributed, sessionTimeoutBounds, type ServerConfig } from '../../src/config/config.js';
import { parseMyid } from '../../src/config/servers.js';
import { parseZooCfg, zooCfgDataDir, type ParsedZooCfg } from '../../src/config/zoo-cfg.js';

const BASE = { dataDir: '/var/lib/paddock', clientPort: '2181' };

function cfgText(entries: Record<string, string>): string {
  return Object.entries(entries).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

function parse(extra: Record<string, string> = {}, myid?: string | null, ensembleSupported = false): ParsedZooCfg {
  return parseZooCfg(cfgText({ ...BASE, ...extra }), { baseDir: '/work', myid, ensembleSupported });
}

/** Parses as a build that can run an ensemble would (the parser then checks ensemble settings). */
function parseEnsemble(extra: Record<string, string>, myid?: string | null): ParsedZooCfg {
  return parse(extra, myid, true);
}

function config(extra: Record<string, string> = {}, myid?: string | null): ServerConfig {
  return parse(extra, myid).config;
}

/** Asserts parsing throws a ConfigError whose message contains each of `parts`. */
function rejects(extra: Record<string, string>, parts: (string | RegExp)[], myid?: string | null, base = BASE, ensembleSupported = false): void {
  assert.throws(() => parseZooCfg(cfgText({ ...base, ...extra }), { baseDir: '/work', myid, ensembleSupported }), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    for (const p of parts) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `'${e.message}' should contain '${p}'`);
      else assert.match(e.message, p);
    }
    return true;
  });
}

test('minimal zoo.cfg gets ZooKeeper defaults', () => {
  const { config: c, warnings } = parse();
  assert.deepEqual(warnings, []);
  assert.equal(c.tickTime, 3000);
  assert.equal(c.dataDir, '/var/lib/paddock');
  assert.equal(c.dataLogDir, '/var/lib/paddock');
  assert.equal(c.clientPort, 2181);
  assert.equal(c.clientPortAddress, '0.0.0.0');
  assert.equal(c.secureClientPort, null);
  assert.equal(c.maxClientCnxns, 60);
  assert.equal(c.maxCnxns, 0);
  assert.deepEqual(sessionTimeoutBounds(c), { min: 6000, max: 60000 });
  assert.equal(c.globalOutstandingLimit, 1000);
  assert.deepEqual([...c.fourLetterWhitelist], ['srvr']);
  assert.equal(c.extendedTypesEnabled, false);
  assert.equal(c.juteMaxBuffer, 0xfffff);
  assert.equal(c.superDigest, null);
  assert.equal(c.skipACL, false);
  assert.equal(c.enforceQuota, false);
  assert.equal(c.snapCount, 100000);
  assert.equal(c.preAllocSizeKb, 65536);
  assert.equal(c.forceSync, true);
  assert.equal(c.autopurgeSnapRetainCount, 3);
  assert.equal(c.autopurgePurgeIntervalHours, 0);
  assert.equal(c.containerCheckIntervalMs, 60000);
  assert.equal(c.containerMaxPerMinute, 10000);
  assert.equal(c.containerMaxNeverUsedIntervalMs, 0);
  // Paddock's one deliberate default change: the AdminServer runs only when asked (docs/compatibility.md).
  assert.equal(c.adminEnableServer, false);
  assert.equal(c.adminCommandUrl, '/commands');
  assert.equal(c.adminIdleTimeoutMs, 30000);
  assert.equal(c.adminServerPort, 8080);
  assert.equal(c.adminServerAddress, '0.0.0.0');
  assert.equal(c.metricsProviderClassName, DEFAULT_METRICS_PROVIDER);
  assert.equal(c.standaloneEnabled, true);
  assert.equal(c.reconfigEnabled, false);
  assert.deepEqual(c.servers, []);
  assert.equal(c.peerType, 'participant');
  assert.equal(c.serverId, 0);
  assert.equal(c.initLimit, 0);
  assert.equal(c.syncLimit, 0);
  assert.equal(isDistributed(c), false);
  assert.deepEqual([...c.raw], [['dataDir', '/var/lib/paddock'], ['clientPort', '2181']]);
});

test('the Debian /etc/zookeeper/conf/zoo.cfg parses without warnings', () => {
  const path = '/etc/zookeeper/conf/zoo.cfg';
  const text = existsSync(path)
    ? readFileSync(path, 'utf8')
    : '# The number of milliseconds of each tick\ntickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zookeeper\nclientPort=2181\n#maxClientCnxns=60\n';
  const { config: c, warnings } = parseZooCfg(text, { baseDir: '/' });
  assert.deepEqual(warnings, []);
  assert.equal(c.tickTime, 2000);
  assert.equal(c.initLimit, 10);
  assert.equal(c.syncLimit, 5);
  assert.equal(c.dataDir, '/tmp/zookeeper');
  assert.equal(c.clientPort, 2181);
  assert.equal(c.maxClientCnxns, 60);
  assert.equal(isDistributed(c), false);
});

test('every numeric key', () => {
  const c = config({
    tickTime: '1000', initLimit: '10', syncLimit: '5', maxClientCnxns: '0', maxCnxns: '500',
    minSessionTimeout: '1500', maxSessionTimeout: '90000', globalOutstandingLimit: '2000',
    'jute.maxbuffer': '4194304', snapCount: '5000', preAllocSize: '1024', 'autopurge.snapRetainCount': '5',
    'autopurge.purgeInterval': '24', 'znode.container.checkIntervalMs': '1000',
    'znode.container.maxPerMinute': '50', 'znode.container.maxNeverUsedIntervalMs': '30000',
    'admin.serverPort': '9090', secureClientPort: '0',
  });
  assert.equal(c.tickTime, 1000);
  assert.equal(c.initLimit, 10);
  assert.equal(c.syncLimit, 5);
  assert.equal(c.maxClientCnxns, 0);
  assert.equal(c.maxCnxns, 500);
  assert.equal(c.minSessionTimeout, 1500);
  assert.equal(c.maxSessionTimeout, 90000);
  assert.equal(c.globalOutstandingLimit, 2000);
  assert.equal(c.juteMaxBuffer, 4194304);
  assert.equal(c.snapCount, 5000);
  assert.equal(c.preAllocSizeKb, 1024);
  assert.equal(c.autopurgeSnapRetainCount, 5);
  assert.equal(c.autopurgePurgeIntervalHours, 24);
  assert.equal(c.containerCheckIntervalMs, 1000);
  assert.equal(c.containerMaxPerMinute, 50);
  assert.equal(c.containerMaxNeverUsedIntervalMs, 30000);
  assert.equal(c.adminServerPort, 9090);
  assert.equal(c.secureClientPort, null);
});

test('secureClientPort opens the TLS port beside clientPort, or alone', () => {
  const both = config({ secureClientPort: '2281', secureClientPortAddress: '127.0.0.1', 'ssl.keyStore.location': '/k.pem' });
  assert.deepEqual([both.clientPort, both.clientPortEnabled, both.secureClientPort, both.secureClientPortAddress], [2181, true, 2281, '127.0.0.1']);
  assert.equal(both.ssl.get('keyStore.location'), '/k.pem');
  const alone = parseZooCfg('dataDir=/d\nsecureClientPort=2281\n', { baseDir: '/' }).config;
  assert.deepEqual([alone.clientPortEnabled, alone.secureClientPort], [false, 2281]);
  rejects({ secureClientPort: '70000' }, ["invalid secureClientPort '70000'"]);
  assert.equal(config({ secureClientPort: '0' }).secureClientPort, null);
  assert.throws(() => parseZooCfg('dataDir=/d\nsecureClientPort=0\n', { baseDir: '/' }), /clientPort is not set/);
});

test('string keys: clientPortAddress, admin.serverAddress, superDigest (both spellings)', () => {
  const digest = 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=';
  let c = config({ clientPortAddress: '127.0.0.1', 'admin.serverAddress': '127.0.0.2', 'DigestAuthenticationProvider.superDigest': digest });
  assert.equal(c.clientPortAddress, '127.0.0.1');
  assert.equal(c.adminServerAddress, '127.0.0.2');
  assert.equal(c.superDigest, digest);
  const r = parse({ 'zookeeper.DigestAuthenticationProvider.superDigest': digest });
  assert.equal(r.config.superDigest, digest);
  assert.deepEqual(r.warnings, []);
  c = config({ 'zookeeper.DigestAuthenticationProvider.superDigest': '' });
  assert.equal(c.superDigest, null);
});

test('a superDigest that cannot match warns', () => {
  const { warnings } = parse({ 'DigestAuthenticationProvider.superDigest': 'super:plaintext' });
  assert.ok(warnings.some((w) => w.includes('superDigest')));
});

test('dataLogDir defaults to dataDir and can be set', () => {
  assert.equal(config().dataLogDir, '/var/lib/paddock');
  assert.equal(config({ dataLogDir: '/fast/log' }).dataLogDir, '/fast/log');
});

test('relative dataDir/dataLogDir resolve against baseDir (the CWD, as ZooKeeper), with a warning', () => {
  const { config: c, warnings } = parse({ dataDir: 'zkdata', dataLogDir: './zklog' });
  assert.equal(c.dataDir, '/work/zkdata');
  assert.equal(c.dataLogDir, '/work/zklog');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /dataDir 'zkdata' is relative/);
});

test('booleans: true/false keys', () => {
  const c = config({
    extendedTypesEnabled: 'true', enforceQuota: 'TRUE', 'admin.enableServer': 'false',
    standaloneEnabled: 'true', reconfigEnabled: 'true', 'readonlymode.enabled': 'true',
  });
  assert.equal(c.extendedTypesEnabled, true);
  assert.equal(c.enforceQuota, true);
  assert.equal(c.adminEnableServer, false);
  assert.equal(c.standaloneEnabled, true);
  assert.equal(c.reconfigEnabled, true);
  assert.equal(c.readOnlyModeEnabled, true);
  assert.equal(config({ 'zookeeper.extendedTypesEnabled': 'true' }).extendedTypesEnabled, true);
  assert.equal(config({ 'zookeeper.enforceQuota': 'true' }).enforceQuota, true);
});

test('booleans: yes/no keys forceSync and skipACL (with warnings when unsafe)', () => {
  const { config: c, warnings } = parse({ forceSync: 'no', skipACL: 'yes' });
  assert.equal(c.forceSync, false);
  assert.equal(c.skipACL, true);
  assert.equal(warnings.length, 2);
  const d = config({ forceSync: 'yes', 'zookeeper.skipACL': 'no' });
  assert.equal(d.forceSync, true);
  assert.equal(d.skipACL, false);
});

test('bad booleans name the key and value', () => {
  rejects({ extendedTypesEnabled: 'maybe' }, ['extendedTypesEnabled', "'maybe'", 'true or false']);
  rejects({ standaloneEnabled: 'yes' }, ['standaloneEnabled', "'yes'"]);
  rejects({ reconfigEnabled: '1' }, ['reconfigEnabled', "'1'"]);
  rejects({ 'admin.enableServer': 'on' }, ['admin.enableServer', "'on'"]);
  rejects({ enforceQuota: 'x' }, ['enforceQuota', "'x'"]);
  rejects({ forceSync: 'true' }, ['forceSync', "'true'", 'yes or no']);
  rejects({ skipACL: 'true' }, ['skipACL', "'true'", 'yes or no']);
  rejects({ 'readonlymode.enabled': 'y' }, ['readonlymode.enabled', "'y'"]);
});

test('4lw.commands.whitelist: list, blanks, *, unknown words, srvr always, isro with read-only mode', () => {
  assert.deepEqual([...config({ '4lw.commands.whitelist': ' ruok , stat,mntr,' }).fourLetterWhitelist].sort(), ['mntr', 'ruok', 'srvr', 'stat']);
  assert.deepEqual([...config({ '4lw.commands.whitelist': '*' }).fourLetterWhitelist], ['*']);
  assert.deepEqual([...config({ '4lw.commands.whitelist': 'ruok, *' }).fourLetterWhitelist], ['*']);
  const r = parse({ '4lw.commands.whitelist': 'ruok,nope' });
  assert.deepEqual([...r.config.fourLetterWhitelist].sort(), ['ruok', 'srvr']);
  assert.ok(r.warnings.some((w) => w.includes("'nope'")));
  assert.deepEqual([...config({ 'readonlymode.enabled': 'true' }).fourLetterWhitelist].sort(), ['isro', 'srvr']);
});

test('jute.maxbuffer accepts Integer.decode syntax', () => {
  assert.equal(config({ 'jute.maxbuffer': '0x100000' }).juteMaxBuffer, 0x100000);
  assert.equal(config({ 'jute.maxbuffer': '#ff' }).juteMaxBuffer, 255);
  assert.equal(config({ 'jute.maxbuffer': '010' }).juteMaxBuffer, 8);
  rejects({ 'jute.maxbuffer': '1MB' }, ['jute.maxbuffer', "'1MB'"]);
  rejects({ 'jute.maxbuffer': '0' }, ['jute.maxbuffer', "'0'"]);
});

test('session timeouts: defaults follow tickTime, explicit ones validated min <= max', () => {
  assert.deepEqual(sessionTimeoutBounds(config({ tickTime: '2000' })), { min: 4000, max: 40000 });
  assert.deepEqual(sessionTimeoutBounds(config({ tickTime: '2000', minSessionTimeout: '1000' })), { min: 1000, max: 40000 });
  assert.deepEqual(sessionTimeoutBounds(config({ minSessionTimeout: '-1', maxSessionTimeout: '-1' })), { min: 6000, max: 60000 });
  rejects({ minSessionTimeout: '30000', maxSessionTimeout: '10000' }, ['minSessionTimeout', '30000', 'maxSessionTimeout', '10000']);
  rejects({ tickTime: '2000', minSessionTimeout: '50000' }, ['minSessionTimeout (50000)', 'maxSessionTimeout (40000)', 'tickTime 2000']);
  rejects({ minSessionTimeout: '-5' }, ['minSessionTimeout', "'-5'"]);
});

test('autopurge.snapRetainCount below 3 becomes 3 with a warning; negative purgeInterval disables', () => {
  const { config: c, warnings } = parse({ 'autopurge.snapRetainCount': '1', 'autopurge.purgeInterval': '-2' });
  assert.equal(c.autopurgeSnapRetainCount, 3);
  assert.equal(c.autopurgePurgeIntervalHours, 0);
  assert.ok(warnings.some((w) => w.includes('autopurge.snapRetainCount')));
});

test('snapCount below 2 becomes 2 with a warning', () => {
  const { config: c, warnings } = parse({ snapCount: '1' });
  assert.equal(c.snapCount, 2);
  assert.equal(warnings.length, 1);
});

test('container keys with the zookeeper. prefix too', () => {
  const c = config({ 'zookeeper.znode.container.checkIntervalMs': '5', 'zookeeper.znode.container.maxPerMinute': '6', 'zookeeper.znode.container.maxNeverUsedIntervalMs': '7' });
  assert.deepEqual([c.containerCheckIntervalMs, c.containerMaxPerMinute, c.containerMaxNeverUsedIntervalMs], [5, 6, 7]);
});

test('metricsProvider.* keys are stored without the prefix', () => {
  const c = config({
    'metricsProvider.className': 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
    'metricsProvider.httpPort': '7000',
    'metricsProvider.exportJvmInfo': 'true',
  });
  assert.equal(c.metricsProviderClassName, 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider');
  assert.deepEqual([...c.metricsProviderConfig].sort(), [['exportJvmInfo', 'true'], ['httpPort', '7000']]);
});

test('unknown keys and ZooKeeper keys Paddock does not use are accepted with warnings', () => {
  const { config: c, warnings } = parse({ 'my.custom': 'x', localSessionsEnabled: 'true', electionAlg: '3' });
  assert.deepEqual(warnings, [
    'unknown key my.custom ignored',
    'localSessionsEnabled has no effect: Paddock does not implement it for an ensemble (yet)',
    'electionAlg has no effect: Paddock does not implement it for an ensemble (yet)',
  ]);
  assert.equal(c.raw.get('my.custom'), 'x');
});

test('electionAlg other than 3 is rejected, as in ZooKeeper', () => {
  rejects({ electionAlg: '1' }, ['electionAlg', "'1'"]);
});

test('hierarchical quorums (group.N, weight.N) are rejected: votes would be counted unlike the other servers', () => {
  rejects({ 'group.1': '1:2:3' }, ['group.1', 'hierarchical']);
  rejects({ 'weight.2': '2' }, ['weight.2', 'hierarchical']);
});

const DYNAMIC_FILE = '/etc/zk/zoo.cfg.dynamic.100000000';
/** What ZooKeeper writes with reconfigEnabled=true: the client address moves into the server lines. */
const DYNAMIC_TEXT = [
  'server.1=zoo1:2888:3888:participant;0.0.0.0:2181',
  'server.2=zoo2:2888:3888:participant;0.0.0.0:2181',
  'server.3=zoo3:2888:3888:participant;0.0.0.0:2181',
].join('\n');

function parseDynamic(extra: Record<string, string>, dynamicConfig: string | null, ensembleSupported = true): ParsedZooCfg {
  const text = cfgText({ tickTime: '2000', initLimit: '10', syncLimit: '5', dataDir: '/var/lib/zookeeper', dynamicConfigFile: DYNAMIC_FILE, ...extra });
  return parseZooCfg(text, { baseDir: '/', myid: '2', ensembleSupported, dynamicConfig });
}

test('dynamicConfigFile: the server lines (and the client port) come from that file, as ZooKeeper writes it', () => {
  const { config: c, warnings } = parseDynamic({ reconfigEnabled: 'true' }, DYNAMIC_TEXT);
  assert.equal(c.serverId, 2);
  assert.deepEqual(c.servers.map((s) => s.id), [1, 2, 3]);
  assert.equal(c.clientPort, 2181);
  assert.equal(isDistributed(c), true);
  assert.deepEqual(warnings.filter((w) => !w.startsWith('reconfigEnabled')), []);
  // Alone (a build without ensembles) the same files are refused as any ensemble is.
  assert.throws(() => parseDynamic({}, DYNAMIC_TEXT, false), /describes an ensemble/);
});

test('dynamicConfigFile: refused as ZooKeeper refuses it (server lines in zoo.cfg, a version or other keys in the file, no file)', () => {
  const refused = (extra: Record<string, string>, dynamic: string | null, pattern: RegExp): void => {
    assert.throws(() => parseDynamic(extra, dynamic), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
  };
  refused({ 'server.4': 'zoo4:2888:3888' }, DYNAMIC_TEXT, /server\.4 must be in the dynamic config file \/etc\/zk\/zoo\.cfg\.dynamic\.100000000/);
  refused({}, `${DYNAMIC_TEXT}\nversion=100000000`, /must not hold a version/);
  refused({}, `${DYNAMIC_TEXT}\ntickTime=2000`, /unrecognised key tickTime in dynamic config file/);
  refused({}, null, /dynamic config file not found: \/etc\/zk\/zoo\.cfg\.dynamic\.100000000/);
  refused({}, `${DYNAMIC_TEXT}\nserver.x=zoo9:1:2`, /server id must be a number/);
  // Hierarchical quorums stay refused wherever they are written.
  refused({}, `${DYNAMIC_TEXT}\ngroup.1=1:2:3`, /group\.1.*hierarchical/);
});

test('keys and values are trimmed; a repeated key keeps the last value with a warning', () => {
  const r = parseZooCfg('  dataDir   =   /d   \nclientPort=1\nclientPort = 2181 \n', { baseDir: '/' });
  assert.equal(r.config.dataDir, '/d');
  assert.equal(r.config.clientPort, 2181);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /clientPort/);
});

test('Java properties syntax inside zoo.cfg: colon separator, continuation, escapes', () => {
  const text = [
    '! a comment',
    'dataDir: /data/zoo\\',
    '   keeper',
    'clientPort 2181',
    '4lw.commands.whitelist=ruok,\\',
    '    stat',
    'clientPortAddress=\\u0031\\u0032\\u0037.0.0.1',
  ].join('\r\n');
  const { config: c, warnings } = parseZooCfg(text, { baseDir: '/' });
  assert.deepEqual(warnings, []);
  assert.equal(c.dataDir, '/data/zookeeper');
  assert.equal(c.clientPort, 2181);
  assert.equal(c.clientPortAddress, '127.0.0.1');
  assert.deepEqual([...c.fourLetterWhitelist].sort(), ['ruok', 'srvr', 'stat']);
});

test('bad numbers name the key and the value', () => {
  rejects({ tickTime: 'abc' }, ['tickTime', "'abc'"]);
  rejects({ tickTime: '2000ms' }, ['tickTime', "'2000ms'"]);
  rejects({ tickTime: '0' }, ['tickTime', "'0'"]);
  rejects({ tickTime: '1.5' }, ['tickTime', "'1.5'"]);
  rejects({ initLimit: 'ten' }, ['initLimit', "'ten'"]);
  rejects({ syncLimit: '-1' }, ['syncLimit', "'-1'"]);
  rejects({ maxClientCnxns: '-1' }, ['maxClientCnxns', "'-1'"]);
  rejects({ maxCnxns: 'lots' }, ['maxCnxns', "'lots'"]);
  rejects({ globalOutstandingLimit: '0' }, ['globalOutstandingLimit', "'0'"]);
  rejects({ snapCount: 'x' }, ['snapCount', "'x'"]);
  rejects({ preAllocSize: '0' }, ['preAllocSize', "'0'"]);
  rejects({ 'autopurge.snapRetainCount': 'three' }, ['autopurge.snapRetainCount', "'three'"]);
  rejects({ 'autopurge.purgeInterval': '1h' }, ['autopurge.purgeInterval', "'1h'"]);
  rejects({ 'znode.container.checkIntervalMs': '0' }, ['znode.container.checkIntervalMs', "'0'"]);
  rejects({ tickTime: '99999999999999999999' }, ['tickTime', '99999999999999999999']);
});

test('bad ports name the key and the value', () => {
  rejects({ clientPort: '-1' }, ['clientPort', "'-1'"]);
  rejects({ clientPort: '65536' }, ['clientPort', "'65536'", '65535']);
  rejects({ clientPort: 'http' }, ['clientPort', "'http'"]);
  rejects({ secureClientPort: '70000' }, ['secureClientPort', "'70000'"]);
  rejects({ 'admin.serverPort': '-8080' }, ['admin.serverPort', "'-8080'"]);
});

test('missing dataDir and missing clientPort', () => {
  assert.throws(() => parseZooCfg('clientPort=2181\n', { baseDir: '/' }), /dataDir is not set/);
  assert.throws(() => parseZooCfg('dataDir=/d\n', { baseDir: '/' }), /clientPort is not set/);
  assert.throws(() => parseZooCfg('dataDir=\nclientPort=1\n', { baseDir: '/' }), /dataDir is not set/);
  assert.throws(() => parseZooCfg('dataDir=/d\nclientPortAddress=127.0.0.1\n', { baseDir: '/' }), /clientPortAddress is set but clientPort is not set/);
  assert.throws(() => parseZooCfg('dataDir=/d\nclientPort=2181\n', { baseDir: '/' }) && parseZooCfg('', { baseDir: '/' }), ConfigError);
});

test('peerType: the server list decides; observer on a standalone server warns, as ZooKeeper logs', () => {
  const { config: c, warnings } = parse({ peerType: 'observer' });
  assert.equal(c.peerType, 'participant');
  assert.deepEqual(warnings, ['peerType observer does not match the server list (participant); using participant']);
  assert.deepEqual(parse({ peerType: 'participant' }).warnings, []);
  rejects({ peerType: 'leader' }, ['peerType', "'leader'"]);
});

// ---------------------------------------------------------------------------------------------
// server.N lines and myid

const ENSEMBLE = {
  tickTime: '2000', initLimit: '10', syncLimit: '5',
  'server.1': 'zk1.example.com:2888:3888',
  'server.2': 'zk2.example.com:2888:3888:participant',
  'server.3': '10.0.0.3:2888:3888;2181',
  'server.4': '[fe80::1]:2888:3888:observer;0.0.0.0:2182',
};

test('server.N lines are parsed into a typed list', () => {
  const { config: c, warnings } = parseEnsemble(ENSEMBLE, '1\n');
  assert.deepEqual(warnings, []);
  assert.equal(isDistributed(c), true);
  assert.equal(c.serverId, 1);
  assert.equal(c.servers.length, 4);
  assert.deepEqual(c.servers[0], {
    id: 1, host: 'zk1.example.com', quorumPort: 2888, electionPort: 3888,
    addresses: [{ host: 'zk1.example.com', quorumPort: 2888, electionPort: 3888 }],
    type: 'participant', clientPortAddress: null, clientPort: null,
  });
  assert.equal(c.servers[1]!.type, 'participant');
  assert.equal(c.servers[2]!.clientPort, 2181);
  assert.equal(c.servers[2]!.clientPortAddress, null);
  assert.deepEqual(
    [c.servers[3]!.host, c.servers[3]!.type, c.servers[3]!.clientPortAddress, c.servers[3]!.clientPort],
    ['fe80::1', 'observer', '0.0.0.0', 2182],
  );
});

const TYPICAL_ENSEMBLE = [
  'tickTime=2000', 'initLimit=10', 'syncLimit=5', 'dataDir=/var/lib/zookeeper', 'clientPort=2181',
  'autopurge.snapRetainCount=3', 'autopurge.purgeInterval=1', 'quorumListenOnAllIPs=true',
  'server.1=zoo1:2888:3888', 'server.2=zoo2:2888:3888', 'server.3=zoo3:2888:3888',
  '4lw.commands.whitelist=*', 'admin.enableServer=false',
].join('\n');

test('a typical ensemble zoo.cfg is refused: alone, each server would diverge', () => {
  assert.throws(() => parseZooCfg(TYPICAL_ENSEMBLE, { baseDir: '/', myid: '2' }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /an ensemble of 3 voting servers \(server\.1, server\.2, server\.3\)/);
    assert.match(e.message, /silently diverge/);
    assert.match(e.message, /remove the server\.N lines/);
    assert.match(e.message, /single server\.N line with standaloneEnabled unset or true/);
    return true;
  });
  // Refused before the ensemble's own requirements: fixing myid would not make it safe.
  assert.throws(() => parseZooCfg(TYPICAL_ENSEMBLE, { baseDir: '/' }), /describes an ensemble/);
});

test('standaloneEnabled=false with one server.N line is an ensemble too, and refused', () => {
  rejects({ 'server.1': 'localhost:2888:3888', standaloneEnabled: 'false', initLimit: '5', syncLimit: '2' },
    ['standaloneEnabled=false with server.1', 'remove the server.N lines'], '1');
});

test('a typical ensemble zoo.cfg parses when the build runs ensembles', () => {
  const { config: c, warnings } = parseZooCfg(TYPICAL_ENSEMBLE, { baseDir: '/', myid: '2', ensembleSupported: true });
  assert.equal(c.serverId, 2);
  assert.equal(c.servers.length, 3);
  assert.equal(c.clientPort, 2181);
  assert.equal(isDistributed(c), true);
  assert.deepEqual(warnings, []);
});

test('multiple addresses with |', () => {
  const c = parseEnsemble({ initLimit: '5', syncLimit: '2', 'server.1': 'a:1:2|b:3:4', 'server.2': 'c:1:2' }, '1').config;
  assert.deepEqual(c.servers[0]!.addresses, [{ host: 'a', quorumPort: 1, electionPort: 2 }, { host: 'b', quorumPort: 3, electionPort: 4 }]);
});

test('client port from my server line fills in clientPort; a conflicting one is an error', () => {
  const text = 'dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.1=h1:2888:3888;127.0.0.1:3181\nserver.2=h2:2888:3888;3182\n';
  const opts = (myid: string) => ({ baseDir: '/', myid, ensembleSupported: true });
  const c = parseZooCfg(text, opts('1')).config;
  assert.equal(c.clientPort, 3181);
  assert.equal(c.clientPortAddress, '127.0.0.1');
  assert.equal(parseZooCfg(text + 'clientPort=3182\n', opts('2')).config.clientPort, 3182);
  assert.throws(() => parseZooCfg(text + 'clientPort=2181\n', opts('1')), (e: unknown) =>
    e instanceof ConfigError && /clientPort 2181 conflicts with client port 3181 in server\.1/.test(e.message));
  assert.throws(() => parseZooCfg(text + 'clientPortAddress=10.1.1.1\n', opts('1')), /clientPortAddress 10\.1\.1\.1 conflicts/);
  // A single server line with a client port runs standalone on that port.
  assert.equal(parseZooCfg('dataDir=/d\nserver.1=h1:2888:3888;3181\n', { baseDir: '/', myid: '1' }).config.clientPort, 3181);
});

test('a single server.N line runs standalone, as in ZooKeeper; myid optional', () => {
  const { config: c, warnings } = parse({ 'server.1': 'localhost:2888:3888' });
  assert.equal(isDistributed(c), false);
  assert.equal(c.serverId, 0);
  assert.deepEqual(warnings, []);
  assert.equal(config({ 'server.1': 'localhost:2888:3888', standaloneEnabled: 'true' }, '1').serverId, 1);
});

test('server lines ZooKeeper refuses: observers without a quorum, standaloneEnabled=false alone', () => {
  rejects({ 'server.1': 'localhost:2888:3888', 'server.2': 'other:2888:3888:observer' }, ['observers without a quorum']);
  rejects({ 'server.1': 'localhost:2888:3888:observer' }, ['observers without participants']);
  rejects({ standaloneEnabled: 'false' }, ['standaloneEnabled=false needs at least one participant server.N line']);
});

test('ensemble requirements: myid file, initLimit, syncLimit, my id in the list', () => {
  const ensembleRejects = (extra: Record<string, string>, parts: string[], myid: string | null): void =>
    rejects(extra, parts, myid, BASE, true);
  ensembleRejects(ENSEMBLE, ['myid file is missing', '/var/lib/paddock/myid'], null);
  ensembleRejects({ ...ENSEMBLE, initLimit: '0' }, ['initLimit is not set'], '1');
  ensembleRejects({ ...ENSEMBLE, syncLimit: '0' }, ['syncLimit is not set'], '1');
  ensembleRejects(ENSEMBLE, ['myid 9 is not in the server.N list'], '9');
  ensembleRejects(ENSEMBLE, ['myid', "'replace this text'"], 'replace this text');
});

test('peerType that disagrees with my server line warns and the line wins', () => {
  const { config: c, warnings } = parseEnsemble({ ...ENSEMBLE, peerType: 'participant', clientPort: '2182' }, '4');
  assert.equal(c.peerType, 'observer');
  assert.ok(warnings.includes('peerType participant does not match server.4 (observer); using observer'));
});

test('bad server lines name the key and the value', () => {
  rejects({ 'server.1': 'hostonly' }, ['server.1', "'hostonly'"]);
  rejects({ 'server.1': 'h:2888' }, ['server.1', "'h:2888'"]);
  rejects({ 'server.1': 'h:2888:3888:leader' }, ['server.1', "'leader'"]);
  rejects({ 'server.1': 'h:2888:99999' }, ['server.1', "'99999'"]);
  rejects({ 'server.1': 'h:x:3888' }, ['server.1', "'x'"]);
  rejects({ 'server.1': 'h:2888:3888;port' }, ['server.1', "'port'"]);
  rejects({ 'server.1': 'h:2888:3888;1;2' }, ['server.1']);
  rejects({ 'server.x': 'h:2888:3888' }, ['server.x']);
});

test('myid in a standalone configuration is read but optional; a bad one only warns', () => {
  assert.equal(config({}, ' 7 \n').serverId, 7);
  const r = parse({}, 'garbage');
  assert.equal(r.config.serverId, 0);
  assert.ok(r.warnings.some((w) => w.includes('myid')));
});

test('parseMyid', () => {
  assert.equal(parseMyid('3\n'), 3);
  assert.equal(parseMyid('  12  '), 12);
  assert.throws(() => parseMyid('replace this text with the id'), (e: unknown) =>
    e instanceof ConfigError && e.message.includes("'replace this text with the id'"));
  assert.throws(() => parseMyid(''), ConfigError);
  assert.throws(() => parseMyid('-1'), ConfigError);
});

test('zooCfgDataDir finds dataDir for reading myid', () => {
  assert.equal(zooCfgDataDir('dataDir=zk\ndataDir = /abs \n', '/cwd'), '/abs');
  assert.equal(zooCfgDataDir('dataDir=zk\n', '/cwd'), '/cwd/zk');
  assert.equal(zooCfgDataDir('clientPort=1\n', '/cwd'), null);
});
