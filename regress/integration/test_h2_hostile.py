"""Hostile HTTP/2 requests that test_h2.py does not cover yet: header
names and pseudo-header fields that RFC 9113 8.2 and 8.3 forbid, a
pseudo-header field in trailers, an empty :authority with no host, and
an HPACK bomb (a small encoded block that decodes to a huge header
list). Each hostile stream must be reset or answered 400 (431 for the
bomb) with nothing forwarded, and the daemon must go on serving."""

import re
import socket
import struct
import time

import hpack
import pytest

from conftest import SCALE
from origins import Echo
from test_h2 import H2, curl2, hdict, read_frames

HEADER_BYTES = 16384                # limits.header_bytes of this daemon


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="h2hostile")
    conf = mbench.config(
        mounts=[{"mountpoint": "/app/", "origin": o.lws("/in/")}],
        limits={"header_bytes": HEADER_BYTES})
    d = mbench.daemon(conf)
    d.origin = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    srv.origin.reset()
    srv.origin.behaviour = Echo()


def forwarded(srv, wait=0.3):
    """What the origin saw, after giving a stray request time to come."""
    time.sleep(0.2 * SCALE)
    return [r.head for r in srv.origin.wait_requests(1, wait * SCALE)]


def refused(st):
    """The stream was reset, or answered 400 by the proxy itself."""
    if st["reset"] is not None:
        return True
    return st["headers"] is not None and \
        hdict(st["headers"])[":status"] == "400"


def send_block(c, fields, end=True):
    """A request stream whose header block is exactly `fields`, in that
    order, with nothing added or checked by the client library."""
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, fields, end_stream=end)
    c.flush()
    c.stream(sid)
    return sid


M = (":method", "GET")
S = (":scheme", "http")
A = (":authority", "a.test")
P = (":path", "/app/hostile")

# Header blocks that must never become a request (RFC 9113 8.2.1,
# 8.3, 8.3.1).
BAD_BLOCKS = {
    "colon inside a name": [M, S, A, P, ("x:y", "1")],
    "colon ending a name": [M, S, A, P, ("x-a:", "1")],
    "pseudo after regular": [M, S, A, ("x-a", "1"), P],
    "method after regular": [S, A, P, ("x-a", "1"), M],
    "method twice": [M, S, A, P, (":method", "POST")],
    "method twice, same value": [M, M, S, A, P],
    "path twice": [M, S, A, P, (":path", "/app/other")],
    "path twice, same value": [M, S, A, P, P],
    "scheme twice": [M, S, S, A, P],
    "authority twice": [M, S, A, (":authority", "b.test"), P],
    "no path": [M, S, A],
    "no method": [S, A, P],
    "no scheme": [M, A, P],
    "empty path": [M, S, A, (":path", "")],
    "unknown pseudo": [M, S, A, P, (":foo", "bar")],
    "unknown pseudo first": [(":foo", "bar"), M, S, A, P],
    "response pseudo": [M, S, A, P, (":status", "200")],
    "path without slash": [M, S, A, (":path", "x")],
    "path absolute-form": [M, S, A, (":path", "http://a/b")],
    "path authority-form": [M, S, A, (":path", "a.test:80")],
    "path asterisk with GET": [M, S, A, (":path", "*")],
    "empty authority, no host": [M, S, (":authority", ""), P],
    "empty host, no authority": [M, S, P, ("host", "")],
    "authority and host differ": [M, S, A, P, ("host", "b.test")],
}


@pytest.mark.parametrize("fields", list(BAD_BLOCKS.values()),
                         ids=list(BAD_BLOCKS))
def test_bad_header_block_forwards_nothing(srv, fields):
    c = H2(srv.port, validate=False)
    try:
        sid = send_block(c, fields)
        st = c.done(sid, 5)
        assert refused(st), st
        # the connection goes on: a good request on it is served
        good = c.request("/app/after")
        gst = c.done(good, 5)
        assert gst["headers"] is not None, gst
        assert hdict(gst["headers"])[":status"] == "200"
    finally:
        c.close()
    seen = forwarded(srv)
    assert [r.target for r in srv.origin.requests] == ["/in/after"], seen


@pytest.mark.parametrize("fields", [
    [M, S, A, P, ("x-y", "1")],
    [P, A, S, M, ("x-y", "1")],
    [M, S, P, ("host", "a.test")],
], ids=["plain", "pseudo in another order", "host instead of authority"])
def test_good_header_block_served(srv, fields):
    """Control: the same way of sending a block, with nothing wrong in
    it, reaches the origin."""
    c = H2(srv.port, validate=False)
    try:
        sid = send_block(c, fields)
        st = c.done(sid, 5)
        assert st["reset"] is None, st
        assert hdict(st["headers"])[":status"] == "200"
    finally:
        c.close()
    r = srv.origin.last()
    assert r.target == "/in/hostile"
    assert r.header("host") == "a.test"


@pytest.mark.parametrize("fields", [
    [M, S, A, P, ("x:y", "1")],
    [M, S, A, ("x-a", "1"), P],
    [M, S, A, (":path", "http://a/b")],
], ids=["colon inside a name", "pseudo after regular", "path absolute"])
def test_bad_post_forwards_nothing(srv, fields):
    """The same with a request body: neither head nor body goes on."""
    fields = [(":method", "POST") if f == M else f for f in fields]
    c = H2(srv.port, validate=False)
    try:
        sid = send_block(c, fields + [("content-length", "5")], end=False)
        try:
            c.conn.send_data(sid, b"hello", end_stream=True)
            c.flush()
        except Exception:           # the stream may be gone already
            pass
        st = c.done(sid, 5)
        assert refused(st), st
    finally:
        c.close()
    assert forwarded(srv) == []


@pytest.mark.parametrize("trailer", [
    (":method", "POST"),
    (":path", "/app/other"),
    (":authority", "b.test"),
    (":status", "200"),
    ("x:y", "1"),
], ids=["method", "path", "authority", "status", "colon in name"])
def test_pseudo_header_in_trailers(srv, trailer):
    """A trailer section holding a pseudo-header field (or a colon in a
    name) is a stream error. The request head may have gone on while
    the body streamed, so what is asserted is that the origin never
    sees the request complete and never sees the trailer."""
    c = H2(srv.port, validate=False)
    try:
        sid = send_block(c, [(":method", "POST"), S, A,
                             (":path", "/app/trailers")], end=False)
        c.conn.send_data(sid, b"body", end_stream=False)
        c.conn.send_headers(sid, [trailer], end_stream=True)
        c.flush()
        st = c.done(sid, 5)
        assert st["reset"] is not None or st["headers"] is not None and \
            hdict(st["headers"])[":status"] in ("400", "502"), st
        assert st["headers"] is None or \
            hdict(st["headers"])[":status"] != "200", st
    finally:
        c.close()
    time.sleep(0.3 * SCALE)
    for r in srv.origin.wait_requests(1, 0.3 * SCALE):
        assert not r.complete, r.head
        assert trailer[0].encode() not in bytes(r.body), bytes(r.body)


def test_regular_trailer_still_accepted(srv):
    """Control: a plain trailer field does not reset the stream."""
    c = H2(srv.port, validate=False)
    try:
        sid = send_block(c, [(":method", "POST"), S, A,
                             (":path", "/app/trailers")], end=False)
        c.conn.send_data(sid, b"body", end_stream=False)
        c.conn.send_headers(sid, [("x-checksum", "1")], end_stream=True)
        c.flush()
        st = c.done(sid, 5)
        assert st["reset"] is None
        assert hdict(st["headers"])[":status"] == "200"
    finally:
        c.close()
    r = srv.origin.last()
    assert r.complete and bytes(r.body) == b"body"


# HPACK bomb: raw frames, raw HPACK, nothing in between.

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hpack_int(value, prefix, first=0):
    """RFC 7541 5.1: an integer on a `prefix`-bit prefix whose other
    bits are `first`."""
    top = (1 << prefix) - 1
    if value < top:
        return bytes([first | value])
    out = bytearray([first | top])
    value -= top
    while value >= 128:
        out.append(0x80 | (value & 0x7f))
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s):
    return hpack_int(len(s), 7) + s


def bomb_block(path, size, refs):
    """:method GET, :scheme http, :path, :authority a.test, then one
    literal "x-bomb: vvv..." of `size` bytes added to the dynamic table
    (it becomes index 62) and `refs` more references to it, one byte
    each: about size * (refs + 1) decoded bytes from size + refs
    encoded ones."""
    b = b"\x82\x86"                                      # GET, http
    b += hpack_int(4, 4) + hpack_str(path)               # :path, no index
    b += hpack_int(1, 4) + hpack_str(b"a.test")          # :authority
    b += b"\x40" + hpack_str(b"x-bomb") + hpack_str(b"v" * size)
    b += b"\xbe" * refs                                  # 0x80 | 62
    return b


def response_of(frames, sid):
    """(status or None, RST_STREAM code or None, GOAWAY code or None)."""
    dec = hpack.Decoder()
    status = rst = goaway = None
    for ftype, flags, fsid, payload in frames:
        if ftype == 1 and fsid == sid:
            # no padding or priority from this server
            hdrs = dict(dec.decode(payload, raw=True))
            status = hdrs.get(b":status", b"").decode()
        elif ftype == 1:
            dec.decode(payload, raw=True)
        elif ftype == 3 and fsid == sid:
            rst = int.from_bytes(payload[:4], "big")
        elif ftype == 7:
            goaway = int.from_bytes(payload[4:8], "big")
    return status, rst, goaway


def settled(sid):
    def until(frames):
        for ftype, flags, fsid, _ in frames:
            if fsid == sid and (ftype == 3 or (flags & 1 and
                                               ftype in (0, 1))):
                return True
            if ftype == 7:
                return True
        return False
    return until


@pytest.mark.parametrize("size,refs", [(4000, 200), (4000, 4000),
                                       (16, 30000)],
                         ids=["4000x200", "4000x4000", "16x30000"])
def test_hpack_bomb_is_bounded(srv, size, refs):
    block = bomb_block(b"/app/bomb", size, refs)
    assert len(block) < HEADER_BYTES * 2 + 16384    # under the encoded
    assert size * refs > 400 * 1000                  # bound; huge decoded
    log0 = len(srv.log())
    rss0 = srv.workers_rss_kb()
    s = socket.create_connection(("127.0.0.1", srv.port),
                                 timeout=10 * SCALE)
    try:
        s.sendall(PREFACE + frame(4, 0, 0, b""))
        # HEADERS in frames of at most 16384 bytes, the first with
        # END_STREAM, the last with END_HEADERS
        pieces = [block[i:i + 16384] for i in range(0, len(block), 16384)]
        out = b""
        for i, p in enumerate(pieces):
            flags = 0x4 if i == len(pieces) - 1 else 0
            if i == 0:
                out += frame(1, flags | 0x1, 1, p)
            else:
                out += frame(9, flags, 1, p)
        s.sendall(out)
        frames = read_frames(s, settled(1), 10 * SCALE)
    finally:
        s.close()
    status, rst, goaway = response_of(frames, 1)
    assert status == "431" or rst is not None, \
        [(f[0], f[1], f[2]) for f in frames]
    assert goaway in (None, 0), goaway
    assert forwarded(srv) == []
    grown = srv.workers_rss_kb() - rss0
    assert grown < 8 * 1024, "worker grew %d KiB" % grown
    new = srv.log()[log0:]
    assert not re.search(r"fatal|abort|terminated|out of memory|"
                         r"cannot allocate|calloc|realloc", new, re.I), new
    # still serving, on a new connection
    p = curl2("-o", "/dev/null", "-w", "%{http_code}",
              "http://127.0.0.1:%d/app/after-bomb" % srv.port)
    assert p.stdout == b"200", p.stderr
    assert srv.origin.last().target == "/in/after-bomb"


def test_hpack_bomb_then_same_connection(srv):
    """After a 431 for a bomb, the connection's HPACK state still agrees
    with the client's: a second request that references the bomb's
    table entry by index is decoded right (and refused again), and a
    third one without it is served."""
    s = socket.create_connection(("127.0.0.1", srv.port),
                                 timeout=10 * SCALE)
    try:
        s.sendall(PREFACE + frame(4, 0, 0, b""))
        s.sendall(frame(1, 0x5, 1, bomb_block(b"/app/bomb", 4000, 200)))
        f1 = read_frames(s, settled(1), 10 * SCALE)
        again = b"\x82\x86" + hpack_int(4, 4) + hpack_str(b"/app/bomb2") + \
            hpack_int(1, 4) + hpack_str(b"a.test") + b"\xbe" * 200
        s.sendall(frame(1, 0x5, 3, again))
        f3 = read_frames(s, settled(3), 10 * SCALE)
        plain = b"\x82\x86" + hpack_int(4, 4) + hpack_str(b"/app/plain") + \
            hpack_int(1, 4) + hpack_str(b"a.test")
        s.sendall(frame(1, 0x5, 5, plain))
        f5 = read_frames(s, settled(5), 10 * SCALE)
    finally:
        s.close()
    frames = f1 + f3 + f5
    st1, rst1, _ = response_of(frames, 1)
    st3, rst3, _ = response_of(frames, 3)
    st5, rst5, goaway = response_of(frames, 5)
    assert st1 == "431" or rst1 is not None
    assert st3 == "431" or rst3 is not None
    if goaway is None:
        assert st5 == "200", [(f[0], f[1], f[2]) for f in frames]
        assert [r.target for r in srv.origin.requests] == ["/in/plain"]
    else:
        # closing the connection is a choice too, but then nothing at all
        assert srv.origin.requests == []


def test_settings_flood_is_bounded(srv):
    """Empty SETTINGS frames, each asking for an ACK, far over 1000 in
    one second: GOAWAY with ENHANCE_YOUR_CALM, one log line, and the
    daemon serves the next client."""
    log0 = len(srv.log())
    s = socket.create_connection(("127.0.0.1", srv.port),
                                 timeout=10 * SCALE)
    try:
        s.sendall(PREFACE + frame(4, 0, 0, b""))
        try:
            s.sendall(frame(4, 0, 0, b"") * 3000)
        except OSError:             # closed while we were still writing
            pass
        frames = read_frames(s, lambda fs: any(f[0] == 7 for f in fs),
                             10 * SCALE)
    finally:
        s.close()
    goaway = [f for f in frames if f[0] == 7]
    assert goaway, [(f[0], f[1], f[2]) for f in frames[-5:]]
    assert int.from_bytes(goaway[0][3][4:8], "big") == 0xb
    acks = sum(1 for f in frames if f[0] == 4 and f[1] & 1)
    assert acks <= 1100, acks
    assert srv.wait_log(r"SETTINGS or PING flood", 5, since=log0)
    p = curl2("-o", "/dev/null", "-w", "%{http_code}",
              "http://127.0.0.1:%d/app/after-flood" % srv.port)
    assert p.stdout == b"200", p.stderr
