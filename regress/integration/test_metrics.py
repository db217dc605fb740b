"""A status mount ("status": "prometheus") serves counters and origin
health in the Prometheus text format, the same numbers as uxrpctl
show, over all workers."""

import json
import re
import subprocess
import time

import pytest

from client import request
from conftest import SCALE
from origins import Echo

LINE = re.compile(r'^([a-z_]+)(\{([a-z]+)="((?:[^"\\]|\\.)*)"\})? (-?\d+)$')


def parse(text):
    """{(name, label value or None): value}; fails on any bad line."""
    out = {}
    for line in text.split("\n"):
        if not line or line.startswith("# HELP ") or \
                line.startswith("# TYPE "):
            continue
        m = LINE.match(line)
        assert m, "not a metrics line: %r" % line
        out[(m.group(1), m.group(4))] = int(m.group(5))
    return out


@pytest.fixture(scope="module")
def srv(mbench):
    o = mbench.origin(Echo(), name="mo")
    conf = mbench.config(mounts=[
        {"mountpoint": "/metrics", "status": "prometheus"},
        {"mountpoint": "/", "origin": o.lws("/")}], workers=2)
    d = mbench.daemon(conf)
    d.origin = o
    return d


def test_counters_and_health(srv):
    for i in range(12):
        assert request(srv.port, target="/m%d" % i).status == 200
    time.sleep(1.5)         # workers report every second
    r = request(srv.port, target="/metrics")
    assert r.status == 200
    assert r.header("content-type").startswith(
        "text/plain; version=0.0.4")
    m = parse(r.body.decode())
    assert m[("uxrp_requests_total", None)] >= 12
    name = srv.origin.lws("/")
    assert m[("uxrp_origin_up", name)] == 1
    assert m[("uxrp_origin_requests_total", name)] >= 12
    assert m[("uxrp_workers", "serving")] == 2
    # the same numbers as the control socket, once nothing moves
    time.sleep(1.5)
    show = srv.ctl_json("show", "summary")
    m2 = parse(request(srv.port, target="/metrics").body.decode())
    assert m2[("uxrp_requests_total", None)] == show["requests"]


def test_head_and_h2(srv):
    r = request(srv.port, method="HEAD", target="/metrics")
    assert r.status == 200 and r.body == b""
    p = subprocess.run(["curl", "-s", "--http2-prior-knowledge",
                        "http://127.0.0.1:%d/metrics" % srv.port],
                       stdout=subprocess.PIPE, timeout=20 * SCALE)
    assert b"# TYPE uxrp_requests_total counter" in p.stdout
    parse(p.stdout.decode())


def test_post_is_405(srv):
    r = request(srv.port, method="POST", target="/metrics", body=b"x")
    assert r.status == 405
    assert srv.origin.wait_requests(1, 0.2) == [] or \
        all(q.target != "/metrics" for q in srv.origin.wait_requests(1, 0))


@pytest.mark.parametrize("mount,message", [
    ({"mountpoint": "/s", "status": "prometheus", "origin": "unix:/x"},
     r"\.status: a status mount has no origin"),
    ({"mountpoint": "/s", "status": "json"},
     r"\.status: must be \"prometheus\""),
])
def test_status_config_errors(bench, mount, message):
    status, err = bench.check(json.dumps(bench.config(mounts=[mount]),
                                         indent=2))
    assert status == 1
    assert re.search(message, err), err
