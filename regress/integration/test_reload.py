"""Reload (uxrpctl reload and SIGHUP): a valid configuration starts a
new generation of workers and the old one drains and exits; an
invalid one changes nothing, and uxrpctl prints the same
file:line:col errors as uxrpd -n and exits 1; listeners that stay
keep their socket, new ones are bound, removed ones closed; a load
of parallel clients across ten reloads sees no failed request; a
download that spans a reload completes."""

import hashlib
import os
import signal
import socket
import threading
import time

import pytest

from client import Conn, build, request
from conftest import SCALE, free_port, wait_for
from origins import Echo, Fixed, Trickle, gen_bytes


def start(bench, workers=2, **kw):
    a = bench.origin(Fixed(body=b"from a"), name="a")
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": a.lws("/")}],
                        workers=workers, **kw)
    return bench.daemon(conf), a


def reload_ok(d):
    p = d.ctl("reload")
    assert p.returncode == 0, (p.stdout, p.stderr, d.log())
    return p


def listen_inode(port):
    """The inode of the socket listening on 127.0.0.1:port."""
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1].endswith(want) and cols[3] == "0A":
                return cols[9]
    return None


def test_reload_valid(bench):
    d, a = start(bench)
    old = set(d.workers())
    b = bench.origin(Fixed(body=b"from b"), name="b")
    conf = dict(d.conf)
    conf["vhosts"] = [{"names": ["a.test"], "mounts": [
        {"mountpoint": "/", "origin": a.lws("/")},
        {"mountpoint": "/b/", "origin": b.lws("/")}]}]
    conf["workers"] = 3
    d.rewrite_conf(conf)
    p = reload_ok(d)
    assert "generation 2 serving" in p.stdout
    r = request(d.port, target="/b/x")
    assert r.status == 200 and r.body == b"from b"
    assert request(d.port, target="/x").body == b"from a"
    doc = d.ctl_json("show", "summary")
    assert doc["generation"] == 2 and doc["reloads"] == 1
    assert doc["workers"] == 3
    # the old generation drains and goes
    assert d.wait_log(r"generation 1 drained"), d.log()
    assert wait_for(lambda: not (set(d.workers()) & old), 5 * SCALE)
    ws = d.ctl_json("show", "workers")["workers"]
    assert [w["generation"] for w in ws] == [2, 2, 2]
    assert d.wait_log(r"reload: generation 2 serving, generation 1 "
                      r"draining")


def test_reload_invalid(bench):
    d, a = start(bench)
    good = dict(d.conf)
    text = '{\n  "workers": 2,\n  "listen": [ { "address": "127.0.0.1", ' \
        '"port": 99999 } ],\n  "vhosts": []\n}\n'
    with open(d.conf_path, "w") as f:
        f.write(text)
    rc, expect = bench.check(text)
    assert rc == 1
    p = d.ctl("reload")
    assert p.returncode == 1
    name = os.path.basename(d.conf_path)
    got = [l for l in p.stderr.splitlines() if l.startswith(d.conf_path)]
    want = [l.replace("t.conf", d.conf_path, 1)
            for l in expect.splitlines() if l.startswith("t.conf:")]
    assert got and got == want, (p.stderr, expect, name)
    assert "listen[0].port" in p.stderr
    # nothing changed
    assert request(d.port).body == b"from a"
    assert d.ctl_json("show", "summary")["generation"] == 1
    assert d.wait_log(r"reload failed; the running configuration stays")
    # and a good one after it still works
    d.rewrite_conf(good)
    reload_ok(d)
    assert d.ctl_json("show", "summary")["generation"] == 2


def test_reload_syntax_error(bench):
    d, _ = start(bench, workers=1)
    with open(d.conf_path, "w") as f:
        f.write('{\n  "workers": 1,\n  "listen": [ oops ]\n}\n')
    p = d.ctl("reload")
    assert p.returncode == 1
    assert p.stderr.startswith(d.conf_path + ":3:"), p.stderr
    assert p.stderr.splitlines()[-1] == \
        "reload failed; the running configuration stays"
    assert request(d.port).status == 200


def test_sighup(bench):
    d, a = start(bench, workers=1)
    old = d.workers()
    d.send_signal(signal.SIGHUP)
    assert d.wait_log(r"generation 2 serving"), d.log()
    assert wait_for(lambda: d.workers() and
                    not set(d.workers()) & set(old), 5 * SCALE)
    assert request(d.port).body == b"from a"
    # an invalid file: logged, nothing changes
    with open(d.conf_path, "w") as f:
        f.write("{")
    before = len(d.log())
    d.send_signal(signal.SIGHUP)
    assert d.wait_log(r"reload: .*\.conf:1:2: ", since=before), d.log()
    assert d.wait_log(r"reload failed", since=before)
    assert request(d.port).body == b"from a"
    assert d.ctl_json("show", "summary")["generation"] == 2


def test_listeners_added_removed(bench):
    d, a = start(bench, workers=2)
    port1 = d.port
    ino = listen_inode(port1)
    assert ino is not None
    port2 = free_port()
    upath = bench.path("added.sock")
    conf = dict(d.conf)
    conf["listen"] = [{"address": "127.0.0.1", "port": port1},
                      {"address": "127.0.0.1", "port": port2},
                      {"path": upath, "mode": "0666"}]
    d.rewrite_conf(conf)
    reload_ok(d)
    assert listen_inode(port1) == ino      # kept, never rebound
    assert request(port2).body == b"from a"
    with Conn(path=upath) as c:
        c.send(build())
        assert c.read_response().body == b"from a"
    names = [l["name"] for l in d.ctl_json("show", "listeners")["listeners"]]
    assert names == ["127.0.0.1:%d" % port1, "127.0.0.1:%d" % port2, upath]
    # now drop the first port and the Unix socket
    conf = dict(conf)
    conf["listen"] = [{"address": "127.0.0.1", "port": port2}]
    d.rewrite_conf(conf)
    reload_ok(d)
    assert request(port2).body == b"from a"
    assert not os.path.exists(upath)

    def refused():
        try:
            socket.create_connection(("127.0.0.1", port1), 1).close()
            return False
        except OSError:
            return True
    assert wait_for(refused, 10 * SCALE), d.log()
    assert d.wait_log(r"listener 127\.0\.0\.1:%d closed" % port1)


def test_reload_bind_failure(bench):
    """A new listener that cannot be bound fails the reload as a whole."""
    d, a = start(bench, workers=1)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        conf = dict(d.conf)
        conf["listen"] = list(conf["listen"]) + [
            {"address": "127.0.0.1", "port": blocker.getsockname()[1]}]
        d.rewrite_conf(conf)
        p = d.ctl("reload")
        assert p.returncode == 1
        assert "cannot bind" in p.stderr
    finally:
        blocker.close()
    assert request(d.port).body == b"from a"
    assert d.ctl_json("show", "summary")["generation"] == 1


def test_load_across_reloads(bench):
    """A few clients, a fresh connection each request, for the whole
    time ten reloads take: every request answered 200."""
    d, a = start(bench, workers=2)
    stop = threading.Event()
    lock = threading.Lock()
    ok = [0]
    failed = []

    def client(n):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = request(d.port, target="/load/%d/%d" % (n, i),
                            headers=[("Connection", "close")], timeout=10)
                if r.status != 200 or r.body != b"from a":
                    raise AssertionError("status %d" % r.status)
                with lock:
                    ok[0] += 1
            except Exception as e:   # noqa: B902 - any failure counts
                with lock:
                    failed.append(repr(e))
    threads = [threading.Thread(target=client, args=(n,), daemon=True)
               for n in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        for _ in range(10):
            reload_ok(d)
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not failed, failed[:5]
    assert ok[0] > 100, ok[0]
    assert d.ctl_json("show", "summary")["generation"] == 11


def test_download_spans_reload(bench):
    body = gen_bytes(8 * 20000)
    slow = bench.origin(Trickle(pieces=8, interval=0.3, size=20000),
                        name="slow")
    conf = bench.config(mounts=[{"mountpoint": "/",
                                 "origin": slow.lws("/")}], workers=1)
    d = bench.daemon(conf)
    res = {}

    def fetch():
        with Conn(d.port, timeout=20) as c:
            c.send(build(target="/big"))
            res["r"] = c.read_response()
    t = threading.Thread(target=fetch, daemon=True)
    t.start()
    assert slow.wait_requests(1)
    reload_ok(d)
    t.join(20)
    r = res.get("r")
    assert r is not None and r.status == 200
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(body).digest()
    assert d.wait_log(r"generation 1 drained"), d.log()


def test_upload_spans_reload(bench):
    """A request body sent slowly across a reload arrives whole."""
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        workers=1)
    d = bench.daemon(conf)
    data = gen_bytes(6 * 10000)
    with Conn(d.port, timeout=20) as c:
        c.send(build("POST", "/up", headers=[("Content-Length",
                                               str(len(data)))]))
        for i in range(6):
            c.send(data[i * 10000:(i + 1) * 10000])
            if i == 2:
                reload_ok(d)
            time.sleep(0.1)
        r = c.read_response()
    assert r.status == 200
    assert o.last().body_sha256 == hashlib.sha256(data).hexdigest()
