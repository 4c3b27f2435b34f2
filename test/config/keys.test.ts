import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultConfig } from '../../src/config/config.js';
import { CONFIG_KEYS, confWord, lookupKey, suggestKey } from '../../src/config/keys.js';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';

function parseLines(...lines: string[]): { warnings: string[] } {
  return parseZooCfg(['dataDir=/d', 'clientPort=2181', ...lines].join('\n'), { baseDir: '/' });
}

function refusal(...lines: string[]): string {
  try {
    parseLines(...lines);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail(`${lines.join(', ')} should stop the server`);
}

/**
 * Every key ZooKeeper 3.8's server reads from zoo.cfg: QuorumPeerConfig's own keys and every
 * `zookeeper.K` system property in zookeeper-3.8.0.jar (zoo.cfg sets it by naming K), without
 * the Java client's and the test harness's properties.
 */
const ZOOKEEPER_38_KEYS = `4lw.commands.whitelist DigestAuthenticationProvider.digestAlg DigestAuthenticationProvider.enabled
DigestAuthenticationProvider.superDigest SASLAuthenticationProvider.superPassword X509AuthenticationProvider.superUser
admin.commandURL admin.enableServer admin.forceHttps admin.httpVersion admin.idleTimeout admin.portUnification
admin.serverAddress admin.serverPort allowSaslFailedClients audit.enable audit.impl.class authProvider.1 authProvider.x509
autopurge.purgeInterval autopurge.snapRetainCount bitHashCacheSize client.portUnification clientPort clientPortAddress
clientPortListenBacklog clientTcpKeepAlive closeSessionTxn.enabled cnxTimeout commitLogCount
commitProcessor.maxCommitBatchSize commitProcessor.maxReadBatchSize commitProcessor.numWorkerThreads
commitProcessor.shutdownTimeout connectToLearnerMasterLimit connection_throttle_decrease_ratio
connection_throttle_drop_decrease connection_throttle_drop_increase connection_throttle_fill_count
connection_throttle_fill_time connection_throttle_freeze_time connection_throttle_global_session_weight
connection_throttle_local_session_weight connection_throttle_renew_session_weight connection_throttle_tokens
connection_throttle_weight_enabled dataDir dataLogDir datadir.autocreate db.autocreate digest.enabled dynamicConfigFile
electionAlg electionPortBindRetry emulate353TTLNodes enableEagerACLCheck enforce.auth.enabled enforce.auth.schemes
enforceQuota ensembleAuthName extendedTypesEnabled fastleader.maxNotificationInterval fastleader.minNotificationInterval
flushDelay follower.skipLearnerRequestToNextProcessor forceSnapshotSync forceSync
forward_learner_requests_to_commit_processor_disabled fsync.warningthresholdms globalOutstandingLimit group.1 initLimit
intBufferStartingSizeBytes jmx.log4j.disable jmx.log4j.mbean jute.maxbuffer jvm.pause.info-threshold.ms
jvm.pause.monitor jvm.pause.sleep.time.ms jvm.pause.warn-threshold.ms kerberos.canonicalizeHostNames
kerberos.removeHostFromPrincipal kerberos.removeRealmFromPrincipal kinit largeRequestMaxBytes largeRequestThreshold
leader.ackLoggingFrequency leader.closeSocketAsync leader.maxConcurrentDiffSyncs leader.maxConcurrentSnapSyncs
leader.maxTimeToWaitForEpoch leaderConnectDelayDuringRetryMs leaderServes learner.asyncSending learner.closeSocketAsync
letAnySaslUserDoX localSessionsEnabled localSessionsUpgradingEnabled maxBatchSize maxClientCnxns maxCnxns
maxGetChildrenResponseCacheSize maxInProcessingDeadWatchers maxResponseCacheSize maxSessionTimeout maxWriteQueuePollTime
messageTracker.BufferSize messageTracker.Enabled metricsProvider.className metricsProvider.httpPort minSessionTimeout
multiAddress.enabled multiAddress.reachabilityCheckEnabled multiAddress.reachabilityCheckTimeoutMs
netty.advancedFlowControl.enabled netty.server.earlyDropSecureConnectionHandshakes netty.server.outstandingHandshake.limit
nio.directBufferBytes nio.numSelectorThreads nio.numWorkerThreads nio.sessionlessCnxnTimeout nio.shutdownTimeout
observer.election.DelayMs observer.reconnectDelayMs observer.syncEnabled observerMaster.sizeLimit observerMasterPort
pathStats.delay pathStats.enabled pathStats.initialDelay pathStats.maxDepth pathStats.sampleRate pathStats.slotCapacity
pathStats.slotDuration pathStats.topPathMax peerType portUnification preAllocSize quorum.auth.enableSasl
quorum.auth.kerberos.servicePrincipal quorum.auth.learner.saslLoginContext quorum.auth.learnerRequireSasl
quorum.auth.server.saslLoginContext quorum.auth.serverRequireSasl quorum.cnxn.threads.size quorumCnxnTimeoutMs
quorumListenOnAllIPs readonlymode.enabled reconfigEnabled request_stale_connection_check request_stale_latency_check
request_throttle_drop_stale request_throttle_max_requests request_throttle_stall_time request_throttler.shutdownTimeout
requireKerberosConfig sasl.serverconfig secureClientPort secureClientPortAddress security.auth_to_local server.1
serverCnxnFactory sessionRequireClientSASLAuth skipACL snapCount snapSizeLimitInKb snapshot.compression.method
snapshot.trust.empty snapshotSizeFactor ssl.keyStore.location ssl.quorum.trustStore.password ssl.clientAuth
ssl.authProvider sslQuorum sslQuorumReloadCertFiles standaloneEnabled superUser syncEnabled syncLimit tcpKeepAlive
throttled_op_wait_time tickTime txnLogSizeLimitInKb watchManagerName watcherCleanIntervalInSeconds
watcherCleanThreadsNum watcherCleanThreshold weight.1 znode.container.checkIntervalMs
znode.container.maxNeverUsedIntervalMs znode.container.maxPerMinute`.split(/\s+/);

test('every key ZooKeeper 3.8 reads from zoo.cfg is in the table', () => {
  assert.deepEqual(ZOOKEEPER_38_KEYS.filter((k) => lookupKey(k) === undefined), []);
});

test('each table entry says what it is and why Paddock does not honour it', () => {
  for (const k of CONFIG_KEYS) {
    assert.ok(k.doc.length > 0 && k.type.length > 0, k.key);
    if (k.use !== 'honoured') assert.ok(k.why, `${k.key} needs a reason`);
    if (k.pattern) for (const name of k.names ?? []) assert.match(name, k.pattern, `${k.key}: ${name}`);
  }
});

test('settings ZooKeeper users expect to matter warn once, naming the key', () => {
  const cases: [string, RegExp][] = [
    ['readonlymode.enabled=true', /^readonlymode\.enabled is not used by Paddock: Paddock has no read-only mode/],
    ['reconfigEnabled=true', /^reconfigEnabled is not used by Paddock: Paddock has no dynamic reconfiguration/],
    ['peerType=observer', /^peerType observer does not match the server list \(participant\); using participant$/],
    ['localSessionsEnabled=true', /^localSessionsEnabled has no effect: Paddock does not implement it for an ensemble/],
    ['maxResponseCacheSize=100', /^maxResponseCacheSize is not used by Paddock/],
    ['clientPortListenBacklog=100', /^clientPortListenBacklog is not used by Paddock/],
  ];
  for (const [line, expected] of cases) {
    const { warnings } = parseLines(line);
    assert.equal(warnings.length, 1, `${line}: ${JSON.stringify(warnings)}`);
    assert.match(warnings[0]!, expected);
  }
  // All at once: still one warning per key.
  const { warnings } = parseLines(...cases.map(([line]) => line));
  assert.equal(warnings.length, cases.length);
});

test('the admin server and Prometheus keys are honoured: no warning', () => {
  const { warnings } = parseLines(
    'admin.enableServer=true', 'admin.serverPort=9090', 'admin.commandURL=/cmds', 'admin.idleTimeout=5000',
    'metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider', 'metricsProvider.httpPort=7000', 'metricsProvider.exportJvmInfo=true',
  );
  assert.deepEqual(warnings, []);
});

test('values that ask for what Paddock does anyway pass silently', () => {
  const { warnings } = parseLines(
    'admin.enableServer=false', 'reconfigEnabled=false', 'readonlymode.enabled=false', 'standaloneEnabled=true',
    'peerType=participant', 'enforce.auth.enabled=false', 'sessionRequireClientSASLAuth=false', 'secureClientPort=0',
    'client.portUnification=false', 'datadir.autocreate=true', 'clientPortListenBacklog=-1', 'digest.enabled=false',
    `metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider`, 'initLimit=10', 'syncLimit=5',
  );
  assert.deepEqual(warnings, []);
});

test('standaloneEnabled=false stops the server, as in ZooKeeper', () => {
  assert.match(refusal('standaloneEnabled=false'), /standaloneEnabled=false needs at least one participant server\.N line/);
});

test('settings that change safety and cannot be honoured stop the server', () => {
  const cases: [string, RegExp][] = [
    ['ssl.crl=true', /ssl\.crl=true: Paddock does not check certificate revocation/],
    ['zookeeper.ssl.context.supplier.class=com.example.Ctx', /ssl\.context\.supplier\.class=com\.example\.Ctx: Paddock cannot load a Java SSLContext supplier/],
    ['DigestAuthenticationProvider.enabled=false', /DigestAuthenticationProvider\.enabled=false: Paddock always accepts digest credentials/],
    ['ensembleAuthName=prod', /ensembleAuthName=prod: Paddock does not check the ensemble name/],
    ['datadir.autocreate=false', /datadir\.autocreate=false: Paddock creates a missing data directory/],
  ];
  for (const [line, expected] of cases) {
    const message = refusal(line);
    assert.match(message, /^refusing to start: /);
    assert.match(message, expected);
    assert.match(message, /remove the setting to run without it$/);
  }
  // Every refused setting is named in one message.
  const message = refusal('ssl.ocsp=true', 'ensembleAuthName=prod');
  assert.match(message, /ssl\.ocsp=true: .*; ensembleAuthName=prod: /);
  assert.match(message, /remove these settings to run without them$/);
});

test('bad values of refused and ignored keys are still reported as bad values', () => {
  assert.throws(() => parseLines('enforce.auth.enabled=yes'), /invalid enforce\.auth\.enabled 'yes': expected true or false/);
  assert.throws(() => parseLines('admin.serverPort=http'), /invalid admin\.serverPort 'http'/);
});

test('a misspelt key suggests the right one', () => {
  const cases: [string, string][] = [
    ['tickTme=2000', 'unknown key tickTme ignored (did you mean tickTime?)'],
    ['clientport=2182', 'unknown key clientport ignored (did you mean clientPort?)'],
    ['datadir=/x', 'unknown key datadir ignored (did you mean dataDir?)'],
    ['zookeeper.snapCount=10', 'unknown key zookeeper.snapCount ignored (did you mean snapCount?)'],
    ['maxClientCnxn=10', 'unknown key maxClientCnxn ignored (did you mean maxClientCnxns?)'],
    ['ssl.keystore.location=/k', 'unknown key ssl.keystore.location ignored (did you mean ssl.keyStore.location?)'],
    ['4lw.command.whitelist=*', 'unknown key 4lw.command.whitelist ignored (did you mean 4lw.commands.whitelist?)'],
    ['completely.different=1', 'unknown key completely.different ignored'],
  ];
  for (const [line, expected] of cases) assert.deepEqual(parseLines(line).warnings, [expected], line);
  assert.equal(suggestKey('syncLimt'), 'syncLimit');
  assert.equal(suggestKey('abc'), null);
});

test('a setting missing because it is misspelt: the error says which key was probably meant', () => {
  assert.throws(() => parseZooCfg('dataDir=/d\nclientport=2181\n', { baseDir: '/' }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, 'clientPort is not set; note: unknown key clientport ignored (did you mean clientPort?)');
    return true;
  });
});

test('aliases read the same entry as the key', () => {
  assert.equal(lookupKey('zookeeper.skipACL'), lookupKey('skipACL'));
  assert.equal(lookupKey('requestThrottleLimit'), lookupKey('request_throttle_max_requests'));
  assert.equal(lookupKey('zookeeper.ssl.keyStore.location')?.key, 'ssl.*');
  assert.equal(lookupKey('server.12')?.key, 'server.N');
});

test('conf prints ZooKeeper 3.8\'s lines, in its order, from the table', () => {
  const cfg = { ...defaultConfig(), clientPort: 2181, dataDir: '/d', dataLogDir: '/l', maxClientCnxns: 0, serverId: 3 };
  assert.equal(
    confWord(cfg, { snapDir: '/d/version-2', logDir: '/l/version-2', dataDirSize: 457, dataLogSize: 12 }),
    'clientPort=2181\nsecureClientPort=-1\ndataDir=/d/version-2\ndataDirSize=457\ndataLogDir=/l/version-2\n' +
      'dataLogSize=12\ntickTime=2000\nmaxClientCnxns=0\nminSessionTimeout=4000\nmaxSessionTimeout=40000\n' +
      'clientPortListenBacklog=-1\nserverId=3\n',
  );
});
