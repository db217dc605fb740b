"""Fixtures of the uxrpd integration suite.

A Bench owns one temporary directory (and, as root, a chroot
directory), the fake origins and the daemons a test starts, and stops
all of them by pid when the test ends, whether it passed or not.
`bench` is per test, `mbench` per module (for modules that share one
daemon across many small cases).

After every test the log of every daemon is checked for sanitizer
reports and for workers that died while nobody meant to kill one.

Environment: UXRPD, the absolute path of the daemon (default: the
repository's ./uxrpd); SANITIZE=1 when it carries ASan and UBSan
(timing bounds widen, big transfers shrink).
"""

import json
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from origins import FakeOrigin  # noqa: E402

TOP = os.path.dirname(os.path.dirname(HERE))
UXRPD = os.environ.get("UXRPD") or os.path.join(TOP, "uxrpd")
UXRPCTL = os.environ.get("UXRPCTL") or os.path.join(
    os.path.dirname(UXRPD), "uxrpctl")
SANITIZE = os.environ.get("SANITIZE") == "1"
IS_ROOT = os.geteuid() == 0
SCALE = 3.0 if SANITIZE else 1.0        # widen timing bounds under ASan
WORKER_USER = "nobody"

needs_root = pytest.mark.skipif(
    not IS_ROOT, reason="needs root: the daemon chroots and changes user "
    "only when started as root")

_SANITIZER = re.compile(r"==\d+==ERROR: |runtime error: |AddressSanitizer|"
                        r"LeakSanitizer|UndefinedBehaviorSanitizer")
_DEATH = re.compile(r"worker.*terminated", re.I)

ALL_DAEMONS = []


# small helpers

def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def shared_tmpdir(prefix="uxrp-t-"):
    """A short path under /tmp that the worker user may search."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def proc_stat(pid):
    """(state, ppid) of a process, None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def proc_alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def proc_children(ppid):
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and st[1] == ppid and st[0] != "Z":
            kids.append(int(name))
    return sorted(kids)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("latin-1").strip()
    except OSError:
        return ""


def vmrss_kb(pid):
    try:
        return int(proc_status(pid).get("VmRSS", "0 kB").split()[0])
    except (OSError, ValueError):
        return 0


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            return v
        time.sleep(step)


# the daemon

class Daemon:
    """One uxrpd started with -d, stderr captured to a file."""

    def __init__(self, bench, conf, as_user=None, env=None, name=None,
                 args=(), nofile=None):
        bench.seq += 1
        self.bench = bench
        self.name = name or "uxrpd%d" % bench.seq
        self.conf = conf
        self.conf_path = os.path.join(bench.dir, self.name + ".conf")
        self.err_path = os.path.join(bench.dir, self.name + ".err")
        self.as_user = as_user
        self.env = env
        self.args = list(args)
        self.nofile = nofile        # a lower soft descriptor limit
        self.proc = None
        self.seen_workers = set()
        self.allow_deaths = False
        self.checked = 0
        self.stop_offset = None
        self.port = self.port6 = self.unix_path = None
        for l in conf.get("listen", []):
            if l.get("address") == "127.0.0.1" and self.port is None:
                self.port = l["port"]
            elif l.get("address") == "::1" and self.port6 is None:
                self.port6 = l["port"]
            elif "path" in l and self.unix_path is None:
                self.unix_path = l["path"]
        self.access_log = conf.get("access_log")
        self.control = conf.get("control")

    @property
    def pid(self):
        return self.proc.pid

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            json.dump(self.conf, f, indent=2)
        os.chmod(self.conf_path, 0o644)

    def start(self, wait=True):
        if not os.access(UXRPD, os.X_OK):
            pytest.fail("no daemon to test at %s (run make, or set UXRPD)"
                        % UXRPD)
        self.write_conf()
        cmd = [UXRPD, "-d"] + self.args + ["-f", self.conf_path]
        if self.as_user:
            cmd = ["setpriv", "--reuid=" + self.as_user, "--regid=nogroup",
                   "--clear-groups"] + cmd
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.errf = open(self.err_path, "wb")
        pre = None
        if self.nofile is not None:
            def pre():
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE,
                                   (self.nofile, hard))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.errf, stderr=self.errf,
                                     env=env, cwd=self.bench.dir,
                                     start_new_session=True,
                                     preexec_fn=pre)
        ALL_DAEMONS.append(self)
        if wait:
            self.wait_ready()
        return self

    def log(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, regex, timeout=5.0, since=0, flags=re.I):
        """The first match of regex in the log after offset `since`."""
        pat = re.compile(regex, flags)

        def look():
            return pat.search(self.log(), since)
        return wait_for(look, timeout * SCALE)

    def wait_ready(self, timeout=10.0):
        pat = re.compile(r"\bready\b", re.I)
        end = time.monotonic() + timeout * SCALE
        while time.monotonic() < end:
            if pat.search(self.log()):
                self.workers()
                return
            if self.proc.poll() is not None:
                pytest.fail("uxrpd exited with status %s before ready:\n%s"
                            % (self.proc.returncode, self.log()))
            time.sleep(0.05)
        pytest.fail("uxrpd not ready within %.0fs:\n%s"
                    % (timeout * SCALE, self.log()))

    def workers(self):
        kids = proc_children(self.pid) if self.proc else []
        self.seen_workers.update(kids)
        return kids

    def ctl(self, *args, as_user=None, json_out=False, timeout=60.0):
        """Run uxrpctl against this daemon's control socket; returns
        the CompletedProcess (text)."""
        cmd = [UXRPCTL, "-s", self.control]
        if json_out:
            cmd.append("-j")
        cmd += [str(a) for a in args]
        if as_user:
            cmd = ["setpriv", "--reuid=" + as_user, "--regid=nogroup",
                   "--clear-groups"] + cmd
        return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout * SCALE, text=True)

    def ctl_json(self, *args):
        p = self.ctl(*args, json_out=True)
        assert p.returncode == 0, (p.stdout, p.stderr)
        return json.loads(p.stdout)

    def rewrite_conf(self, conf):
        """A new configuration in the same file, for a reload."""
        self.conf = conf
        self.write_conf()

    def workers_rss_kb(self):
        return sum(vmrss_kb(p) for p in self.workers())

    def access_lines(self):
        try:
            with open(self.access_log, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()
        except (OSError, TypeError):
            return []

    def wait_access(self, pred, timeout=3.0):
        def look():
            return [l for l in self.access_lines() if pred(l)]
        return wait_for(look, timeout * SCALE)

    def send_signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Stop the master by pid, then any worker it left behind.
        Returns the exit status of the master."""
        if self.proc is None:
            return None
        if timeout is None:
            drain = self.conf.get("timeouts", {}).get("drain", 30)
            timeout = (drain + 5) * SCALE
        if self.proc.poll() is None:
            self.workers()
            if self.stop_offset is None:
                self.stop_offset = len(self.log())
            try:
                os.kill(self.pid, sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        self.reap_workers()
        if not self.errf.closed:
            self.errf.close()
        return self.proc.returncode

    def reap_workers(self, timeout=5.0):
        """SIGKILL, by pid, any worker of ours still alive."""
        end = time.monotonic() + timeout * SCALE
        left = [p for p in self.seen_workers
                if proc_alive(p) and "uxrpd" in proc_cmdline(p)]
        while left and time.monotonic() < end:
            time.sleep(0.05)
            left = [p for p in left if proc_alive(p)]
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return left

    def problems(self):
        """Sanitizer reports and unexpected worker deaths logged since
        the last check."""
        text = self.log()
        new = text[self.checked:]
        found = []
        for line in new.splitlines():
            if _SANITIZER.search(line):
                found.append(line)
        limit = len(text) if self.stop_offset is None else self.stop_offset
        if not self.allow_deaths and limit > self.checked:
            for line in text[self.checked:limit].splitlines():
                if _DEATH.search(line):
                    found.append(line)
        self.checked = len(text)
        return found


class Bench:
    """Temporary directories, fake origins and daemons of one test (or
    one module), all stopped and removed by close()."""

    def __init__(self):
        self.dir = shared_tmpdir()
        self.chroot = shared_tmpdir("uxrp-c-") if IS_ROOT else None
        # Control sockets: any daemon may bind here, as root or not.
        self.ctldir = shared_tmpdir("uxrp-s-")
        os.chmod(self.ctldir, 0o1777)
        self.origins = []
        self.daemons = []
        self.seq = 0
        self.oseq = 0

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def origin(self, behaviour=None, name=None, tcp=False, inside=False,
               **kw):
        """Start a fake origin: a Unix socket in the bench directory,
        in CHROOT/run/ when `inside`, or TCP on 127.0.0.1."""
        self.oseq += 1
        name = name or "o%d" % self.oseq
        path = None
        if not tcp:
            if inside:
                if self.chroot is None:
                    pytest.skip("no chroot when not root")
                run = os.path.join(self.chroot, "run")
                os.makedirs(run, exist_ok=True)
                os.chmod(run, 0o755)
                path = os.path.join(run, name + ".sock")
            else:
                path = self.path(name + ".sock")
        o = FakeOrigin(behaviour, path=path, tcp=tcp, name=name, **kw)
        o.start()
        self.origins.append(o)
        return o

    def config(self, mounts=None, vhosts=None, v6=False, unix=False,
               **kw):
        """A configuration for this bench: one 127.0.0.1 listener on a
        free port (and ::1, a Unix socket when asked), the chroot and
        user as root, short timeouts, one vhost "a.test" with `mounts`
        unless `vhosts` is given. Keyword arguments override keys;
        "timeouts" and "limits" are merged."""
        n = self.seq + 1
        listen = [{"address": "127.0.0.1", "port": free_port()}]
        if v6:
            listen.append({"address": "::1", "port": free_port("::1")})
        if unix:
            listen.append({"path": self.path("front%d.sock" % n),
                           "mode": "0666"})
        conf = {
            "control": os.path.join(self.ctldir, "ctl%d.sock" % n),
            "user": WORKER_USER,
            "chroot": self.chroot,
            "workers": 1,
            "access_log": self.path("access%d.log" % n),
            "listen": listen,
            "timeouts": {"connect": 5, "request_header": 10,
                         "origin_response": 20, "idle": 30, "drain": 5},
            "vhosts": vhosts if vhosts is not None else
            [{"names": ["a.test"], "mounts": mounts or []}],
        }
        for k, v in kw.items():
            if k in ("timeouts", "limits") and isinstance(v, dict):
                conf.setdefault(k, {}).update(v)
            else:
                conf[k] = v
        return conf

    def daemon(self, conf, start=True, **kw):
        d = Daemon(self, conf, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def check(self, conf_text, name="t.conf", extra=()):
        """uxrpd -n -f NAME in the bench directory (so that messages
        start with NAME); returns (status, stderr text)."""
        if not os.access(UXRPD, os.X_OK):
            pytest.fail("no daemon to test at %s" % UXRPD)
        with open(self.path(name), "w") as f:
            f.write(conf_text)
        p = subprocess.run([UXRPD, "-n", "-f", name] + list(extra),
                           cwd=self.dir, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30 * SCALE)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    def close(self):
        """Stop everything; returns what the daemons' logs show that
        they should not (read before the directory goes)."""
        for d in self.daemons:
            try:
                d.stop()
            except Exception:
                pass
        for o in self.origins:
            o.stop()
        found = []
        for d in self.daemons:
            for line in d.problems():
                found.append("%s: %s" % (d.name, line))
            if d in ALL_DAEMONS:
                ALL_DAEMONS.remove(d)
        for d in (self.dir, self.chroot, self.ctldir):
            if d:
                shutil.rmtree(d, ignore_errors=True)
        return found


def _close_and_check(b):
    found = b.close()
    if found:
        pytest.fail("daemon log:\n" + "\n".join(found), pytrace=False)


@pytest.fixture
def bench():
    b = Bench()
    yield b
    _close_and_check(b)


@pytest.fixture(scope="module")
def mbench():
    b = Bench()
    yield b
    _close_and_check(b)


@pytest.fixture(autouse=True)
def _daemon_watch():
    """After each test: no sanitizer report, no unexpected worker
    death in the log of any daemon."""
    yield
    found = []
    for d in ALL_DAEMONS:
        for line in d.problems():
            found.append("%s: %s" % (d.name, line))
    if found:
        pytest.fail("daemon log:\n" + "\n".join(found), pytrace=False)


def pytest_report_header(config):
    return ["uxrpd under test: %s%s, %s" % (
        UXRPD, " (ASan+UBSan)" if SANITIZE else "",
        "as root" if IS_ROOT else "as uid %d (root-only tests skipped)"
        % os.getuid())]


def user_ids(name):
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid
