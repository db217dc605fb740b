"""uxrpd -n: a valid configuration exits 0 and reports how each listener
and origin is reached, with TLS, PROXY and origin identity settings; errors exit 1 as FILE:LINE:COL: JSONPATH: message
(the position of the value named, or of the object that lacks a key);
a missing origin socket is only a warning. Also: -n binds nothing, and a
daemon started on a bad configuration exits 1."""

import json
import os
import socket
import subprocess

import pytest

from conftest import IS_ROOT, SCALE, UXRPD, free_port


def at(text, needle, nth=0, start=0):
    """(line, column) of the first byte of the nth `needle` in text from
    offset start, both counted from 1, columns in bytes."""
    off = start - 1
    for _ in range(nth + 1):
        off = text.index(needle, off + 1)
    line = text.count("\n", 0, off) + 1
    col = off - (text.rfind("\n", 0, off) + 1) + 1
    return line, col


def diag(text, needle, path, message, nth=0):
    line, col = at(text, needle, nth)
    return "t.conf:%d:%d: %s: %s" % (line, col, path, message)


def base_head(bench):
    """The top of a configuration text valid for this user."""
    chroot = json.dumps(bench.chroot)
    return ('{\n'
            '  "user": "nobody",\n'
            '  "chroot": %s,\n' % chroot)


def test_valid_config_reports_origins(bench):
    out_o = bench.origin(name="out")
    tcp = bench.origin(tcp=True, name="tcp")
    mounts = [{"mountpoint": "/out/", "origin": out_o.lws("/")},
              {"mountpoint": "/tcp/", "origin": tcp.hostport()}]
    in_o = None
    if IS_ROOT:
        in_o = bench.origin(name="in", inside=True)
        mounts.append({"mountpoint": "/in/", "origin": in_o.unix(),
                       "origin_path": "/x/"})
    conf = bench.config(mounts=mounts, unix=True)
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 0, err
    lines = err.splitlines()
    assert "t.conf: configuration OK" in lines
    assert not [l for l in lines if "warning" in l], err

    def origin_line(spec):
        found = [l for l in lines if l.startswith("origin ") and
                 (" %s: " % spec) in l]
        assert len(found) == 1, (spec, err)
        return found[0]

    line = origin_line(out_o.lws("/"))
    if IS_ROOT:
        assert line.endswith(": unix socket %s, connected by the master "
                             "(outside chroot %s)" % (out_o.path,
                                                      bench.chroot)), line
        line = origin_line(in_o.unix())
        assert "unix socket %s, connected by the worker" % in_o.path in line
        assert "master" not in line
    else:
        assert line.endswith(": unix socket %s, connected by the worker"
                             % out_o.path), line
    assert "connected by the worker" in origin_line(tcp.hostport())
    listens = [l for l in lines if l.startswith("listen ")]
    assert len(listens) == 2, err
    vhosts = [l for l in lines if l.startswith("vhost ")]
    assert len(vhosts) == 1 and "a.test" in vhosts[0], err


def test_report_tls_proxy_and_identity(bench):
    """-n also says which listeners take a PROXY header or TLS (with
    which certificate), which vhost has its own certificate, who must
    listen on an origin and how an https origin is verified."""
    from test_tls import make_cert
    crt, key = make_cert(bench.dir, "listen.test")
    vcrt, vkey = make_cert(bench.dir, "a.test")
    o = bench.origin(name="who")
    t = bench.origin(name="tls")
    conf = bench.config(mounts=[
        {"mountpoint": "/who/", "origin": o.unix(), "origin_user": 0,
         "origin_group": 0},
        {"mountpoint": "/tls/", "origin": t.unix(),
         "origin_protocol": "https",
         "origin_tls": {"ca": crt, "server_name": "origin.test"}},
        {"mountpoint": "/open/", "origin": t.unix(),
         "origin_protocol": "https", "origin_tls": {"verify": False}}])
    conf["listen"][0]["tls"] = {"certificate": crt, "key": key}
    conf["listen"][0]["proxy_protocol"] = True
    conf["vhosts"][0]["tls"] = {"certificate": vcrt, "key": vkey}
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 0, err
    lines = err.splitlines()
    assert [l for l in lines if l.startswith("listen 0 ")] == [
        "listen 0 127.0.0.1:%d: tcp, bound by the master, PROXY protocol "
        "header first, TLS with %s" % (conf["listen"][0]["port"], crt)], err
    assert "vhost 0: TLS with %s for its names" % vcrt in lines, err
    who = [l for l in lines if l.startswith("origin 0 ")]
    assert who[1:] == ["origin 0 %s: its listener must be uid 0, gid 0"
                       % o.unix()], err
    tls = [l for l in lines if "https" in l]
    assert tls == [
        "origin 1 %s: https, certificate verified for origin.test "
        "against %s" % (t.unix(), crt),
        "origin 2 %s: https, certificate not verified" % t.unix()], err


def test_missing_socket_is_a_warning(bench):
    sock = bench.path("later.sock")
    text = base_head(bench) + (
        '  "listen": [ { "address": "127.0.0.1", "port": %d } ],\n'
        '  "vhosts": [\n'
        '    { "names": ["a.test"],\n'
        '      "mounts": [ { "mountpoint": "/", "origin": "+%s:/" } ] }\n'
        '  ]\n'
        '}\n' % (free_port(), sock))
    status, err = bench.check(text)
    assert status == 0, err
    want = diag(text, '"+' + sock, "vhosts[0].mounts[0].origin",
                "warning: socket does not exist yet")
    assert want in err.splitlines(), err
    assert "t.conf: configuration OK" in err.splitlines()


def listen_ok(port):
    return '  "listen": [ { "address": "127.0.0.1", "port": %d } ],\n' % port


def test_required_key_missing(bench):
    text = base_head(bench) + listen_ok(free_port()) + (
        '  "vhosts": [\n'
        '    { "names": ["a.test"] }\n'
        '  ]\n'
        '}\n')
    status, err = bench.check(text)
    assert status == 1, err
    assert diag(text, '{ "names"', "vhosts[0].mounts",
                "required key missing") in err.splitlines(), err
    assert "configuration OK" not in err


def test_unknown_key(bench):
    text = base_head(bench) + (
        '  "listen": [\n'
        '    { "adress": "127.0.0.1", "port": %d }\n'
        '  ],\n'
        '  "vhosts": [ { "names": ["a.test"], "mounts": [\n'
        '    { "mountpoint": "/", "origin": "127.0.0.1:9" } ] } ]\n'
        '}\n' % free_port())
    status, err = bench.check(text)
    assert status == 1, err
    assert diag(text, '"127.0.0.1", "port"', "listen[0].adress",
                "unknown key") in err.splitlines(), err


def test_socket_path_too_long(bench):
    long = "/tmp/" + "x" * 110 + ".sock"
    text = base_head(bench) + listen_ok(free_port()) + (
        '  "vhosts": [\n'
        '    { "names": ["a.test"],\n'
        '      "mounts": [\n'
        '        { "mountpoint": "/", "origin": "127.0.0.1:9" },\n'
        '        { "mountpoint": "/app/",\n'
        '          "origin": "+%s:/" }\n'
        '      ] }\n'
        '  ]\n'
        '}\n' % long)
    status, err = bench.check(text)
    assert status == 1, err
    assert diag(text, '"+/tmp/xxx', "vhosts[0].mounts[1].origin",
                "socket path too long (max 107 bytes)") in err.splitlines(), err


def test_errors_in_file_order(bench):
    text = base_head(bench) + (
        '  "listen": [ { "address": "127.0.0.1", "port": %d, "tls": 1 } ],\n'
        '  "vhosts": [\n'
        '    { "names": ["a.test"], "mounts": [\n'
        '      { "mountpoint": "app/", "origin": "127.0.0.1:9" },\n'
        '      { "mountpoint": "/b/" }\n'
        '    ] }\n'
        '  ]\n'
        '}\n' % free_port())
    status, err = bench.check(text)
    assert status == 1, err
    lines = [l for l in err.splitlines() if l.startswith("t.conf:")]
    pos = []
    for l in lines:
        _, ln, col, _ = l.split(":", 3)
        pos.append((int(ln), int(col)))
    assert pos == sorted(pos), err
    assert [l for l in lines if ": vhosts[0].mounts[0].mountpoint: " in l]
    assert diag(text, '{ "mountpoint": "/b/"', "vhosts[0].mounts[1].origin",
                "required key missing") in lines, err


BAD_VALUES = [
    ("workers", '"workers": "two"', '"two"'),
    ("timeouts.connect", '"timeouts": { "connect": -1 }', "-1"),
    ("limits.header_bytes", '"limits": { "header_bytes": "big" }', '"big"'),
    ("listen[0].port", None, "70000"),
    ("listen[0].backlog", "backlog", "70000"),
    ("vhosts[0].mounts[0].origin", "origin:nonsense", '"no-such-form"'),
    ("vhosts[0].mounts[0].origin_path", "origin_path", '"/v2/"'),
]


@pytest.mark.parametrize("path,what,needle", BAD_VALUES,
                         ids=[b[0] for b in BAD_VALUES])
def test_bad_value_position(bench, path, what, needle):
    port = "70000" if path == "listen[0].port" else str(free_port())
    origin = '"+/tmp/x.sock:/"'
    extra = ""
    mount_extra = ""
    if what == "backlog":
        port += ', "backlog": 70000'
    elif what == "origin:nonsense":
        origin = '"no-such-form"'
    elif what == "origin_path":
        mount_extra = ', "origin_path": "/v2/"'
    elif what:
        extra = "  %s,\n" % what
    head = base_head(bench)
    text = head + extra + (
        '  "listen": [ { "address": "127.0.0.1", "port": %s } ],\n'
        '  "vhosts": [ { "names": ["a.test"], "mounts": [\n'
        '    { "mountpoint": "/", "origin": %s%s } ] } ]\n'
        '}\n' % (port, origin, mount_extra))
    status, err = bench.check(text)
    assert status == 1, err
    # Not in the head: its temporary chroot path may hold "-1".
    line, col = at(text, needle, start=len(head))
    prefix = "t.conf:%d:%d: %s: " % (line, col, path)
    assert [l for l in err.splitlines() if l.startswith(prefix)], \
        (prefix, err)


def test_syntax_error(bench):
    text = '{\n  "workers": 1,\n  "listen": [ ],\n}\n'
    status, err = bench.check(text)
    assert status == 1, err
    first = err.splitlines()[0]
    assert first.startswith("t.conf:4:"), err
    assert "syntax error" in first


def test_duplicate_key(bench):
    text = base_head(bench) + '  "workers": 1,\n  "workers": 2,\n' + \
        listen_ok(free_port()) + \
        '  "vhosts": []\n}\n'
    status, err = bench.check(text)
    assert status == 1, err
    assert [l for l in err.splitlines() if l.startswith("t.conf:5:") and
            "duplicate key" in l], err


def test_missing_file(bench):
    p = subprocess.run([UXRPD, "-n", "-f", bench.path("nope.conf")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20 * SCALE)
    assert p.returncode == 1
    assert b"nope.conf" in p.stderr


def test_check_binds_nothing(bench):
    """-n only reads: a port in use does not matter to it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        o = bench.origin()
        conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws()}],
                            listen=[{"address": "127.0.0.1", "port": port}])
        status, err = bench.check(json.dumps(conf))
    assert status == 0, err


def test_daemon_refuses_bad_config(bench):
    path = bench.path("bad.conf")
    with open(path, "w") as f:
        f.write('{ "listen": [ { "adress": "127.0.0.1" } ] }\n')
    p = subprocess.run([UXRPD, "-d", "-f", path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20 * SCALE)
    assert p.returncode == 1
    assert b"listen[0].adress: unknown key" in p.stderr


def test_daemon_port_in_use(bench):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        o = bench.origin()
        conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws()}],
                            listen=[{"address": "127.0.0.1", "port": port}])
        d = bench.daemon(conf, start=False)
        d.write_conf()
        p = subprocess.run([UXRPD, "-d", "-f", d.conf_path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20 * SCALE)
    assert p.returncode != 0
    assert str(port).encode() in p.stderr


def test_chroot_must_exist(bench):
    if not IS_ROOT:
        pytest.skip("needs root: chroot applies only to a root daemon")
    o = bench.origin()
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws()}],
                        chroot=bench.path("no-such-dir"))
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert [l for l in err.splitlines()
            if l.startswith("t.conf:") and ": chroot: " in l], err
    assert os.path.basename(bench.path("no-such-dir")) in err
