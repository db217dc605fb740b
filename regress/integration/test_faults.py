"""Process faults, the cases test_processes.py and test_origin_errors.py
leave out: a worker killed with SIGKILL leaves the other worker's
connections, even one with a request in flight, untouched; an origin
that was serving goes away (socket gone, or a stale socket file left
behind) -- 503 at once, never a hang -- and is used again as soon as it
is back; the master killed under load takes its workers with it and
leaves nothing listening; an access log on a full disk (a tiny tmpfs,
or /dev/full) never stops a request and is reported once; a worker out
of descriptors answers 503 and lives on, closes idle origin
connections to accept new clients, keeps its access log when a reopen
finds no descriptor, and its health checks do not mark the origin down
meanwhile."""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from client import Conn, build, request
from conftest import (IS_ROOT, SCALE, proc_alive, proc_cmdline,
                      wait_for)
from origins import Echo, FakeOrigin, Slow


def socket_inodes(pid):
    out = set()
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            link = os.readlink(os.path.join(d, name))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def tcp_inode(local_port, remote_port):
    """Inode of the server side of a 127.0.0.1 connection."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            lport = int(p[1].split(":")[1], 16)
            rport = int(p[2].split(":")[1], 16)
            if lport == local_port and rport == remote_port:
                return int(p[9])
    return None


def owner(d, c, workers):
    ino = tcp_inode(d.port, c.sock.getsockname()[1])
    for w in workers:
        if ino is not None and ino in socket_inodes(w):
            return w
    return None


def test_kill_worker_leaves_other_connections(bench):
    """Keep-alive connections spread over two workers; one worker is
    killed: the connections it held are closed at once (no hang), every
    connection of the other worker answers its next request, and one
    of them that had a request in flight gets its whole answer."""
    o = bench.origin(Slow(0.0))
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        workers=2)
    d = bench.daemon(conf)
    d.allow_deaths = True
    workers = d.workers()
    assert len(workers) == 2
    conns = []
    try:
        for i in range(16):
            c = Conn(d.port, timeout=10 * SCALE)
            c.send(build("GET", "/warm%d" % i))
            assert c.read_response().status == 200
            conns.append(c)
        owners = {id(c): owner(d, c, workers) for c in conns}
        by = {w: [c for c in conns if owners[id(c)] == w] for w in workers}
        if not by[workers[0]] or not by[workers[1]]:
            pytest.skip("the kernel gave every connection to one worker: "
                        "%r" % {w: len(v) for w, v in by.items()})
        victim, survivor = workers
        # a request in flight on the survivor while the victim dies
        o.behaviour = Slow(1.0)
        slow = by[survivor][0]
        slow.send(build("GET", "/inflight"))
        time.sleep(0.2)
        os.kill(victim, signal.SIGKILL)
        r = slow.read_response(timeout=10 * SCALE)
        assert r.status == 200
        o.behaviour = Slow(0.0)
        for c in by[victim]:
            assert c.wait_eof(5 * SCALE), "victim's connection hangs"
        for c in by[survivor]:
            c.send(build("GET", "/after"))
            assert c.read_response().status == 200
        assert survivor in d.workers()
        new = wait_for(lambda: len(d.workers()) == 2 and
                       victim not in d.workers(), 5 * SCALE)
        assert new, d.workers()
    finally:
        for c in conns:
            c.close()


@pytest.mark.parametrize("how", ["removed", "stale"])
def test_origin_restarted(bench, how):
    """An origin with pooled connections goes away: the next requests
    get 503 at once (the pooled connections are not used), and once it
    listens again at the same path it serves without any operator
    action."""
    o = bench.origin(Echo(), name="restart")
    path = o.path
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        workers=1, timeouts={"connect": 2})
    d = bench.daemon(conf)
    with Conn(d.port) as c:
        for i in range(3):
            c.send(build("GET", "/up%d" % i))
            assert c.read_response().status == 200
    o.stop()
    if how == "stale":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        os.chmod(path, 0o666)
        s.close()
    for i in range(3):
        t0 = time.monotonic()
        r = request(d.port, target="/down%d" % i, timeout=10 * SCALE)
        assert r.status == 503, r
        assert time.monotonic() - t0 < 1.5 * SCALE
    o2 = FakeOrigin(Echo(), path=path, name="restart2").start()
    bench.origins.append(o2)
    ok = wait_for(lambda: request(d.port, target="/back").status == 200,
                  5 * SCALE, step=0.2)
    assert ok, "origin not used again"
    assert o2.wait_requests(1)
    assert request(d.port, target="/back2").status == 200


NOFILE = 64     # the soft descriptor limit of a starved daemon


def worker_fds(pid):
    return {int(n) for n in os.listdir("/proc/%d/fd" % pid)}


def starved_daemon(bench, o, check=None, **kw):
    """One worker, started with NOFILE descriptors, in front of origin
    o at "/"; returns the daemon and the worker's pid."""
    mount = {"mountpoint": "/", "origin": o.lws("/")}
    if check is not None:
        mount["check"] = check
    d = bench.daemon(bench.config(mounts=[mount], workers=1, **kw),
                     nofile=NOFILE)
    workers = d.workers()
    assert len(workers) == 1
    return d, workers[0]


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_worker_out_of_descriptors(bench, where):
    """A worker at its descriptor limit accepts a client but cannot
    hold a connection to the origin (passed by the master for a socket
    outside the chroot, its own socket inside it or without one): the
    request gets 503 once the connect timeout has passed, with the
    cause worker-descriptors; the worker lives on, the origin is not
    marked down, and with descriptors again the next request is
    served."""
    o = bench.origin(Echo(), name="fds", inside=where == "inside")
    d, w = starved_daemon(bench, o, timeouts={"connect": 1})
    used = worker_fds(w)
    free = [n for n in range(NOFILE) if n not in used]
    holders = []
    try:
        # Idle clients hold every free number but one.
        for i in range(len(free) - 1):
            holders.append(socket.create_connection(("127.0.0.1", d.port)))
        assert wait_for(lambda: len(worker_fds(w)) == NOFILE - 1,
                        5 * SCALE), (len(worker_fds(w)), NOFILE)
        t0 = time.monotonic()
        r = request(d.port, target="/starved", timeout=10 * SCALE)
        took = time.monotonic() - t0
    finally:
        for h in holders:
            h.close()
    assert r.status == 503, r
    assert took >= 0.9, took
    line = d.wait_access(lambda l: "/starved" in l)
    assert line and "worker-descriptors" in line[0], line
    assert not o.requests
    assert wait_for(lambda: len(worker_fds(w)) < NOFILE - 8, 5 * SCALE)
    r = request(d.port, target="/fed")
    assert r.status == 200, r
    assert o.wait_requests(1)[0].target == "/fed"
    assert d.workers() == [w]
    assert "down" not in d.log().lower(), d.log()


def test_idle_origin_connections_shed(bench):
    """Out of descriptors with idle origin connections: 16 of them are
    closed, so that new clients are accepted at once rather than wait
    in the backlog, and served on one of those left."""
    o = bench.origin(Slow(0.3), name="shed")
    d, w = starved_daemon(bench, o, timeouts={"connect": 1})
    base = len(worker_fds(w))
    ts = [threading.Thread(target=request, args=(d.port,),
                           kwargs={"target": "/burst%d" % i})
          for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10 * SCALE)
    assert o.connection_count == 20
    # The burst's clients gone, its origin connections idle.
    assert wait_for(lambda: len(worker_fds(w)) == base + 20, 5 * SCALE)
    holders = []
    try:
        for i in range(NOFILE - base - 20):
            holders.append(socket.create_connection(("127.0.0.1", d.port)))
        # Taking the last number, the worker finds none for its next
        # accept: 16 idle connections give theirs.
        assert wait_for(lambda: len(worker_fds(w)) == NOFILE - 16,
                        5 * SCALE), len(worker_fds(w))

        def closed():
            with o.lock:
                return sum(1 for c in o.conns if c.closed)
        assert wait_for(lambda: closed() == 16, 5 * SCALE), closed()
        t0 = time.monotonic()
        r = request(d.port, target="/late", timeout=5 * SCALE)
        took = time.monotonic() - t0
    finally:
        for h in holders:
            h.close()
    assert r.status == 200, r
    assert took < 0.3 + 0.5 * SCALE, took
    assert o.connection_count == 20
    assert o.last().target == "/late"


def test_log_reopen_out_of_descriptors(bench):
    """A log reopen that reaches a worker with no descriptor left is
    reported, and the worker goes on writing to the old file; the next
    reopen moves it to the new one."""
    o = bench.origin(Echo(), name="logs")
    d, w = starved_daemon(bench, o)
    assert request(d.port, target="/first").status == 200
    assert d.wait_access(lambda l: "/first" in l)
    rotated = d.access_log + ".1"
    os.rename(d.access_log, rotated)
    holders = []
    try:
        for i in range(NOFILE - len(worker_fds(w)) + 2):
            holders.append(socket.create_connection(("127.0.0.1", d.port)))
        assert wait_for(lambda: len(worker_fds(w)) >= NOFILE, 5 * SCALE)
        p = d.ctl("log", "reopen")
        assert p.returncode == 0, p.stderr
        assert d.wait_log(r"access log reopen: no descriptor left", 5)
    finally:
        for h in holders:
            h.close()
    assert request(d.port, target="/second").status == 200
    assert wait_for(lambda: "/second" in open(rotated).read(), 5 * SCALE)
    assert d.workers() == [w]
    p = d.ctl("log", "reopen")
    assert p.returncode == 0, p.stderr
    assert request(d.port, target="/third").status == 200
    assert d.wait_access(lambda l: "/third" in l)
    assert "/third" not in open(rotated).read()


def test_health_check_out_of_descriptors(bench):
    """Health checks that cannot connect because the worker has no
    descriptor left do not mark the origin down."""
    o = bench.origin(Echo(), name="chk")
    d, w = starved_daemon(bench, o, check={"path": "/healthz",
                                           "interval": 1, "timeout": 1},
                          timeouts={"connect": 1})
    assert o.wait_requests(1)       # the first check, at start
    holders = []
    try:
        # More clients than free numbers: the rest wait in the backlog.
        for i in range(NOFILE - len(worker_fds(w)) + 2):
            holders.append(socket.create_connection(("127.0.0.1", d.port)))
        assert wait_for(lambda: len(worker_fds(w)) >= NOFILE, 5 * SCALE)
        o.reset()
        time.sleep(2.5)             # two checks, or more
        starved = list(o.requests)
    finally:
        for h in holders:
            h.close()
    assert not starved
    assert o.wait_requests(1, timeout=5 * SCALE)
    assert request(d.port, target="/after").status == 200
    assert "down" not in d.log().lower(), d.log()


def test_master_killed_under_load(bench):
    """SIGKILL to the master while four clients loop: every worker exits
    within 5 s, none is left reparented, and nothing listens on the
    port afterwards."""
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        workers=2)
    d = bench.daemon(conf)
    d.allow_deaths = True
    workers = d.workers()
    assert len(workers) == 2
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                request(d.port, target="/loop", timeout=2)
            except Exception:
                time.sleep(0.05)

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        os.kill(d.pid, signal.SIGKILL)
        d.proc.wait(5)
        gone = wait_for(lambda: not [w for w in workers if proc_alive(w)],
                        5 * SCALE)
        left = [(w, proc_cmdline(w)) for w in workers if proc_alive(w)]
        assert gone, "orphan workers: %r" % left
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        with pytest.raises(OSError):
            s.connect(("127.0.0.1", d.port))
    finally:
        s.close()


def full_log_dir(bench, how):
    """A directory whose access log cannot take a byte."""
    if how == "devfull":
        p = bench.path("full.log")
        os.symlink("/dev/full", p)
        return p, None
    if not IS_ROOT:
        pytest.skip("needs root: mounts a tmpfs")
    mnt = bench.path("tiny")
    os.mkdir(mnt)
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0755",
                         "tmpfs", mnt], stderr=subprocess.PIPE)
    if rc.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % rc.stderr.decode().strip())
    p = os.path.join(mnt, "access.log")
    open(p, "w").close()
    # fill it: the log file exists, no block is left for it
    try:
        with open(os.path.join(mnt, "filler"), "wb") as f:
            for _ in range(64):
                f.write(b"f" * 4096)
                f.flush()
    except OSError:
        pass
    return p, mnt


@pytest.mark.parametrize("how", ["tmpfs", "devfull"])
def test_access_log_on_full_disk(bench, how):
    path, mnt = full_log_dir(bench, how)
    try:
        o = bench.origin(Echo())
        conf = bench.config(
            mounts=[{"mountpoint": "/", "origin": o.lws("/")}], workers=1,
            access_log=path)
        d = bench.daemon(conf)
        since = len(d.log())
        for i in range(10):
            assert request(d.port, target="/full%d" % i).status == 200
        assert o.wait_requests(10)
        time.sleep(0.3)
        lines = [l for l in d.log()[since:].splitlines()
                 if "access log" in l.lower()]
        assert len(lines) == 1, d.log()[since:]
        assert "no space" in lines[0].lower() or "enospc" in \
            lines[0].lower(), lines[0]
        if mnt is not None:
            os.unlink(os.path.join(mnt, "filler"))
            assert request(d.port, target="/room").status == 200

            def logged():
                with open(path) as f:
                    return "/room" in f.read()
            # The line is written once the answer has gone out.
            assert wait_for(logged, 3 * SCALE)
        d.stop()
    finally:
        if mnt is not None:
            subprocess.run(["umount", "-l", mnt])


def test_access_log_removed(bench):
    """The access log file is deleted under the daemon: requests are
    still served (the lines go to the open file)."""
    o = bench.origin(Echo())
    conf = bench.config(mounts=[{"mountpoint": "/", "origin": o.lws("/")}],
                        workers=1)
    d = bench.daemon(conf)
    assert request(d.port, target="/a").status == 200
    os.unlink(d.access_log)
    for i in range(5):
        assert request(d.port, target="/gone%d" % i).status == 200
