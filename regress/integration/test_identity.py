"""Origin identity: "origin_user"/"origin_group" name who must listen on
a Unix or abstract origin socket; the peer's credentials are checked
after connecting, a mismatch is a 502 and a log line naming what was
found. Abstract sockets, which have no permissions, require them."""

import json
import os
import re
import socket
import threading

import pytest

from conftest import SCALE
from origins import SocketOrigin, read_head, Echo


class AbstractOrigin(SocketOrigin):
    """A minimal origin on a Linux abstract socket: 200 "abstract"."""

    def __init__(self, name):
        self.name = name
        super().__init__("\0" + name, self.answer)

    def answer(self, c):
        read_head(c)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n"
                  b"Connection: close\r\n\r\nabstract")


@pytest.fixture
def abstract():
    o = AbstractOrigin("uxrp-test-%d" % os.getpid())
    yield o
    o.close()


def get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SCALE)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: a.test\r\nConnection: close"
                  b"\r\n\r\n" % path.encode())
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def test_abstract_origin_with_matching_user(bench, abstract):
    conf = bench.config(mounts=[
        {"mountpoint": "/", "origin": "@" + abstract.name,
         "origin_user": os.getuid()}])
    d = bench.daemon(conf)
    out = get(d.port, "/x")
    assert out.startswith(b"HTTP/1.1 200 ")
    assert out.endswith(b"abstract")


def test_identity_mismatch_is_502(bench, abstract):
    conf = bench.config(mounts=[
        {"mountpoint": "/", "origin": "@" + abstract.name,
         "origin_user": 12345}])
    d = bench.daemon(conf)
    out = get(d.port, "/x")
    assert out.startswith(b"HTTP/1.1 502 ")
    d.wait_log(r"listened on by uid %d gid \d+, not uid 12345" %
               os.getuid(), 5)
    assert d.wait_access(lambda l: "origin-identity" in l)


def test_unix_origin_group_checked(bench):
    o = bench.origin(Echo())
    conf = bench.config(mounts=[
        {"mountpoint": "/good/", "origin": o.unix(),
         "origin_group": os.getgid()},
        {"mountpoint": "/bad/", "origin": o.lws("/"),
         "origin_group": 54321}])
    d = bench.daemon(conf)
    assert get(d.port, "/good/x").startswith(b"HTTP/1.1 200 ")
    o.reset()
    assert get(d.port, "/bad/x").startswith(b"HTTP/1.1 502 ")
    assert o.wait_requests(1, 0.3) == []


@pytest.mark.parametrize("mount,message", [
    ({"mountpoint": "/", "origin": "@someone"},
     r"vhosts\[0\]\.mounts\[0\]\.origin: an abstract socket has no "
     r"permissions: origin_user or origin_group is required"),
    ({"mountpoint": "/", "origin": "127.0.0.1:9", "origin_user": 0},
     r"vhosts\[0\]\.mounts\[0\]\.origin_user: only for an origin on a "
     r"socket"),
    ({"mountpoint": "/", "origin": "@x", "origin_user": "no-such-user-x"},
     r"vhosts\[0\]\.mounts\[0\]\.origin_user: unknown user "
     r"no-such-user-x"),
    ({"mountpoint": "/", "origin": "@x", "origin_group": [1]},
     r"vhosts\[0\]\.mounts\[0\]\.origin_group: expected a group name or "
     r"id"),
])
def test_identity_config_errors(bench, mount, message):
    conf = bench.config(mounts=[mount])
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert re.search(message, err), err
