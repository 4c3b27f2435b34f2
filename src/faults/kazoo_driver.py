"""A client driver for the fault harness through kazoo, a ZooKeeper client nobody here wrote.

It speaks the harness's JSON-lines protocol (src/faults/protocol.ts): one request per line on
stdin, one reply per line on stdout, replies in any order. Each logical client is one kazoo
session; each request runs on a worker thread so a slow call does not hold up the others.
"""
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, ConnectionLoss, KazooException, NodeExistsError,
                              NoNodeError, OperationTimeoutError, SessionExpiredError)
from kazoo.handlers.threading import KazooTimeoutError

out_lock = threading.Lock()
sessions = {}
locks = {}


def reply(msg):
    with out_lock:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()


def context(zk):
    ctx = {"lastZxid": str(zk.last_zxid)}
    sid = zk.client_id[0] if zk.client_id else None
    ctx["session"] = None if sid is None else format(sid, "x")
    try:
        host, port = zk._connection._socket.getpeername()[:2]
        ctx["server"] = "%s:%d" % (host, port)
    except Exception:  # not connected right now: no server to name
        pass
    return ctx


def classify(err):
    """Definite refusals fail; anything that may have taken effect is info."""
    if isinstance(err, (BadVersionError, NoNodeError, NodeExistsError)):
        return {"outcome": "fail", "error": type(err).__name__}
    return {"outcome": "info", "error": type(err).__name__ + (": " + str(err) if str(err) else "")}


def call(async_result, timeout):
    return async_result.get(timeout=timeout)


def client_op(req, zk, timeout):
    op = req["op"]
    key = req.get("key")
    if op == "ensure":
        for path, value in req.get("paths", []):
            try:
                call(zk.create_async(path, value.encode()), timeout)
            except NodeExistsError:
                pass
        return {"outcome": "ok"}
    if op in ("write", "cas"):
        version = req["expectedVersion"] if op == "cas" else -1
        stat = call(zk.set_async(key, req["value"].encode(), version), timeout)
        return {"outcome": "ok", "version": stat.version, "mzxid": str(stat.mzxid)}
    if op in ("read", "sync-read"):
        if op == "sync-read":
            call(zk.sync_async(key), timeout)
        data, stat = call(zk.get_async(key), timeout)
        return {"outcome": "ok", "readValue": data.decode(), "version": stat.version, "mzxid": str(stat.mzxid)}
    if op == "create-seq":
        return {"outcome": "ok", "created": call(zk.create_async(key + "/n-", b"", sequence=True), timeout)}
    if op == "create-eph":
        return {"outcome": "ok", "created": call(zk.create_async(key + "/" + req["name"], b"", ephemeral=True), timeout)}
    if op == "list":
        call(zk.sync_async(key), timeout)
        return {"outcome": "ok", "children": call(zk.get_children_async(key), timeout)}
    if op == "list-eph":
        call(zk.sync_async(key), timeout)
        owners = {}
        for name in call(zk.get_children_async(key), timeout):
            stat = call(zk.exists_async(key + "/" + name), timeout)
            if stat is not None:
                owners[name] = format(stat.ephemeralOwner, "x")
        return {"outcome": "ok", "owners": owners}
    if op == "incr":
        for _ in range(20):  # bounded retries on a race
            data, stat = call(zk.get_async(key), timeout)
            try:
                next_stat = call(zk.set_async(key, str(int(data.decode() or "0") + 1).encode(), stat.version), timeout)
                return {"outcome": "ok", "version": next_stat.version, "mzxid": str(next_stat.mzxid)}
            except BadVersionError:
                continue
        return {"outcome": "fail", "error": "too many races"}
    if op == "lock":
        lock = zk.Lock(key)
        if not lock.acquire(timeout=timeout):
            return {"outcome": "fail", "error": "lock timeout"}
        locks[req["client"]] = lock
        stat = call(zk.exists_async(key + "/" + lock.node), timeout)
        if stat is None:
            return {"outcome": "info", "error": "lock node vanished"}
        return {"outcome": "ok", "token": str(stat.czxid)}
    if op == "fenced-write":
        data, stat = call(zk.get_async(key), timeout)
        if int(data.decode() or "0") > int(req["token"]):
            return {"outcome": "fail", "error": "FENCED"}
        next_stat = call(zk.set_async(key, req["token"].encode(), stat.version), timeout)
        return {"outcome": "ok", "version": next_stat.version, "mzxid": str(next_stat.mzxid)}
    if op == "unlock":
        lock = locks.pop(req["client"], None)
        if lock is not None:
            lock.release()
        return {"outcome": "ok"}
    return {"outcome": "fail", "error": "unknown op " + str(op)}


def handle(req):
    timeout = req.get("timeoutMs", 5000) / 1000.0
    op = req["op"]
    if op == "connect":
        zk = KazooClient(hosts=req["connect"], timeout=req.get("sessionTimeoutMs", 10000) / 1000.0,
                         connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
        zk.start(timeout=req.get("timeoutMs", 30000) / 1000.0)
        sessions[req["client"]] = zk
        return dict({"outcome": "ok"}, **context(zk))
    if op == "close":
        zk = sessions.pop(req.get("client"), None)
        if zk is not None:
            try:
                zk.stop()
                zk.close()
            except Exception:  # already gone: nothing left to close
                pass
        return {"outcome": "ok"}
    zk = sessions.get(req.get("client"))
    if zk is None:
        return {"outcome": "fail", "error": "client %s is not connected" % req.get("client")}
    try:
        result = client_op(req, zk, timeout)
    except (KazooException, KazooTimeoutError, ConnectionLoss, SessionExpiredError, OperationTimeoutError) as err:
        result = classify(err)
    except Exception as err:  # anything else is unknown, not a crash of the driver
        result = {"outcome": "info", "error": type(err).__name__ + ": " + str(err)}
    return dict(result, **context(zk))


def run(req):
    try:
        msg = handle(req)
    except Exception as err:  # connect failures and the like
        msg = {"outcome": "info", "error": type(err).__name__ + ": " + str(err)}
    msg["id"] = req.get("id", -1)
    reply(msg)


def main():
    pool = ThreadPoolExecutor(max_workers=64)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            reply({"id": -1, "outcome": "fail", "error": "bad request line"})
            continue
        pool.submit(run, req)
    pool.shutdown(wait=True)
    for zk in list(sessions.values()):
        try:
            zk.stop()
            zk.close()
        except Exception:  # closing at exit: best effort
            pass


if __name__ == "__main__":
    main()
