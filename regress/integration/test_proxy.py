"""Basic proxying: what the origin receives (request line, Host, end-to-end
and hop-by-hop headers, X-Forwarded-* and Forwarded) and what the
client receives back (status and headers unchanged, HEAD, 204, 304,
several Set-Cookie lines), over TCP v4, v6 and the Unix listener; the
access log."""

import json
import re

import pytest

from client import Conn, build, curl, exchange, request
from conftest import have_ipv6
from origins import Echo, Fixed

LONG = "v" * 8192


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="echo")
    conf = mbench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                         v6=have_ipv6(), unix=True)
    d = mbench.daemon(conf)
    d.origin = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    srv.origin.reset()
    srv.origin.behaviour = Echo()


def seen(srv, **kw):
    """Send one request, return (client response, origin request)."""
    r = request(srv.port, **kw)
    return r, srv.origin.last()


def test_curl_get(srv):
    p = curl("-H", "Host: a.test", "-D", "-",
             "http://127.0.0.1:%d/hello?x=1" % srv.port)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    doc = json.loads(body)
    assert doc["method"] == "GET"
    assert doc["target"] == "/hello?x=1"
    assert doc["version"] == "HTTP/1.1"


def test_request_line_is_http11(srv):
    r, o = seen(srv, target="/v10", headers=[("Connection", "close")])
    assert r.status == 200
    assert o.head.startswith(b"GET /v10 HTTP/1.1\r\n")
    # an HTTP/1.0 client is still proxied as HTTP/1.1
    r = exchange(srv.port, build("GET", "/v10b", version="HTTP/1.0"))
    assert r.status == 200
    assert srv.origin.last().head.startswith(b"GET /v10b HTTP/1.1\r\n")


def test_head_stays_head(srv):
    srv.origin.behaviour = Fixed(200, [("Content-Length", "1234"),
                                       ("Content-Type", "text/plain")],
                                 b"x" * 1234)
    with Conn(srv.port) as c:
        c.send(build("HEAD", "/h"))
        r = c.read_response(method="HEAD")
        assert r.status == 200
        assert r.header("Content-Length") == "1234"
        assert r.header("Transfer-Encoding") is None
        # no body may follow: the next response must start right there
        c.send(build("GET", "/h2"))
        r2 = c.read_response()
        assert r2.status == 200 and r2.body == b"x" * 1234
    reqs = srv.origin.wait_requests(2)
    assert [q.method for q in reqs] == ["HEAD", "GET"]


@pytest.mark.parametrize("method", ["OPTIONS", "DELETE", "PUT", "PATCH",
                                    "PROPFIND", "PURGE"])
def test_method_proxied(srv, method):
    body = b"payload" if method in ("PUT", "PATCH") else None
    r, o = seen(srv, method=method, target="/m", body=body)
    assert r.status == 200
    assert o.head.startswith(("%s /m HTTP/1.1\r\n" % method).encode())
    if body:
        assert bytes(o.body) == body


def test_host_as_sent(srv):
    r, o = seen(srv, host="A.Test:8080", target="/h")
    assert r.status == 200
    assert o.header_all("Host") == ["A.Test:8080"]


END_TO_END = [
    ("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
    ("User-Agent", "uxrp-regress/1.0 (raw socket)"),
    ("Referer", "http://a.test/from?page=1"),
    ("Origin", "http://a.test"),
    ("Range", "bytes=0-99,200-"),
    ("If-None-Match", "\"abc\", W/\"def\""),
    ("If-Modified-Since", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ("Accept-Language", "en-GB,en;q=0.8,fr;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Cache-Control", "no-cache, max-age=0"),
    ("Cookie", "a=1; b=2; session=xyz"),
    ("Authorization", "Bearer abc.def.ghi"),
    ("X-Foo", "bar baz"),
    ("X-Long", LONG),
]


def test_end_to_end_headers_forwarded(srv):
    r, o = seen(srv, target="/e2e", headers=END_TO_END)
    assert r.status == 200
    for name, value in END_TO_END:
        assert o.header_all(name) == [value], name


def test_several_same_name_request_headers_kept(srv):
    hdrs = [("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "a=1"),
            ("Cookie", "b=2")]
    r, o = seen(srv, target="/multi", headers=hdrs)
    assert r.status == 200
    assert o.header_all("X-Multi") == ["one", "two"]
    assert o.header_all("Cookie") == ["a=1", "b=2"]


HOP = [
    ("Connection", "keep-alive, X-Hop-A, X-Hop-B"),
    ("X-Hop-A", "1"),
    ("X-Hop-B", "2"),
    ("Keep-Alive", "timeout=5, max=100"),
    ("TE", "trailers"),
    ("Trailer", "X-Trail"),
    ("Upgrade", "example/1"),
    ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
    ("Proxy-Connection", "keep-alive"),
    ("X-Stays", "yes"),
]


def test_hop_by_hop_removed(srv):
    r, o = seen(srv, target="/hop", headers=HOP)
    assert r.status == 200
    names = o.header_names()
    for gone in ("x-hop-a", "x-hop-b", "keep-alive", "te", "trailer",
                 "upgrade", "proxy-authorization", "proxy-connection"):
        assert gone not in names, gone
    conn = ",".join(o.header_all("Connection")).lower()
    assert "x-hop" not in conn
    assert o.header_all("X-Stays") == ["yes"]


TCHAR = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def forwarded(values):
    """Parse Forwarded field values (RFC 7239) into a list of dicts, one
    per element; a value is a token or a quoted-string, nothing else."""
    assert len(values) == 1, values
    out = []
    for element in values[0].split(","):
        params = {}
        for pair in element.strip().split(";"):
            k, _, v = pair.partition("=")
            if v.startswith('"'):
                assert v.endswith('"') and len(v) >= 2, v
                v = v[1:-1].replace('\\"', '"')
            else:
                assert TCHAR.match(v), "value must be a token or quoted: %r" \
                    % pair
            assert k.lower() not in params, values
            params[k.lower()] = v
        out.append(params)
    return out


def test_forwarded_headers_set(srv):
    r, o = seen(srv, host="a.test", target="/fw")
    assert r.status == 200
    assert o.header_all("X-Forwarded-For") == ["127.0.0.1"]
    assert o.header_all("X-Forwarded-Proto") == ["http"]
    assert o.header_all("X-Forwarded-Host") == ["a.test"]
    assert forwarded(o.header_all("Forwarded")) == [
        {"for": "127.0.0.1", "host": "a.test", "proto": "http"}]


def test_forwarded_host_keeps_port(srv):
    r, o = seen(srv, host="a.test:%d" % srv.port, target="/fw")
    assert r.status == 200
    assert o.header_all("X-Forwarded-Host") == ["a.test:%d" % srv.port]
    # a host with a port is not a token: RFC 7239 quotes it
    assert forwarded(o.header_all("Forwarded")) == [
        {"for": "127.0.0.1", "host": "a.test:%d" % srv.port,
         "proto": "http"}]


def test_client_forwarded_headers_replaced(srv):
    hdrs = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.test"),
            ("Forwarded", "for=6.6.6.6;proto=https"),
            ("x-forwarded-for", "7.7.7.7")]
    r, o = seen(srv, target="/fw", headers=hdrs)
    assert r.status == 200
    assert o.header_all("X-Forwarded-For") == ["127.0.0.1"]
    assert o.header_all("X-Forwarded-Proto") == ["http"]
    assert o.header_all("X-Forwarded-Host") == ["a.test"]
    assert forwarded(o.header_all("Forwarded")) == [
        {"for": "127.0.0.1", "host": "a.test", "proto": "http"}]
    assert b"6.6.6.6" not in o.head and b"7.7.7.7" not in o.head
    assert b"evil.test" not in o.head


def test_ipv6_client(srv):
    if srv.port6 is None:
        pytest.skip("no IPv6 loopback here")
    r = request(srv.port6, addr="::1", target="/v6")
    assert r.status == 200
    o = srv.origin.last()
    assert o.header_all("X-Forwarded-For") == ["::1"]
    assert forwarded(o.header_all("Forwarded")) == [
        {"for": "[::1]", "host": "a.test", "proto": "http"}]
    assert 'for="[::1]"' in o.header("Forwarded")


def test_unix_listener(srv):
    with Conn(path=srv.unix_path) as c:
        c.send(build("GET", "/via-unix"))
        r = c.read_response()
    assert r.status == 200
    o = srv.origin.last()
    assert o.target == "/via-unix"
    assert o.header_all("Host") == ["a.test"]


def test_curl_over_unix_listener(srv):
    p = curl("--unix-socket", srv.unix_path, "-o", "/dev/null", "-w",
             "%{http_code}", "http://a.test/curl-unix")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"200"


RESPONSE_HEADERS = [
    ("Set-Cookie", "a=1; Path=/; HttpOnly"),
    ("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure"),
    ("Set-Cookie", "c=3"),
    ("Vary", "Accept-Encoding, Origin"),
    ("Date", "Tue, 01 Jan 2030 00:00:00 GMT"),
    ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ("ETag", "\"xyz-123\""),
    ("Cache-Control", "public, max-age=60"),
    ("Access-Control-Allow-Origin", "http://a.test"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Expose-Headers", "X-Custom, ETag"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Content-Type", "text/plain; charset=utf-8"),
    ("X-Custom", "kept as is"),
    ("X-Long-Response", LONG),
]


def test_response_headers_unchanged(srv):
    srv.origin.behaviour = Fixed(200, RESPONSE_HEADERS, b"body")
    r = request(srv.port, target="/rh")
    assert r.status == 200 and r.body == b"body"
    for name in set(n for n, _ in RESPONSE_HEADERS):
        want = [v for n, v in RESPONSE_HEADERS if n == name]
        assert r.header_all(name) == want, name


def test_response_status_and_reason(srv):
    srv.origin.behaviour = Fixed(201, [("Location", "/new/1")], b"made",
                                 reason="Created")
    r = request(srv.port, method="POST", target="/c", body=b"x")
    assert r.status == 201
    assert r.header("Location") == "/new/1"
    assert r.body == b"made"


def test_401_passes_through(srv):
    srv.origin.behaviour = Fixed(401, [("WWW-Authenticate",
                                        'Basic realm="inner", charset="UTF-8"'),
                                       ("Content-Type", "text/plain")],
                                 b"who are you")
    r = request(srv.port, target="/secret")
    assert r.status == 401
    assert r.header_all("WWW-Authenticate") == [
        'Basic realm="inner", charset="UTF-8"']
    assert r.body == b"who are you"


def test_304_has_no_body(srv):
    srv.origin.behaviour = Fixed(304, [("ETag", "\"v1\""),
                                       ("Cache-Control", "max-age=5")])
    with Conn(srv.port) as c:
        c.send(build("GET", "/cached", headers=[("If-None-Match", "\"v1\"")]))
        r = c.read_response()
        assert r.status == 304
        assert r.header("ETag") == "\"v1\""
        assert r.header("Transfer-Encoding") is None
        srv.origin.behaviour = Echo()
        c.send(build("GET", "/after-304"))
        r2 = c.read_response()
        assert r2.status == 200
        assert json.loads(r2.body)["target"] == "/after-304"
    assert srv.origin.wait_requests(2)[0].header("If-None-Match") == "\"v1\""


def test_204_has_no_body(srv):
    srv.origin.behaviour = Fixed(204, [("X-Done", "1")])
    with Conn(srv.port) as c:
        c.send(build("DELETE", "/thing"))
        r = c.read_response()
        assert r.status == 204
        assert r.header("X-Done") == "1"
        assert r.header("Transfer-Encoding") is None
        srv.origin.behaviour = Echo()
        c.send(build("GET", "/after-204"))
        r2 = c.read_response()
        assert r2.status == 200
        assert json.loads(r2.body)["target"] == "/after-204"


def test_no_stray_bytes_after_length_body(srv):
    srv.origin.behaviour = Fixed(200, [("Content-Type", "text/plain")],
                                 b"exactly")
    with Conn(srv.port) as c:
        for i in range(3):
            c.send(build("GET", "/len%d" % i))
            r = c.read_response()
            assert r.status == 200 and r.body == b"exactly"
            assert r.header("Transfer-Encoding") is None
            assert r.header("Content-Length") == "7"
        assert not c.buf


def test_access_log_line(srv):
    r = request(srv.port, target="/logged-%d?q=1" % srv.port)
    assert r.status == 200
    want = "GET /logged-%d?q=1 HTTP/1.1" % srv.port
    lines = srv.wait_access(lambda l: want in l)
    assert len(lines) == 1, srv.access_lines()
    line = lines[0]
    assert "127.0.0.1" in line
    assert re.search(r"\b200\b", line)
    assert srv.origin.lws("/") in line or srv.origin.path in line


def test_access_log_one_line_per_request(srv):
    tag = "/count-%d" % srv.port
    with Conn(srv.port) as c:
        for i in range(5):
            c.send(build("GET", "%s/%d" % (tag, i)))
            assert c.read_response().status == 200
    lines = srv.wait_access(lambda l: tag in l and "/4 " in l)
    assert lines
    assert len([l for l in srv.access_lines() if tag + "/" in l]) == 5
