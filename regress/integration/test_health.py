"""Origin health: the master keeps each origin's state from what the
workers find and tells all of them, so a request for an origin known
down is answered 503 at once (cause origin-down) until, after a short
hold-down, one request goes through as a probe and finds it up again;
active checks ("check" of a mount) feed the same state without any
client traffic. Each transition is logged once, with its cause, and
uxrpctl show origins follows it."""

import time

from client import request
from conftest import SCALE, wait_for
from origins import Fixed, Func, _head


def origin_doc(d, idx=0):
    return d.ctl_json("show", "origins")["origins"][idx]


def wait_state(d, state, timeout=5.0, idx=0):
    return wait_for(lambda: origin_doc(d, idx)["state"] == state,
                    timeout * SCALE, step=0.1)


def test_down_fail_fast_and_recovery(bench):
    o = bench.origin(Fixed(body=b"hello"), name="hl")
    path = o.path
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        workers=2)
    d = bench.daemon(conf)
    assert request(d.port, target="/one").status == 200
    assert wait_state(d, "up")
    o.stop()
    r = request(d.port, target="/first-down")
    assert r.status == 503
    assert d.wait_log(r"origin 0 \+%s:/: down \(connect: No such file"
                      % path), d.log()
    assert wait_state(d, "down")
    doc = origin_doc(d)
    assert "No such file" in doc["cause"]
    # both workers know now: answered at once, without a connect
    for i in range(6):
        t0 = time.monotonic()
        r = request(d.port, target="/fast%d" % i)
        assert r.status == 503
        assert time.monotonic() - t0 < 1.0
    assert d.wait_access(lambda l: "/fast" in l and "origin-down" in l)
    p = d.ctl("show", "origins")
    assert " down " in p.stdout and "No such file" in p.stdout
    # the origin comes back; after the hold-down a probe finds it
    bench.origin(Fixed(body=b"back"), name="hl")

    def served():
        return request(d.port, target="/probe").status == 200
    assert wait_for(served, 8 * SCALE, step=0.3), d.log()
    assert d.wait_log(r"origin 0 \+%s:/: up" % path)
    assert wait_state(d, "up")
    # each transition once: up (first request), down, up again
    lines = [l for l in d.log().splitlines() if "origin 0 " in l and
             (l.endswith(": up") or ": down (" in l)]
    assert ["down" if ": down (" in l else "up" for l in lines] == \
        ["up", "down", "up"], lines
    assert request(d.port, target="/again").body == b"back"


def test_active_check(bench):
    state = {"status": 500}

    def health(req, conn):
        st = state["status"] if req.target == "/healthz" else 200
        body = b"ok"
        conn.send(_head(st, "X", [("Content-Length", str(len(body)))]) +
                  body)
        return True
    o = bench.origin(Func(health), name="ck")
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/"),
                                 "check": {"path": "/healthz",
                                           "interval": 1, "timeout": 1}}],
                        workers=2)
    d = bench.daemon(conf)
    # no client request: the check alone finds it down
    assert wait_state(d, "down"), d.log()
    doc = origin_doc(d)
    assert doc["cause"] == "check: status 500"
    assert doc["check"] == {"path": "/healthz", "interval": 1, "timeout": 1}
    assert d.wait_log(r"origin 0 .*: down \(check: status 500\)")
    assert request(d.port, target="/x").status == 503
    state["status"] = 204
    assert wait_state(d, "up", timeout=5.0), d.log()
    assert d.wait_log(r"origin 0 .*: up \(check\)")
    assert request(d.port, target="/y").status == 200
    checks = [r for r in o.requests if r.target == "/healthz"]
    assert checks and all(r.method == "GET" for r in checks)
    # one worker runs each origin's check: about one per second
    assert len(checks) <= 2 + 2 * (time.monotonic() - checks[0].time)


def test_check_config_errors(bench):
    import json
    conf = bench.config(mounts=[
        {"mountpoint": "/a/", "origin": "127.0.0.1:9",
         "check": {"path": "healthz", "interval": 0, "bogus": 1}},
        {"mountpoint": "/b/", "origin": "127.0.0.1:10",
         "check": {"path": "/h", "interval": 2, "timeout": 5}},
        {"mountpoint": "/c/", "origin": "127.0.0.1:11",
         "check": {"path": "/h"}},
        {"mountpoint": "/d/", "origin": "127.0.0.1:11",
         "check": {"path": "/other"}}])
    rc, err = bench.check(json.dumps(conf, indent=2))
    assert rc == 1
    for want in ("vhosts[0].mounts[0].check.bogus: unknown key",
                 "vhosts[0].mounts[0].check.path: must start with '/'",
                 "vhosts[0].mounts[0].check.interval: out of range",
                 "vhosts[0].mounts[1].check.timeout: must not be longer "
                 "than the interval",
                 "vhosts[0].mounts[3].check: origin 127.0.0.1:11 already "
                 "has a different check"):
        assert want in err, err
