"""Malformed and oversized requests, sent byte for byte on raw sockets:
each gets its status in a complete response and nothing reaches the
origin. Limits come from the configuration (uri_bytes 2048,
header_bytes 4096, request_body_bytes 1000 here). A bad chunk while a
chunked body streams never gives the origin a complete request. The
request header and idle timeouts close stalled connections."""

import json
import time

import pytest

from client import Conn, ResponseError, build, chunk
from conftest import SCALE
from origins import Echo

URI_BYTES = 2048
HEADER_BYTES = 4096
BODY_BYTES = 1000
REQ_HEADER_TMO = 3
IDLE_TMO = 3


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="strict")
    conf = mbench.config(
        mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
        limits={"uri_bytes": URI_BYTES, "header_bytes": HEADER_BYTES,
                "request_body_bytes": BODY_BYTES},
        timeouts={"request_header": REQ_HEADER_TMO, "idle": IDLE_TMO})
    d = mbench.daemon(conf)
    d.origin = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    srv.origin.reset()


def send_raw(srv, data, timeout=10.0):
    """Send bytes, return the complete response (raises otherwise)."""
    with Conn(srv.port, timeout=timeout) as c:
        try:
            c.send(data)
        except OSError:
            pass            # the proxy may answer and close early
        return c.read_response()


def nothing_forwarded(srv, wait=0.3):
    time.sleep(wait)
    assert not srv.origin.requests, srv.origin.requests[0].head


OK = b"GET /ok HTTP/1.1\r\nHost: a.test\r\n"

BAD = [
    ("bare LF ends a field line",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: 1\nX-B: 2\r\n\r\n", 400),
    ("bare LF ends the request line",
     b"GET /x HTTP/1.1\nHost: a.test\r\n\r\n", 400),
    ("bare CR inside the head",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: 1\rX-B: 2\r\n\r\n", 400),
    ("obs-fold",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n  folded\r\n\r\n", 400),
    ("obs-fold with a tab",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n\tfolded\r\n\r\n", 400),
    ("space before the colon",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A : 1\r\n\r\n", 400),
    ("NUL in a value",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: 1\x002\r\n\r\n", 400),
    ("control character in a value",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: 1\x012\r\n\r\n", 400),
    ("bad character in a field name",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX@A: 1\r\n\r\n", 400),
    ("Content-Length with Transfer-Encoding",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("two different Content-Length",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello!", 400),
    ("two equal Content-Length",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n"
     b"Content-Length: 1\r\n\r\nx", 400),
    ("Content-Length list",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1,1\r\n\r\nx", 400),
    ("negative Content-Length",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: -1\r\n\r\n", 400),
    ("Content-Length not a number",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0x10\r\n\r\n", 400),
    ("Transfer-Encoding gzip",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n",
     501),
    ("missing Host in HTTP/1.1",
     b"GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    ("two Hosts",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", 400),
    ("Host with a space",
     b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("fragment in the target",
     b"GET /x#frag HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
    ("control character in the target",
     b"GET /x\x01y HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
    ("two spaces in the request line",
     b"GET  /x HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
    ("target not starting with a slash",
     b"GET x HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
    ("HTTP/2.0 on an h1 line",
     b"GET /x HTTP/2.0\r\nHost: a.test\r\n\r\n", 505),
    ("target longer than uri_bytes",
     b"GET /" + b"a" * (URI_BYTES + 100) + b" HTTP/1.1\r\nHost: a.test\r\n\r\n",
     414),
    ("head larger than header_bytes",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\n" +
     b"".join(b"X-Fill-%d: %s\r\n" % (i, b"f" * 200) for i in range(30)) +
     b"\r\n", 431),
    ("Content-Length larger than request_body_bytes",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n"
     % (BODY_BYTES + 1), 413),
]


@pytest.mark.parametrize("data,status", [(d, s) for _, d, s in BAD],
                         ids=[n for n, _, _ in BAD])
def test_bad_request(srv, data, status):
    r = send_raw(srv, data)
    assert r.status == status, r
    assert r.complete
    nothing_forwarded(srv)


def test_bad_request_then_good_connection(srv):
    """A refused request leaves the daemon serving the next client."""
    send_raw(srv, b"GET /x HTTP/1.1\r\nX-A: 1\nHost: a.test\r\n\r\n")
    r = send_raw(srv, OK + b"\r\n")
    assert r.status == 200


GOOD = [
    ("HTTP/1.0 without Host", b"GET /x HTTP/1.0\r\n\r\n"),
    ("target just under uri_bytes",
     b"GET /" + b"a" * (URI_BYTES - 200) + b" HTTP/1.1\r\nHost: a.test\r\n\r\n"),
    ("head just under header_bytes",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\n" +
     b"".join(b"X-Fill-%d: %s\r\n" % (i, b"f" * 200) for i in range(12)) +
     b"\r\n"),
    ("body of request_body_bytes",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n"
     % BODY_BYTES + b"b" * BODY_BYTES),
    ("transfer coding name in capitals",
     b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: Chunked\r\n\r\n"
     + chunk(b"hello") + b"0\r\n\r\n"),
    ("field value with tabs and spaces around it",
     b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: \t v \t\r\n\r\n"),
]


@pytest.mark.parametrize("data", [d for _, d in GOOD],
                         ids=[n for n, _ in GOOD])
def test_good_request_near_the_edges(srv, data):
    r = send_raw(srv, data)
    assert r.status == 200, r
    o = srv.origin.last()
    assert o.complete


def test_chunked_body_over_limit_never_complete(srv):
    body = chunk(b"c" * 600) + chunk(b"c" * 600) + b"0\r\n\r\n"
    with Conn(srv.port) as c:
        try:
            c.send(b"POST /big HTTP/1.1\r\nHost: a.test\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + body)
        except OSError:
            pass
        try:
            r = c.read_response()
            assert r.status == 413, r
        except ResponseError:
            pass            # closed without a response: acceptable
    time.sleep(0.3)
    assert not [q for q in srv.origin.requests if q.complete]


def test_bad_chunk_aborts_origin_request(srv):
    with Conn(srv.port) as c:
        c.send(b"POST /chunks HTTP/1.1\r\nHost: a.test\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunk(b"hello"))
        time.sleep(0.3)
        try:
            c.send(b"zz\r\nnot hex\r\n0\r\n\r\n")
        except OSError:
            pass
        try:
            r = c.read_response()
            assert r.status == 400, r
        except ResponseError:
            pass            # the connection may just close
        assert c.wait_eof(10 * SCALE), "connection left open after a bad chunk"
    time.sleep(0.3)
    for q in srv.origin.requests:
        assert not q.complete, "origin got a complete request"
        assert 0 not in q.chunk_sizes


def test_bad_chunk_size_overflow(srv):
    with Conn(srv.port) as c:
        c.send(b"POST /chunks HTTP/1.1\r\nHost: a.test\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n"
               b"fffffffffffffffffff\r\nx\r\n0\r\n\r\n")
        try:
            r = c.read_response()
            assert r.status == 400, r
        except ResponseError:
            pass
        assert c.wait_eof(10 * SCALE)
    time.sleep(0.3)
    assert not [q for q in srv.origin.requests if q.complete]


def test_request_header_timeout(srv):
    with Conn(srv.port, timeout=30) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: a.test\r\n")
        t0 = time.monotonic()
        closed = c.wait_eof((REQ_HEADER_TMO + 5) * SCALE)
        took = time.monotonic() - t0
        assert closed, "stalled head not timed out"
        assert took >= REQ_HEADER_TMO - 1
        if c.buf:
            assert bytes(c.buf).startswith(b"HTTP/1.1 408 ")
    nothing_forwarded(srv, 0)


def test_idle_timeout(srv):
    with Conn(srv.port, timeout=30) as c:
        c.send(OK + b"\r\n")
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert c.wait_eof((IDLE_TMO + 5) * SCALE), "idle connection kept"
        assert time.monotonic() - t0 >= IDLE_TMO - 1


def test_pipelined_requests(srv):
    with Conn(srv.port) as c:
        c.send(build("GET", "/p1") + build("GET", "/p2") + build("GET", "/p3"))
        got = [c.read_response() for _ in range(3)]
    assert [r.status for r in got] == [200, 200, 200]
    assert [json.loads(r.body)["target"] for r in got] == ["/p1", "/p2", "/p3"]
