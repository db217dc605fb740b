"""Broken origins, the cases test_origin_errors.py leaves out: a head
cut short or broken in other ways (502), too many header fields
(502), conflicting framing, interim 1xx responses (relayed to HTTP/1.1
clients, dropped for HTTP/1.0 ones, 101 refused), an origin that goes
silent in the middle of a body, one that answers before it has read
the request body, one that sends more than its Content-Length, and one
that closes pooled connections while they are idle. Never a hang; a
cut body is never passed off as a whole one; the origin connection of
an exchange that went wrong is never reused."""

import hashlib
import json
import socket
import time

import pytest

from client import Conn, ResponseError, build, request
from conftest import SCALE
from origins import Echo, Func, Raw, gen_bytes

ORIGIN_RESPONSE_TMO = 2


def _echo_doc(req, conn):
    doc = req.summary()
    doc["conn_requests"] = len(conn.requests)
    return json.dumps(doc).encode()


def send_echo(req, conn, status=200, extra=b""):
    body = _echo_doc(req, conn)
    conn.send(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (status, len(body)) + body +
              extra)


def first_then_echo(first):
    """`first` for the first request of every connection, an echo of
    the request after that."""
    def fn(req, conn):
        if req.index == 1:
            return first(req, conn)
        send_echo(req, conn)
        return True
    return fn


def cut_head(req, conn):
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Le")
    return False


def stall_mid_body(req, conn):
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" +
              gen_bytes(5000))
    conn.wait_closed(30)
    return False


def stall_mid_chunk(req, conn):
    conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"1000\r\n" + gen_bytes(100))
    conn.wait_closed(30)
    return False


def too_many_fields(req, conn):
    conn.send(b"HTTP/1.1 200 OK\r\n" +
              b"".join(b"X-F%d: v\r\n" % i for i in range(200)) +
              b"Content-Length: 2\r\n\r\nok")
    return False


def interim(req, conn):
    conn.send(b"HTTP/1.1 100 Continue\r\n\r\n"
              b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
              b"HTTP/1.1 102 Processing\r\n\r\n")
    send_echo(req, conn, 201)
    return True


def early_answer(req, conn):
    """Answer at once without reading the body, keep the connection."""
    conn.send(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\n"
              b"nope")
    conn.wait_closed(10)
    return False


def early_answer_close(req, conn):
    conn.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n"
              b"Connection: close\r\n\r\nnope")
    return False


def extra_after_length(req, conn):
    if conn.number == 1 and req.index == 1:
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                  b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
        return True
    send_echo(req, conn)
    return True


def extra_later(req, conn):
    """The whole response, then -- once the proxy holds the connection
    as idle -- a second, unasked-for response."""
    if conn.number == 1 and req.index == 1:
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        time.sleep(0.3)
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
        return True
    send_echo(req, conn)
    return True


def head_with_body(req, conn):
    """A HEAD answered with a body, as buggy origins do."""
    if req.method == "HEAD":
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
        return True
    send_echo(req, conn)
    return True


def chunked_mid_close(req, conn):
    conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"1000\r\n" + gen_bytes(100))
    time.sleep(0.05)
    return False


BAD_HEADS = {
    "status600": b"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
    "status099": b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
    "twodigit": b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
    "nospace": b"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
    "http2": b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
    "http12": b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
    "lowercase": b"http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "bareLF": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "bareCR": b"HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 0\r\n\r\n",
    "nul": b"HTTP/1.1 200 OK\r\nX-A: 1\x002\r\nContent-Length: 0\r\n\r\n",
    "fold": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0"
            b"\r\n\r\n",
    "spacecolon": b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n",
    "twolengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                  b"Content-Length: 3\r\n\r\nabc",
    "lengthlist": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc",
    "neglength": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "hexlength": b"HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nab",
    "chunkedtwice": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, "
                    b"chunked\r\n\r\n0\r\n\r\n",
    "emptyte": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
    "switching": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
                 b"Connection: upgrade\r\n\r\n",
}

FUNCS = {
    "cuthead": cut_head,
    "stallbody": stall_mid_body,
    "stallchunk": stall_mid_chunk,
    "manyfields": too_many_fields,
    "interim": interim,
    "early": early_answer,
    "earlyclose": early_answer_close,
    "extra": extra_after_length,
    "extralater": extra_later,
    "headbody": head_with_body,
    "chunkcut": chunked_mid_close,
}


@pytest.fixture(scope="module")
def srv(mbench):
    o = {}
    for name, data in BAD_HEADS.items():
        o[name] = mbench.origin(Raw(data), name="b-" + name)
    for name, fn in FUNCS.items():
        o[name] = mbench.origin(Func(fn, read_body=name not in (
            "early", "earlyclose")), name="b-" + name)
    o["both"] = mbench.origin(Raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
        b"chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", keep=True), name="b-both")
    o["idler"] = mbench.origin(Echo(), name="b-idler", idle_close=0.15)
    mounts = [{"mountpoint": "/%s/" % n, "origin": x.lws("/")}
              for n, x in o.items()]
    conf = mbench.config(
        mounts=mounts, workers=1,
        timeouts={"origin_response": ORIGIN_RESPONSE_TMO, "idle": 10})
    d = mbench.daemon(conf)
    d.o = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    for o in srv.o.values():
        o.reset()


def access_line(srv, target):
    want = " %s HTTP/1.1" % target
    lines = srv.wait_access(lambda l: want in l)
    assert len(lines) == 1, srv.access_lines()[-5:]
    return lines[0]


@pytest.mark.parametrize("name", sorted(BAD_HEADS) + ["cuthead",
                                                       "manyfields"])
def test_invalid_origin_head_502(srv, name):
    target = "/%s/x" % name
    t0 = time.monotonic()
    with Conn(srv.port, timeout=10 * SCALE) as c:
        c.send(build("GET", target))
        r = c.read_response()
        assert r.status == 502, r
        assert r.complete
        assert time.monotonic() - t0 < 5 * SCALE
    assert srv.o[name].wait_requests(1)
    line = access_line(srv, target)
    assert " 502 " in line, line


def test_conflicting_framing_uses_chunked(srv):
    """Content-Length beside Transfer-Encoding: chunked is dropped (RFC
    9112 6.3); the client gets the chunked body, never both fields."""
    with Conn(srv.port) as c:
        c.send(build("GET", "/both/x"))
        r = c.read_response()
    assert r.status == 200
    assert r.body == b"hello"
    assert r.header("Content-Length") is None


def test_interim_responses_relayed_to_http11(srv):
    with Conn(srv.port) as c:
        c.send(build("GET", "/interim/x"))
        seen = []
        while True:
            r = c.read_response(interim=True)
            seen.append(r.status)
            if r.status >= 200:
                break
        assert seen == [100, 103, 102, 201], seen
        assert json.loads(r.body)["target"] == "/x"
        # the connection still works afterwards
        c.send(build("GET", "/interim/y"))
        seen = []
        while True:
            r = c.read_response(interim=True)
            seen.append(r.status)
            if r.status >= 200:
                break
        assert seen[-1] == 201


def test_interim_responses_dropped_for_http10(srv):
    with Conn(srv.port) as c:
        c.send(build("GET", "/interim/x", version="HTTP/1.0"))
        data = c.read_all(5 * SCALE)
    assert data.startswith(b"HTTP/1.1 201 "), data[:200]
    assert b" 100 " not in data.split(b"\r\n", 1)[0]
    assert b"HTTP/1.1 1" not in data


@pytest.mark.parametrize("name", ["stallbody", "stallchunk"])
def test_origin_silent_mid_body(srv, name):
    """The origin stops sending in the middle of a body: after
    origin_response seconds of silence the client connection is closed
    with the body short, and the origin connection is closed too."""
    t0 = time.monotonic()
    with Conn(srv.port, timeout=20 * SCALE) as c:
        c.send(build("GET", "/%s/x" % name))
        r = c.read_head()
        assert r.status == 200
        with pytest.raises(ResponseError):
            c.read_body(r, "GET", time.monotonic() + 15 * SCALE)
        took = time.monotonic() - t0
    assert ORIGIN_RESPONSE_TMO - 0.5 <= took <= (ORIGIN_RESPONSE_TMO + 3) \
        * SCALE, took
    conns = srv.o[name].conns
    assert conns and conns[-1].wait_closed(5 * SCALE), \
        "origin connection kept after the abort"
    line = access_line(srv, "/%s/x" % name)
    assert "timeout" in line, line


def test_origin_mid_body_close_not_pooled(srv):
    """A body cut short: the client connection closes, and the next
    request to that origin goes on a new origin connection."""
    with Conn(srv.port, timeout=10 * SCALE) as c:
        c.send(build("GET", "/chunkcut/x"))
        with pytest.raises(ResponseError):
            c.read_response(timeout=8 * SCALE)
        assert c.eof
    n = srv.o["chunkcut"].connection_count
    with Conn(srv.port, timeout=10 * SCALE) as c:
        c.send(build("GET", "/chunkcut/y"))
        with pytest.raises(ResponseError):
            c.read_response(timeout=8 * SCALE)
    assert srv.o["chunkcut"].connection_count == n + 1


def test_origin_mid_body_close_http10_not_complete(srv):
    with Conn(srv.port, timeout=10 * SCALE) as c:
        c.send(build("GET", "/chunkcut/x", version="HTTP/1.0"))
        r = c.read_head()
        assert r.status == 200
        assert r.header("Content-Length") is None
        reset = False
        try:
            c.sock.settimeout(8 * SCALE)
            while c.sock.recv(65536):
                pass
        except ConnectionResetError:
            reset = True
        assert reset, "cut body ended by a clean close"


def upload_against(srv, target, body_len=4 << 20, first=256 * 1024):
    """Send the head of a body_len upload and at most `first` bytes of
    it (the origin may stop reading), then read the response."""
    c = Conn(srv.port, timeout=15 * SCALE)
    c.send(build("POST", target,
                 headers=[("Content-Length", str(body_len))]))
    sent = 0
    piece = b"u" * 65536
    c.sock.setblocking(False)
    end = time.monotonic() + 3 * SCALE
    while sent < first and time.monotonic() < end:
        try:
            sent += c.sock.send(piece)
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    c.sock.setblocking(True)
    c.sock.settimeout(10 * SCALE)
    return c


def test_origin_answers_before_reading_body(srv):
    """The origin answers 413 without reading the upload and keeps its
    connection: the client gets that answer at once (it need not finish
    sending), the client connection closes after it, and the origin
    connection is not reused."""
    with upload_against(srv, "/early/up") as c:
        r = c.read_response()
        assert r.status == 413, r
        assert r.body == b"nope"
        assert "close" in (r.header("Connection") or "").lower()
        assert c.wait_eof(10 * SCALE), "client connection kept"
    n = srv.o["early"].connection_count
    with Conn(srv.port, timeout=10 * SCALE) as c:
        c.send(build("POST", "/early/again", body=b"x"))
        r = c.read_response()
        assert r.status == 413
    assert srv.o["early"].connection_count == n + 1


def test_origin_answers_and_closes_before_reading_body(srv):
    """The same, but the origin closes right after its answer; ten
    tries, every one must give the origin's 403."""
    got = []
    for i in range(10):
        with upload_against(srv, "/earlyclose/up%d" % i) as c:
            try:
                r = c.read_response()
                got.append(r.status)
                if r.status == 403:
                    assert r.body == b"nope"
                    assert c.wait_eof(10 * SCALE)
            except (ResponseError, OSError) as e:
                got.append(repr(e))
    assert got == [403] * 10, got


def test_origin_sends_more_than_its_length(srv):
    """Bytes after a Content-Length body are not taken as the answer to
    anything: the client gets the declared body, the next request
    (same client connection, then another client) gets its own answer
    on a new origin connection."""
    with Conn(srv.port) as c:
        c.send(build("GET", "/extra/1"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        c.send(build("GET", "/extra/2"))
        r = c.read_response()
        assert r.status == 200
        assert json.loads(r.body)["target"] == "/2"
    r = request(srv.port, target="/extra/3")
    assert r.status == 200 and b"smuggled" not in r.body


def test_origin_sends_unasked_response_while_idle(srv):
    with Conn(srv.port) as c:
        c.send(build("GET", "/extralater/1"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        time.sleep(0.8)
        c.send(build("GET", "/extralater/2"))
        r = c.read_response()
    assert r.status == 200 and b"smuggled" not in r.body, r.body
    assert json.loads(r.body)["target"] == "/2"
    assert srv.o["extralater"].connection_count >= 2


def test_origin_body_on_head(srv):
    with Conn(srv.port) as c:
        c.send(build("HEAD", "/headbody/1"))
        r = c.read_response(method="HEAD")
        assert r.status == 200
        assert r.header("Content-Length") == "8"
        c.send(build("GET", "/headbody/2"))
        r = c.read_response()
    assert r.status == 200 and b"smuggled" not in r.body, r.body
    assert json.loads(r.body)["target"] == "/2"


def test_origin_closes_idle_pooled_before_upload(srv):
    """The origin closes its idle connections after 150 ms; uploads
    (no retry is possible for them once sent) 300 ms apart all
    succeed."""
    for i in range(6):
        body = b"%d" % i * 1000
        with Conn(srv.port) as c:
            c.send(build("POST", "/idler/p%d" % i, body=body))
            r = c.read_response()
        assert r.status == 200, (i, r)
        doc = json.loads(r.body)
        assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()
        time.sleep(0.3)
    assert srv.o["idler"].connection_count >= 6


def test_origin_unreachable_then_served_after_failure(srv):
    """After each kind of origin failure, a good origin on the same
    worker still serves (no state leaks between exchanges)."""
    for name in ("cuthead", "manyfields", "extra"):
        try:
            request(srv.port, target="/%s/z" % name, timeout=10 * SCALE)
        except (ResponseError, socket.timeout):
            pass
    r = request(srv.port, target="/idler/ok")
    assert r.status == 200
