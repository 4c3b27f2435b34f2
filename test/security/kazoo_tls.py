"""kazoo over TLS (use_ssl) for test/security/tls-clients.test.ts; prints one line per step.

Usage: kazoo_tls.py HOST:PORT CA CERT KEY OWNER_SUBJECT STRANGER_CERT STRANGER_KEY EXPIRED_CERT EXPIRED_KEY PLAIN_HOST:PORT
Connects with CERT (whose subject is its x509 id), makes /owned readable only by
OWNER_SUBJECT and /kz readable only by itself, reads both; then checks that a certificate from
another CA, an expired certificate, plaintext on the TLS port and TLS on the plain port are all
refused, and that the server still serves CERT afterwards.
"""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_acl

hosts, ca, cert, key, owner, stranger_cert, stranger_key, expired_cert, expired_key, plain_hosts = sys.argv[1:11]


def client(certfile, keyfile, to=None, use_ssl=True):
    return KazooClient(hosts=to or hosts, use_ssl=use_ssl, ca=ca, certfile=certfile, keyfile=keyfile, verify_certs=True,
                       timeout=10, connection_retry={'max_tries': 0})


def refused(name, zk):
    try:
        zk.start(timeout=5)
        print(name, 'connected')
    except KazooTimeoutError:
        print(name, 'refused')
    finally:
        zk.stop()
        zk.close()


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

refused('stranger', client(stranger_cert, stranger_key))
refused('expired', client(expired_cert, expired_key))
refused('plaintext on the TLS port', client(None, None, use_ssl=False))
refused('TLS on the plain port', client(cert, key, to=plain_hosts))

zk = client(cert, key)
zk.start(timeout=20)
print('still serving, /kz:', zk.get('/kz')[0].decode())
zk.stop()
zk.close()
