"""A kazoo (python-zk) scenario printing a normalised transcript, one line per observation.

Run: python3 kazoo_scenario.py HOST:PORT. The compatibility suite runs it against Apache
ZooKeeper and against the target and compares the outputs. Every wait is on an event with a
timeout; times, session ids and zxids are replaced by placeholders by first appearance.
"""
import os
import queue
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.protocol.states import EventType
from kazoo.security import make_digest_acl, make_acl, OPEN_ACL_UNSAFE

HOSTS = sys.argv[1]
WAIT = 15

# A watchdog: never hang the test run.
threading.Timer(55, lambda: (print('WATCHDOG: scenario took too long', flush=True), os._exit(3))).start()

_ph = {}


def ph(kind, value):
    m = _ph.setdefault(kind, {})
    if value not in m:
        m[value] = '<%s#%d>' % (kind, len(m) + 1)
    return m[value]


def owner(v):
    if v == 0 or v >= 0x8000000000000000:
        return hex(v)
    return ph('session', v)


def st(s):
    if s is None:
        return 'None'
    return ('Stat(czxid=%s mzxid=%s pzxid=%s version=%d cversion=%d aversion=%d owner=%s len=%d children=%d)'
            % (ph('zxid', s.czxid), ph('zxid', s.mzxid), ph('zxid', s.pzxid), s.version, s.cversion,
               s.aversion, owner(s.ephemeralOwner), s.dataLength, s.numChildren))


def fmt(v):
    if isinstance(v, tuple) and len(v) == 2 and hasattr(v[1], 'czxid'):
        return '(%r, %s)' % (v[0], st(v[1]))
    if hasattr(v, 'czxid'):
        return st(v)
    if isinstance(v, list):
        return '[' + ', '.join(fmt(x) for x in v) + ']'
    if isinstance(v, Exception):
        return type(v).__name__
    return repr(v)


def out(*parts):
    print(' '.join(str(p) for p in parts), flush=True)


def do(label, fn):
    try:
        out(label, '->', fmt(fn()))
    except KazooException as e:
        out(label, '!!', type(e).__name__)


def take(q, what):
    try:
        return q.get(timeout=WAIT)
    except queue.Empty:
        out('TIMEOUT waiting for', what)
        os._exit(4)


def client(**kw):
    c = KazooClient(hosts=HOSTS, timeout=10, **kw)
    c.start(timeout=WAIT)
    return c


zk = client()
zk2 = client()
out('connected two sessions')

# --- create modes, get/set with versions, exists, children
do('create /kz', lambda: zk.create('/kz', b'root'))
do('create /kz again', lambda: zk.create('/kz', b'x'))
do('create ephemeral', lambda: zk.create('/kz/eph', b'e', ephemeral=True))
do('create sequence', lambda: zk.create('/kz/seq-', b's1', sequence=True))
do('create sequence', lambda: zk.create('/kz/seq-', b's2', sequence=True))
do('create ephemeral sequence', lambda: zk.create('/kz/eseq-', b'es', ephemeral=True, sequence=True))
do('create makepath', lambda: zk.create('/kz/a/b/c', b'deep', makepath=True))
do('create include_data', lambda: zk.create('/kz/inc', b'inc', include_data=True))
do('create under ephemeral', lambda: zk.create('/kz/eph/kid', b''))
do('create missing parent', lambda: zk.create('/kz/none/kid', b''))
do('create path with trailing slash', lambda: zk.create('/kz/a/', b''))
do('ensure_path', lambda: zk.ensure_path('/kz/ensured/x'))
do('get /kz', lambda: zk.get('/kz'))
do('get eph', lambda: zk.get('/kz/eph'))
do('get missing', lambda: zk.get('/kz/missing'))
do('exists', lambda: zk.exists('/kz/a/b'))
do('exists missing', lambda: zk.exists('/kz/missing'))
do('set', lambda: zk.set('/kz', b'v1'))
do('set wrong version', lambda: zk.set('/kz', b'v2', version=7))
do('set right version', lambda: zk.set('/kz', b'v2', version=1))
do('set missing', lambda: zk.set('/kz/missing', b''))
do('set large', lambda: zk.set('/kz/inc', b'x' * 4000))
do('get large length', lambda: len(zk.get('/kz/inc')[0]))
do('children', lambda: sorted(zk.get_children('/kz')))
do('children include_data', lambda: (sorted(zk.get_children('/kz/a', include_data=True)[0]), zk.get_children('/kz/a', include_data=True)[1]))
do('children missing', lambda: zk.get_children('/kz/missing'))
do('delete wrong version', lambda: zk.delete('/kz/seq-0000000002', version=4))
do('delete right version', lambda: zk.delete('/kz/seq-0000000002', version=0))
do('delete non-empty', lambda: zk.delete('/kz/a'))
do('delete recursive', lambda: zk.delete('/kz/a', recursive=True))
do('delete missing', lambda: zk.delete('/kz/missing'))
do('sync', lambda: zk.sync('/kz'))
do('other session sees ephemeral owner', lambda: zk2.exists('/kz/eph'))

# --- transactions (multi)
t = zk.transaction()
t.create('/kz/tx', b'tx')
t.create('/kz/tx/kid', b'k')
t.check('/kz', 2)
t.set_data('/kz/tx', b'tx2')
t.delete('/kz/seq-0000000001')
do('transaction commit', lambda: t.commit())
do('after commit', lambda: zk.get('/kz/tx'))
t = zk.transaction()
t.create('/kz/tx2', b'')
t.check('/kz', 99)
t.delete('/kz/tx/kid')
do('transaction failing midway', lambda: t.commit())
do('rolled back create', lambda: zk.exists('/kz/tx2'))
do('rolled back delete', lambda: zk.exists('/kz/tx/kid'))
t = zk.transaction()
t.create('/kz/tx/kid', b'dup')
t.create('/kz/tx3', b'')
do('transaction failing first', lambda: t.commit())
t = zk.transaction()
t.delete('/kz/tx/kid')
t.delete('/kz/tx')
do('transaction deletes', lambda: t.commit())

# --- raw one-shot watches, fired by the other session
events = queue.Queue()
def raw(ev):
    events.put('event %s %s %s' % (ev.type, ev.state, ev.path))
zk.create('/kz/w', b'w0')
zk.get('/kz/w', watch=raw)
zk2.set('/kz/w', b'w1')
out(take(events, 'NodeDataChanged'))
zk.get_children('/kz/w', watch=raw)
zk2.create('/kz/w/k', b'')
out(take(events, 'NodeChildrenChanged'))
do('exists watch on missing', lambda: zk.exists('/kz/w2', watch=raw))
zk2.create('/kz/w2', b'')
out(take(events, 'NodeCreated'))
zk.exists('/kz/w2', watch=raw)
zk2.delete('/kz/w2')
out(take(events, 'NodeDeleted'))

# --- DataWatch / ChildrenWatch recipes
dq = queue.Queue()
@zk.DataWatch('/kz/dw')
def dw(data, stat, event=None):
    dq.put('DataWatch data=%r version=%s event=%s' % (data, stat.version if stat else None, event.type if event else None))
out(take(dq, 'DataWatch initial'))
zk2.create('/kz/dw', b'd0')
out(take(dq, 'DataWatch created'))
zk2.set('/kz/dw', b'd1')
out(take(dq, 'DataWatch changed'))
zk2.delete('/kz/dw')
out(take(dq, 'DataWatch deleted'))

cq = queue.Queue()
zk.create('/kz/cw', b'')
@zk.ChildrenWatch('/kz/cw')
def cw(children):
    cq.put('ChildrenWatch %s' % sorted(children))
out(take(cq, 'ChildrenWatch initial'))
zk2.create('/kz/cw/one', b'')
out(take(cq, 'ChildrenWatch one'))
zk2.create('/kz/cw/two', b'', ephemeral=True)
out(take(cq, 'ChildrenWatch two'))
zk2.delete('/kz/cw/one')
out(take(cq, 'ChildrenWatch one removed'))

# --- ephemeral vanishing when its session closes
zk3 = client()
zk3.create('/kz/eph3', b'', ephemeral=True)
zk3.create('/kz/eseq3-', b'', ephemeral=True, sequence=True)
do('ephemeral of third session', lambda: zk.exists('/kz/eph3'))
zk.exists('/kz/eph3', watch=raw)
zk3.stop()
zk3.close()
out(take(events, 'NodeDeleted of eph3'))
do('ephemeral gone', lambda: zk.exists('/kz/eph3'))
do('children after close', lambda: sorted(zk.get_children('/kz')))

# --- Lock recipe, two sessions
lock1 = zk.Lock('/kz/lock', 'one')
lock2 = zk2.Lock('/kz/lock', 'two')
do('lock1 acquire', lambda: lock1.acquire(timeout=WAIT))
do('lock2 acquire non-blocking', lambda: lock2.acquire(blocking=False))
do('contenders', lambda: lock1.contenders())
lq = queue.Queue()
lock2_waiting = threading.Thread(target=lambda: lq.put('lock2 acquired %s' % lock2.acquire(timeout=WAIT)))
lock2_waiting.start()
# lock2 is queued once its node exists: wait on the lock's children rather than on time
children_q = queue.Queue()
@zk.ChildrenWatch('/kz/lock')
def lock_children(children):
    children_q.put(len(children))
while take(children_q, 'lock2 to queue') < 2:
    pass
do('contenders while waiting', lambda: lock1.contenders())
do('lock1 release', lambda: lock1.release())
out(take(lq, 'lock2 acquire'))
lock2_waiting.join(WAIT)
do('contenders after handover', lambda: lock1.contenders())
do('lock2 release', lambda: lock2.release())
do('contenders after release', lambda: lock1.contenders())

# --- Election recipe
eq = queue.Queue()
leave = {'alpha': threading.Event(), 'beta': threading.Event()}
def lead(name):
    def f():
        eq.put('%s leads' % name)
        leave[name].wait(WAIT)
    return f
e1 = zk.Election('/kz/election', 'alpha')
e2 = zk2.Election('/kz/election', 'beta')
th1 = threading.Thread(target=lambda: e1.run(lead('alpha')))
th1.start()
out(take(eq, 'alpha to lead'))
el_q = queue.Queue()
@zk.ChildrenWatch('/kz/election')
def election_children(children):
    el_q.put(len(children))
th2 = threading.Thread(target=lambda: e2.run(lead('beta')))
th2.start()
while take(el_q, 'beta to queue') < 2:
    pass
do('election contenders', lambda: e1.contenders())
leave['alpha'].set()
out(take(eq, 'beta to lead'))
th1.join(WAIT)
do('election contenders after handover', lambda: e1.contenders())
leave['beta'].set()
th2.join(WAIT)

# --- Party, Counter, Semaphore recipes
p1 = zk.Party('/kz/party', 'p1')
p2 = zk2.Party('/kz/party', 'p2')
p1.join()
p2.join()
do('party members', lambda: sorted(p1))
do('party size', lambda: len(p2))
p1.leave()
do('party after leave', lambda: sorted(p2))
c1 = zk.Counter('/kz/counter')
c2 = zk2.Counter('/kz/counter')
c1 += 5
c2 += 3
c1 -= 1
do('counter', lambda: (c1.value, c2.value))
do('counter node', lambda: zk.get('/kz/counter'))
s1 = zk.Semaphore('/kz/sem', 'one', max_leases=1)
s2 = zk2.Semaphore('/kz/sem', 'two', max_leases=1)
do('semaphore one acquire', lambda: s1.acquire(timeout=WAIT))
do('semaphore two acquire non-blocking', lambda: s2.acquire(blocking=False))
do('semaphore lease holders', lambda: sorted(s1.lease_holders()))
do('semaphore one release', lambda: s1.release())
do('semaphore two acquire', lambda: s2.acquire(timeout=WAIT))
do('semaphore lease holders after', lambda: sorted(s1.lease_holders()))
do('semaphore two release', lambda: s2.release())
do('ruok', lambda: zk.command(b'ruok'))

# --- ACLs and digest authentication
alice = make_digest_acl('alice', 'pw', all=True)
bob_read = make_digest_acl('bob', 'pw', read=True)
do('create with digest acl', lambda: zk.create('/kz/secret', b'hidden', acl=[alice]))
do('get without auth', lambda: zk.get('/kz/secret'))
do('get_acls without auth', lambda: zk.get_acls('/kz/secret'))
do('add_auth alice', lambda: zk.add_auth('digest', 'alice:pw'))
do('get with auth', lambda: zk.get('/kz/secret'))
do('get_acls', lambda: zk.get_acls('/kz/secret'))
do('set_acls wrong version', lambda: zk.set_acls('/kz/secret', [alice, bob_read], version=3))
do('set_acls', lambda: zk.set_acls('/kz/secret', [alice, bob_read], version=0))
do('get_acls after set', lambda: zk.get_acls('/kz/secret'))
zk4 = client(auth_data=[('digest', 'bob:pw')])
do('bob reads', lambda: zk4.get('/kz/secret'))
do('bob writes', lambda: zk4.set('/kz/secret', b'bob'))
do('bob creates child', lambda: zk4.create('/kz/secret/kid', b''))
do('bob deletes', lambda: zk4.delete('/kz/secret'))
do('world read-only node', lambda: zk.create('/kz/ro', b'ro', acl=[make_acl('world', 'anyone', read=True)]))
do('write read-only node', lambda: zk4.set('/kz/ro', b'no'))
do('invalid acl', lambda: zk.create('/kz/badacl', b'', acl=[make_acl('digest', 'nocolon', all=True)]))
do('unknown scheme acl', lambda: zk.create('/kz/badacl', b'', acl=[make_acl('nosuch', 'x', all=True)]))
do('open acl', lambda: zk.get_acls('/kz'))
zk4.stop()
zk4.close()

# --- cleanup of the first two sessions: their ephemerals vanish
zk2.stop()
zk2.close()
do('children after second session closed', lambda: sorted(zk.get_children('/kz')))
do('children of cw', lambda: sorted(zk.get_children('/kz/cw')))
zk.stop()
zk.close()
out('done')
os._exit(0)
