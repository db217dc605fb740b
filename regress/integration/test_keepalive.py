"""Keep-alive on both sides: several requests on one client connection,
origin connections pooled and reused (the fake origin counts them), an
origin that closes pooled connections (right after answering, or after
a short idle time) never fails a request, an origin connection
whose exchange was aborted is not reused, and idle origin connections
left unused by a burst are closed half at a time."""

import json
import threading
import time

import pytest

from client import Conn, build, request
from conftest import wait_for
from origins import Echo, Fixed, Slow, Stream

N_LOOP = 20


@pytest.fixture(scope="module")
def srv(mbench):
    o = {
        "ka": mbench.origin(Echo(), name="ka"),
        # answers without "Connection: close", then closes at once
        "closer": mbench.origin(Echo(keep=False), name="closer"),
        # closes a connection idle for 150 ms
        "idler": mbench.origin(Echo(), name="idler", idle_close=0.15),
        "burst": mbench.origin(Slow(0.5), name="burst"),
        # closes a connection idle for 2.2 s: resting by then
        "sleeper": mbench.origin(Echo(), name="sleeper", idle_close=2.2),
    }
    mounts = [{"mountpoint": "/%s/" % n, "origin": x.lws("/")}
              for n, x in o.items()]
    d = mbench.daemon(mbench.config(mounts=mounts, workers=1))
    d.o = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    for o in srv.o.values():
        o.reset()
    srv.o["ka"].behaviour = Echo()


def test_two_requests_one_connection(srv):
    with Conn(srv.port) as c:
        c.send(build("GET", "/ka/one"))
        r1 = c.read_response()
        c.send(build("GET", "/ka/two"))
        r2 = c.read_response()
    assert (r1.status, r2.status) == (200, 200)
    assert json.loads(r1.body)["target"] == "/one"
    assert json.loads(r2.body)["target"] == "/two"


def test_client_connection_close_honoured(srv):
    with Conn(srv.port) as c:
        c.send(build("GET", "/ka/bye", headers=[("Connection", "close")]))
        r = c.read_response()
        assert r.status == 200
        assert c.wait_eof(5), "connection kept after Connection: close"


def test_http10_client_closed_after_response(srv):
    with Conn(srv.port) as c:
        c.send(b"GET /ka/old HTTP/1.0\r\nHost: a.test\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert c.wait_eof(5)


def test_origin_connection_reused(srv):
    ka = srv.o["ka"]
    before = ka.connection_count
    for i in range(5):
        assert request(srv.port, target="/ka/r%d" % i).status == 200
    with Conn(srv.port) as c:
        for i in range(5):
            c.send(build("GET", "/ka/s%d" % i))
            assert c.read_response().status == 200
    reqs = ka.wait_requests(10)
    assert len(reqs) == 10
    assert len(set(q.conn for q in reqs)) == 1, \
        "10 sequential requests used %d origin connections" % \
        len(set(q.conn for q in reqs))
    assert ka.connection_count - before <= 1


def test_origin_closing_after_each_response(srv):
    statuses = []
    with Conn(srv.port) as c:
        for i in range(N_LOOP // 2):
            c.send(build("GET", "/closer/c%d" % i))
            statuses.append(c.read_response().status)
    for i in range(N_LOOP // 2):
        statuses.append(request(srv.port, target="/closer/n%d" % i).status)
    assert statuses == [200] * N_LOOP
    assert len(srv.o["closer"].requests) == N_LOOP


def test_origin_closing_idle_connections(srv):
    statuses = []
    for i in range(N_LOOP):
        statuses.append(request(srv.port, target="/idler/i%d" % i).status)
        time.sleep(0.25)
    assert statuses == [200] * N_LOOP
    assert len(srv.o["idler"].requests) == N_LOOP


def test_resting_origin_connection_reused(srv):
    """An origin connection idle for a second rests (its buffers are
    freed); the next request still takes it."""
    ka = srv.o["ka"]
    before = ka.connection_count
    assert request(srv.port, target="/ka/before").status == 200
    time.sleep(2.5)
    assert request(srv.port, target="/ka/after").status == 200
    reqs = ka.wait_requests(2)
    assert reqs[0].conn is reqs[1].conn
    assert ka.connection_count - before <= 1


def test_origin_closing_resting_connections(srv):
    """An origin that closes its idle connections after they rest never
    fails a request: each close is seen, and the next request connects
    anew."""
    o = srv.o["sleeper"]
    before = o.connection_count
    statuses = []
    for i in range(3):
        statuses.append(request(srv.port, target="/sleeper/s%d" % i).status)
        time.sleep(2.8)
    assert statuses == [200] * 3
    assert o.connection_count - before == 3


def test_origin_connection_close_header(srv):
    srv.o["ka"].behaviour = Fixed(200, [("Connection", "close")], b"bye",
                                  keep=False)
    assert request(srv.port, target="/ka/1").status == 200
    srv.o["ka"].behaviour = Echo()
    r = request(srv.port, target="/ka/2")
    assert r.status == 200
    reqs = srv.o["ka"].wait_requests(2)
    assert reqs[0].conn != reqs[1].conn


def test_aborted_exchange_not_pooled(srv):
    ka = srv.o["ka"]
    ka.behaviour = Stream(64 << 20)
    with Conn(srv.port) as c:
        c.send(build("GET", "/ka/big"))
        c.read_head()
        c._recv(time.monotonic() + 5)
    # the client went away mid-body; the next request must not land on
    # that origin connection
    time.sleep(0.3)
    ka.behaviour = Echo()
    r = request(srv.port, target="/ka/after")
    assert r.status == 200
    reqs = ka.wait_requests(2)
    assert reqs[1].target == "/after"
    assert reqs[1].conn != reqs[0].conn


def test_concurrent_clients(srv):
    results = []
    lock = threading.Lock()

    def one(i):
        try:
            with Conn(srv.port) as c:
                for j in range(5):
                    c.send(build("GET", "/ka/p%d-%d" % (i, j)))
                    r = c.read_response()
                    with lock:
                        results.append(r.status)
        except Exception as e:
            with lock:
                results.append(repr(e))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert results == [200] * 50


def test_unused_idle_origin_connections_purged(srv):
    """A burst of 8 requests leaves 8 idle connections; every 5 s half
    of those not used since the last look are closed: 4 remain, and
    the next request takes one of them."""
    o = srv.o["burst"]
    results = []
    ts = [threading.Thread(target=lambda i=i: results.append(
        request(srv.port, target="/burst/b%d" % i, timeout=20).status))
        for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert results == [200] * 8
    assert o.connection_count == 8

    def still_open():
        with o.lock:
            return sum(1 for c in o.conns if not c.closed)
    assert still_open() == 8
    # Unused for a whole purge interval: at most 10 s after the burst.
    assert wait_for(lambda: still_open() <= 4, 16)
    assert still_open() == 4
    r = request(srv.port, target="/burst/after")
    assert r.status == 200
    assert o.connection_count == 8
    assert still_open() == 4


def _idle_counts(d):
    ws = d.ctl_json("show", "workers")["workers"]
    return (sum(w["connections"] for w in ws), sum(w["idle"] for w in ws))


@pytest.fixture(scope="module")
def park_srv(mbench):
    o = mbench.origin(Echo(), name="park")
    d = mbench.daemon(mbench.config(
        mounts=[{"mountpoint": "/", "origin": o.lws("/")}], workers=1,
        timeouts={"idle": 3}))
    d.origin = o
    return d


def test_idle_connection_parks_and_wakes(park_srv):
    """Idle for a second, a keep-alive connection is held small
    (counted as idle); its next requests, pipelined or not, are served
    as before."""
    d = park_srv
    with Conn(d.port) as c:
        c.send(build("GET", "/one"))
        assert c.read_response().status == 200
        assert wait_for(lambda: _idle_counts(d) == (1, 1), 5), \
            _idle_counts(d)
        c.send(build("GET", "/two") + build("GET", "/three"))
        r2 = c.read_response()
        r3 = c.read_response()
        assert json.loads(r2.body)["target"] == "/two"
        assert json.loads(r3.body)["target"] == "/three"
        assert wait_for(lambda: _idle_counts(d)[0] == 1, 5)
        # busy again: parked anew once idle
        assert wait_for(lambda: _idle_counts(d) == (1, 1), 5)
        c.send(build("GET", "/four"))
        assert json.loads(c.read_response().body)["target"] == "/four"
    assert wait_for(lambda: _idle_counts(d) == (0, 0), 5), _idle_counts(d)


def test_parked_connection_closed_by_client(park_srv):
    d = park_srv
    c = Conn(d.port)
    c.send(build("GET", "/x"))
    assert c.read_response().status == 200
    assert wait_for(lambda: _idle_counts(d) == (1, 1), 5)
    c.close()
    assert wait_for(lambda: _idle_counts(d) == (0, 0), 5), _idle_counts(d)


def test_resting_origin_connection_idle_timeout(park_srv):
    """An idle origin connection is closed at timeouts.idle (3 s), also
    once it rests."""
    d = park_srv
    o = d.origin
    assert request(d.port, target="/rest").status == 200
    t0 = time.monotonic()

    def still_open():
        with o.lock:
            return sum(1 for c in o.conns if not c.closed)
    assert still_open() == 1
    assert wait_for(lambda: still_open() == 0, 10)
    took = time.monotonic() - t0
    assert 2.5 <= took <= 6, took


def test_parked_connection_idle_timeout(park_srv):
    """timeouts.idle counts from the last answer, parked or not."""
    d = park_srv
    with Conn(d.port) as c:
        c.send(build("GET", "/x"))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert wait_for(lambda: _idle_counts(d) == (1, 1), 5)
        assert c.wait_eof(10), "parked connection never closed"
        took = time.monotonic() - t0
    assert 2.5 <= took <= 6, took
    assert wait_for(lambda: _idle_counts(d) == (0, 0), 5)
