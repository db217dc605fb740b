"""Routing: Host to vhost (exact, case-insensitive, port ignored; then
wildcard; then the first vhost), longest mountpoint prefix on a segment
boundary, prefix replaced by the origin path, the rest forwarded byte
for byte, 301 for a mountpoint without its slash, 400 for dot segments
(also percent-encoded) with nothing forwarded."""

import time

import pytest

from client import build, exchange, request
from origins import Echo


@pytest.fixture(scope="module")
def srv(mbench):
    o = {}
    for name in ("app", "api", "b_root", "b_app", "b_deep", "exact"):
        o[name] = mbench.origin(Echo(), name=name)
    o["root"] = mbench.origin(Echo(), name="root", tcp=True)
    vhosts = [
        {"names": ["a.test"],
         "mounts": [
             {"mountpoint": "/app/", "origin": o["app"].lws("/inner/")},
             {"mountpoint": "/api/", "origin": o["api"].unix(),
              "origin_path": "/v2/"},
             {"mountpoint": "/", "origin": o["root"].hostport()}]},
        {"names": ["b.test", "*.w.test"],
         "mounts": [
             {"mountpoint": "/", "origin": o["b_root"].lws("/")},
             {"mountpoint": "/app/", "origin": o["b_app"].lws("/")},
             {"mountpoint": "/app/deep/", "origin": o["b_deep"].lws("/d/")}]},
        {"names": ["exact.w.test"],
         "mounts": [{"mountpoint": "/", "origin": o["exact"].lws("/")}]},
    ]
    d = mbench.daemon(mbench.config(vhosts=vhosts))
    d.o = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    for o in srv.o.values():
        o.reset()


def who_got(srv, host, target, timeout=5.0):
    """Send one GET; return (response, name of the origin that got it,
    the target it saw)."""
    r = request(srv.port, target=target, host=host)
    assert r.status == 200, (host, target, r.status, r.body)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = [(n, o.requests[-1]) for n, o in srv.o.items() if o.requests]
        if got:
            assert len(got) == 1, got
            return r, got[0][0], got[0][1].target
        time.sleep(0.02)
    raise AssertionError("no origin saw %s %s" % (host, target))


def nothing_forwarded(srv, wait=0.3):
    time.sleep(wait)
    for n, o in srv.o.items():
        assert not o.requests, "%s saw %r" % (n, o.requests[0].head)


@pytest.mark.parametrize("host,target,origin,seen", [
    ("a.test", "/app/x?q=1", "app", "/inner/x?q=1"),
    ("a.test", "/app/", "app", "/inner/"),
    ("A.TEST", "/app/x", "app", "/inner/x"),
    ("a.test:8080", "/app/x", "app", "/inner/x"),
    ("A.Test:1", "/app/x", "app", "/inner/x"),
    ("a.test", "/api/users?id=3", "api", "/v2/users?id=3"),
    ("a.test", "/apple", "root", "/apple"),
    ("a.test", "/application/x", "root", "/application/x"),
    ("a.test", "/", "root", "/"),
    ("a.test", "/apix", "root", "/apix"),
    ("b.test", "/", "b_root", "/"),
    ("b.test", "/app/x", "b_app", "/x"),
    ("b.test", "/app/deep/y?z", "b_deep", "/d/y?z"),
    ("b.test", "/app/deeper", "b_app", "/deeper"),
    ("foo.w.test", "/app/x", "b_app", "/x"),
    ("FOO.W.TEST:99", "/q", "b_root", "/q"),
    ("exact.w.test", "/app/x", "exact", "/app/x"),
    ("Exact.W.Test", "/", "exact", "/"),
    ("unknown.test", "/app/x", "app", "/inner/x"),
    ("127.0.0.1", "/api/", "api", "/v2/"),
])
def test_route(srv, host, target, origin, seen):
    _, got, path = who_got(srv, host, target)
    assert (got, path) == (origin, seen)


@pytest.mark.parametrize("target,seen", [
    ("/app/a%20b/c%2Fd?x=%41&y=a%2Fb", "/inner/a%20b/c%2Fd?x=%41&y=a%2Fb"),
    ("/app/%7Euser/%25", "/inner/%7Euser/%25"),
    ("/app/a+b;p=1,2", "/inner/a+b;p=1,2"),
    ("/app/..foo/a.b/.hidden/...", "/inner/..foo/a.b/.hidden/..."),
    ("/app/x?p=../../etc&q=./", "/inner/x?p=../../etc&q=./"),
    ("/app//double//slash", "/inner//double//slash"),
])
def test_forwarded_byte_for_byte(srv, target, seen):
    _, got, path = who_got(srv, "a.test", target)
    assert (got, path) == ("app", seen)


def test_route_to_tcp_origin_keeps_host(srv):
    r, got, _ = who_got(srv, "a.test", "/tcp")
    assert got == "root"
    assert srv.o["root"].requests[-1].header_all("Host") == ["a.test"]


@pytest.mark.parametrize("target,location", [
    ("/app", "/app/"),
    ("/app?x=1&y=2", "/app/?x=1&y=2"),
    ("/api", "/api/"),
])
def test_mountpoint_without_slash_redirects(srv, target, location):
    r = request(srv.port, target=target)
    assert r.status == 301
    assert r.header("Location") == location
    nothing_forwarded(srv)


def test_redirect_with_head(srv):
    r = request(srv.port, method="HEAD", target="/app")
    assert r.status == 301
    assert r.header("Location") == "/app/"
    nothing_forwarded(srv)


@pytest.mark.parametrize("target", [
    "/app/%2e%2e/x",
    "/app/%2E%2E/x",
    "/app/..%2fx",
    "/app/..%2Fx",
    "/app/..%5cx",
    "/app/..%5Cx",
    "/app/a/../b",
    "/app/./x",
    "/app/%2e/x",
    "/app/.%2e/x",
    "/app/%2e%2e%2fx",
    "/app/a%2f..%2fb",
    "/app/..",
    "/app/.",
    "/app/x/..?q=1",
    "/..",
    "/../app/x",
    "/api/../app/x",
])
def test_dot_segments_refused(srv, target):
    r = request(srv.port, target=target)
    assert r.status == 400
    nothing_forwarded(srv)


def test_absolute_form_routed(srv):
    r = exchange(srv.port, build("GET", "http://a.test/app/abs?q=1",
                                 host="a.test"))
    assert r.status == 200
    o = srv.o["app"].last()
    assert o.target == "/inner/abs?q=1"


def test_absolute_form_disagreeing_with_host(srv):
    r = exchange(srv.port, build("GET", "http://b.test/app/abs",
                                 host="a.test"))
    assert r.status == 400
    nothing_forwarded(srv)
