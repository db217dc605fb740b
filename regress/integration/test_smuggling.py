"""Request smuggling and strict parsing, the classes test_malformed.py
leaves out: Transfer-Encoding obfuscations (case, whitespace, tabs,
commas, duplicates, codings other than a final chunked), framing
fields spelled to slip past a parser, chunk sizes and extensions
abused, chunk data without its CRLF, Host variants, and paths whose
dot segments or encoded slashes would leave their mount.

Every refused request carries a second request behind it (GET
/smuggled...): the client gets the refusal in a complete response and
the connection closes, and the fake origins record no request at all
-- or, when the error lies in a chunked body that was already
streaming, the origin never gets a complete request, never a last
chunk, never the request hidden behind it, and its connection is
closed. Accepted spellings (the RFC allows them) must reach the origin
with the body the client meant."""

import time

import pytest

from client import Conn, ResponseError, build, chunk
from conftest import SCALE
from origins import Echo

HEADER_BYTES = 4096

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n"


@pytest.fixture(scope="module")
def srv(mbench):
    o = {"root": mbench.origin(Echo(), name="sroot"),
         "app": mbench.origin(Echo(), name="sapp"),
         "admin": mbench.origin(Echo(), name="sadmin")}
    conf = mbench.config(
        vhosts=[{"names": ["a.test"], "mounts": [
            {"mountpoint": "/", "origin": o["root"].lws("/")},
            {"mountpoint": "/app/", "origin": o["app"].lws("/inner/")},
            {"mountpoint": "/admin/", "origin": o["admin"].lws("/")}]},
            {"names": ["b.test"], "mounts": [
                {"mountpoint": "/", "origin": o["admin"].lws("/b/")}]}],
        limits={"header_bytes": HEADER_BYTES, "request_body_bytes": 100000},
        timeouts={"request_header": 5, "idle": 5})
    d = mbench.daemon(conf)
    d.o = o
    return d


@pytest.fixture(autouse=True)
def _fresh(srv):
    for o in srv.o.values():
        o.reset()


def all_requests(srv):
    reqs = []
    for o in srv.o.values():
        with o.lock:
            reqs += list(o.requests)
    return reqs


def refused(srv, data, status):
    """Send `data` in one write; the answer is `status` in a complete
    response, the connection closes, nothing reaches any origin."""
    with Conn(srv.port, timeout=10 * SCALE) as c:
        try:
            c.send(data)
        except OSError:
            pass
        r = c.read_response()
        assert r.status == status, r
        assert r.complete
        assert c.wait_eof(5 * SCALE), "connection kept after a refusal"
    time.sleep(0.05)
    got = all_requests(srv)
    assert not got, [q.head for q in got]


def post_head(*fields, target=b"/x", version=b"HTTP/1.1"):
    return (b"POST " + target + b" " + version + b"\r\nHost: a.test\r\n" +
            b"".join(f + b"\r\n" for f in fields) + b"\r\n")


BODY = chunk(b"hello") + b"0\r\n\r\n"

# Transfer-Encoding that is not exactly one final "chunked", however it
# is dressed up, and framing fields spelled to slip past a parser.
TE_BAD = [
    ("two TE fields", post_head(b"Transfer-Encoding: chunked",
                                b"Transfer-Encoding: chunked"), 400),
    ("two TE fields, other case", post_head(
        b"Transfer-Encoding: chunked", b"transfer-encoding: identity"), 400),
    ("chunked twice in a list", post_head(
        b"Transfer-Encoding: chunked, chunked"), 400),
    ("chunked then gzip", post_head(
        b"Transfer-Encoding: chunked, gzip"), 501),
    ("gzip then chunked", post_head(
        b"Transfer-Encoding: gzip, chunked"), 501),
    ("identity", post_head(b"Transfer-Encoding: identity"), 501),
    ("xchunked", post_head(b"Transfer-Encoding: xchunked"), 501),
    ("chunked with a suffix", post_head(
        b"Transfer-Encoding: chunkedx"), 501),
    ("chunked with parameters", post_head(
        b"Transfer-Encoding: chunked;q=1"), 400),
    ("quoted chunked", post_head(b'Transfer-Encoding: "chunked"'), 400),
    ("empty TE", post_head(b"Transfer-Encoding: "), 400),
    ("TE of commas only", post_head(b"Transfer-Encoding: , ,"), 400),
    ("space before the colon", post_head(
        b"Transfer-Encoding : chunked"), 400),
    ("tab before the colon", post_head(
        b"Transfer-Encoding\t: chunked"), 400),
    ("vertical tab before chunked", post_head(
        b"Transfer-Encoding:\x0bchunked"), 400),
    ("form feed after chunked", post_head(
        b"Transfer-Encoding: chunked\x0c"), 400),
    ("NUL inside chunked", post_head(b"Transfer-Encoding: chun\x00ked"),
     400),
    ("TE folded onto the next line", post_head(
        b"Transfer-Encoding:", b" chunked"), 400),
    ("TE folded with a tab", post_head(
        b"Transfer-Encoding: identity", b"\tchunked"), 400),
    ("first field line folded", b"POST /x HTTP/1.1\r\n Transfer-Encoding: "
     b"chunked\r\nHost: a.test\r\n\r\n", 400),
    ("TE with a bare LF before it", post_head(
        b"X-A: 1\nTransfer-Encoding: chunked"), 400),
    ("TE with a bare CR before it", post_head(
        b"X-A: 1\rTransfer-Encoding: chunked"), 400),
    ("TE in HTTP/1.0", post_head(b"Transfer-Encoding: chunked",
                                 version=b"HTTP/1.0"), 400),
    ("TE then Content-Length", post_head(
        b"Transfer-Encoding: chunked", b"Content-Length: 4"), 400),
    ("obfuscated TE with Content-Length", post_head(
        b"Content-Length: 4", b"Transfer-Encoding: xchunked"), 400),
    ("Content-Length: 0 with TE", post_head(
        b"Content-Length: 0", b"Transfer-Encoding: chunked"), 400),
    ("Content-Length space before colon", post_head(
        b"Content-Length : 4"), 400),
    ("Content-Length with a plus", post_head(b"Content-Length: +4"), 400),
    ("Content-Length with a space inside", post_head(
        b"Content-Length: 4 4"), 400),
    ("Content-Length with a trailing comma", post_head(
        b"Content-Length: 4,"), 400),
    ("empty Content-Length", post_head(b"Content-Length: "), 400),
    ("Content-Length over 2^63", post_head(
        b"Content-Length: 99999999999999999999"), 400),
    ("Content-Length in other case, twice", post_head(
        b"content-length: 4", b"CONTENT-LENGTH: 4"), 400),
]


@pytest.mark.parametrize("head,status", [(h, s) for _, h, s in TE_BAD],
                         ids=[n for n, _, _ in TE_BAD])
def test_framing_obfuscation_refused(srv, head, status):
    refused(srv, head + BODY + SMUGGLED, status)


# Field lines and request lines that a lenient parser would read some
# other way.
FIELD_BAD = [
    ("NUL in a field name", b"GET /x HTTP/1.1\r\nHost: a.test\r\n"
     b"X-A\x00: 1\r\n\r\n", 400),
    ("DEL in a value", b"GET /x HTTP/1.1\r\nHost: a.test\r\n"
     b"X-A: 1\x7f\r\n\r\n", 400),
    ("US control in a value", b"GET /x HTTP/1.1\r\nHost: a.test\r\n"
     b"X-A: 1\x1f\r\n\r\n", 400),
    ("ESC in a field name", b"GET /x HTTP/1.1\r\nHost: a.test\r\n"
     b"X\x1bA: 1\r\n\r\n", 400),
    ("field line without a colon", b"GET /x HTTP/1.1\r\nHost: a.test\r\n"
     b"X-A 1\r\n\r\n", 400),
    ("empty field name", b"GET /x HTTP/1.1\r\nHost: a.test\r\n: 1\r\n\r\n",
     400),
    ("space inside a field name", b"GET /x HTTP/1.1\r\nHost: a.test\r\n"
     b"X A: 1\r\n\r\n", 400),
    ("tab between method and target", b"GET\t/x HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n", 400),
    ("space after the version", b"GET /x HTTP/1.1 \r\nHost: a.test\r\n\r\n",
     400),
    ("version in lower case", b"GET /x http/1.1\r\nHost: a.test\r\n\r\n",
     400),
    ("version with three digits", b"GET /x HTTP/1.10\r\n"
     b"Host: a.test\r\n\r\n", 400),
    ("HTTP/1.2", b"GET /x HTTP/1.2\r\nHost: a.test\r\n\r\n", 505),
    ("no version", b"GET /x\r\nHost: a.test\r\n\r\n", 400),
    ("bare CR ending the request line", b"GET /x HTTP/1.1\rHost: a.test"
     b"\r\n\r\n", 400),
    ("bare LF between head and body", b"GET /x HTTP/1.1\r\n"
     b"Host: a.test\r\n\n", 400),
    ("LF LF ending the head", b"GET /x HTTP/1.1\r\nHost: a.test\n\n", 400),
    ("DEL in the target", b"GET /x\x7f HTTP/1.1\r\nHost: a.test\r\n\r\n",
     400),
    ("non-ASCII byte in the target", b"GET /x\xff HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n", 400),
    ("tab in the target", b"GET /x\ty HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
    ("fragment after the query", b"GET /x?a=1#f HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n", 400),
    ("method with a non-token byte", b"G(T /x HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n", 400),
    ("asterisk-form with GET", b"GET * HTTP/1.1\r\nHost: a.test\r\n\r\n",
     400),
]


@pytest.mark.parametrize("data,status", [(d, s) for _, d, s in FIELD_BAD],
                         ids=[n for n, _, _ in FIELD_BAD])
def test_field_and_line_refused(srv, data, status):
    refused(srv, data + SMUGGLED, status)


# Host: missing, repeated (in any case), empty or not a uri-host[:port];
# absolute-form whose authority is not the Host.
HOST_BAD = [
    ("empty Host", b"GET /x HTTP/1.1\r\nHost: \r\n\r\n"),
    ("Host of spaces", b"GET /x HTTP/1.1\r\nHost:   \r\n\r\n"),
    ("Host with an empty port", b"GET /x HTTP/1.1\r\nHost: a.test:\r\n\r\n"),
    ("Host with a six-digit port", b"GET /x HTTP/1.1\r\n"
     b"Host: a.test:123456\r\n\r\n"),
    ("Host with a letter in the port", b"GET /x HTTP/1.1\r\n"
     b"Host: a.test:80a\r\n\r\n"),
    ("Host with two ports", b"GET /x HTTP/1.1\r\nHost: a.test:80:81\r\n\r\n"),
    ("Host with userinfo", b"GET /x HTTP/1.1\r\nHost: u@a.test\r\n\r\n"),
    ("Host with a path", b"GET /x HTTP/1.1\r\nHost: a.test/admin\r\n\r\n"),
    ("Host with a bad escape", b"GET /x HTTP/1.1\r\nHost: a%zztest\r\n\r\n"),
    ("Host of a port only", b"GET /x HTTP/1.1\r\nHost: :80\r\n\r\n"),
    ("unclosed IPv6 literal", b"GET /x HTTP/1.1\r\nHost: [::1\r\n\r\n"),
    ("IPv6 literal with junk after", b"GET /x HTTP/1.1\r\n"
     b"Host: [::1]x\r\n\r\n"),
    ("IPv6 literal with a bad byte", b"GET /x HTTP/1.1\r\n"
     b"Host: [::g]\r\n\r\n"),
    ("Host list", b"GET /x HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n"),
    ("two Hosts, other case", b"GET /x HTTP/1.1\r\nhost: a.test\r\n"
     b"HOST: a.test\r\n\r\n"),
    ("two Hosts, one empty", b"GET /x HTTP/1.1\r\nHost: a.test\r\n"
     b"Host: \r\n\r\n"),
    ("two Hosts in HTTP/1.0", b"GET /x HTTP/1.0\r\nHost: a.test\r\n"
     b"Host: b.test\r\n\r\n"),
    ("absolute-form with userinfo", b"GET http://u@a.test/x HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n"),
    ("absolute-form port differs from Host", b"GET http://a.test:81/x "
     b"HTTP/1.1\r\nHost: a.test:82\r\n\r\n"),
    ("absolute-form of another vhost", b"GET http://b.test/x HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n"),
    ("absolute-form with an empty host", b"GET http:///x HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n"),
    ("absolute-form of another scheme", b"GET ftp://a.test/x HTTP/1.1\r\n"
     b"Host: a.test\r\n\r\n"),
]


@pytest.mark.parametrize("data", [d for _, d in HOST_BAD],
                         ids=[n for n, _ in HOST_BAD])
def test_bad_host_refused(srv, data):
    refused(srv, data + SMUGGLED, 400)


# Paths that would leave their mount once an origin resolves dot
# segments or decodes escapes: refused with 400 before routing (the
# behaviour uxrpd.conf(5) states), the classes test_routing.py leaves
# out.
PATH_BAD = [
    "/app/..\\admin/x",
    "/app\\..\\admin/x",
    "/app/.\\x",
    "/app/%2e./admin/",
    "/app/.%2E/admin/",
    "/app/%2E%2e%2Fadmin/",
    "/app/%2e%2e%5cadmin/",
    "/app%2f..%2fadmin/",
    "/app/x/%2e%2e",
    "/app/x/%2e%2e?q",
    "/app/x/.%2e",
    "/app/%00/x",
    "/app/%zz/x",
    "/app/%2",
    "/app/%",
    "http://a.test/app/../admin/x",
    "http://a.test/app/%2e%2e/admin/x",
]


@pytest.mark.parametrize("target", PATH_BAD)
def test_path_leaving_its_mount_refused(srv, target):
    refused(srv, build("GET", target) + SMUGGLED, 400)


# Spellings that look like segments to some other software but are not
# dot segments for RFC 3986: forwarded byte for byte to the mount they
# name, never decoded or resolved (an origin that decodes twice or
# treats ";" as a path parameter is the origin's business).
PATH_KEPT = [
    ("/app/..;/admin/x", "/inner/..;/admin/x"),
    ("/app/%252e%252e/admin/x", "/inner/%252e%252e/admin/x"),
    ("/app/...//x", "/inner/...//x"),
    ("/app/.x/..y", "/inner/.x/..y"),
    ("/app/%c0%ae%c0%ae/x", "/inner/%c0%ae%c0%ae/x"),
]


@pytest.mark.parametrize("target,seen", PATH_KEPT,
                         ids=[t for t, _ in PATH_KEPT])
def test_path_kept_byte_for_byte(srv, target, seen):
    with Conn(srv.port) as c:
        c.send(build("GET", target))
        r = c.read_response()
    assert r.status == 200, r
    got = srv.o["app"].last()
    assert got.target == seen
    assert not srv.o["admin"].requests


# Spellings the RFC allows: accepted, and the origin gets exactly the
# body the client framed (re-framed by the proxy).
TE_GOOD = [
    ("tab before chunked", b"Transfer-Encoding:\tchunked"),
    ("no space before chunked", b"Transfer-Encoding:chunked"),
    ("tabs and spaces around chunked", b"Transfer-Encoding: \t chunked \t"),
    ("chunked in capitals", b"Transfer-Encoding: CHUNKED"),
    ("chunked in mixed case", b"Transfer-Encoding: cHuNkEd"),
    ("field name in lower case", b"transfer-encoding: chunked"),
    ("empty list element before chunked", b"Transfer-Encoding: , chunked"),
    ("empty list element after chunked", b"Transfer-Encoding: chunked ,"),
]


@pytest.mark.parametrize("field", [f for _, f in TE_GOOD],
                         ids=[n for n, _ in TE_GOOD])
def test_framing_allowed_spelling(srv, field):
    body = chunk(b"hello ") + chunk(b"world") + b"0\r\n\r\n"
    with Conn(srv.port) as c:
        c.send(post_head(field) + body)
        r = c.read_response()
    assert r.status == 200, r
    reqs = srv.o["root"].wait_requests(1, complete=True)
    assert len(reqs) == 1
    q = reqs[0]
    assert bytes(q.body) == b"hello world"
    assert q.header_all("Transfer-Encoding") == ["chunked"]
    assert q.header("Content-Length") is None


# Chunked bodies that break the framing. The head may already be at the
# origin (it is sent as soon as an origin connection is ready); the
# body never completes there and nothing behind it is parsed.
CHUNK_BAD = [
    ("size in 0x notation", b"0x5\r\nhello\r\n0\r\n\r\n"),
    ("negative size", b"-5\r\nhello\r\n0\r\n\r\n"),
    ("space before the size", b" 5\r\nhello\r\n0\r\n\r\n"),
    ("space after the size", b"5 \r\nhello\r\n0\r\n\r\n"),
    ("empty size", b"\r\nhello\r\n0\r\n\r\n"),
    ("size with a plus", b"+5\r\nhello\r\n0\r\n\r\n"),
    ("size of 17 hex digits", b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("size of 2^63", b"8000000000000000\r\nhello\r\n0\r\n\r\n"),
    ("size line ended by a bare LF", b"5\nhello\r\n0\r\n\r\n"),
    ("size line ended by a bare CR", b"5\rhello\r\n0\r\n\r\n"),
    ("data without its CRLF", b"5\r\nhello0\r\n\r\n"),
    ("data longer than its size", b"5\r\nhello!!\r\n0\r\n\r\n"),
    ("data ended by a bare LF", b"5\r\nhello\n0\r\n\r\n"),
    ("data ended by LF CR", b"5\r\nhello\n\r0\r\n\r\n"),
    ("last chunk ended by a bare LF", b"5\r\nhello\r\n0\n\r\n"),
    ("final CRLF missing its CR", b"5\r\nhello\r\n0\r\n\n"),
    ("extension without a name", b"5;\r\nhello\r\n0\r\n\r\n"),
    ("extension with a control byte", b"5;a=\x01\r\nhello\r\n0\r\n\r\n"),
    ("extension with a bare LF", b"5;a=b\nhello\r\n0\r\n\r\n"),
    ("extension value unterminated",
     b'5;a="b\r\nhello\r\n0\r\n\r\n'),
    ("extension with a bad byte", b"5;a@b\r\nhello\r\n0\r\n\r\n"),
    ("extension of 5000 bytes",
     b"5;" + b"a" * 5000 + b"\r\nhello\r\n0\r\n\r\n"),
    ("many extensions past the line limit",
     b"5" + b";a=b" * 1100 + b"\r\nhello\r\n0\r\n\r\n"),
    ("trailer folded", b"5\r\nhello\r\n0\r\nX-T: 1\r\n folded\r\n\r\n"),
    ("trailer with a bare LF", b"5\r\nhello\r\n0\r\nX-T: 1\n\r\n"),
    ("trailer without a colon", b"5\r\nhello\r\n0\r\nX-T\r\n\r\n"),
    ("trailer section past header_bytes",
     b"5\r\nhello\r\n0\r\n" + b"".join(b"X-T%d: %s\r\n" % (i, b"t" * 200)
                                       for i in range(30)) + b"\r\n"),
]


@pytest.mark.parametrize("body", [b for _, b in CHUNK_BAD],
                         ids=[n for n, _ in CHUNK_BAD])
def test_bad_chunk_never_completes(srv, body):
    head = post_head(b"Transfer-Encoding: chunked", target=b"/chunks")
    with Conn(srv.port, timeout=10 * SCALE) as c:
        try:
            c.send(head + body + SMUGGLED)
        except OSError:
            pass
        try:
            r = c.read_response()
            assert r.status == 400, r
        except ResponseError:
            pass            # closed without an answer: acceptable
        assert c.wait_eof(10 * SCALE), "connection kept after a bad chunk"
    time.sleep(0.1)
    reqs = all_requests(srv)
    for q in reqs:
        assert q.target == "/chunks", q.head
        assert not q.complete, "origin got a complete request"
        assert 0 not in q.chunk_sizes
    o = srv.o["root"]
    with o.lock:
        conns = list(o.conns)
    end = time.monotonic() + 5 * SCALE
    while time.monotonic() < end:
        if all(x.eof or x.closed for x in conns
               if x.requests and x.requests[-1] in reqs):
            break
        time.sleep(0.05)
    for x in conns:
        if x.requests and x.requests[-1] in reqs:
            assert x.eof or x.closed, "origin connection of an aborted " \
                "body left open"


def test_chunk_extensions_and_trailers_allowed(srv):
    """Extensions (token and quoted values, BWS) and trailers are
    accepted and dropped; the body arrives whole."""
    body = (b"5;name\r\nhello\r\n"
            b"1 ; a=b ;c=\"q\\\"s\"\r\n \r\n"
            b"5;x=y\r\nworld\r\n"
            b"0\r\nX-Trailer: t\r\n\r\n")
    with Conn(srv.port) as c:
        c.send(post_head(b"Transfer-Encoding: chunked") + body)
        r = c.read_response()
    assert r.status == 200, r
    q = srv.o["root"].wait_requests(1, complete=True)[0]
    assert bytes(q.body) == b"hello world"
    assert b"name" not in q.head and b"X-Trailer" not in q.head


def test_pipelined_after_chunked_body_is_a_request(srv):
    """Control for the cases above: a correct chunked body followed by a
    request is two requests, in order -- the refusals above are not
    an artefact of the client."""
    with Conn(srv.port) as c:
        c.send(post_head(b"Transfer-Encoding: chunked") + BODY + SMUGGLED)
        r1 = c.read_response()
        r2 = c.read_response()
    assert (r1.status, r2.status) == (200, 200)
    reqs = srv.o["root"].wait_requests(2)
    assert [q.target for q in reqs] == ["/x", "/smuggled"]
