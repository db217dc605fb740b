"""Several origins per mount ("origins"): balanced by least outstanding
requests (ties in turn) or round-robin, origins known down skipped, a
request whose connect fails retried once on another origin, and the
503 page when all are down."""

import json
import re
import threading
import time

import pytest

from client import request
from conftest import SCALE
from origins import Echo, Slow


def three(bench, **mount):
    os_ = [bench.origin(Echo(), name="b%d" % i) for i in range(3)]
    m = {"mountpoint": "/", "origins": [o.unix() for o in os_]}
    m.update(mount)
    d = bench.daemon(bench.config(mounts=[m]))
    return d, os_


def counts(os_):
    return [len(o.wait_requests(0, 0)) for o in os_]


def test_round_robin_is_even(bench):
    d, os_ = three(bench, balance="round-robin")
    for i in range(30):
        assert request(d.port, target="/rr%d" % i).status == 200
    assert counts(os_) == [10, 10, 10]


def test_least_outstanding_spreads_ties(bench):
    d, os_ = three(bench)
    for i in range(30):
        assert request(d.port, target="/l%d" % i).status == 200
    assert counts(os_) == [10, 10, 10]


def test_least_outstanding_avoids_the_busy_one(bench):
    d, os_ = three(bench)
    os_[0].behaviour = Slow(3.0, Echo())
    # one slow request sits on some origin; whichever it is, the next
    # twenty go to the other two
    t = threading.Thread(target=request, args=(d.port,),
                         kwargs={"target": "/slow", "timeout": 20})
    t.start()
    busy = None
    end = time.monotonic() + 5
    while busy is None and time.monotonic() < end:
        for i, o in enumerate(os_):
            if o.wait_requests(1, 0):
                busy = i
        time.sleep(0.02)
    assert busy is not None
    for o in os_:
        o.behaviour = Echo() if o is not os_[busy] else o.behaviour
    before = counts(os_)
    for i in range(20):
        assert request(d.port, target="/q%d" % i).status == 200
    after = counts(os_)
    assert after[busy] == before[busy]
    t.join(20)


def test_killed_origin_is_skipped_without_failures(bench):
    d, os_ = three(bench)
    failures = []
    for i in range(15):
        if request(d.port, target="/a%d" % i).status != 200:
            failures.append(i)
    os_[1].stop()
    before = counts(os_)
    for i in range(30):
        if request(d.port, target="/b%d" % i).status != 200:
            failures.append(i)
    after = counts(os_)
    assert failures == []
    assert after[1] == before[1]
    assert after[0] > before[0] and after[2] > before[2]
    d.wait_log(r"origin \d+ unix:.*b1\.sock: down", 5)


def test_all_down_is_503(bench):
    d, os_ = three(bench)
    for o in os_:
        o.stop()
    r = request(d.port, target="/none")
    assert r.status == 503
    assert b'href="/error.css"' in r.body


@pytest.mark.parametrize("mount,message", [
    ({"origin": "unix:/x.sock", "origins": ["unix:/y.sock"]},
     r"\.origin: give \"origin\" or \"origins\", not both"),
    ({"origins": []}, r"\.origins: expected an array of 1 to 16 origins"),
    ({"origins": ["+/x.sock:/a/"]},
     r"\.origins\[0\]: the \"\+\" form carries its own path"),
    ({"origins": ["unix:/x.sock", "unix:/x.sock"]},
     r"\.origins\[1\]: the same origin twice"),
    ({"origins": ["unix:/x.sock"], "balance": "random"},
     r"\.balance: must be \"least\" or \"round-robin\""),
])
def test_origins_config_errors(bench, mount, message):
    m = {"mountpoint": "/"}
    m.update(mount)
    status, err = bench.check(json.dumps(bench.config(mounts=[m]),
                                         indent=2))
    assert status == 1
    assert re.search(message, err), err


def test_report_lists_the_origins(bench):
    m = {"mountpoint": "/", "origins": ["unix:/x.sock", "unix:/y.sock"],
         "balance": "round-robin"}
    status, err = bench.check(json.dumps(bench.config(mounts=[m]),
                                         indent=2))
    assert status == 0, err
    assert "/ -> origin 0+1 (round-robin) /" in err
