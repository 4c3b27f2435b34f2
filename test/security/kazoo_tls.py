"""kazoo over TLS (use_ssl) for test/security/tls-clients.test.ts; prints one line per step.

Usage: kazoo_tls.py HOST:PORT CA CERT KEY OWNER_SUBJECT STRANGER_CERT STRANGER_KEY
Connects with CERT (whose subject is its x509 id), makes /owned readable only by
OWNER_SUBJECT and /kz readable only by itself, reads both, then checks that a client with a
certificate from another CA cannot connect.
"""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_acl

hosts, ca, cert, key, owner, stranger_cert, stranger_key = sys.argv[1:8]


def client(certfile, keyfile):
    return KazooClient(hosts=hosts, use_ssl=True, ca=ca, certfile=certfile, keyfile=keyfile, verify_certs=True,
                       timeout=10, connection_retry={'max_tries': 0})


zk = client(cert, key)
zk.start(timeout=20)
print('connected')
zk.create('/owned', b'secret', acl=[make_acl('x509', owner, all=True)])
print('created /owned for', owner)
try:
    zk.get('/owned')
    print('read /owned')
except NoAuthError:
    print('NoAuth reading /owned')
zk.create('/kz', b'mine', acl=[make_acl('x509', 'CN=other', all=True)])
print('read /kz:', zk.get('/kz')[0].decode())
print('acl /kz:', [(a.id.scheme, a.id.id, a.perms) for a in zk.get_acls('/kz')[0]])
zk.stop()
zk.close()

stranger = client(stranger_cert, stranger_key)
try:
    stranger.start(timeout=5)
    print('stranger connected')
except KazooTimeoutError:
    print('stranger refused')
finally:
    stranger.stop()
    stranger.close()
