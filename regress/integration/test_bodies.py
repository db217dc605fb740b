"""Bodies and streaming: Content-Length and chunked request bodies reach
the origin intact (digests compared), Expect: 100-continue is relayed
(curl and a raw client), Content-Length, chunked and close-delimited
responses arrive intact, and a 1 GB upload and download (128 MB under
SANITIZE=1) pass while the workers' resident memory stays flat."""

import hashlib
import json
import os
import socket
import threading
import time

import pytest

from client import Conn, build, chunk, curl, request
from conftest import SANITIZE, SCALE
from origins import (Chunked, CloseDelimited, Echo, Fixed, Func, Stream,
                     gen_blocks, gen_bytes)

BIG = (128 if SANITIZE else 1024) << 20
RSS_LIMIT_KB = 64 * 1024


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="body")
    conf = mbench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                         workers=2)
    env = None
    if SANITIZE:
        # freed buffers would sit in ASan's quarantine and count as
        # resident memory; keep it small for the memory checks
        env = {"ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") +
                                ":quarantine_size_mb=8").lstrip(":")}
    d = mbench.daemon(conf, env=env)
    d.origin = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    srv.origin.reset()
    srv.origin.behaviour = Echo()


def digest(data):
    return hashlib.sha256(data).hexdigest()


def test_content_length_body(srv):
    body = os.urandom(300 * 1024)
    r = request(srv.port, method="POST", target="/cl", body=body)
    assert r.status == 200
    doc = json.loads(r.body)
    assert doc["body_len"] == len(body)
    assert doc["body_sha256"] == digest(body)


def test_empty_content_length_body(srv):
    r = request(srv.port, method="POST", target="/cl0", body=b"")
    assert r.status == 200
    assert json.loads(r.body)["body_len"] == 0


def test_chunked_body(srv):
    parts = [b"a", os.urandom(100), os.urandom(65536), os.urandom(300000),
             os.urandom(3), os.urandom(17000)]
    data = b"".join(chunk(p) for p in parts) + b"0\r\n\r\n"
    with Conn(srv.port) as c:
        c.send(b"POST /chunked HTTP/1.1\r\nHost: a.test\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(data), 7919):
            c.send(data[i:i + 7919])
        r = c.read_response()
    assert r.status == 200
    doc = json.loads(r.body)
    body = b"".join(parts)
    assert doc["body_len"] == len(body)
    assert doc["body_sha256"] == digest(body)
    assert srv.origin.last().complete


def test_chunked_body_with_extensions(srv):
    data = (b"5;name=value\r\nhello\r\n6;x\r\n world\r\n0\r\n\r\n")
    with Conn(srv.port) as c:
        c.send(b"POST /ext HTTP/1.1\r\nHost: a.test\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + data)
        r = c.read_response()
    assert r.status == 200
    assert json.loads(r.body)["body_sha256"] == digest(b"hello world")


def test_curl_upload(srv, bench):
    body = os.urandom(3 << 20)
    path = bench.path("up.bin")
    with open(path, "wb") as f:
        f.write(body)
    p = curl("-H", "Host: a.test", "--data-binary", "@" + path,
             "http://127.0.0.1:%d/up" % srv.port)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert (doc["body_len"], doc["body_sha256"]) == (len(body), digest(body))


def test_curl_chunked_upload(srv, bench):
    body = os.urandom(2 << 20)
    path = bench.path("up.bin")
    with open(path, "wb") as f:
        f.write(body)
    p = curl("-H", "Host: a.test", "-H", "Transfer-Encoding: chunked",
             "--data-binary", "@" + path, "http://127.0.0.1:%d/upc" % srv.port)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert (doc["body_len"], doc["body_sha256"]) == (len(body), digest(body))


def test_expect_continue_curl(srv, bench):
    body = os.urandom(200 * 1024)
    path = bench.path("up.bin")
    with open(path, "wb") as f:
        f.write(body)
    t0 = time.monotonic()
    # curl would wait 10 s for a 100 that never comes: the bound shows it
    p = curl("-v", "-H", "Host: a.test", "-H", "Expect: 100-continue",
             "--expect100-timeout", "10", "--data-binary", "@" + path,
             "http://127.0.0.1:%d/expect" % srv.port)
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert b"HTTP/1.1 100 Continue" in p.stderr
    assert took < 5 * SCALE
    doc = json.loads(p.stdout)
    assert (doc["body_len"], doc["body_sha256"]) == (len(body), digest(body))
    assert srv.origin.last().header("Expect") == "100-continue"


def test_expect_continue_raw(srv):
    body = os.urandom(50000)
    with Conn(srv.port) as c:
        c.send(build("PUT", "/expect", headers=[
            ("Content-Length", str(len(body))),
            ("Expect", "100-continue")]))
        r = c.read_response(interim=True, timeout=5 * SCALE)
        assert r.status == 100, r
        assert srv.origin.last().header("Expect") == "100-continue"
        c.send(body)
        r = c.read_response()
    assert r.status == 200
    doc = json.loads(r.body)
    assert (doc["body_len"], doc["body_sha256"]) == (len(body), digest(body))


def test_expect_continue_refused_by_origin(srv):
    """The origin answers 401 at once instead of 100: the client gets
    the 401 without having sent the body."""
    def refuse(req, conn):
        body = b"no"
        conn.send(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n"
                  b"WWW-Authenticate: Basic realm=\"x\"\r\n"
                  b"Connection: close\r\n\r\n" + body)
        return False
    srv.origin.behaviour = Func(refuse, send_continue=False, read_body=False)
    with Conn(srv.port) as c:
        c.send(build("PUT", "/expect", headers=[
            ("Content-Length", "100000"), ("Expect", "100-continue")]))
        r = c.read_response(timeout=5 * SCALE)
    assert r.status == 401
    assert r.body == b"no"


def test_response_content_length(srv):
    body = os.urandom(1 << 20)
    srv.origin.behaviour = Fixed(200, [("Content-Type", "x/y")], body)
    r = request(srv.port, target="/len")
    assert r.status == 200
    assert r.header("Content-Length") == str(len(body))
    assert r.body == body


def test_response_chunked(srv):
    parts = [b"x", os.urandom(7), os.urandom(4096), os.urandom(100000),
             os.urandom(3)]
    srv.origin.behaviour = Chunked(parts, [("Content-Type", "x/y")])
    r = request(srv.port, target="/chunks")
    assert r.status == 200
    assert r.body == b"".join(parts)


def test_response_chunked_empty(srv):
    srv.origin.behaviour = Chunked([])
    with Conn(srv.port) as c:
        c.send(build("GET", "/empty"))
        r = c.read_response()
        assert r.status == 200 and r.body == b""
        srv.origin.behaviour = Echo()
        c.send(build("GET", "/next"))
        assert c.read_response().status == 200


def test_response_chunked_curl(srv):
    parts = [os.urandom(n) for n in (1, 10, 5000, 70000)]
    srv.origin.behaviour = Chunked(parts)
    p = curl("-H", "Host: a.test", "http://127.0.0.1:%d/c" % srv.port)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"".join(parts)


def test_response_close_delimited(srv):
    body = os.urandom(500 * 1024)
    srv.origin.behaviour = CloseDelimited(body)
    r = request(srv.port, target="/close", timeout=20)
    assert r.status == 200
    assert r.body == body
    assert r.framing in ("chunked", "close")


def test_response_close_delimited_curl(srv):
    body = os.urandom(200 * 1024)
    srv.origin.behaviour = CloseDelimited(body)
    p = curl("-H", "Host: a.test", "http://127.0.0.1:%d/close" % srv.port)
    assert p.returncode == 0, p.stderr
    assert p.stdout == body


def test_response_stream_chunked(srv):
    n = 32 << 20
    srv.origin.behaviour = Stream(n, chunked=True)
    sha = hashlib.sha256()
    with Conn(srv.port, timeout=60) as c:
        c.send(build("GET", "/stream"))
        r = c.read_response(sink=sha, timeout=60 * SCALE)
    assert r.status == 200
    assert r.body_len == n
    assert (n, r.body_sha256) == srv.origin.last_sent()


class RssSampler:
    """Peak of the workers' summed VmRSS while a transfer runs."""

    def __init__(self, daemon):
        self.d = daemon
        self.base = daemon.workers_rss_kb()
        self.peak = self.base
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, self.d.workers_rss_kb())

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.t.join(5)
        self.peak = max(self.peak, self.d.workers_rss_kb())

    @property
    def growth_kb(self):
        return self.peak - self.base


def warm_up(srv):
    """One small request through each worker's path so that the
    baseline includes buffers allocated once."""
    for _ in range(4):
        r = request(srv.port, method="POST", target="/warm",
                    body=gen_bytes(256 * 1024))
        assert r.status == 200
    srv.origin.reset()


def test_big_upload(srv):
    warm_up(srv)
    sha = hashlib.sha256()
    with RssSampler(srv) as rss:
        with Conn(srv.port, timeout=60) as c:
            c.send(build("POST", "/big-up", headers=[
                ("Content-Length", str(BIG)),
                ("Content-Type", "application/octet-stream")]))
            for b in gen_blocks(BIG):
                sha.update(b)
                c.sock.sendall(b)
            r = c.read_response(timeout=120 * SCALE)
    assert r.status == 200
    doc = json.loads(r.body)
    assert doc["body_len"] == BIG
    assert doc["body_sha256"] == sha.hexdigest()
    assert rss.growth_kb < RSS_LIMIT_KB, \
        "workers grew by %d kB over a %d MB upload" % (rss.growth_kb,
                                                       BIG >> 20)


def test_big_download(srv):
    warm_up(srv)
    srv.origin.behaviour = Stream(BIG)
    sha = hashlib.sha256()
    with RssSampler(srv) as rss:
        with Conn(srv.port, timeout=60) as c:
            c.send(build("GET", "/big-down"))
            r = c.read_response(sink=sha, timeout=180 * SCALE)
    assert r.status == 200
    assert r.header("Content-Length") == str(BIG)
    assert r.body_len == BIG
    assert srv.origin.last_sent() == (BIG, r.body_sha256)
    assert rss.growth_kb < RSS_LIMIT_KB, \
        "workers grew by %d kB over a %d MB download" % (rss.growth_kb,
                                                         BIG >> 20)


def test_slow_reader_download(srv):
    """A client that reads slowly: the body still arrives whole, and
    the worker does not buffer it (back-pressure)."""
    n = 64 << 20
    srv.origin.behaviour = Stream(n)
    sha = hashlib.sha256()
    with RssSampler(srv) as rss:
        with Conn(srv.port, timeout=60) as c:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.send(build("GET", "/slow-reader"))
            time.sleep(2)           # the origin may fill every buffer now
            r = c.read_response(sink=sha, timeout=120 * SCALE)
    assert r.status == 200 and r.body_len == n
    assert srv.origin.last_sent() == (n, r.body_sha256)
    assert rss.growth_kb < RSS_LIMIT_KB / 2, \
        "workers grew by %d kB while the client did not read" % rss.growth_kb

