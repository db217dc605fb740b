"""uxrpctl check: for each origin, what a worker will face, tried now;
one line per origin, exit 1 when any fails."""

import os
import socket

import pytest

from conftest import IS_ROOT, needs_root
from origins import Echo


def test_all_ok(bench):
    o = bench.origin(Echo(), name="good")
    inside = bench.origin(Echo(), name="in", inside=True) if IS_ROOT \
        else None
    mounts = [{"mountpoint": "/a/", "origin": o.lws("/")},
              {"mountpoint": "/t/", "origin": "127.0.0.1:%d" %
               bench.origin(Echo(), tcp=True).port}]
    if inside:
        mounts.append({"mountpoint": "/i/", "origin": inside.unix()})
    d = bench.daemon(bench.config(mounts=mounts))
    p = d.ctl("check")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().split("\n")
    assert len(lines) == len(mounts)
    assert all(": ok: " in l for l in lines), lines
    assert any("tcp, reached by the worker" in l for l in lines)
    if IS_ROOT:
        assert any("reached by the master" in l for l in lines)
        assert any("reached by the worker; connected" in l and "in.sock"
                   in l for l in lines)


def test_missing_socket_fails(bench):
    o = bench.origin(Echo(), name="there")
    conf = bench.config(mounts=[
        {"mountpoint": "/a/", "origin": o.unix()},
        {"mountpoint": "/b/", "origin": "unix:" + bench.path("gone.sock")}])
    d = bench.daemon(conf)
    p = d.ctl("check")
    assert p.returncode == 1
    out = p.stdout + p.stderr
    assert "gone.sock: FAIL: " in out and "No such file" in out
    assert "there.sock: ok: " in out


def test_refused_socket_fails(bench):
    path = bench.path("stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    d = bench.daemon(bench.config(mounts=[
        {"mountpoint": "/", "origin": "unix:" + path}]))
    p = d.ctl("check")
    assert p.returncode == 1
    assert "connect: Connection refused" in p.stdout + p.stderr


def test_identity_mismatch_fails(bench):
    o = bench.origin(Echo(), name="who")
    d = bench.daemon(bench.config(mounts=[
        {"mountpoint": "/", "origin": o.unix(), "origin_user": 4242}]))
    p = d.ctl("check")
    assert p.returncode == 1
    out = p.stdout + p.stderr
    assert "listened on by uid %d" % os.getuid() in out
    assert "not the configured origin_user" in out


@needs_root
def test_worker_user_denied_fails(bench):
    o = bench.origin(Echo(), name="private", inside=True)
    os.chmod(o.path, 0o600)
    d = bench.daemon(bench.config(mounts=[
        {"mountpoint": "/", "origin": o.unix()}]))
    p = d.ctl("check")
    assert p.returncode == 1
    out = p.stdout + p.stderr
    assert "the worker's user" in out and "Permission denied" in out
