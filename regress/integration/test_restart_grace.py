"""Restart grace: with a mount's "restart_grace", a request for an origin
whose socket is missing or refusing (as while its application restarts)
waits, and goes through as soon as the socket accepts again, instead of
failing with 503 at once."""

import socket
import threading
import time

import pytest

from client import request
from conftest import SCALE
from origins import Echo


def restart(bench, o, down_for):
    """Stop the origin, wait, start a new one on the same socket."""
    name = o.name
    o.stop()
    time.sleep(down_for)
    return bench.origin(Echo(), name=name)


def test_request_waits_for_the_restart(bench):
    o = bench.origin(Echo(), name="app")
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/"),
                                 "restart_grace": 5}])
    d = bench.daemon(conf)
    assert request(d.port, target="/before").status == 200
    o.stop()
    result = {}

    def client():
        start = time.monotonic()
        result["r"] = request(d.port, target="/during")
        result["t"] = time.monotonic() - start

    t = threading.Thread(target=client)
    t.start()
    time.sleep(1.0)
    o2 = bench.origin(Echo(), name="app")
    t.join(10 * SCALE)
    assert result["r"].status == 200
    assert result["t"] >= 0.8
    assert o2.last().target == "/during"


def test_refusing_socket_is_waited_for_too(bench):
    o = bench.origin(Echo(), name="app")
    path = o.path
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/"),
                                 "restart_grace": 5}])
    d = bench.daemon(conf)
    o.stop()
    # a socket file that nobody listens on: connect is refused
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    result = {}

    def client():
        result["r"] = request(d.port, target="/refused")

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.8)
    import os
    os.unlink(path)
    o2 = bench.origin(Echo(), name="app")
    t.join(10 * SCALE)
    assert result["r"].status == 200
    assert o2.last().target == "/refused"


def test_no_failed_request_across_a_restart(bench):
    o = bench.origin(Echo(), name="app")
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/"),
                                 "restart_grace": 5}], workers=2)
    d = bench.daemon(conf)
    stop = threading.Event()
    failures = []
    done = [0]

    def loop():
        end = time.monotonic() + 20 * SCALE
        while not stop.is_set() and time.monotonic() < end:
            try:
                r = request(d.port, target="/loop")
                if r.status != 200:
                    failures.append(r.status)
                else:
                    done[0] += 1
            except Exception as e:          # a reset or timeout
                failures.append(repr(e))

    threads = [threading.Thread(target=loop) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    for _ in range(2):
        o = restart(bench, o, 0.7)
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(30 * SCALE)
    assert failures == [], [l for l in d.access_lines() if " 200 " not in l]
    assert done[0] > 10


def test_grace_runs_out_with_503(bench):
    o = bench.origin(Echo(), name="app")
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/"),
                                 "restart_grace": 1}],
                        timeouts={"connect": 1})
    d = bench.daemon(conf)
    o.stop()
    start = time.monotonic()
    r = request(d.port, target="/gone")
    elapsed = time.monotonic() - start
    assert r.status == 503
    assert 0.8 <= elapsed < 4 * SCALE


def test_grace_is_a_bounded_integer(bench):
    import json
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": "@x",
                                 "origin_user": 0,
                                 "restart_grace": 3601}])
    status, err = bench.check(json.dumps(conf, indent=2))
    assert status == 1
    assert "vhosts[0].mounts[0].restart_grace: expected an integer, " \
        "0 to 3600" in err
