"""HTTP/2 clients (cleartext with prior knowledge on the same listener
that serves HTTP/1.1): h2 -> h1 translation toward the origin, h1 -> h2
back, stream errors that forward nothing, flow control that bounds the
worker's memory, memory given back after connections close,
cancellation, and abuse limits."""

import hashlib
import json
import socket
import subprocess
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from client import tls_wrap
from conftest import SANITIZE, SCALE, wait_for
from origins import Chunked, Echo, Fixed, Never, Stream, gen_blocks


class H2:
    """A small HTTP/2 client over a raw socket, driven by the test."""

    def __init__(self, port, validate=True, window=None, ack=True,
                 tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=10 * SCALE)
        if tls:
            self.sock = tls_wrap(self.sock, "h2")
        cfg = h2.config.H2Configuration(
            client_side=True, header_encoding=None,
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings(
                {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.ack = ack
        self.streams = {}
        self.goaway = None
        self.closed = False
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def stream(self, sid):
        return self.streams.setdefault(sid, {
            "headers": None, "data": bytearray(), "ended": False,
            "reset": None, "interim": [], "data_after_end": False})

    def request(self, path, method="GET", headers=(), body=None, end=True,
                authority="a.test"):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "http"),
                (":authority", authority), (":path", path)]
        hdrs += list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=body is None and end)
        self.flush()
        self.stream(sid)
        if body is not None:
            self.send_body(sid, body, end)
        return sid

    def send_body(self, sid, body, end=True, timeout=20.0):
        """DATA as the windows allow, waiting for WINDOW_UPDATEs."""
        view = memoryview(body)
        limit = time.monotonic() + timeout * SCALE
        while True:
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size, len(view))
            if room > 0 or len(view) == 0:
                last = room == len(view)
                self.conn.send_data(sid, bytes(view[:room]),
                                    end_stream=end and last)
                self.flush()
                view = view[room:]
                if last:
                    return
                continue
            if time.monotonic() > limit or self.closed:
                raise AssertionError("flow control window stayed shut")
            self.events_once(0.5)

    def events_once(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None
                             else 10 * SCALE)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            sid = getattr(ev, "stream_id", None)
            if isinstance(ev, h2.events.ResponseReceived):
                self.stream(sid)["headers"] = ev.headers
            elif isinstance(ev, h2.events.InformationalResponseReceived):
                self.stream(sid)["interim"].append(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                st = self.stream(sid)
                if st["ended"]:
                    st["data_after_end"] = True
                st["data"] += ev.data
                if self.ack is None:
                    pass                # every window stays as it is
                elif self.ack:
                    self.conn.acknowledge_received_data(
                        ev.flow_controlled_length, sid)
                else:
                    self.conn.increment_flow_control_window(
                        ev.flow_controlled_length)
            elif isinstance(ev, h2.events.StreamEnded):
                self.stream(sid)["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                self.stream(sid)["reset"] = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev.error_code
        self.flush()
        return True

    def wait(self, pred, timeout=10.0):
        end = time.monotonic() + timeout * SCALE
        while time.monotonic() < end and not self.closed:
            if pred():
                return True
            self.events_once(max(0.05, end - time.monotonic()))
        return pred()

    def done(self, sid, timeout=10.0):
        st = self.stream(sid)
        self.wait(lambda: st["ended"] or st["reset"] is not None, timeout)
        return st

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def hdict(headers):
    return {k.decode().lower() if isinstance(k, bytes) else k:
            v.decode() if isinstance(v, bytes) else v for k, v in headers}


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="h2echo")
    conf = mbench.config(
        mounts=[{"mountpoint": "/app/", "origin": o.lws("/in/")},
                {"mountpoint": "/down/", "origin": "unix:" +
                 mbench.path("nobody-here.sock")}],
        timeouts={"origin_response": int(3 * SCALE)})
    d = mbench.daemon(conf)
    d.origin = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    srv.origin.reset()
    srv.origin.behaviour = Echo()


def curl2(*args):
    return subprocess.run(["curl", "-s", "--http2-prior-knowledge",
                           "--max-time", str(int(20 * SCALE))] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30 * SCALE)


def test_curl_prior_knowledge_get(srv):
    p = curl2("-D", "-", "-H", "X-Custom: yes",
              "http://127.0.0.1:%d/app/x%%20y?q=1" % srv.port)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 200")
    doc = json.loads(body)
    assert doc["method"] == "GET"
    assert doc["target"] == "/in/x%20y?q=1"
    assert doc["version"] == "HTTP/1.1"
    o = srv.origin.last()
    assert o.header("host") == "127.0.0.1:%d" % srv.port
    assert o.header("x-custom") == "yes"
    assert o.header("x-forwarded-proto") == "http"
    assert o.header("x-forwarded-for") == "127.0.0.1"
    # response names come back in lower case
    for line in head.split(b"\r\n")[1:]:
        name = line.split(b":", 1)[0]
        assert name == name.lower()


def test_nghttp_client(srv):
    p = subprocess.run(["nghttp", "-n", "-s",
                        "http://127.0.0.1:%d/app/a" % srv.port],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30 * SCALE)
    assert p.returncode == 0, p.stdout + p.stderr
    assert srv.origin.last().target == "/in/a"


def test_post_with_length_reaches_origin_intact(srv):
    body = bytes(range(256)) * 1000
    c = H2(srv.port)
    try:
        sid = c.request("/app/p", "POST",
                        [("content-length", str(len(body)))], body)
        st = c.done(sid)
        assert hdict(st["headers"])[":status"] == "200"
    finally:
        c.close()
    o = srv.origin.last()
    assert o.content_length == len(body)
    assert o.body_sha256 == hashlib.sha256(body).hexdigest()


def test_post_without_length_is_chunked_to_origin(srv):
    parts = [b"a" * 1000, b"b" * 70000, b"c" * 5]
    c = H2(srv.port)
    try:
        sid = c.request("/app/p", "POST", body=parts[0], end=False)
        c.send_body(sid, parts[1], end=False)
        c.send_body(sid, parts[2], end=True)
        st = c.done(sid)
        assert hdict(st["headers"])[":status"] == "200"
    finally:
        c.close()
    o = srv.origin.last()
    assert o.chunked
    assert o.complete
    assert o.body_sha256 == hashlib.sha256(b"".join(parts)).hexdigest()


def test_cookie_crumbs_joined(srv):
    c = H2(srv.port)
    try:
        sid = c.request("/app/c", headers=[("cookie", "a=1"),
                                           ("cookie", "b=2")])
        c.done(sid)
    finally:
        c.close()
    assert srv.origin.last().header_all("cookie") == ["a=1; b=2"]


def test_chunked_response_unframed_for_h2(srv):
    chunks = [b"x" * 10, b"y" * 5000, b"z"]
    srv.origin.behaviour = Chunked(chunks, headers=[("X-Up", "1")])
    c = H2(srv.port)
    try:
        sid = c.request("/app/ch")
        st = c.done(sid)
    finally:
        c.close()
    h = hdict(st["headers"])
    assert h[":status"] == "200"
    assert "transfer-encoding" not in h
    assert "content-length" not in h
    assert h["x-up"] == "1"
    assert bytes(st["data"]) == b"".join(chunks)


@pytest.mark.parametrize("size", [10, 20000])
def test_chunked_end_alone_for_h2(srv, size):
    """The end of a chunked body that comes after all its bytes went
    out is an empty DATA frame with END_STREAM, and the connection
    serves on."""
    body = b"q" * size
    srv.origin.behaviour = Chunked([body], pause=0.3)
    c = H2(srv.port)
    try:
        first = c.done(c.request("/app/ch1"))
        srv.origin.behaviour = Fixed(200, [], b"after")
        second = c.done(c.request("/app/ch2"))
    finally:
        c.close()
    assert hdict(first["headers"])[":status"] == "200"
    assert bytes(first["data"]) == body
    assert bytes(second["data"]) == b"after"


def test_length_passed_on_and_several_set_cookies(srv):
    srv.origin.behaviour = Fixed(200, [("Set-Cookie", "a=1"),
                                       ("Set-Cookie", "b=2"),
                                       ("Connection", "keep-alive, X-Hop"),
                                       ("X-Hop", "no"), ("Vary", "Accept")],
                                 b"hello")
    c = H2(srv.port)
    try:
        sid = c.request("/app/f")
        st = c.done(sid)
    finally:
        c.close()
    names = [k for k, _ in st["headers"]]
    assert names.count(b"set-cookie") == 2
    h = hdict(st["headers"])
    assert h["content-length"] == "5"
    assert "connection" not in h and "x-hop" not in h
    assert h["vary"] == "Accept"
    assert bytes(st["data"]) == b"hello"


def test_long_and_many_response_field_names(srv):
    """Every end-to-end field reaches an h2 client lower-cased, however
    long its name: 100 fields, one with a 200-byte name."""
    long_name = "X-" + "Long" * 49 + "Nm"
    fields = [("X-Field-%d" % i, str(i)) for i in range(99)]
    srv.origin.behaviour = Fixed(200, fields + [(long_name, "kept")],
                                 b"ok")
    c = H2(srv.port)
    try:
        st = c.done(c.request("/app/f"))
    finally:
        c.close()
    h = hdict(st["headers"])
    assert h[long_name.lower()] == "kept"
    assert all(h["x-field-%d" % i] == str(i) for i in range(99))
    assert bytes(st["data"]) == b"ok"


def test_head_and_204_carry_no_data(srv):
    c = H2(srv.port)
    try:
        srv.origin.behaviour = Fixed(200, body=b"0123456789")
        sid = c.request("/app/h", "HEAD")
        st = c.done(sid)
        assert hdict(st["headers"])["content-length"] == "10"
        assert bytes(st["data"]) == b""
        srv.origin.behaviour = Fixed(204)
        sid = c.request("/app/n")
        st = c.done(sid)
        assert hdict(st["headers"])[":status"] == "204"
        assert bytes(st["data"]) == b""
        c.wait(lambda: False, 0.3)
        assert not st["data_after_end"]
    finally:
        c.close()
    assert srv.origin.wait_requests(2)[0].method == "HEAD"


def test_100_continue_is_relayed(srv):
    srv.origin.behaviour = Echo()
    c = H2(srv.port)
    try:
        sid = c.request("/app/e", "POST", [("expect", "100-continue"),
                                           ("content-length", "3")],
                        end=False)
        c.wait(lambda: c.stream(sid)["interim"] or
               c.stream(sid)["headers"], 5)
        c.send_body(sid, b"abc")
        st = c.done(sid)
        assert hdict(st["headers"])[":status"] == "200"
    finally:
        c.close()
    assert srv.origin.last().body_len == 3


def test_503_page_and_301_over_h2(srv):
    c = H2(srv.port)
    try:
        sid = c.request("/down/x")
        st = c.done(sid)
        h = hdict(st["headers"])
        assert h[":status"] == "503"
        assert h["cache-control"] == "no-store"
        assert "retry-after" in h
        assert b'href="/error.css"' in st["data"]
        assert b"nobody-here" not in st["data"]
        sid = c.request("/app?k=v")
        st = c.done(sid)
        h = hdict(st["headers"])
        assert h[":status"] == "301"
        assert h["location"] == "/app/?k=v"
    finally:
        c.close()


@pytest.mark.parametrize("headers", [
    [("X-Upper", "1")],
    [("connection", "keep-alive")],
    [("te", "gzip")],
    [("x-bad", "a\r\nb: c")],
    [("x-bad", "a\x01b")],
    [(":path2", "/x")],
])
def test_stream_errors_forward_nothing(srv, headers):
    c = H2(srv.port, validate=False)
    try:
        sid = c.request("/app/bad", headers=headers)
        st = c.done(sid, 5)
        assert st["reset"] is not None or \
            hdict(st["headers"] or [])[":status"] == "400"
    finally:
        c.close()
    time.sleep(0.2)
    assert srv.origin.wait_requests(1, 0.3) == []


def test_content_length_mismatch_never_completes(srv):
    c = H2(srv.port, validate=False)
    try:
        sid = c.request("/app/cl", "POST", [("content-length", "10")],
                        b"12345")
        st = c.done(sid, 5)
        assert st["reset"] is not None
    finally:
        c.close()
    time.sleep(0.3)
    assert not any(r.complete for r in srv.origin.wait_requests(1, 0.3))


def test_many_streams_interleave(srv):
    srv.origin.behaviour = Stream(200000)
    c = H2(srv.port)
    try:
        sids = [c.request("/app/s%d" % i) for i in range(10)]
        c.wait(lambda: all(c.stream(s)["ended"] for s in sids), 20)
        want = hashlib.sha256(b"".join(gen_blocks(200000))).hexdigest()
        for s in sids:
            st = c.stream(s)
            assert st["ended"]
            assert hashlib.sha256(st["data"]).hexdigest() == want
    finally:
        c.close()


def test_reset_aborts_origin_and_never_pools_it(srv):
    srv.origin.behaviour = Stream(50 * 1024 * 1024)
    c = H2(srv.port)
    try:
        sid = c.request("/app/big")
        c.wait(lambda: len(c.stream(sid)["data"]) > 100000, 10)
        c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        c.flush()
        srv.origin.wait_requests(1)
        origin_conn = [oc for oc in srv.origin.conns
                       if any(r.target == "/in/big" for r in oc.requests)][-1]
        # the origin's own thread may close it first when its next send
        # fails: either way, the connection must end
        end = time.monotonic() + 5 * SCALE
        gone = False
        while not gone and time.monotonic() < end:
            try:
                gone = origin_conn.wait_closed(0.2)
            except OSError:
                gone = True
            gone = gone or origin_conn.closed or origin_conn.eof
        assert gone
        srv.origin.behaviour = Echo()
        sid2 = c.request("/app/after")
        st = c.done(sid2)
        assert hdict(st["headers"])[":status"] == "200"
    finally:
        c.close()
    assert srv.origin.last().conn != origin_conn.number


def test_stalled_stream_bounded_memory_others_go_on(srv):
    total = (100 if SCALE == 1 else 32) * 1024 * 1024
    srv.origin.behaviour = Stream(total)
    rss0 = srv.workers_rss_kb()
    c = H2(srv.port, ack=False)
    try:
        sid = c.request("/app/stall")
        # the stream window (64 KiB) fills, and nothing more is read
        c.wait(lambda: len(c.stream(sid)["data"]) >= 65535, 10)
        c.wait(lambda: False, 1.5)
        grown = srv.workers_rss_kb() - rss0
        assert grown < 16 * 1024, "worker grew %d KiB" % grown
        assert len(c.stream(sid)["data"]) < 1024 * 1024
        srv.origin.behaviour = Fixed(200, body=b"small")
        sid2 = c.request("/app/other")
        st = c.done(sid2)
        assert bytes(st["data"]) == b"small"
    finally:
        c.close()


def test_closed_connections_give_memory_back(srv):
    """400 HTTP/2 connections, one request each, held past the worker's
    once-a-second look, then closed: the worker's memory goes back down
    within seconds, as it does after parking."""
    if SANITIZE:
        pytest.skip("ASan's allocator keeps freed memory itself")
    rss0 = srv.workers_rss_kb()
    conns = []
    try:
        for i in range(400):
            c = H2(srv.port)
            conns.append(c)
            st = c.done(c.request("/app/m%d" % i))
            assert hdict(st["headers"])[":status"] == "200"
        grown = srv.workers_rss_kb() - rss0
        assert grown > 2048, "grew only %d KiB" % grown
        time.sleep(2.5)
    finally:
        for c in conns:
            c.close()
    assert wait_for(lambda: srv.workers_rss_kb() - rss0 < grown / 2,
                    4.0), (grown, srv.workers_rss_kb() - rss0)


def test_slow_reader_gets_everything(srv):
    total = 8 * 1024 * 1024
    srv.origin.behaviour = Stream(total)
    c = H2(srv.port)
    try:
        sid = c.request("/app/slow")
        end = time.monotonic() + 60 * SCALE
        while not c.stream(sid)["ended"] and time.monotonic() < end:
            c.events_once(1)
            time.sleep(0.002)
        st = c.stream(sid)
        assert st["ended"]
        want = hashlib.sha256(b"".join(gen_blocks(total))).hexdigest()
        assert hashlib.sha256(st["data"]).hexdigest() == want
    finally:
        c.close()


def test_origin_timeout_is_504_on_h2(srv):
    srv.origin.behaviour = Never(10)
    c = H2(srv.port)
    try:
        sid = c.request("/app/never")
        st = c.done(sid, 10)
        assert hdict(st["headers"])[":status"] == "504"
    finally:
        c.close()


def test_rapid_reset_is_bounded(srv):
    srv.origin.behaviour = Never(5)
    c = H2(srv.port)
    try:
        try:
            for _ in range(400):
                sid = c.request("/app/rr")
                c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            c.flush()
        except OSError:
            pass
        c.wait(lambda: c.goaway is not None, 10)
        assert c.goaway == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    finally:
        c.close()
    srv.wait_log(r"too many stream resets", 5)
    srv.origin.behaviour = Echo()
    p = curl2("http://127.0.0.1:%d/app/ok" % srv.port)
    assert p.returncode == 0


def test_ping_flood_is_bounded(srv):
    c = H2(srv.port)
    try:
        for i in range(3000):
            c.conn.ping(i.to_bytes(8, "big"))
        try:
            c.flush()
        except OSError:
            pass
        c.wait(lambda: c.goaway is not None, 10)
        assert c.goaway == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    finally:
        c.close()


def test_h1_still_served_beside_h2(srv):
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                        "%{http_version} %{http_code}",
                        "http://127.0.0.1:%d/app/h1" % srv.port],
                       stdout=subprocess.PIPE, timeout=30 * SCALE)
    assert p.stdout == b"1.1 200"


def test_continuation_flood_is_bounded(srv):
    """HEADERS without END_HEADERS, then CONTINUATION frames that never
    end: the connection is closed once the block passes its bound."""
    import struct
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
                  struct.pack(">I", 0)[1:] + b"\x04\x00\x00\x00\x00\x00")
        # a literal header without indexing, repeated: 'x-a: vvvv...'
        field = b"\x00\x03x-a\x7f\x81\x01" + b"v" * 256
        s.sendall(struct.pack(">I", len(field))[1:] + b"\x01\x04" +
                  struct.pack(">I", 1) + field)
        closed = False
        for _ in range(2000):
            try:
                s.sendall(struct.pack(">I", len(field))[1:] + b"\x09\x00" +
                          struct.pack(">I", 1) + field)
            except OSError:
                closed = True
                break
        if not closed:
            s.settimeout(5 * SCALE)
            try:
                while s.recv(65536):
                    pass
            except ConnectionResetError:
                pass
    finally:
        s.close()
    srv.wait_log(r"header block over \d+ bytes", 5)
    assert srv.origin.wait_requests(1, 0.3) == []


def test_header_list_over_limit_is_431(srv):
    c = H2(srv.port)
    try:
        big = [("x-big-%d" % i, "v" * 1000) for i in range(40)]
        sid = c.request("/app/big-headers", headers=big)
        st = c.done(sid)
        assert hdict(st["headers"])[":status"] == "431"
    finally:
        c.close()
    assert srv.origin.wait_requests(1, 0.3) == []


def test_concurrent_streams_are_bounded(srv):
    srv.origin.behaviour = Never(2)
    c = H2(srv.port)
    try:
        # sent before the server's SETTINGS arrive, so the client
        # library does not hold them back: 120 streams at once
        sids = [c.request("/app/many%d" % i) for i in range(120)]
        c.wait(lambda: sum(c.stream(s)["reset"] is not None
                           for s in sids) >= 20, 10)
        refused = [s for s in sids if c.stream(s)["reset"] ==
                   h2.errors.ErrorCodes.REFUSED_STREAM]
        assert len(refused) >= 20, [c.stream(s)["reset"] for s in sids]
        assert c.conn.remote_settings.max_concurrent_streams == 100
    finally:
        c.close()


def read_frames(sock, until, timeout):
    """Raw frames (type, flags, stream, payload) until until(frames)."""
    import struct
    frames = []
    buf = b""
    end = time.monotonic() + timeout
    while not until(frames) and time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags = buf[3], buf[4]
            sid = struct.unpack(">I", buf[5:9])[0] & 0x7fffffff
            frames.append((ftype, flags, sid, buf[9:9 + n]))
            buf = buf[9 + n:]
    return frames


def test_goaway_on_shutdown_lets_streams_finish(bench):
    """SIGTERM while a stream waits for its origin: a GOAWAY (NO_ERROR)
    comes first, then the stream's whole response. Frames are read
    raw: the client library takes any GOAWAY for the end."""
    from origins import Slow
    o = bench.origin(Slow(1.0, Fixed(200, body=b"late answer")))
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}])
    d = bench.daemon(conf)
    c = H2(d.port)
    try:
        c.request("/slow")
        o.wait_requests(1)
        d.send_signal(15)
        frames = read_frames(
            c.sock, lambda fs: any(f[0] == 0 and f[1] & 1 and f[2] == 1
                                   for f in fs), 10 * SCALE)
    finally:
        c.close()
    types = [(f[0], f[2]) for f in frames]
    goaway = [f for f in frames if f[0] == 7]
    assert goaway, types
    assert int.from_bytes(goaway[0][3][4:8], "big") == 0
    assert (1, 1) in types                      # HEADERS on stream 1
    data = b"".join(f[3] for f in frames if f[0] == 0 and f[2] == 1)
    assert data == b"late answer"
    assert types.index((7, 0)) < types.index((1, 1))
