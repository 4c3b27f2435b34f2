"""The seed-002 coffee shop, through kazoo: baristas register as ephemeral nodes under
/barista_group and each owns an order queue /orders/<name>; customers (one session each, running
concurrently) pick a barista and enqueue sequential order nodes; baristas wait on child watches
with a timeout, make each coffee and delete the order; customers wait (exists watch) until their
order is served. A barista nobody orders from gives up when its watch times out, and its
ephemeral registration vanishes with its session.

Run: python3 coffee_shop.py HOST:PORT. Prints a transcript that does not depend on thread
scheduling (per-barista results are sorted), for comparison with Apache ZooKeeper's.
"""
import os
import sys
import threading

from kazoo.client import KazooClient

HOSTS = sys.argv[1]

if sys.argv[2:] == ['--crashing-barista']:
    # A barista process that registers and is then killed with SIGKILL by the main program: its
    # connection drops without a close, and only the session's expiry removes its registration.
    z = KazooClient(hosts=HOSTS, timeout=4)
    z.start(timeout=15)
    z.create('/barista_group/crashing_barista', b'0', ephemeral=True)
    print('registered', flush=True)
    threading.Event().wait(60)  # until killed
    os._exit(5)
WAIT = 15
IDLE_TIMEOUT = 1.0  # the lonely barista's watch timeout (the program's own semantics)
BARISTAS = ['barista_1', 'barista_2', 'lonely_barista']
COFFEES = ['americano', 'latte', 'mocha', 'flat white', 'espresso', 'cortado']

threading.Timer(80, lambda: (print('WATCHDOG: scenario took too long', flush=True), os._exit(3))).start()
lock = threading.Lock()
made = {b: [] for b in BARISTAS}
order_names = {b: [] for b in BARISTAS}
served = []
problems = []


def out(*parts):
    print(' '.join(str(p) for p in parts), flush=True)


def client():
    c = KazooClient(hosts=HOSTS, timeout=10)
    c.start(timeout=WAIT)
    return c


zk = client()
out('creating barista name services')
if not zk.exists('/barista_group'):
    zk.create('/barista_group', b'0')
out('creating coffee order queues')
if not zk.exists('/orders'):
    zk.create('/orders', b'0')

registered = threading.Event()
members = []


@zk.ChildrenWatch('/barista_group')
def group(children):
    with lock:
        members.append(sorted(children))
    if len(children) == len(BARISTAS):
        registered.set()


customers_done = threading.Event()


def barista(name, expected, ready):
    z = client()
    z.create('/barista_group/' + name, b'0', ephemeral=True)
    z.create('/orders/' + name, b'0')
    ready.set()
    if expected is None:
        # The lonely barista's patience only starts once the customers have been served, so its
        # departure cannot race with them (a timed-out watch is this program's own semantics).
        customers_done.wait(WAIT)
    done = 0
    while expected is None or done < expected:
        wake = threading.Event()
        orders = z.get_children('/orders/' + name, watch=lambda ev: wake.set())
        if not orders:
            if wake.wait(IDLE_TIMEOUT if expected is None else WAIT):
                continue
            if expected is not None:
                with lock:
                    problems.append('%s: timed out waiting for orders' % name)
            break
        for order in sorted(orders):
            coffee, _ = z.get('/orders/%s/%s' % (name, order))
            with lock:
                made[name].append(coffee.decode())
                order_names[name].append(order)
            z.delete('/orders/%s/%s' % (name, order))
            done += 1
    with lock:
        made[name].append('(leaving)')
    z.stop()
    z.close()


def customer(i, chosen):
    z = client()
    baristas = sorted(z.get_children('/barista_group'))
    # Deterministic instead of the original's random pick: nobody orders from the lonely barista.
    name = [b for b in baristas if b != 'lonely_barista'][i % 2]
    if name != chosen:
        with lock:
            problems.append('customer %d: expected %s, saw %s' % (i, chosen, baristas))
    path = z.create('/orders/%s/order-' % name, COFFEES[i].encode(), sequence=True)
    gone = threading.Event()
    if z.exists(path, watch=lambda ev: gone.set()) is None:
        gone.set()
    ok = gone.wait(WAIT)
    with lock:
        served.append('customer %d got %s from %s: %s' % (i, COFFEES[i], name, ok))
    z.stop()
    z.close()


# the lonely barista first, so it is idle from the start
threads = []
for name, expected in [('lonely_barista', None), ('barista_1', 3), ('barista_2', 3)]:
    ready = threading.Event()
    t = threading.Thread(target=barista, args=(name, expected, ready))
    t.start()
    threads.append(t)
    ready.wait(WAIT)
    out('Barista %s is ready to serve' % name)
out('all baristas registered:', registered.wait(WAIT))
out('barista group:', sorted(zk.get_children('/barista_group')))

customers = [threading.Thread(target=customer, args=(i, ['barista_1', 'barista_2'][i % 2])) for i in range(6)]
for t in customers:
    t.start()
for t in customers:
    t.join(WAIT)
customers_done.set()
for t in threads:
    t.join(WAIT)

for line in sorted(served):
    out(line)
for name in BARISTAS:
    out('%s made %s' % (name, sorted(made[name])))
    seqs = [int(o.rsplit('-', 1)[1]) for o in order_names[name]]
    out('%s queue: %d orders, distinct sequence numbers: %s' % (name, len(seqs), len(set(seqs)) == len(seqs)))
out('problems:', problems)

# every barista has left: their ephemeral registrations are gone, the queues stay
gone = threading.Event()
@zk.ChildrenWatch('/barista_group')
def empty(children):
    if not children:
        gone.set()
out('barista group emptied:', gone.wait(WAIT))
out('barista group:', zk.get_children('/barista_group'))
out('order queues:', sorted(zk.get_children('/orders')))

# a barista that crashes: its registration lasts until its session expires
import signal
import subprocess
crash = subprocess.Popen([sys.executable, __file__, HOSTS, '--crashing-barista'], stdout=subprocess.PIPE)
out('crashing barista:', crash.stdout.readline().decode().strip())
out('barista group:', zk.get_children('/barista_group'))
expired = threading.Event()
@zk.ChildrenWatch('/barista_group')
def crashed(children):
    if 'crashing_barista' not in children:
        expired.set()
crash.send_signal(signal.SIGKILL)
crash.wait()
out('crashing barista killed; registration removed by session expiry:', expired.wait(30))
out('barista group:', zk.get_children('/barista_group'))
out('pending orders:', sum(len(zk.get_children('/orders/' + b)) for b in BARISTAS))
out('group membership never exceeded:', max(len(m) for m in members))
zk.stop()
zk.close()
out('done')
os._exit(0)
