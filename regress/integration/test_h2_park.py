"""Idle cleartext HTTP/2 connections are parked as HTTP/1.x ones are:
their nghttp2 session is freed and a new one takes over at the next
byte, with the HPACK tables, settings, connection window and stream ids
as the client knows them."""

import socket
import subprocess
import struct
import time

import pytest

from conftest import SCALE, wait_for
from test_h2 import H2, hdict, read_frames
from test_tls import make_cert

HEADERS, RST_STREAM, SETTINGS, GOAWAY, WINDOW_UPDATE = 1, 3, 4, 7, 8
END_STREAM, END_HEADERS = 0x1, 0x4
STATS_SECS = 1.2
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def sized(req, conn):
    """GET /N: N bytes."""
    n = int(req.target.rsplit("/", 1)[1])
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
              b"X-Served: %s\r\n\r\n" % (n, req.target.encode()) + b"x" * n)
    return True


def counts(d):
    ws = d.ctl_json("show", "workers")["workers"]
    return (sum(w["connections"] for w in ws), sum(w["idle"] for w in ws))


def pump(c, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        c.events_once(0.05)


def parked(d, c, want=(1, 1)):
    """Waits, answering the server meanwhile, until counts(d) == want.
    Workers report once a second: the first second may still show the
    connection as it was before its last request."""
    def check():
        c.events_once(0.05)
        return counts(d) == want
    pump(c, STATS_SECS)
    return wait_for(check, 5 * SCALE)


@pytest.fixture(scope="module")
def daemons(mbench):
    """One daemon for h2c, one for h2 over TLS, on the same origin."""
    o = mbench.origin(sized, name="h2park")
    crt, key = make_cert(mbench.dir, "a.test")
    ds = {}
    for kind in ("h2c", "tls"):
        conf = mbench.config(
            mounts=[{"mountpoint": "/", "origin": o.lws("/")}], workers=1,
            timeouts={"idle": int(6 * SCALE)})
        if kind == "tls":
            conf["listen"][0]["tls"] = {"certificate": crt, "key": key}
        ds[kind] = mbench.daemon(conf)
        ds[kind].tls = kind == "tls"
    return ds


@pytest.fixture(params=["h2c", "tls"])
def pd(request, daemons):
    """Each test on both: cleartext connections park, TLS ones keep
    their connection and TLS state and free their HTTP/2 session."""
    return daemons[request.param]


@pytest.fixture
def psrv(daemons):
    return daemons["h2c"]


def client(d, **kw):
    return H2(d.port, tls=d.tls, **kw)


def get(c, path, headers=()):
    sid = c.request(path, headers=headers)
    st = c.done(sid)
    assert st["headers"] is not None, st
    h = hdict(st["headers"])
    assert h[":status"] == "200", h
    assert h["x-served"] == path
    return st


def read_goaway(sock):
    """(last stream, error code) of the first GOAWAY the connection
    gets, or None; and the frames read."""
    frames = read_frames(sock, lambda fs: any(f[0] == GOAWAY for f in fs),
                         10 * SCALE)
    goaway = [f for f in frames if f[0] == GOAWAY]
    return (struct.unpack(">II", goaway[0][3][:8]) if goaway else None,
            frames)


def frame(ftype, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes((ftype, flags)) +
            struct.pack(">I", sid) + payload)


def test_parks_and_wakes_keeping_hpack(pd):
    """The client's encoder indexes its headers: before parking it is
    told the table is gone (SETTINGS_HEADER_TABLE_SIZE 0), once awake it
    gets it back. Requests and responses decode every time."""
    d = pd
    c = client(d)
    try:
        for i in range(3):
            hdrs = [("x-same", "a value worth indexing"),
                    ("x-turn", str(i))]
            get(c, "/%d" % (100 + i), hdrs)
            get(c, "/%d" % (200 + i), hdrs)
            assert parked(d, c), counts(d)
            assert c.conn.remote_settings.header_table_size == 0
        get(c, "/300")
        # awake, the table is back
        assert c.wait(lambda: c.conn.remote_settings.header_table_size
                      == 4096, 5)
        assert c.goaway is None and not c.closed
    finally:
        c.close()
    assert wait_for(lambda: counts(d) == (0, 0), 5 * SCALE), counts(d)


def test_table_back_when_client_returns_before_parking(pd):
    """A client that acknowledges the empty table together with a new
    request never parks: it gets its table back all the same."""
    d = pd
    c = client(d)
    hdrs = [("x-same", "a value worth indexing")]
    try:
        get(c, "/100", hdrs)
        end = time.monotonic() + 5 * SCALE
        while c.conn.remote_settings.header_table_size != 0:
            assert time.monotonic() < end and not c.closed
            c.sock.settimeout(0.2)
            try:
                data = c.sock.recv(65536)
            except socket.timeout:
                continue
            assert data
            c.conn.receive_data(data)
        # the SETTINGS ACK and the request leave in one write
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                                  (":authority", "a.test"),
                                  (":path", "/101")] + hdrs,
                            end_stream=True)
        c.flush()
        st = c.done(sid)
        assert st["ended"] and st["data"] == b"x" * 101
        assert c.wait(lambda: c.conn.remote_settings.header_table_size
                      == 4096, 5)
        get(c, "/102", hdrs)
        assert c.goaway is None and not c.closed
    finally:
        c.close()


def test_window_below_default_is_kept(pd):
    """A client that left the connection window short of 65535 bytes is
    sent no more than the window it has after waking (the client library
    would fail the connection), and the rest once it opens it."""
    d = pd
    c = client(d, ack=None)
    try:
        st = get(c, "/60000")
        assert len(st["data"]) == 60000
        assert parked(d, c), counts(d)
        sid = c.request("/20000")
        c.wait(lambda: False, 1.0)
        st = c.stream(sid)
        assert len(st["data"]) == 65535 - 60000 and not st["ended"], \
            len(st["data"])
        c.conn.increment_flow_control_window(65535)
        c.flush()
        st = c.done(sid)
        assert st["ended"] and len(st["data"]) == 20000
    finally:
        c.close()


def test_window_above_default_is_kept(pd):
    """A window opened beyond 65535 bytes is as large after waking."""
    d = pd
    c = client(d, window=1 << 20, ack=None)
    try:
        c.conn.increment_flow_control_window(1 << 20)
        c.flush()
        get(c, "/1000")
        assert parked(d, c), counts(d)
        st = get(c, "/300000")
        assert len(st["data"]) == 300000
    finally:
        c.close()


def test_frames_for_old_streams_after_waking(pd):
    """WINDOW_UPDATE and RST_STREAM for streams that ended before the
    connection parked are harmless, as they were before it parked."""
    d = pd
    c = client(d)
    try:
        get(c, "/10")
        get(c, "/11")
        assert parked(d, c), counts(d)
        c.sock.sendall(frame(WINDOW_UPDATE, 0, 3, struct.pack(">I", 100)) +
                       frame(RST_STREAM, 0, 1, struct.pack(">I", 8)))
        assert parked(d, c), counts(d)
        st = get(c, "/12")
        assert st["data"] == b"x" * 12
        assert c.goaway is None and not c.closed
    finally:
        c.close()


def raw_get(sock, sid, path):
    """HEADERS for GET path from the static table, nothing indexed."""
    p = path.encode()
    block = b"\x82\x86" + bytes((0x04, len(p))) + p + b"\x01\x06a.test"
    return frame(HEADERS, END_STREAM | END_HEADERS, sid, block)


def ended(sid):
    return lambda fs: any(f[2] == sid and f[0] in (0, HEADERS) and
                          f[1] & END_STREAM for f in fs)


def test_waking_sends_nothing_and_partial_frame_never_parks(psrv):
    """A client that never fills its HPACK table parks without a round
    trip, and nothing nghttp2 answers to the replayed past reaches it.
    Half a frame header sent, the connection waits for the rest with its
    session, and the request it ends is served."""
    d = psrv
    sock = socket.create_connection(("127.0.0.1", d.port),
                                    timeout=10 * SCALE)
    try:
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        fs = read_frames(sock, lambda fs: any(f[0] == SETTINGS and
                                              not f[1] & 1 for f in fs),
                         10 * SCALE)
        sock.sendall(frame(SETTINGS, 1, 0) + raw_get(sock, 1, "/5"))
        fs = read_frames(sock, ended(1), 10 * SCALE)
        assert ended(1)(fs), fs
        time.sleep(STATS_SECS)
        assert wait_for(lambda: counts(d) == (1, 1), 5 * SCALE), counts(d)
        req = raw_get(sock, 3, "/6")
        sock.sendall(req[:4])
        time.sleep(1.5)
        assert counts(d) == (1, 0), counts(d)
        sock.sendall(req[4:])
        fs = read_frames(sock, ended(3), 10 * SCALE)
        assert [(f[0], f[2]) for f in fs] == [(HEADERS, 3), (0, 3)], fs
        assert fs[1][3] == b"x" * 6
    finally:
        sock.close()


def test_parked_idle_timeout_says_goaway(pd):
    """timeouts.idle counts from the last answer, parked or not, and a
    parked connection ends with a GOAWAY naming its last stream."""
    d = pd
    c = client(d)
    try:
        get(c, "/1")
        get(c, "/2")
        t0 = time.monotonic()
        assert parked(d, c), counts(d)
        goaway, frames = read_goaway(c.sock)
        took = time.monotonic() - t0
    finally:
        c.close()
    assert goaway, frames
    assert goaway == (3, 0)
    assert 5.0 <= took <= 6 * SCALE + 2, took


@pytest.mark.parametrize("kind", ["h2c", "tls"])
def test_shutdown_says_goaway_to_parked(bench, kind):
    """Stopping, the worker tells a parked HTTP/2 connection GOAWAY."""
    o = bench.origin(sized)
    conf = bench.config(
        mounts=[{"mountpoint": "/", "origin": o.lws("/")}], workers=1)
    if kind == "tls":
        crt, key = make_cert(bench.dir, "a.test")
        conf["listen"][0]["tls"] = {"certificate": crt, "key": key}
    d = bench.daemon(conf)
    d.tls = kind == "tls"
    c = client(d)
    try:
        get(c, "/7")
        assert parked(d, c), counts(d)
        d.send_signal(15)
        goaway, frames = read_goaway(c.sock)
    finally:
        c.close()
    assert goaway, frames
    assert goaway == (1, 0)


def test_nghttp2_client_across_parking(pd):
    """h2load (nghttp2's client, which indexes its headers) sends a
    request every 2.5 seconds on one connection: the connection parks
    between them and every request succeeds."""
    d = pd
    h = subprocess.Popen(["h2load", "-n", "3", "-c", "1", "-m", "1",
                          "--rps", "0.4", "-H", "x-same: indexed",
                          "%s://127.0.0.1:%d/64" % (
                              "https" if d.tls else "http", d.port)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = set()
    end = time.monotonic() + 20 * SCALE
    while h.poll() is None and time.monotonic() < end:
        seen.add(counts(d))
        time.sleep(0.2)
    if h.poll() is None:
        h.kill()
    out = h.communicate()[0].decode()
    assert "3 succeeded, 0 failed, 0 errored" in out, out
    assert (1, 1) in seen, seen


def test_protocol_error_after_waking(pd):
    """A parked connection that wakes to a broken frame (DATA on stream
    0) gets GOAWAY PROTOCOL_ERROR from its new session and is closed;
    the worker serves on."""
    d = pd
    c = client(d)
    try:
        get(c, "/8")
        assert parked(d, c), counts(d)
        c.sock.sendall(frame(0, 0, 0, b"xx"))
        goaway, frames = read_goaway(c.sock)
    finally:
        c.close()
    assert goaway, frames
    assert goaway[1] == 1                       # PROTOCOL_ERROR
    c = client(d)
    try:
        assert get(c, "/9")["data"] == b"x" * 9
    finally:
        c.close()
