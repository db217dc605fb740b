"""uxrpctl: every command in text and in JSON (-j) against a running
daemon; the control socket's mode and owner; peers refused by their
credentials; exit status 1 with a one-line reason when the daemon is
not running or the socket is not ours to use; log verbose|brief and
log reopen after the access log was moved away."""

import json
import os
import stat
import subprocess

import pytest

from client import request
from conftest import (IS_ROOT, UXRPCTL, needs_root, wait_for)
from origins import Echo


@pytest.fixture(scope="module")
def ctl_daemon(mbench):
    o = mbench.origin(Echo())
    conf = mbench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                         workers=2, unix=True)
    d = mbench.daemon(conf)
    for i in range(3):
        assert request(d.port, target="/warm%d" % i).status == 200
    return d, o


def stats_settled(d, key, want):
    """Counters arrive every second: wait until they show `want`."""
    def look():
        doc = d.ctl_json("show", "summary")
        return doc if doc[key] >= want else None
    return wait_for(look, 5.0, step=0.2)


def test_socket_mode_owner(ctl_daemon):
    d, _ = ctl_daemon
    st = os.stat(d.control)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()


def test_show_summary(ctl_daemon):
    d, _ = ctl_daemon
    doc = stats_settled(d, "requests", 3)
    assert doc, d.log()
    assert doc["pid"] == d.pid
    assert doc["workers"] == 2
    assert doc["generation"] == 1
    assert doc["version"]
    assert doc["origins_up"] == 1
    assert doc["uptime"] >= 0
    p = d.ctl("show", "summary")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    keys = [l.split()[0] for l in lines]
    for k in ("version", "pid", "uptime", "generation", "workers",
              "connections", "requests", "errors", "origins"):
        assert k in keys, p.stdout
    assert "%-12s %d" % ("pid", d.pid) in p.stdout
    # "show" alone is the summary
    assert d.ctl("show").stdout.split()[0] == "version"


def test_show_origins(ctl_daemon):
    d, o = ctl_daemon
    doc = d.ctl_json("show", "origins")
    assert len(doc["origins"]) == 1
    org = doc["origins"][0]
    assert org["address"] == "unix:" + o.path
    assert org["state"] == "up"
    assert org["requests"] >= 3
    for k in ("since", "cause", "failures", "inflight", "idle"):
        assert k in org
    p = d.ctl("show", "origins")
    assert p.returncode == 0
    head, row = p.stdout.splitlines()[:2]
    assert head.split()[:5] == ["ID", "ADDRESS", "STATE", "SINCE", "CAUSE"]
    # aligned: every column starts where its heading does (the socket's
    # path is random and may hold "up" itself)
    assert row[head.index("STATE"):].startswith("up ")
    assert row.split()[1] == "unix:" + o.path


def test_show_workers(ctl_daemon):
    d, _ = ctl_daemon
    doc = d.ctl_json("show", "workers")
    ws = doc["workers"]
    assert sorted(w["pid"] for w in ws) == sorted(d.workers())
    assert all(w["state"] == "ready" and w["generation"] == 1 for w in ws)
    p = d.ctl("show", "workers")
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["ID", "GEN", "PID", "STATE", "UP",
                                "CONNECTIONS", "IDLE", "REQUESTS", "ERRORS"]
    assert len(lines) == 3
    for l in lines[1:]:
        assert l.index("ready") == lines[0].index("STATE")


def test_show_listeners(ctl_daemon):
    d, _ = ctl_daemon
    doc = d.ctl_json("show", "listeners")
    ls = doc["listeners"]
    assert [l["type"] for l in ls] == ["tcp", "unix"]
    assert ls[0]["name"] == "127.0.0.1:%d" % d.port
    assert ls[1]["name"] == d.unix_path and ls[1]["mode"] == "0666"
    p = d.ctl("show", "listeners")
    assert p.stdout.splitlines()[0].split() == ["ID", "TYPE", "ADDRESS",
                                                "MODE"]
    assert d.unix_path in p.stdout


def test_log_verbose_brief(ctl_daemon):
    d, _ = ctl_daemon
    p = d.ctl("log", "verbose")
    assert p.returncode == 0 and "verbose" in p.stdout
    assert d.ctl_json("show", "summary")["log"] == "verbose"
    # both workers log at debug level now too
    assert d.wait_log(r"worker 0: logging verbose"), d.log()
    assert d.wait_log(r"worker 1: logging verbose"), d.log()
    doc = json.loads(d.ctl("log", "brief", json_out=True).stdout)
    assert doc["result"] == "ok"
    assert d.ctl_json("show", "summary")["log"] == "brief"


def test_log_reopen(ctl_daemon):
    d, _ = ctl_daemon
    assert request(d.port, target="/before-rotate").status == 200
    assert d.wait_access(lambda l: "/before-rotate" in l)
    rotated = d.access_log + ".1"
    os.rename(d.access_log, rotated)
    p = d.ctl("log", "reopen")
    assert p.returncode == 0, p.stderr
    assert "reopened" in p.stdout
    assert os.path.exists(d.access_log)
    assert request(d.port, target="/after-rotate").status == 200
    assert d.wait_access(lambda l: "/after-rotate" in l), d.log()
    with open(rotated) as f:
        old = f.read()
    assert "/before-rotate" in old and "/after-rotate" not in old
    assert "reopened" in d.log()


def test_usage_errors(ctl_daemon):
    d, _ = ctl_daemon
    for args in (["show", "nonsense"], ["frobnicate"], ["log"], []):
        p = d.ctl(*args)
        assert p.returncode == 1
        assert "usage" in p.stderr


def test_not_running(bench):
    p = subprocess.run([UXRPCTL, "-s", bench.path("nope.sock"), "show"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=10)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert "not running" in p.stderr


@needs_root
def test_permission_denied_by_mode(ctl_daemon):
    """Without control_users the socket is 0600: nobody cannot
    connect at all."""
    d, _ = ctl_daemon
    p = d.ctl("show", as_user="nobody")
    assert p.returncode == 1, p.stdout
    assert p.stderr.count("\n") == 1
    assert "permission denied" in p.stderr


@needs_root
def test_control_users(bench):
    """control_users opens the socket (0666); the master answers the
    users it names and refuses every other uid, saying why."""
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        control_users=["daemon"])
    d = bench.daemon(conf)
    assert stat.S_IMODE(os.stat(d.control).st_mode) == 0o666
    p = d.ctl("show", "summary", as_user="daemon")
    assert p.returncode == 0, p.stderr
    p = d.ctl("show", "summary", as_user="nobody")
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert "permission denied" in p.stderr and "uid" in p.stderr
    assert d.wait_log(r"control: refused a client with uid")
    # root still may
    assert d.ctl("show", "workers").returncode == 0
    assert request(d.port).status == 200


def test_control_users_unknown(bench):
    conf = bench.config(mounts=[{"mountpoint": "/",
                                 "origin": "127.0.0.1:9"}],
                        control_users=["no-such-user-xyz"])
    rc, err = bench.check(json.dumps(conf, indent=2))
    assert rc == 1
    assert 'control_users[0]: no such user "no-such-user-xyz"' in err


def test_no_control_socket(bench):
    """"control": null: no socket, and uxrpctl says it is not running."""
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}])
    path = conf["control"]
    conf["control"] = None
    d = bench.daemon(conf)
    assert not os.path.exists(path)
    d.control = path
    p = d.ctl("show")
    assert p.returncode == 1 and "not running" in p.stderr
    assert request(d.port).status == 200


def test_socket_removed_at_exit(bench):
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}])
    d = bench.daemon(conf)
    assert os.path.exists(d.control)
    assert d.stop() == 0
    assert not os.path.exists(d.control)
