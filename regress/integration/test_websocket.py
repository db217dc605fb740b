"""WebSocket over HTTP/1.1: on a mount with "websocket": true, an
Upgrade: websocket request reaches the origin with its Upgrade and
Connection fields; on 101 both connections become a byte tunnel, with
back-pressure, until either side closes."""

import base64
import hashlib
import os
import socket
import threading
import time

import pytest

from conftest import SCALE
from origins import SocketOrigin, read_head, Echo, Fixed

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WSOrigin(SocketOrigin):
    """Answers a WebSocket handshake with 101, then echoes bytes; or,
    with `rogue`, answers 101 to anything."""

    def __init__(self, path, rogue=False):
        self.rogue = rogue
        self.heads = []
        self.closed_by_peer = threading.Event()
        super().__init__(path, self.answer)

    def answer(self, c):
        buf = read_head(c)
        if b"\r\n\r\n" not in buf:
            return
        head, rest = buf.split(b"\r\n\r\n", 1)
        self.heads.append(head)
        key = b""
        upgrade = False
        for line in head.split(b"\r\n")[1:]:
            n, _, v = line.partition(b":")
            if n.strip().lower() == b"sec-websocket-key":
                key = v.strip()
            if n.strip().lower() == b"upgrade" and \
                    v.strip().lower() == b"websocket":
                upgrade = True
        if not (key and upgrade) and not self.rogue:
            c.sendall(b"HTTP/1.1 426 Upgrade Required\r\n"
                      b"Content-Length: 0\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        if rest:
            c.sendall(rest)
        while True:
            d = c.recv(65536)
            if not d:
                self.closed_by_peer.set()
                return
            if d == b"CLOSE-NOW":
                return
            c.sendall(d)


@pytest.fixture
def ws(bench):
    o = WSOrigin(bench.path("ws.sock"))
    conf = bench.config(mounts=[
        {"mountpoint": "/ws/", "origin": "unix:" + o.path,
         "websocket": True},
        {"mountpoint": "/plain/", "origin": "unix:" + o.path}])
    d = bench.daemon(conf)
    d.ws = o
    yield d
    o.close()


def handshake(port, path="/ws/chat", extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SCALE)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: a.test\r\n"
              b"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n" + extra)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return s, key, head, rest


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(min(65536, n - len(out)))
        if not d:
            break
        out += d
    return out


def test_handshake_and_echo(ws):
    s, key, head, rest = handshake(ws.port)
    try:
        lines = head.split(b"\r\n")
        assert lines[0].startswith(b"HTTP/1.1 101 ")
        h = {l.split(b":")[0].lower(): l.split(b":", 1)[1].strip()
             for l in lines[1:]}
        assert h[b"upgrade"] == b"websocket"
        assert h[b"connection"].lower() == b"upgrade"
        assert h[b"sec-websocket-accept"] == base64.b64encode(
            hashlib.sha1(key + GUID).digest())
        assert rest == b""
        s.sendall(b"\x81\x85abcd" + bytes(range(5)))
        assert recv_exact(s, 11) == b"\x81\x85abcd" + bytes(range(5))
    finally:
        s.close()
    origin_lines = ws.ws.heads[-1].split(b"\r\n")
    assert origin_lines[0] == b"GET /chat HTTP/1.1"
    assert b"Upgrade: websocket" in origin_lines
    assert b"Connection: Upgrade" in origin_lines
    origin_head = ws.ws.heads[-1]
    assert b"Sec-WebSocket-Key: " + key in origin_head


def test_bytes_sent_with_the_handshake_get_through(ws):
    s, _, head, rest = handshake(ws.port, extra=b"early bytes")
    try:
        assert head.startswith(b"HTTP/1.1 101 ")
        got = rest + recv_exact(s, len(b"early bytes") - len(rest))
        assert got == b"early bytes"
    finally:
        s.close()


def test_megabytes_both_ways(ws):
    data = os.urandom(4 * 1024 * 1024)
    s, _, head, _ = handshake(ws.port)
    got = bytearray()
    try:
        assert head.startswith(b"HTTP/1.1 101 ")

        def reader():
            while len(got) < len(data):
                d = s.recv(65536)
                if not d:
                    break
                got.extend(d)

        t = threading.Thread(target=reader)
        t.start()
        s.sendall(data)
        t.join(60 * SCALE)
        assert bytes(got) == data
    finally:
        s.close()


def test_client_close_reaches_origin(ws):
    s, _, head, _ = handshake(ws.port)
    assert head.startswith(b"HTTP/1.1 101 ")
    s.close()
    assert ws.ws.closed_by_peer.wait(5 * SCALE)


def test_origin_close_reaches_client(ws):
    s, _, head, _ = handshake(ws.port)
    try:
        assert head.startswith(b"HTTP/1.1 101 ")
        s.sendall(b"CLOSE-NOW")
        s.settimeout(5 * SCALE)
        assert s.recv(100) == b""
    finally:
        s.close()
    assert ws.wait_access(lambda l: " 101 " in l and "/ws/chat" in l)


def test_mount_without_websocket_strips_upgrade(ws):
    s, _, head, _ = handshake(ws.port, path="/plain/x")
    s.close()
    assert head.startswith(b"HTTP/1.1 426 ")
    origin_head = ws.ws.heads[-1]
    assert b"Upgrade:" not in origin_head
    assert b"Sec-WebSocket-Key" in origin_head


def test_unasked_101_is_502(bench):
    o = WSOrigin(bench.path("rogue.sock"), rogue=True)
    try:
        conf = bench.config(mounts=[{"mountpoint": "/",
                                     "origin": "unix:" + o.path}])
        d = bench.daemon(conf)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 502 ")
        finally:
            s.close()
    finally:
        o.close()


def h2_ws_open(port, path="/ws/chat"):
    from test_h2 import H2
    c = H2(port, validate=False)
    # the server's SETTINGS must say ENABLE_CONNECT_PROTOCOL first
    c.wait(lambda: c.conn.remote_settings.get(0x8, 0) == 1, 5)
    assert c.conn.remote_settings.get(0x8, 0) == 1
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "CONNECT"),
                              (":protocol", "websocket"),
                              (":scheme", "http"), (":path", path),
                              (":authority", "a.test"),
                              ("sec-websocket-version", "13")])
    c.flush()
    c.stream(sid)
    return c, sid


def test_h2_extended_connect_tunnel(ws):
    from test_h2 import hdict
    c, sid = h2_ws_open(ws.port)
    try:
        st = c.stream(sid)
        c.wait(lambda: st["headers"] is not None, 5)
        h = hdict(st["headers"])
        assert h[":status"] == "200"
        assert "sec-websocket-accept" not in h
        payload = os.urandom(200000)
        c.send_body(sid, payload, end=False)
        c.wait(lambda: len(st["data"]) >= len(payload), 20)
        assert bytes(st["data"]) == payload
        # the client's END_STREAM reaches the origin as a close
        c.conn.end_stream(sid)
        c.flush()
        assert ws.ws.closed_by_peer.wait(5 * SCALE)
        c.wait(lambda: st["ended"] or st["reset"] is not None, 5)
        assert st["ended"]
    finally:
        c.close()
    lines = ws.ws.heads[-1].split(b"\r\n")
    assert lines[0] == b"GET /chat HTTP/1.1"
    assert b"Upgrade: websocket" in lines
    keys = [l for l in lines if l.startswith(b"Sec-WebSocket-Key: ")]
    assert len(keys) == 1 and len(keys[0]) == len("Sec-WebSocket-Key: ") + 24


def test_h2_extended_connect_refused_on_plain_mount(ws):
    from test_h2 import hdict
    c, sid = h2_ws_open(ws.port, path="/plain/x")
    try:
        st = c.done(sid, 5)
        assert hdict(st["headers"])[":status"] == "501"
    finally:
        c.close()


def test_no_connect_protocol_without_websocket_mounts(bench):
    from test_h2 import H2
    o = bench.origin(Echo())
    d = bench.daemon(bench.config(mounts=[{"mountpoint": "/",
                                           "origin": o.lws("/")}]))
    c = H2(d.port)
    try:
        c.wait(lambda: c.conn.remote_settings.max_concurrent_streams
               == 100, 5)
        assert c.conn.remote_settings.get(0x8, 0) == 0
    finally:
        c.close()


def test_tunnel_survives_a_reload(ws):
    s, _, head, _ = handshake(ws.port)
    try:
        assert head.startswith(b"HTTP/1.1 101 ")
        s.sendall(b"before reload")
        assert recv_exact(s, 13) == b"before reload"
        p = ws.ctl("reload")
        assert p.returncode == 0, p.stderr
        # the old worker drains; the tunnel goes on meanwhile
        for i in range(3):
            msg = b"after reload %d" % i
            s.sendall(msg)
            assert recv_exact(s, len(msg)) == msg
            time.sleep(0.3)
        # and new connections reach the new generation
        s2, _, head2, _ = handshake(ws.port)
        s2.close()
        assert head2.startswith(b"HTTP/1.1 101 ")
    finally:
        s.close()
