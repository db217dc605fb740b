"""The PROXY protocol (v1 and v2) on listeners with "proxy_protocol":
the client address it carries feeds X-Forwarded-For, Forwarded and the
access log; a missing or malformed header closes the connection with
nothing forwarded."""

import socket
import struct
import subprocess
import time

import pytest

from client import Conn
from conftest import SCALE, wait_for
from origins import SocketOrigin, read_head, Echo

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
GET = b"GET /pp HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="ppecho")
    conf = mbench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}])
    conf["listen"][0]["proxy_protocol"] = True
    conf["listen"].append({"address": "127.0.0.1",
                           "port": free_port_near()})
    d = mbench.daemon(conf)
    d.origin = o
    d.plain_port = conf["listen"][1]["port"]
    return d


def parked(d):
    """Connections held small while idle, as `show workers` counts."""
    return sum(w["idle"] for w in d.ctl_json("show", "workers")["workers"])


def free_port_near():
    from conftest import free_port
    return free_port()


@pytest.fixture(autouse=True)
def _fresh(srv):
    srv.origin.reset()


def send(port, *pieces, pause=0.0):
    """Send the pieces, read until the close; returns the bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SCALE)
    try:
        for p in pieces:
            s.sendall(p)
            if pause:
                time.sleep(pause)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def v2(cmd, fam, addrs, tlv=b""):
    body = addrs + tlv
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) \
        + body


def v2_tcp4(src, dst, sport, dport, tlv=b""):
    return v2(1, 0x11, socket.inet_pton(socket.AF_INET, src) +
              socket.inet_pton(socket.AF_INET, dst) +
              struct.pack(">HH", sport, dport), tlv)


def v2_tcp6(src, dst, sport, dport):
    return v2(1, 0x21, socket.inet_pton(socket.AF_INET6, src) +
              socket.inet_pton(socket.AF_INET6, dst) +
              struct.pack(">HH", sport, dport))


@pytest.mark.parametrize("header,client,fwd", [
    (b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n", "192.0.2.1",
     "for=192.0.2.1"),
    (b"PROXY TCP6 2001:db8::1 2001:db8::2 5555 80\r\n", "2001:db8::1",
     'for="[2001:db8::1]"'),
    (b"PROXY UNKNOWN\r\n", "127.0.0.1", "for=127.0.0.1"),
    (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", "127.0.0.1",
     "for=127.0.0.1"),
    (v2_tcp4("198.51.100.7", "198.51.100.8", 40000, 443),
     "198.51.100.7", "for=198.51.100.7"),
    (v2_tcp4("198.51.100.9", "198.51.100.8", 40000, 443,
             b"\x04\x00\x03abc\x03\x00\x04wxyz"),
     "198.51.100.9", "for=198.51.100.9"),
    (v2_tcp6("2001:db8::5", "2001:db8::6", 1, 2), "2001:db8::5",
     'for="[2001:db8::5]"'),
    (v2(0, 0x00, b""), "127.0.0.1", "for=127.0.0.1"),
], ids=["v1-tcp4", "v1-tcp6", "v1-unknown", "v1-unknown-addrs",
        "v2-tcp4", "v2-tlv", "v2-tcp6", "v2-local"])
def test_client_address_from_header(srv, header, client, fwd):
    out = send(srv.port, header + GET)
    assert out.startswith(b"HTTP/1.1 200 "), out[:200]
    o = srv.origin.last()
    assert o.header("x-forwarded-for") == client
    assert o.header("forwarded").startswith(fwd + ";")
    line = srv.wait_access(lambda l: "/pp" in l and l.startswith(client))
    assert line, srv.access_lines()[-2:]


@pytest.mark.parametrize("header,client", [
    (b"PROXY TCP4 192.0.2.61 192.0.2.2 5555 80\r\n", "192.0.2.61"),
    (v2_tcp6("2001:db8::61", "2001:db8::6", 1, 2), "2001:db8::61"),
], ids=["v1-tcp4", "v2-tcp6"])
def test_address_kept_across_idle(srv, header, client):
    """A keep-alive connection held small while idle (after a second
    of quiet) keeps the address its PROXY header gave."""
    keep = GET.replace(b"Connection: close\r\n", b"")
    with Conn(srv.port, timeout=10 * SCALE) as c:
        c.send(header + keep)
        assert c.read_response().status == 200
        assert wait_for(lambda: parked(srv) == 1, 10 * SCALE), parked(srv)
        c.send(keep)
        r = c.read_response()
    assert r.status == 200
    assert srv.origin.wait_requests(2)
    assert srv.origin.last().header("x-forwarded-for") == client


def test_header_in_pieces(srv):
    h = b"PROXY TCP4 192.0.2.44 192.0.2.2 5555 80\r\n"
    out = send(srv.port, h[:5], h[5:20], h[20:] + GET[:10], GET[10:],
               pause=0.1)
    assert out.startswith(b"HTTP/1.1 200 ")
    assert srv.origin.last().header("x-forwarded-for") == "192.0.2.44"


@pytest.mark.parametrize("bad", [
    GET,
    b"PROXY TCP4 999.0.0.1 192.0.2.2 1 2\r\n" + GET,
    b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n" + GET,
    b"PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n" + GET,
    b"PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\n" + GET,
    b"PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n" + GET,
    b"PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n" + GET,
    b"PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n" + GET,
    b"PROXY " + b"x" * 120 + b"\r\n" + GET,
    SIG + b"\x11\x11\x00\x0c" + bytes(12) + GET,
    SIG + b"\x21\x11\x00\x04" + bytes(4) + GET,
    SIG + b"\x21\x51\x00\x00" + GET,
], ids=["no-header", "bad-address", "bare-lf", "double-space",
        "bad-port", "leading-zero", "bad-proto", "family-mismatch",
        "too-long", "v2-version", "v2-short", "v2-family"])
def test_bad_header_closes(srv, bad):
    out = send(srv.port, bad)
    assert out == b""
    assert srv.origin.wait_requests(1, 0.3) == []


def test_bad_header_is_logged(srv):
    send(srv.port, b"PROXY TCP4 1.2.3 192.0.2.2 1 2\r\n" + GET)
    srv.wait_log(r"invalid PROXY header from 127\.0\.0\.1", 5)


def test_plain_listener_refuses_proxy_line(srv):
    out = send(srv.plain_port,
               b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n" + GET)
    assert out.startswith(b"HTTP/1.1 400 ")
    assert srv.origin.wait_requests(1, 0.3) == []


def test_silent_client_is_dropped(bench):
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        timeouts={"request_header": 1})
    conf["listen"][0]["proxy_protocol"] = True
    d = bench.daemon(conf)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        s.settimeout(5 * SCALE)
        start = time.monotonic()
        assert s.recv(100) == b""
        assert time.monotonic() - start < 4 * SCALE
    finally:
        s.close()


def test_curl_haproxy_protocol(srv):
    p = subprocess.run(["curl", "-s", "--haproxy-protocol", "-o",
                        "/dev/null", "-w", "%{http_code}",
                        "http://127.0.0.1:%d/c" % srv.port],
                       stdout=subprocess.PIPE, timeout=20 * SCALE)
    assert p.stdout == b"200"
    assert srv.origin.last().header("x-forwarded-for") == "127.0.0.1"


def test_not_a_config_boolean(bench):
    import json
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}])
    conf["listen"][0]["proxy_protocol"] = "yes"
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert "listen[0].proxy_protocol: expected true or false" in err


class PPOrigin(SocketOrigin):
    """An origin that expects a PROXY header before each connection's
    first request and records it raw."""

    def __init__(self, path):
        self.headers = []
        super().__init__(path, self.answer)

    def answer(self, c):
        buf = read_head(c)
        if buf.startswith(SIG):
            n = 16 + int.from_bytes(buf[14:16], "big")
            self.headers.append(buf[:n])
        elif buf.startswith(b"PROXY "):
            self.headers.append(buf[:buf.index(b"\r\n") + 2])
        else:
            self.headers.append(None)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.05)


@pytest.mark.parametrize("version", [1, 2])
def test_proxy_header_sent_to_origin(bench, version):
    o = PPOrigin(bench.path("pp%d.sock" % version))
    try:
        conf = bench.config(mounts=[{"mountpoint": "/",
                                     "origin": "unix:" + o.path,
                                     "origin_proxy_protocol": version}])
        conf["listen"][0]["proxy_protocol"] = True
        d = bench.daemon(conf)
        # the client, as a balancer names it, goes on to the origin
        out = send(d.port, b"PROXY TCP4 192.0.2.77 192.0.2.2 40000 443\r\n"
                   + GET)
        assert out.startswith(b"HTTP/1.1 200 ")
        out = send(d.port, v2_tcp6("2001:db8::9", "2001:db8::2", 5, 443)
                   + GET)
        assert out.startswith(b"HTTP/1.1 200 ")
        assert len(o.headers) == 2 and o.conns == 2
        if version == 1:
            assert o.headers[0].startswith(b"PROXY TCP4 192.0.2.77 ")
            assert b" 40000 " in o.headers[0]
            assert o.headers[1].startswith(b"PROXY TCP6 2001:db8::9 ")
        else:
            h = o.headers[0]
            assert h[:12] == SIG and h[12] == 0x21 and h[13] == 0x11
            assert socket.inet_ntop(socket.AF_INET, h[16:20]) == \
                "192.0.2.77"
            assert int.from_bytes(h[24:26], "big") == 40000
            h = o.headers[1]
            assert h[13] == 0x21
            assert socket.inet_ntop(socket.AF_INET6, h[16:32]) == \
                "2001:db8::9"
    finally:
        o.close()


def test_origin_proxy_protocol_config(bench):
    import json
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": "unix:/x",
                                 "origin_proxy_protocol": 3}])
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert "origin_proxy_protocol: expected 1 or 2" in err
