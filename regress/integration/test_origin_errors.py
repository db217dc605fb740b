"""Origin errors: unreachable origins give a short 503 page (error_css
link, Retry-After, Cache-Control: no-store, no path or errno in it)
with the cause in the access log and one up/down line per transition
in the master's log; invalid or oversized origin responses give 502, a
silent origin 504 after origin_response; a body cut short reaches the
client as a truncated, closed response; a full listen backlog is
retried within the connect timeout, and a request waiting on it takes
a connection that another request frees."""

import os
import re
import socket
import threading
import time

import pytest

from client import Conn, ResponseError, build, curl, request
from conftest import IS_ROOT, SCALE, wait_for
from origins import (CloseAtOnce, Echo, FakeOrigin, Func, HugeHead,
                     MidBodyClose, Never, Raw, Trickle, gen_bytes)

ORIGIN_RESPONSE_TMO = 2
HANDOVER_DELAY = 0.8
LEAKS = ["No such file", "ENOENT", "Connection refused", "ECONNREFUSED",
         "Permission denied", "EACCES", "errno", ".sock", "/tmp/", "/run/"]
CAUSE = {
    "missing": r"no such file|enoent|not found|missing|does not exist|absent",
    "refused": r"refused|econnrefused",
    "denied": r"permission|eacces|denied",
}


def dead_socket(path):
    """A socket file that nobody listens on."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.close()


def fill_backlog(filler, path):
    """Connects filler to an origin with a backlog of 0, that accepts
    nothing: the next connect finds the backlog full."""
    filler.connect(path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):
            probe.connect(path)
    finally:
        probe.close()


def one_connection_origin(gate):
    """Accepts no more connections once a request came, and answers
    each after HANDOVER_DELAY."""
    def serve(req, conn):
        gate.clear()
        conn.origin.stopping.wait(HANDOVER_DELAY)
        return Echo()(req, conn)
    return serve


@pytest.fixture(scope="module")
def srv(mbench):
    m = {}
    m["missing"] = "+%s:/" % mbench.path("missing.sock")
    refused = mbench.path("refused.sock")
    dead_socket(refused)
    m["refused"] = "+%s:/" % refused
    m["flap"] = "+%s:/" % mbench.path("flap.sock")
    behaviours = {
        "badstatus": Raw(b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n"),
        "garbage": Raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
        "badfield": Raw(b"HTTP/1.1 200 OK\r\nBad Field\r\n"
                        b"Content-Length: 0\r\n\r\n"),
        "huge": HugeHead(70 * 1024),
        "closes": CloseAtOnce(),
        "never": Never(),
        "midbody": MidBodyClose(total=100000, sent=5000),
        "midchunk": MidBodyClose(total=100000, sent=5000, chunked=True),
        "trickle": Trickle(pieces=8, interval=0.5),
        "ok": Echo(),
    }
    origins = {}
    for name, beh in behaviours.items():
        origins[name] = mbench.origin(beh, name=name)
        m[name] = origins[name].lws("/")
    gate_out = threading.Event()
    origins["backlog"] = mbench.origin(Echo(), name="backlog", backlog=0,
                                       gate=gate_out)
    origins["backlog"].gate_event = gate_out
    m["backlog"] = origins["backlog"].lws("/")
    for name, inside in (("handover", False), ("handover_in", True)):
        if inside and not IS_ROOT:
            continue
        gate = threading.Event()
        origins[name] = mbench.origin(Func(one_connection_origin(gate)),
                                      name=name, inside=inside, backlog=0,
                                      gate=gate)
        origins[name].gate_event = gate
        m[name] = origins[name].lws("/")
    if IS_ROOT:
        gate_in = threading.Event()
        origins["backlog_in"] = mbench.origin(Echo(), name="backlog_in",
                                              inside=True, backlog=0,
                                              gate=gate_in)
        origins["backlog_in"].gate_event = gate_in
        m["backlog_in"] = origins["backlog_in"].lws("/")
        origins["denied"] = mbench.origin(Echo(), name="denied",
                                          inside=True, mode=0o000)
        m["denied"] = origins["denied"].lws("/")
        m["missing_in"] = "+%s:/" % os.path.join(mbench.chroot, "run",
                                                 "nothing.sock")
    mounts = [{"mountpoint": "/%s/" % n, "origin": spec}
              for n, spec in m.items()]
    vhosts = [{"names": ["a.test"], "mounts": mounts},
              {"names": ["b.test"], "error_css": "/static/oops.css",
               "mounts": mounts}]
    conf = mbench.config(vhosts=vhosts, workers=1,
                         timeouts={"connect": 5,
                                   "origin_response": ORIGIN_RESPONSE_TMO})
    d = mbench.daemon(conf)
    d.specs = m
    d.o = origins
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    for o in srv.o.values():
        o.reset()


def check_503(r, css="/error.css"):
    assert r.status == 503, r
    assert r.complete
    ra = r.header("Retry-After")
    assert ra is not None and ra.strip().isdigit(), ra
    cc = (r.header("Cache-Control") or "").lower()
    assert "no-store" in cc, cc
    assert "text/html" in (r.header("Content-Type") or "")
    body = r.body.decode("utf-8", "replace")
    assert '<link rel="stylesheet" href="%s">' % css in body, body
    assert len(r.body) < 4096
    for word in LEAKS:
        assert word.lower() not in body.lower(), (word, body)


def access_line(srv, target):
    want = "GET %s HTTP/1.1" % target
    lines = srv.wait_access(lambda l: want in l)
    assert len(lines) == 1, srv.access_lines()[-5:]
    return lines[0]


@pytest.mark.parametrize("mount", ["missing", "refused", "denied",
                                   "missing_in"])
def test_unreachable_origin_503(srv, mount):
    if mount not in srv.specs:
        pytest.skip("needs root: the worker itself connects only "
                    "inside its chroot")
    target = "/%s/page-%d" % (mount, srv.port)
    r = request(srv.port, target=target)
    check_503(r)
    line = access_line(srv, target)
    assert re.search(r"\b503\b", line)
    spec = srv.specs[mount]
    assert spec in line or spec[1:spec.rindex(":")] in line, line
    cause = CAUSE[mount.replace("_in", "")]
    assert re.search(cause, line, re.I), "no cause in %r" % line
    if mount == "denied":
        assert not srv.o["denied"].requests


def test_503_page_uses_vhost_error_css(srv):
    r = request(srv.port, target="/missing/x", host="b.test")
    check_503(r, css="/static/oops.css")


def test_503_for_head_has_no_body(srv):
    with Conn(srv.port) as c:
        c.send(build("HEAD", "/missing/h"))
        r = c.read_response(method="HEAD")
        assert r.status == 503
        if "close" in (r.header("Connection") or "").lower():
            assert c.read_all(5) == b"", "bytes after a HEAD response"
        else:
            c.send(build("GET", "/ok/after"))
            assert c.read_response().status == 200


def test_503_curl(srv):
    p = curl("-H", "Host: a.test", "-D", "-",
             "http://127.0.0.1:%d/refused/" % srv.port)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"HTTP/1.1 503 ")
    assert b'<link rel="stylesheet" href="/error.css">' in p.stdout


def test_origin_down_then_up_logged_once(srv, mbench):
    spec = srv.specs["flap"]
    path = spec[1:spec.rindex(":")]
    since = len(srv.log())
    for i in range(3):
        check_503(request(srv.port, target="/flap/%d" % i))
    assert srv.wait_log(r"origin.*down", 5, since)
    time.sleep(0.5)
    log = srv.log()[since:]
    down = [l for l in log.splitlines()
            if re.search(r"origin", l) and re.search(r"\bdown\b", l)
            and path in l]
    assert len(down) == 1, log
    assert re.search(CAUSE["missing"], down[0], re.I), down[0]
    o = FakeOrigin(Echo(), path=path, name="flap").start()
    try:
        # Known down, it is answered 503 at once until, after a 2 s
        # hold-down, a request goes through as a probe (uxrpd(8)).
        assert wait_for(lambda: request(srv.port, target="/flap/probe")
                        .status == 200, 6 * SCALE, step=0.25)
        for i in range(3):
            assert request(srv.port, target="/flap/up%d" % i).status == 200
        assert srv.wait_log(r"origin.*\bup\b", 5, since)
        time.sleep(0.5)
        log = srv.log()[since:]
        up = [l for l in log.splitlines()
              if re.search(r"origin", l) and re.search(r"\bup\b", l)
              and path in l]
        assert len(up) == 1, log
    finally:
        o.stop()


@pytest.mark.parametrize("mount", ["badstatus", "garbage", "badfield",
                                   "huge", "closes"])
def test_bad_origin_response_502(srv, mount):
    r = request(srv.port, target="/%s/x" % mount, timeout=10 * SCALE)
    assert r.status == 502, r
    assert r.complete
    assert srv.o[mount].wait_requests(1)
    line = access_line(srv, "/%s/x" % mount)
    assert re.search(r"\b502\b", line)


def test_silent_origin_504(srv):
    t0 = time.monotonic()
    r = request(srv.port, target="/never/x", timeout=15 * SCALE)
    took = time.monotonic() - t0
    assert r.status == 504, r
    assert ORIGIN_RESPONSE_TMO - 0.5 <= took <= (ORIGIN_RESPONSE_TMO + 2) * SCALE
    line = access_line(srv, "/never/x")
    assert re.search(r"\b504\b", line)


def test_slow_but_flowing_response_not_cut(srv):
    """Data keeps coming, 4 s in all, past origin_response (2 s): the
    timeout is for silence, not for the whole reply."""
    t0 = time.monotonic()
    r = request(srv.port, target="/trickle/x", timeout=20 * SCALE)
    assert r.status == 200
    assert r.body == gen_bytes(8000)
    assert time.monotonic() - t0 >= 3.5


def test_silent_origin_connection_not_reused(srv):
    r = request(srv.port, target="/never/y", timeout=15 * SCALE)
    assert r.status == 504
    # the origin saw the proxy give up on that connection
    conns = [c for c in srv.o["never"].conns]
    end = time.monotonic() + 5
    while time.monotonic() < end and not all(c.eof or c.closed
                                              for c in conns):
        time.sleep(0.05)
    assert all(c.eof or c.closed for c in conns)


def test_origin_closes_mid_body_raw(srv):
    t0 = time.monotonic()
    with Conn(srv.port, timeout=15) as c:
        c.send(build("GET", "/midbody/x"))
        r = c.read_head()
        assert r.status == 200
        assert r.header("Content-Length") == "100000"
        with pytest.raises(ResponseError):
            c.read_body(r, "GET", time.monotonic() + 10 * SCALE)
    assert r.body_len < 100000
    assert time.monotonic() - t0 < 8 * SCALE


def test_origin_closes_mid_chunked_body_raw(srv):
    with Conn(srv.port, timeout=15) as c:
        c.send(build("GET", "/midchunk/x"))
        with pytest.raises(ResponseError):
            c.read_response(timeout=10 * SCALE)
        assert c.eof, "connection left open after a cut body"


def test_origin_closes_mid_body_curl(srv):
    t0 = time.monotonic()
    p = curl("-H", "Host: a.test", "-o", "/dev/null",
             "http://127.0.0.1:%d/midbody/c" % srv.port, timeout=15)
    assert p.returncode not in (0, 28), (p.returncode, p.stderr)
    assert time.monotonic() - t0 < 8 * SCALE


@pytest.mark.parametrize("name", ["backlog", "backlog_in"])
def test_full_backlog_retried(srv, name):
    if name not in srv.o:
        pytest.skip("needs root: the worker itself connects only "
                    "inside its chroot")
    o = srv.o[name]
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    filler.settimeout(5)
    try:
        fill_backlog(filler, o.path)
        opener = threading.Timer(1.0, o.gate_event.set)
        opener.start()
        t0 = time.monotonic()
        try:
            r = request(srv.port, target="/%s/x" % name, timeout=10 * SCALE)
        finally:
            opener.cancel()
            o.gate_event.set()
        took = time.monotonic() - t0
    finally:
        filler.close()
    assert r.status == 200, r
    assert took >= 0.8
    assert took < 5 * SCALE


@pytest.mark.parametrize("name", ["handover", "handover_in"])
def test_waiting_request_takes_freed_connection(srv, name):
    """The origin accepted one connection and its backlog is full: a
    second request cannot connect within the connect timeout (5 s), and
    is answered on the first request's connection once that is free."""
    if name not in srv.o:
        pytest.skip("needs root: the worker itself connects only "
                    "inside its chroot")
    o = srv.o[name]
    o.gate_event.set()
    first = {}

    def first_request():
        first["r"] = request(srv.port, target="/%s/first" % name,
                             timeout=10 * SCALE)
    t = threading.Thread(target=first_request)
    t.start()
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    filler.settimeout(5)
    try:
        assert wait_for(lambda: o.requests, 5 * SCALE)
        # The accept loop may be in accept() for 0.1 s after the gate.
        time.sleep(0.3)
        before = o.connection_count
        fill_backlog(filler, o.path)
        t0 = time.monotonic()
        r = request(srv.port, target="/%s/second" % name,
                    timeout=10 * SCALE)
        took = time.monotonic() - t0
        after = o.connection_count
    finally:
        t.join(15 * SCALE)
        o.gate_event.set()
        filler.close()
    assert first["r"].status == 200, first["r"]
    assert r.status == 200, r
    assert b"/second" in r.body
    assert took < 4 * SCALE, took
    assert before == 1 and after == 1
    reqs = o.wait_requests(2)
    assert [q.conn for q in reqs[-2:]] == [1, 1]
    assert [q.index for q in reqs[-2:]] == [1, 2]
