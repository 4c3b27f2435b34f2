"""kazoo with sasl_options (DIGEST-MD5 through puresasl) against one server; prints a transcript.

Usage: sasl_kazoo.py HOST:PORT SECRET_PATH

Three sessions: bob with his password, bob with a wrong one, and one without SASL. Each line
names the session and what it saw, so the transcripts of Paddock and ZooKeeper can be compared.
"""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError
from kazoo.protocol.states import KeeperState
from kazoo.security import make_acl

hosts, secret = sys.argv[1], sys.argv[2]


def client(password):
    sasl = None if password is None else {'mechanism': 'DIGEST-MD5', 'username': 'bob', 'password': password}
    return KazooClient(hosts=hosts, sasl_options=sasl, connection_retry={'max_tries': 0}, timeout=10)


def attempt(name, action):
    try:
        print('%s: %s' % (name, action()))
    except Exception as e:  # the exception class is what the transcript compares
        print('%s: %s' % (name, type(e).__name__))


def session(name, password, actions):
    zk = client(password)
    try:
        zk.start(timeout=15)
    except Exception as e:
        print('%s: start %s' % (name, type(e).__name__))
        zk.close()
        return
    print('%s: connected' % name)
    for label, action in actions:
        attempt('%s %s' % (name, label), lambda: action(zk))
    zk.stop()
    zk.close()


kazoo_node = secret + '-kazoo'
session('bob', 'pw', [
    ('get', lambda zk: zk.get(secret)[0].decode()),
    ('create', lambda zk: zk.create(kazoo_node, b'k', acl=[make_acl('sasl', 'bob', all=True)])),
    ('acl', lambda zk: ['%s:%s:%d' % (a.id.scheme, a.id.id, a.perms) for a in zk.get_acls(kazoo_node)[0]]),
])


def wrong_password():
    # kazoo reports the failed exchange from start() or from the first request, as its
    # connection thread happens to run: both are the same refusal.
    zk = client('not-the-password')
    try:
        try:
            zk.start(timeout=15)
        except zk.handler.timeout_exception:
            # start() wakes when the session connects and then checks that it still is: a refusal
            # landing in between reads as kazoo's "Connection time-out". The state tells them apart.
            if zk.client_state == KeeperState.AUTH_FAILED:
                raise AuthFailedError()
            raise
        return zk.get(secret)[0].decode()
    finally:
        zk.stop()
        zk.close()


attempt('wrong', wrong_password)
session('anonymous', None, [
    ('get', lambda zk: zk.get(secret)[0].decode()),
    ('get kazoo node', lambda zk: zk.get(kazoo_node)[0].decode()),
])
