"""Processes: titles, worker count; as root the workers run as nobody
(all four ids, no capabilities) inside the chroot while the master
stays root; serving workers are under a seccomp filter; origins outside the chroot are connected by the master,
inside it by the worker (SO_PEERCRED at the origin); a worker killed
with SIGKILL is logged and replaced and the others keep serving;
SIGTERM drains in-flight requests, exits 0 and removes Unix listener
sockets; workers follow a SIGKILLed master; Unix listeners get their
mode, a stale socket file is replaced but a live one is not; run as a
normal user the daemon warns and proxies."""

import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from client import Conn, build, request
from conftest import (IS_ROOT, SCALE, UXRPD, WORKER_USER, needs_root,
                      proc_alive, proc_cmdline, proc_status, user_ids,
                      wait_for)
from origins import Echo, Slow


def simple(bench, behaviour=None, workers=2, **kw):
    o = bench.origin(behaviour or Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        workers=workers, **kw)
    return o, conf


def ids(status, key):
    return [int(x) for x in status[key].split()]


def test_titles_and_worker_count(bench):
    _, conf = simple(bench, workers=2)
    d = bench.daemon(conf)
    assert "uxrpd: master" in proc_cmdline(d.pid)
    workers = d.workers()
    assert len(workers) == 2
    for w in workers:
        assert "uxrpd: worker" in proc_cmdline(w), proc_cmdline(w)
    assert request(d.port).status == 200


def test_verbose_logs_more(bench):
    _, conf = simple(bench, workers=1)
    quiet = bench.daemon(conf)
    assert request(quiet.port, target="/q").status == 200
    _, conf = simple(bench, workers=1)
    loud = bench.daemon(conf, args=["-v"])
    assert request(loud.port, target="/v").status == 200
    time.sleep(0.3)
    assert len(loud.log().splitlines()) > len(quiet.log().splitlines()), \
        (quiet.log(), loud.log())


@needs_root
def test_workers_chrooted_as_nobody(bench):
    _, conf = simple(bench, workers=2)
    d = bench.daemon(conf)
    uid, gid = user_ids(WORKER_USER)
    root = os.path.realpath(bench.chroot)
    workers = d.workers()
    assert len(workers) == 2
    for w in workers:
        st = proc_status(w)
        assert ids(st, "Uid") == [uid] * 4, st["Uid"]
        assert ids(st, "Gid") == [gid] * 4, st["Gid"]
        assert set(int(g) for g in st["Groups"].split()) <= {gid}, \
            st["Groups"]
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        assert os.readlink("/proc/%d/root" % w) == root
    st = proc_status(d.pid)
    assert ids(st, "Uid")[0] == 0 and ids(st, "Uid")[1] == 0
    assert os.readlink("/proc/%d/root" % d.pid) == "/"
    assert not [l for l in d.log().splitlines() if "not running as root" in l]
    assert request(d.port).status == 200


@pytest.mark.skipif(not os.path.exists("/proc/self/status") or
                    "Seccomp:" not in open("/proc/self/status").read(),
                    reason="no seccomp in this kernel")
def test_workers_sandboxed(bench):
    """Serving workers run under a seccomp filter with no_new_privs set;
    the master, which binds and opens files on reload, does not.
    Requests still go through."""
    o, conf = simple(bench, workers=2)
    d = bench.daemon(conf)
    assert request(d.port, target="/sandboxed").status == 200
    assert o.last().target == "/sandboxed"
    for w in d.workers():
        st = proc_status(w)
        assert st["NoNewPrivs"] == "1", st
        assert st["Seccomp"] == "2", st
        assert int(st.get("Seccomp_filters", "1")) >= 1, st
    assert proc_status(d.pid)["Seccomp"] == "0"
    assert not [l for l in d.log().splitlines() if "terminated" in l], \
        d.log()


@needs_root
def test_origin_connected_by_master_or_worker(bench):
    out_o = bench.origin(Echo(), name="out")
    in_o = bench.origin(Echo(), name="in", inside=True)
    conf = bench.config(mounts=[
        {"mountpoint": "/out/", "origin": out_o.lws("/")},
        {"mountpoint": "/in/", "origin": in_o.unix()}], workers=1)
    d = bench.daemon(conf)
    uid, _ = user_ids(WORKER_USER)
    assert request(d.port, target="/out/x").status == 200
    assert request(d.port, target="/in/y").status == 200
    assert out_o.last().target == "/x"
    assert in_o.last().target == "/y"
    workers = d.workers()
    # SO_PEERCRED names the process that called connect()
    pid, puid, _ = out_o.conns[0].peer
    assert (pid, puid) == (d.pid, 0), "outside the chroot: the master " \
        "connects (peer pid %d, workers %r)" % (pid, workers)
    pid, puid, _ = in_o.conns[0].peer
    assert pid in workers and puid == uid, \
        "inside the chroot: the worker connects (peer pid %d uid %d)" % (
            pid, puid)


def test_kill_worker_replaced(bench):
    _, conf = simple(bench, workers=2)
    d = bench.daemon(conf)
    d.allow_deaths = True
    before = d.workers()
    assert len(before) == 2
    victim, survivor = before
    stop = threading.Event()
    results = []
    lock = threading.Lock()

    def loop():
        while not stop.is_set():
            try:
                ok = request(d.port, target="/loop", timeout=5).status == 200
            except Exception:
                ok = False
            with lock:
                results.append((time.monotonic(), ok))

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        since = len(d.log())
        t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        assert d.wait_log(r"worker.*terminated", 5, since), d.log()
        new = wait_for(lambda: [p for p in d.workers() if p not in before],
                       5 * SCALE)
        t_new = time.monotonic()
        assert new, "no new worker: %r" % d.workers()
        assert t_new - t_kill < 2.0 * SCALE + 0.5
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    now = d.workers()
    assert survivor in now, "the other worker was replaced too"
    assert victim not in now
    assert len(now) == 2
    failed = [r for r in results if not r[1]]
    print("kill -9 worker: %d requests during the test, %d failed"
          % (len(results), len(failed)))
    # at most the request each client had in flight on the victim
    assert len(failed) <= len(threads), failed
    assert [request(d.port, target="/after").status for _ in range(20)] \
        == [200] * 20


def test_sigterm_drains_in_flight(bench):
    o, conf = simple(bench, Slow(1.5), workers=1, unix=True,
                     timeouts={"drain": 10})
    d = bench.daemon(conf)
    assert os.path.exists(d.unix_path)
    result = {}

    def slow():
        try:
            result["r"] = request(d.port, target="/slow", timeout=20)
        except Exception as e:
            result["e"] = e

    t = threading.Thread(target=slow)
    t.start()
    assert o.wait_requests(1, 5)
    workers = d.workers()
    d.send_signal(signal.SIGTERM)
    t.join(20)
    assert "r" in result, result.get("e")
    assert result["r"].status == 200
    try:
        rc = d.proc.wait(15 * SCALE)
    except subprocess.TimeoutExpired:
        rc = None
    assert rc == 0, d.log()
    assert not os.path.exists(d.unix_path), "Unix listener socket left"
    assert wait_for(lambda: not [w for w in workers if proc_alive(w)],
                    5 * SCALE)
    assert "terminated during shutdown" not in d.log()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_idle_exit(bench, sig):
    _, conf = simple(bench, workers=2, unix=True)
    d = bench.daemon(conf)
    workers = d.workers()
    t0 = time.monotonic()
    d.send_signal(sig)
    try:
        rc = d.proc.wait(10 * SCALE)
    except subprocess.TimeoutExpired:
        rc = None
    assert rc == 0, d.log()
    assert time.monotonic() - t0 < 3 * SCALE
    assert not os.path.exists(d.unix_path)
    assert wait_for(lambda: not [w for w in workers if proc_alive(w)],
                    5 * SCALE)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", d.port), timeout=2).close()


def test_master_sigkill_workers_follow(bench):
    _, conf = simple(bench, workers=2)
    d = bench.daemon(conf)
    workers = d.workers()
    assert len(workers) == 2
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait(5)
    gone = wait_for(lambda: not [w for w in workers if proc_alive(w)], 5.0)
    assert gone, "workers alive 5 s after the master died: %r" % [
        w for w in workers if proc_alive(w)]


def test_unix_listener_mode(bench):
    o, conf = simple(bench, workers=1)
    path = bench.path("front-mode.sock")
    conf["listen"].append({"path": path, "mode": "0660"})
    bench.daemon(conf)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    with Conn(path=path) as c:
        c.send(build("GET", "/m"))
        assert c.read_response().status == 200


def listen_queue(args, local):
    """The listen(2) backlog of a listening socket, as ss(8) reports it
    (Send-Q of a socket in state LISTEN)."""
    out = subprocess.run(["ss", "-Hl"] + args, capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        cols = line.split()
        if local in cols:
            return int(cols[cols.index(local) - 1])
    return None


def test_listener_backlog(bench):
    o, conf = simple(bench, workers=1)
    path = bench.path("front-backlog.sock")
    conf["listen"][0]["backlog"] = 77
    conf["listen"].append({"path": path, "backlog": 33})
    d = bench.daemon(conf)
    tcp = "127.0.0.1:%d" % d.port
    assert listen_queue(["-t", "-n"], tcp) == 77
    assert listen_queue(["-x"], path) == 33
    # a reload sets the queue of a listener it keeps
    conf = dict(d.conf)
    conf["listen"] = [dict(conf["listen"][0], backlog=99),
                      {"path": path, "backlog": 44}]
    d.rewrite_conf(conf)
    p = d.ctl("reload")
    assert p.returncode == 0, (p.stdout, p.stderr, d.log())
    assert listen_queue(["-t", "-n"], tcp) == 99
    assert listen_queue(["-x"], path) == 44
    with Conn(path=path) as c:
        c.send(build("GET", "/q"))
        assert c.read_response().status == 200


def test_listener_backlog_default(bench):
    _, conf = simple(bench, workers=1)
    d = bench.daemon(conf)
    assert listen_queue(["-t", "-n"], "127.0.0.1:%d" % d.port) == 511


def test_stale_unix_listener_replaced(bench):
    o, conf = simple(bench, workers=1)
    path = bench.path("front-stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()                       # a socket file nobody listens on
    conf["listen"].append({"path": path, "mode": "0666"})
    bench.daemon(conf)
    with Conn(path=path) as c:
        c.send(build("GET", "/stale"))
        assert c.read_response().status == 200


def test_live_unix_listener_not_replaced(bench):
    o, conf = simple(bench, workers=1)
    path = bench.path("front-live.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(1)
    try:
        conf["listen"].append({"path": path, "mode": "0666"})
        d = bench.daemon(conf, start=False)
        d.write_conf()
        p = subprocess.run([UXRPD, "-d", "-f", d.conf_path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20 * SCALE)
        assert p.returncode != 0
        assert path.encode() in p.stderr
        # still ours: a client reaches our socket
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(2)
            c.connect(path)
    finally:
        s.close()


@needs_root
def test_started_as_nobody(bench):
    """As root: start the daemon as nobody (setpriv), chroot null."""
    uid, gid = user_ids(WORKER_USER)
    probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                            "--clear-groups", "test", "-x", UXRPD],
                           timeout=10)
    if probe.returncode != 0:
        pytest.skip("nobody cannot execute %s" % UXRPD)
    o, conf = simple(bench, workers=1, chroot=None)
    log = conf["access_log"]
    open(log, "w").close()
    os.chown(log, uid, gid)
    d = bench.daemon(conf, as_user="nobody")
    warn = [l for l in d.log().splitlines() if "not running as root" in l]
    assert len(warn) == 1, d.log()
    st = proc_status(d.pid)
    assert ids(st, "Uid")[0] == uid
    r = request(d.port, target="/as-nobody")
    assert r.status == 200
    assert o.last().target == "/as-nobody"
    for w in d.workers():
        assert os.readlink("/proc/%d/root" % w) == "/"
        assert ids(proc_status(w), "Uid")[0] == uid
    assert d.wait_access(lambda l: "/as-nobody" in l)


def test_run_as_normal_user(bench):
    """When the suite itself runs unprivileged: one warning, proxying."""
    if IS_ROOT:
        pytest.skip("running as root: test_started_as_nobody covers this")
    o, conf = simple(bench, workers=1, chroot=None)
    d = bench.daemon(conf)
    warn = [l for l in d.log().splitlines() if "not running as root" in l]
    assert len(warn) == 1, d.log()
    assert request(d.port, target="/plain").status == 200
    assert o.last().target == "/plain"
