"""A kazoo (Python) peer for interoperability tests. Usage:
   kazoo_peer.py HOSTS lock-try PATH TIMEOUT    -> prints "acquired True|False"
   kazoo_peer.py HOSTS lock-hold PATH           -> acquires, prints "held", releases on a stdin line
   kazoo_peer.py HOSTS counter-add PATH DELTA   -> prints the new value (Curator-compatible counter)
"""
import sys
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout
from kazoo.recipe.lock import Lock
from kazoo.recipe.counter import Counter

hosts, cmd, path = sys.argv[1], sys.argv[2], sys.argv[3]
zk = KazooClient(hosts=hosts, timeout=10)
zk.start(timeout=20)
try:
    if cmd == "lock-try":
        lock = Lock(zk, path, extra_lock_patterns=["-lock-"])
        try:
            got = lock.acquire(timeout=float(sys.argv[4]))
        except LockTimeout:
            got = False
        print("acquired", got, flush=True)
        if got:
            lock.release()
    elif cmd == "lock-hold":
        lock = Lock(zk, path, extra_lock_patterns=["-lock-"])
        lock.acquire(timeout=20)
        print("held", flush=True)
        sys.stdin.readline()
        lock.release()
        print("released", flush=True)
    elif cmd == "counter-add":
        counter = Counter(zk, path, support_curator=True)
        counter += int(sys.argv[4])
        print("value", counter.value, flush=True)
finally:
    zk.stop()
    zk.close()
