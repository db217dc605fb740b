"""HTTP/1.1 over TLS between requests: a keep-alive connection idle for
a second is parked like a cleartext one (counted idle by `show
workers`), keeps its TLS state, and serves its next requests; it is
closed at timeouts.idle, when the client says close_notify, and when
the worker stops."""

import json
import time

import pytest

from client import Conn, build, tls_wrap
from conftest import SCALE, wait_for
from origins import Echo
from test_tls import make_cert


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="tlspark")
    crt, key = make_cert(mbench.dir, "a.test")
    conf = mbench.config(
        mounts=[{"mountpoint": "/", "origin": o.lws("/")}], workers=1,
        timeouts={"idle": 3})
    conf["listen"][0]["tls"] = {"certificate": crt, "key": key}
    return mbench.daemon(conf)


def tls_conn(d):
    c = Conn(d.port, timeout=10 * SCALE)
    c.sock = tls_wrap(c.sock, "http/1.1")
    return c


def counts(d):
    ws = d.ctl_json("show", "workers")["workers"]
    return (sum(w["connections"] for w in ws), sum(w["idle"] for w in ws))


def target(c):
    r = c.read_response()
    assert r.status == 200
    return json.loads(r.body)["target"]


def test_idle_tls_connection_parks_and_wakes(srv):
    """Parked twice, a TLS connection goes on decrypting what comes,
    pipelined requests included, and encrypting its answers."""
    d = srv
    with tls_conn(d) as c:
        c.send(build("GET", "/one"))
        assert target(c) == "/one"
        assert wait_for(lambda: counts(d) == (1, 1), 10 * SCALE), counts(d)
        c.send(build("GET", "/two") + build("GET", "/three"))
        assert target(c) == "/two"
        assert target(c) == "/three"
        assert wait_for(lambda: counts(d) == (1, 0), 5 * SCALE), counts(d)
        assert wait_for(lambda: counts(d) == (1, 1), 10 * SCALE), counts(d)
        c.send(build("GET", "/four"))
        assert target(c) == "/four"
    assert wait_for(lambda: counts(d) == (0, 0), 10 * SCALE), counts(d)


def test_parked_tls_connection_idle_timeout(srv):
    """timeouts.idle counts from the last answer, parked or not."""
    d = srv
    with tls_conn(d) as c:
        c.send(build("GET", "/x"))
        assert target(c) == "/x"
        t0 = time.monotonic()
        assert wait_for(lambda: counts(d) == (1, 1), 10 * SCALE), counts(d)
        assert c.wait_eof(10 * SCALE), "parked connection never closed"
        took = time.monotonic() - t0
    assert 2.5 <= took <= 6 * SCALE, took
    assert wait_for(lambda: counts(d) == (0, 0), 5 * SCALE), counts(d)


def test_parked_tls_connection_close_notify(srv):
    """A close_notify wakes the parked connection, which then ends."""
    d = srv
    c = tls_conn(d)
    try:
        c.send(build("GET", "/x"))
        assert target(c) == "/x"
        assert wait_for(lambda: counts(d) == (1, 1), 10 * SCALE), counts(d)
        c.sock = c.sock.unwrap()
        assert wait_for(lambda: counts(d) == (0, 0), 5 * SCALE), counts(d)
    finally:
        c.close()


def test_shutdown_closes_parked_tls(bench):
    """Stopping, the worker closes a parked TLS connection at once."""
    o = bench.origin(Echo())
    crt, key = make_cert(bench.dir, "a.test")
    conf = bench.config(
        mounts=[{"mountpoint": "/", "origin": o.lws("/")}], workers=1)
    conf["listen"][0]["tls"] = {"certificate": crt, "key": key}
    d = bench.daemon(conf)
    with tls_conn(d) as c:
        c.send(build("GET", "/x"))
        assert target(c) == "/x"
        assert wait_for(lambda: counts(d) == (1, 1), 10 * SCALE), counts(d)
        d.send_signal(15)
        assert c.wait_eof(5 * SCALE), "parked connection not closed"
