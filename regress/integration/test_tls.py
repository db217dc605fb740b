"""TLS for clients: certificates per listener and per vhost (SNI), TLS
1.2 and 1.3 only, ALPN h2 and http/1.1, key material read by the master,
session resumption across workers, and certificate errors at -n."""

import json
import os
import re
import subprocess

import pytest

from conftest import SCALE, IS_ROOT
from origins import SocketOrigin, read_head, Echo


def openssl(*args, stdin=b"", timeout=20):
    return subprocess.run(["openssl"] + list(args), input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout * SCALE)


def make_cert(dirpath, cn):
    key = os.path.join(dirpath, cn + ".key")
    crt = os.path.join(dirpath, cn + ".crt")
    p = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                "-out", crt, "-days", "30", "-subj", "/CN=" + cn)
    assert p.returncode == 0, p.stderr
    # Only the master, as root, has to read the key.
    os.chmod(key, 0o600)
    return crt, key


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="tlsecho")
    a = make_cert(mbench.dir, "a.test")
    b = make_cert(mbench.dir, "b.test")
    conf = mbench.config(
        vhosts=[{"names": ["a.test"],
                 "mounts": [{"mountpoint": "/", "origin": o.lws("/")}]},
                {"names": ["b.test"],
                 "tls": {"certificate": b[0], "key": b[1]},
                 "mounts": [{"mountpoint": "/", "origin": o.lws("/b/")}]}],
        workers=2)
    conf["listen"][0]["tls"] = {"certificate": a[0], "key": a[1]}
    d = mbench.daemon(conf)
    d.origin = o
    d.certs = (a, b)
    return d


def curl(srv, *args, host="a.test"):
    return subprocess.run(
        ["curl", "-s", "-k", "--max-time", str(int(20 * SCALE)),
         "--resolve", "%s:%d:127.0.0.1" % (host, srv.port)] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SCALE)


def s_client(srv, *args):
    # A short pause before the close lets TLS 1.3 tickets arrive.
    return subprocess.run(
        "sleep 0.3 | openssl s_client -connect 127.0.0.1:%d %s" %
        (srv.port, " ".join(args)), shell=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=20 * SCALE).stdout.decode(
            "utf-8", "replace")


def test_h2_over_tls_by_alpn(srv):
    p = curl(srv, "--http2", "-w", "\n%{http_version}",
             "https://a.test:%d/x?y=1" % srv.port)
    assert p.returncode == 0, p.stderr
    body, _, version = p.stdout.rpartition(b"\n")
    assert version == b"2"
    doc = json.loads(body)
    assert doc["target"] == "/x?y=1"
    o = srv.origin.last()
    assert o.header("x-forwarded-proto") == "https"
    assert "proto=https" in o.header("forwarded")


def test_http11_over_tls(srv):
    p = curl(srv, "--http1.1", "-w", "\n%{http_version}", "-d", "abc",
             "https://a.test:%d/post" % srv.port)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(b"\n1.1")
    assert srv.origin.last().body_len == 3


def test_alpn_prefers_h2(srv):
    out = s_client(srv, "-servername a.test -alpn http/1.1,h2")
    assert "ALPN protocol: h2" in out
    out = s_client(srv, "-servername a.test -alpn http/1.1")
    assert "ALPN protocol: http/1.1" in out


def test_sni_picks_the_vhost_certificate(srv):
    assert re.search(r"subject=.*CN ?= ?b\.test",
                     s_client(srv, "-servername b.test"))
    assert re.search(r"subject=.*CN ?= ?a\.test",
                     s_client(srv, "-servername a.test"))
    # an unknown name gets the listener's certificate
    assert re.search(r"subject=.*CN ?= ?a\.test",
                     s_client(srv, "-servername c.test"))
    p = curl(srv, "https://b.test:%d/z" % srv.port, host="b.test")
    assert p.returncode == 0
    assert srv.origin.last().target == "/b/z"


@pytest.mark.parametrize("version,ok", [("-tls1_1", False),
                                        ("-tls1_2", True),
                                        ("-tls1_3", True)])
def test_protocol_versions(srv, version, ok):
    out = s_client(srv, version, "-servername a.test")
    if ok:
        assert re.search(r"^New, TLSv1\.[23]", out, re.M), out
    else:
        assert not re.search(r"^New, TLSv1", out, re.M) or \
            "Cipher is (NONE)" in out, out


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_resumption_across_workers(srv, version, tmp_path):
    assert len(srv.workers()) == 2
    sess = str(tmp_path / "sess.pem")
    out = s_client(srv, version, "-servername a.test -sess_out", sess)
    assert re.search(r"^New,", out, re.M), out
    # eight more connections land on both workers; every one resumes
    for _ in range(8):
        out = s_client(srv, version, "-servername a.test -sess_in", sess)
        assert re.search(r"^Reused,", out, re.M), out


def test_handshake_garbage_does_not_hurt(srv):
    import socket
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        s.settimeout(5 * SCALE)
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert not data.startswith(b"HTTP/")
    p = curl(srv, "https://a.test:%d/after" % srv.port)
    assert p.returncode == 0


def test_mismatched_key_is_a_config_error(bench):
    a = make_cert(bench.dir, "a.test")
    b = make_cert(bench.dir, "b.test")
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}])
    conf["listen"][0]["tls"] = {"certificate": a[0], "key": b[1]}
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert re.search(r"^t\.conf:\d+:\d+: listen\[0\]\.tls: key .* does "
                     r"not match certificate", err, re.M), err


def test_missing_certificate_is_a_config_error(bench):
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}])
    conf["listen"][0]["tls"] = {"certificate": bench.path("none.crt"),
                                "key": bench.path("none.key")}
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert re.search(r"listen\[0\]\.tls: certificate .*none\.crt does "
                     r"not load", err), err


class TLSOrigin(SocketOrigin):
    """An HTTPS origin on a Unix socket: answers every request with
    200 and a body naming the path, over TLS with the given cert."""

    def __init__(self, path, cert, key):
        import ssl
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.seen = []
        super().__init__(path, self.answer)

    def answer(self, c):
        import ssl
        try:
            t = self.ctx.wrap_socket(c, server_side=True)
        except ssl.SSLError:
            return
        line = read_head(t).split(b"\r\n", 1)[0]
        self.seen.append(line)
        body = b"tls origin saw " + line
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(body) + body)
        t.close()


@pytest.fixture(scope="module")
def tls_origin(mbench):
    key = os.path.join(mbench.dir, "origin.key")
    crt = os.path.join(mbench.dir, "origin.crt")
    p = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                "-out", crt, "-days", "30", "-subj", "/CN=origin.internal",
                "-addext", "subjectAltName=DNS:origin.internal")
    assert p.returncode == 0, p.stderr
    o = TLSOrigin(os.path.join(mbench.dir, "tlsorigin.sock"), crt, key)
    yield o, crt
    o.close()


def test_https_origin_over_unix_socket(mbench, tls_origin):
    o, ca = tls_origin
    ok = {"ca": ca, "server_name": "origin.internal"}
    wrong = {"ca": ca, "server_name": "other.internal"}
    conf = mbench.config(mounts=[
        {"mountpoint": "/ok/", "origin": "unix:" + o.path,
         "origin_protocol": "https", "origin_tls": ok},
        {"mountpoint": "/wrong/", "origin": "unix:" + o.path,
         "origin_protocol": "https", "origin_tls": wrong},
        {"mountpoint": "/noverify/", "origin": "unix:" + o.path,
         "origin_protocol": "https",
         "origin_tls": {"server_name": "other.internal", "verify": False}},
    ])
    d = mbench.daemon(conf)
    base = "http://127.0.0.1:%d" % d.port
    p = subprocess.run(["curl", "-s", "-w", " %{http_code}",
                        base + "/ok/x"], stdout=subprocess.PIPE,
                       timeout=30 * SCALE)
    assert p.stdout == b"tls origin saw GET /x HTTP/1.1 200"
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                        "%{http_code}", base + "/wrong/x"],
                       stdout=subprocess.PIPE, timeout=30 * SCALE)
    assert p.stdout == b"502"
    d.wait_log(r"TLS handshake failed", 5)
    assert d.wait_access(lambda line: "origin-tls" in line), \
        d.access_lines()[-3:]
    p = subprocess.run(["curl", "-s", "-w", " %{http_code}",
                        base + "/noverify/y"], stdout=subprocess.PIPE,
                       timeout=30 * SCALE)
    assert p.stdout == b"tls origin saw GET /y HTTP/1.1 200"


def test_https_origin_needs_a_ca_to_verify(bench):
    conf = bench.config(mounts=[
        {"mountpoint": "/", "origin": "unix:" + bench.path("x.sock"),
         "origin_protocol": "https",
         "origin_tls": {"server_name": "origin.internal"}}])
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert re.search(r"vhosts\[0\]\.mounts\[0\]\.origin_tls: \"ca\" is "
                     r"needed to verify the origin", err), err
