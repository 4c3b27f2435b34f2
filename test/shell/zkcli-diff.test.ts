/**
 * `paddock shell` against zkCli.sh: the same scripted session through both, against the same
 * server (the in-process Paddock, then Apache ZooKeeper), compared line by line after
 * normalising times, zxids and the root each run works under; and one-shot commands compared
 * with their exit codes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPaddock, type PaddockProcess } from '../support/paddock.js';
import { skipUnlessZooKeeper, startZooKeeper, type ZooKeeperProcess } from '../support/zookeeper.js';
import { MAIN, normalise, paddockShell, runProcess, skipUnlessZkCli, watchEvents, zkCli } from './zkcli.js';

const skip = skipUnlessZkCli() || skipUnlessZooKeeper();

/** Every zkCli command, with good and bad arguments. `$R` is the run's own root. */
const SCENARIO = `
create $R
create $R/a hello
create $R/a again
create -s $R/seq- x
create -s $R/seq- y
create -e $R/eph
create -c $R/cont
create -t 5000 $R/ttl
create -t abc $R/ttl2
create -c -s $R/bad
create -e -t 100 $R/bad
create $R/no/child
create $R/eph/child
create $R/nodata
create rel
create $R/q1 "a b"
get $R/q1
create $R/q2 'c d'
get $R/q2
create $R/q3 x"y z"
create
get $R/a
get -s $R/a
get $R/nodata
get $R/missing
get
ls $R
ls -s $R
ls -R $R
ls $R/missing
ls -x $R
ls $R true
stat $R/a
stat $R/missing
get $R/a true
create $R/old
delete $R/old 99
set $R/a world
set -s $R/a again2
set -v 99 $R/a nope
set -v 2 $R/a v3
set $R/a
delete $R/missing
delete -v 99 $R/a
delete $R
delete $R/cont
getAcl $R/a
getAcl -s $R/a
getAcl $R/missing
setAcl $R/a world:anyone:cdrwa
setAcl -s $R/a world:anyone:cdrwa
setAcl $R/a bogus
setAcl -v 99 $R/a world:anyone:cdrwa
getAllChildrenNumber $R
getAllChildrenNumber $R/missing
getEphemerals $R
sync $R
printwatches
printwatches off
printwatches
printwatches on
whoami
addauth digest u:p
whoami
create $R/d x auth::cdrwa
getAcl $R/d
setAcl -R $R/d world:anyone:r
getAcl $R/d
removewatches $R/a
addWatch -m FOO $R/a
addWatch -m PERSISTENT $R/a
get -w $R/a
set $R/a changed
setquota -n 5 $R/a
listquota $R/a
delquota -n $R/a
listquota $R/a
delquota $R/a
listquota $R/missing
setquota $R/a
setquota -n 5 $R/missing
config
reconfig -add server.5=127.0.0.1:1234:1235;2181
deleteall $R/missing
history
redo 1
redo 999
foo bar
close
ls $R
connect $S
ls $R
deleteall $R
ls $R
quit
`;

interface Server {
  connectString: string;
  stop(): Promise<void>;
}

async function compareSession(server: Server): Promise<void> {
  const script = (root: string): string => SCENARIO.trim().split('$R').join(root).split('$S').join(server.connectString) + '\n';
  const zk = await zkCli(server.connectString, [], script('/zkcli'));
  const pd = await paddockShell(server.connectString, [], script('/paddock'));
  assert.deepEqual(normalise(pd.stdout, '/paddock'), normalise(zk.stdout, '/zkcli'), 'standard output');
  assert.deepEqual(normalise(pd.stderr, '/paddock'), normalise(zk.stderr, '/zkcli'), 'standard error');
  assert.deepEqual(watchEvents(pd.stdout, '/paddock'), watchEvents(zk.stdout, '/zkcli'), 'watch events');
  assert.equal(pd.code, zk.code, 'exit status');
}

/** One-shot commands: output and exit status (0, 1, 127). */
const ONE_SHOT = [['ls', '/'], ['get', '/missing'], ['create', '/'], ['create'], ['foo'], ['ls', '-x', '/'], ['stat', '/zookeeper']];

describe('paddock shell against zkCli.sh', { skip }, () => {
  let paddock: PaddockProcess;
  let zookeeper: ZooKeeperProcess;
  before(async () => {
    [paddock, zookeeper] = await Promise.all([startPaddock(), startZooKeeper()]);
  });
  after(async () => {
    await Promise.all([paddock?.stop(), zookeeper?.stop()]);
  });

  test('a scripted session against Paddock prints what zkCli prints', async () => {
    await compareSession(paddock);
  });

  test('a scripted session against Apache ZooKeeper prints what zkCli prints', async () => {
    await compareSession(zookeeper);
  });

  test('paddock status reads Apache ZooKeeper\'s srvr too', async () => {
    const r = await runProcess(process.execPath, [MAIN, 'status', '-server', zookeeper.connectString], null);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n {2}Mode: standalone\n {2}Version: 3\.8\.[^\n]+\n {2}Zxid: 0x[0-9a-f]+\n {2}Connections: \d+\n/);
  });

  test('one-shot commands: same output and exit status', async () => {
    for (const args of ONE_SHOT) {
      const [zk, pd] = await Promise.all([zkCli(paddock.connectString, args), paddockShell(paddock.connectString, args)]);
      const what = `'${args.join(' ')}'`;
      assert.equal(pd.code, zk.code, `exit status of ${what}`);
      assert.deepEqual(normalise(pd.stdout, '/'), normalise(zk.stdout, '/'), `standard output of ${what}`);
      assert.deepEqual(normalise(pd.stderr, '/'), normalise(zk.stderr, '/'), `standard error of ${what}`);
    }
  });
});
