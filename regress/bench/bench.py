#!/usr/bin/python3
#
# bench.py: the body of `make bench` (started by regress/bench/run.sh,
# which installs the tools and raises the file descriptor limit first).
#
# One nginx origin on a Unix socket; uxrpd, nginx, HAProxy and h2o as
# proxies in front of it, each with one worker; wrk (HTTP/1.1) and
# h2load (h2c with prior knowledge, h2 over TLS 1.3) as clients. Prints
# one table and writes it as TSV. regress/bench/README explains the
# table and the knobs (BENCH_* environment variables).
#
# Standard library only. Every process started here is recorded and
# stopped by its pid on the way out, also after an error or a signal.

import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(BENCH))
PYTHON = "/usr/bin/python3"


def env_num(name, default, kind=float):
    v = os.environ.get(name, "")
    return kind(v) if v else default


QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
DURATION = max(1, int(env_num("BENCH_DURATION", 2 if QUICK else 3)))  # wrk: s
ROUNDS = max(2, env_num("BENCH_ROUNDS", 2, int))
SCALE_DURATION = env_num("BENCH_SCALE_DURATION", 1.5 if QUICK else 2.0)
SCALE_LEVELS = [int(x) for x in os.environ.get(
    "BENCH_SCALE", "10,100,1000,10000").split(",") if x]
IDLE_CONNS = env_num("BENCH_IDLE", 500 if QUICK else 2000, int)
# Held idle this long before VmRSS is read: past every proxy's own idle
# step (uxrpd parks an HTTP/2 connection after a second).
IDLE_SETTLE = 3.0
CONNS = 50
STREAMS = 10
CIPHER = "TLS_AES_128_GCM_SHA256"
PROXIES = [p for p in os.environ.get(
    "BENCH_PROXIES", "uxrpd,nginx,haproxy,h2o").split(",") if p]
PROTOS = ["h1", "h2c", "tls"]
ROUTES = ["/small", "/64k", "/1m", "/chunked"]
OUT = os.environ.get("BENCH_OUT", os.path.join(TOP, "obj", "bench"))
UXRPD = os.environ.get("UXRPD", os.path.join(TOP, "uxrpd"))
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
PHASES = os.environ.get("BENCH_PHASES", "idle,throughput,scaling").split(",")
# The whole run stays within this many seconds: runs that would end
# later are skipped and read n/a. By default 560 s (make bench, with
# its build, under 10 minutes), unless durations are set by hand.
_SET_BY_HAND = any(os.environ.get(v) for v in (
    "BENCH_DURATION", "BENCH_ROUNDS", "BENCH_SCALE_DURATION", "BENCH_SCALE",
    "BENCH_IDLE"))
BUDGET = env_num("BENCH_BUDGET", 0 if _SET_BY_HAND else 560)

SMALL_BODY = ("uxrp bench: the small response, one hundred bytes long, "
              "with a known Content-Length. 0123456789abcd\n")
assert len(SMALL_BODY) == 100
SIZES = {"/small": 100, "/64k": 65536, "/1m": 1048576, "/chunked": 65536}

T0 = time.monotonic()


def log(msg):
    print("bench: [%5.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


class Fatal(Exception):
    pass


# ---------------------------------------------------------------------
# Processes: every one is recorded here and stopped by its pid.

PROCS = []          # [name, Popen]


def spawn(name, argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, **kw)
    PROCS.append([name, p])
    return p


def children_of(pid):
    """Every descendant of pid, found through /proc."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        parent[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return out


def stop(entry, sig=signal.SIGTERM, wait=5.0):
    name, p = entry
    if p.poll() is None:
        kids = children_of(p.pid)
        try:
            p.send_signal(sig)
            p.wait(wait)
        except subprocess.TimeoutExpired:
            log("%s (pid %d) did not stop; killing it" % (name, p.pid))
            p.kill()
            p.wait()
        for k in kids:          # the children of a master killed hard
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
    if entry in PROCS:
        PROCS.remove(entry)


def stop_all():
    for entry in reversed(list(PROCS)):
        try:
            stop(entry)
        except Exception as e:          # keep stopping the others
            print("bench: stopping %s: %s" % (entry[0], e), file=sys.stderr)


def on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


# ---------------------------------------------------------------------
# /proc readings.

def proc_pids(root):
    return [root] + children_of(root)


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])      # utime, stime
    return total


CLK_TCK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU time a set of processes spends between start and stop:
    perf stat -e task-clock attached by pid, or, where perf cannot
    attach, utime+stime from /proc."""
    use_perf = True
    method = "perf stat -e task-clock -p PID"

    def __init__(self, pids, tmp):
        self.pids = pids
        self.out = os.path.join(tmp, "perf.out")
        self.perf = None
        if CpuMeter.use_perf:
            try:
                os.unlink(self.out)
            except OSError:
                pass
            self.perf = spawn("perf", [
                "perf", "stat", "-e", "task-clock", "-x", ",",
                "-o", self.out, "-p", ",".join(str(p) for p in pids)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # perf counts once it holds its perf_event descriptors.
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if self.perf.poll() is not None or perf_attached(
                        self.perf.pid):
                    break
                time.sleep(0.01)
        self.ticks = cpu_ticks(pids)

    def stop(self):
        """CPU seconds, or None."""
        ticks = cpu_ticks(self.pids) - self.ticks
        if not self.perf:
            return ticks / CLK_TCK
        entry = [e for e in PROCS if e[1] is self.perf]
        if entry:
            stop(entry[0], signal.SIGINT)
        try:
            with open(self.out) as f:
                for line in f:
                    fields = line.strip().split(",")
                    if len(fields) > 2 and fields[2].startswith(
                            "task-clock"):
                        if fields[0] == "<not counted>":    # never ran
                            return 0.0
                        return float(fields[0]) / 1000.0
        except (OSError, ValueError):
            pass
        return None


def perf_attached(pid):
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            if "perf_event" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                return True
    except OSError:
        pass
    return False


def probe_perf(tmp):
    """Can perf count this process's own CPU time?"""
    m = CpuMeter([os.getpid()], tmp)
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        pass
    v = m.stop()
    if not v:
        CpuMeter.use_perf = False
        CpuMeter.method = ("utime+stime from /proc/PID/stat over the run "
                           "(perf could not attach here)")


# ---------------------------------------------------------------------
# Setup: files, certificate, ports.

def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_port(port, proc, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Fatal("%s exited with status %d at start" %
                        (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise Fatal("%s does not listen on port %d" % (what, port))


def fill(template, out, values):
    with open(os.path.join(BENCH, "conf", template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z_0-9]+@", text)
    if left:
        raise Fatal("%s: unfilled %s" % (template, " ".join(left)))
    with open(out, "w") as f:
        f.write(text)
    return out


def make_files(tmp):
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    with open(os.path.join(www, "64k"), "wb") as f:
        f.write((b"0123456789abcdef" * 4096))
    with open(os.path.join(www, "1m"), "wb") as f:
        f.write(os.urandom(1048576))
    with open(os.path.join(www, "chunked"), "wb") as f:
        line = b"uxrp bench: chunked, of unknown length; 64 bytes a line........\n"
        assert len(line) == 64
        f.write(line * 1024)
    os.chmod(www, 0o755)
    for name in os.listdir(www):
        os.chmod(os.path.join(www, name), 0o644)
    crt, key = os.path.join(tmp, "bench.crt"), os.path.join(tmp, "bench.key")
    r = subprocess.run([
        "openssl", "req", "-x509", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
        "-keyout", key, "-out", crt],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise Fatal("openssl req: " + r.stderr.strip())
    pem = os.path.join(tmp, "bench.pem")
    with open(pem, "w") as f:
        f.write(open(crt).read() + open(key).read())
    # The clients of the idle-connection test offer this one suite only.
    sslconf = os.path.join(tmp, "client-openssl.cnf")
    with open(sslconf, "w") as f:
        f.write("openssl_conf = bench_conf\n[bench_conf]\n"
                "ssl_conf = bench_ssl\n[bench_ssl]\n"
                "system_default = bench_sys\n[bench_sys]\n"
                "MinProtocol = TLSv1.3\nCiphersuites = %s\n" % CIPHER)
    return crt, key, pem, sslconf


def curl(args, timeout=20):
    r = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "--max-time", str(timeout),
         "-w", "%{http_code} %{size_download} %{http_version}"] + args,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.returncode, r.stdout.split()


CURL_ERRORS = {7: "connection refused", 16: "HTTP/2 protocol error",
               35: "TLS handshake failed", 52: "empty reply",
               56: "connection reset", 92: "HTTP/2 stream error",
               28: "timeout", 1: "protocol not supported", 8: "bad response"}


# ---------------------------------------------------------------------
# The origin.

class Origin:
    def __init__(self, tmp, nofile):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "origin.sock")
        conf = fill("nginx-origin.conf.in", os.path.join(tmp, "origin.conf"),
                    {"DIR": tmp, "NOFILE": nofile,
                     "WORKER_CONNECTIONS": nofile - 100,
                     "SMALL": SMALL_BODY.replace("\n", "\\n")})
        self.proc = spawn("origin nginx",
                          ["nginx", "-c", conf, "-p", tmp + "/",
                           "-e", os.path.join(tmp, "origin-error.log")],
                          stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Fatal("the origin nginx did not start; see %s" %
                            os.path.join(tmp, "origin-error.log"))
            time.sleep(0.05)
        self.check()

    def check(self):
        for route, size in SIZES.items():
            r = subprocess.run(
                ["curl", "-sv", "-o", "/dev/null", "--unix-socket",
                 self.sock, "-w", "%{http_code} %{size_download}",
                 "http://localhost" + route],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.stdout.split() != ["200", str(size)]:
                raise Fatal("origin %s: %s" % (route, r.stdout))
            heads = r.stderr.lower()
            chunked = "< transfer-encoding: chunked" in heads
            if (route == "/chunked") != chunked:
                raise Fatal("origin %s: chunked framing is %s" %
                            (route, "on" if chunked else "off"))
        log("origin: nginx, 1 worker, %s; /chunked is "
            "Transfer-Encoding: chunked (checked)" % self.sock)


# ---------------------------------------------------------------------
# The proxies. Each listens on three ports: h1, h2c, tls.

class Proxy:
    name = "?"

    def __init__(self, tmp, ports, crt, key, pem, origin_sock, nofile):
        self.tmp, self.crt, self.key, self.pem = tmp, crt, key, pem
        self.port = dict(zip(PROTOS, ports))
        self.origin_sock = origin_sock
        self.nofile = nofile
        self.maxconn = min(max(SCALE_LEVELS + [CONNS, 3 * IDLE_CONNS]) + 100,
                           nofile - 100)
        self.proc = None
        self.entry = None
        self.na = {}            # protocol -> why it cannot be measured
        self.notes = {}         # (protocol, route) -> note from probing

    def values(self):
        return {"DIR": self.tmp, "NOFILE": self.nofile,
                "WORKER_CONNECTIONS": self.nofile - 100,
                "MAXCONN": self.maxconn, "CIPHER": CIPHER,
                "CRT": self.crt, "KEY": self.key, "PEM": self.pem,
                "PORT_H1": self.port["h1"], "PORT_H2C": self.port["h2c"],
                "PORT_TLS": self.port["tls"]}

    def argv(self):
        raise NotImplementedError

    def start(self):
        argv = self.argv()
        if argv is None:
            return
        errlog = open(os.path.join(self.tmp, self.name + ".stderr"), "w")
        self.proc = spawn(self.name, argv, stdout=errlog, stderr=errlog)
        self.entry = PROCS[-1]
        wait_port(self.port["h1"], self.proc, self.name)
        time.sleep(0.2)

    def restart(self):
        if self.entry:
            stop(self.entry)
        self.start()

    def pids(self):
        return proc_pids(self.proc.pid) if self.proc else []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def url(self, proto, route):
        scheme = "https" if proto == "tls" else "http"
        return "%s://127.0.0.1:%d%s" % (scheme, self.port[proto], route)

    def probe(self):
        """Which protocols this proxy serves, tried with curl."""
        for proto in PROTOS:
            if proto in self.na:
                continue
            extra = {"h1": ["--http1.1"],
                     "h2c": ["--http2-prior-knowledge"],
                     "tls": ["-k", "--http2", "--tlsv1.3",
                             "--tls13-ciphers", CIPHER]}[proto]
            for route in ROUTES:
                rc, out = curl(extra + [self.url(proto, route)])
                want = ["200", str(SIZES[route]),
                        "1.1" if proto == "h1" else "2"]
                if rc != 0 or out != want:
                    why = (CURL_ERRORS.get(rc, "curl exit %d" % rc) if rc
                           else "got %s" % " ".join(out))
                    if route == "/small":
                        self.na[proto] = why
                        break
                    self.notes[(proto, route)] = "probe: " + why
        served = [p for p in PROTOS if p not in self.na]
        log("%s: pids %s; serves %s%s" % (
            self.name, ",".join(str(p) for p in self.pids()),
            " ".join(served) or "nothing",
            "".join("; %s n/a (%s)" % kv for kv in self.na.items())))


class Uxrpd(Proxy):
    name = "uxrpd"

    def tls_listener(self):
        return uxrpd_tls_listener(self.port["tls"], self.crt, self.key)

    def argv(self):
        if not os.access(UXRPD, os.X_OK):
            raise Fatal("%s is not built" % UXRPD)
        chroot = os.path.join(self.tmp, "uxrpd-chroot")
        os.makedirs(chroot, exist_ok=True)
        conf = os.path.join(self.tmp, "uxrpd.conf")
        # No control socket, so as not to meet another uxrpd's; a
        # uxrpd that does not know the key has no control socket.
        extra = {"control": None}
        self.write_conf(conf, chroot, [], extra)
        ok, err = self.check_conf(conf)
        if not ok and "control" in err:
            extra = {}
        tls = self.tls_listener()
        self.write_conf(conf, chroot, [tls], extra)
        ok, err = self.check_conf(conf)
        if not ok:
            self.na["tls"] = "no TLS config support"
            log("uxrpd: the TLS listener is not accepted (%s); "
                "running without it" % err)
            self.write_conf(conf, chroot, [], extra)
            ok, err = self.check_conf(conf)
            if not ok:
                raise Fatal("uxrpd -n: " + err)
        return [UXRPD, "-d", "-f", conf]

    def write_conf(self, path, chroot, extra_listeners, extra):
        import json
        conf = dict(extra, **{
            "workers": 1,
            "user": "nobody",
            "chroot": chroot,
            "timeouts": {"idle": 300, "request_header": 300, "drain": 1},
            "listen": [
                {"address": "127.0.0.1", "port": self.port["h1"],
                 "backlog": 4096},
                {"address": "127.0.0.1", "port": self.port["h2c"],
                 "backlog": 4096},
            ] + extra_listeners,
            "vhosts": [{
                "mounts": [{"mountpoint": "/",
                            "origin": "unix:" + self.origin_sock}],
            }],
        })
        with open(path, "w") as f:
            json.dump(conf, f, indent=2)

    def check_conf(self, path):
        r = subprocess.run([UXRPD, "-n", "-f", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        lines = [x for x in r.stdout.splitlines() if "warning" not in x]
        return r.returncode == 0, "; ".join(lines).strip()


def uxrpd_tls_listener(port, crt, key):
    """THE place that says how uxrpd is told to listen with TLS.

    uxrpd's TLS configuration is not settled yet; this is the form the
    benchmark expects. When the real one lands, change this function
    only. A config that `uxrpd -n` rejects makes every TLS cell of
    uxrpd read n/a ("no TLS config support") instead of failing."""
    return {"address": "127.0.0.1", "port": port, "backlog": 4096,
            "tls": {"certificate": crt, "key": key}}


class Nginx(Proxy):
    name = "nginx"

    def argv(self):
        conf = fill("nginx-proxy.conf.in",
                    os.path.join(self.tmp, "nginx-proxy.conf"), self.values())
        return ["nginx", "-c", conf, "-p", self.tmp + "/",
                "-e", os.path.join(self.tmp, "nginx-proxy-error.log")]


class Haproxy(Proxy):
    name = "haproxy"

    def argv(self):
        conf = fill("haproxy.cfg.in", os.path.join(self.tmp, "haproxy.cfg"),
                    self.values())
        return ["haproxy", "-db", "-f", conf]


class H2o(Proxy):
    name = "h2o"

    def argv(self):
        conf = fill("h2o.conf.in", os.path.join(self.tmp, "h2o.conf"),
                    self.values())
        return ["h2o", "-c", conf]


CLASSES = {"uxrpd": Uxrpd, "nginx": Nginx, "haproxy": Haproxy, "h2o": H2o}


# ---------------------------------------------------------------------
# Load: one run of wrk or h2load against one proxy.

def num_unit(v, unit):
    v = float(v)
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q * len(sorted_vals))) - 1))
    return sorted_vals[i]


def run_load(px, proto, route, conns, duration, tmp, rawname, streams=1,
             warmup=0.0):
    """One measurement. HTTP/1.1 with wrk, unless warmup is asked for
    (wrk has none): then h2load --h1. Returns a dict: rps, ok, errors,
    p50, p99 (ms), cpu_us (per request), rss_kib (peak during the run),
    na (why the cell cannot be measured, or None), stalled, killed."""
    if PHASE_END and time.monotonic() + warmup + duration + 1 > PHASE_END:
        return {"na": "skipped: time budget", "ok": 0, "errors": 0,
                "rps": 0.0, "p50": None, "p99": None, "cpu_us": None,
                "rss_kib": 0, "stalled": False, "killed": False}
    url = px.url(proto, route)
    hlog = os.path.join(tmp, "h2load.log")
    wrk = proto == "h1" and not warmup
    if wrk:
        argv = ["wrk", "-t", "1", "-c", str(conns), "-d", "%gs" % duration,
                "--latency", "--timeout", "10s", url]
    else:
        argv = ["h2load", "-t", "1", "-c", str(conns), "-m", str(streams),
                "-D", "%dms" % (duration * 1000), "--log-file", hlog]
        if warmup:
            argv += ["--warm-up-time", "%dms" % (warmup * 1000)]
        if proto == "h1":
            argv += ["--h1"]
        if proto == "tls":
            argv += ["--tls13-ciphers", CIPHER]
        argv += [url]
    pids = px.pids()
    meter = None if warmup else CpuMeter(pids, tmp)
    out = os.path.join(tmp, "load.out")
    killed = False
    with open(out, "w") as f:
        tool = spawn(argv[0], argv, stdout=f, stderr=subprocess.STDOUT)
        t = time.monotonic()
        peak = 0
        # Bounded even when a proxy stops answering: the tools end
        # by themselves after warm-up + duration, and get some grace
        # to close their connections.
        limit = t + warmup + duration + 5 + conns / 1000.0
        while tool.poll() is None:
            now = time.monotonic()
            if meter is None and now >= t + warmup:
                meter = CpuMeter(pids, tmp)     # counts after the warm-up
            if now - t > warmup:
                peak = max(peak, rss_kib(pids))
            if now > limit:
                killed = True
                break
            time.sleep(0.05 if meter is None else 0.2)
    entry = [e for e in PROCS if e[1] is tool]
    if entry:
        stop(entry[0], signal.SIGINT)
    cpu = meter.stop() if meter else None
    with open(out) as f:
        text = f.read()
    os.makedirs(os.path.join(OUT, "raw"), exist_ok=True)
    with open(os.path.join(OUT, "raw", rawname + ".txt"), "w") as f:
        f.write(" ".join(argv) + "\n\n" + text)
    r = parse_wrk(text) if wrk else parse_h2load(text, hlog)
    r["rss_kib"] = peak
    r["cpu_us"] = None
    if cpu is not None and r["ok"] > 0:
        r["cpu_us"] = cpu * 1e6 / r["ok"]
    r["stalled"] = r["ok"] == 0 and not r.get("na")
    r["killed"] = killed
    if not px.alive():
        r["na"] = r.get("na") or "proxy exited"
    return r


def parse_wrk(text):
    r = {"na": None, "p50": None, "p99": None}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", text)
    total = int(m.group(1)) if m else 0
    secs = num_unit(m.group(2), m.group(3)) / 1e3 if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", text)
    sock = [int(x) for x in m.groups()] if m else [0, 0, 0, 0]
    r["ok"] = total - bad
    r["errors"] = bad + sum(sock)
    r["rps"] = r["ok"] / secs if secs else 0.0
    for q, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % q, text, re.M)
        if m:
            r[key] = num_unit(m.group(1), m.group(2))
    if r["ok"] == 0:
        if sock[0] and not total:
            r["na"] = "connection refused"
        elif total or sock[1] or sock[2]:
            r["na"] = "protocol error"
    return r


def parse_h2load(text, hlog):
    r = {"na": None, "p50": None, "p99": None, "tls": None}
    # With -D, req/s is over the main duration only (no warm-up, no
    # closing), which "finished in" is not.
    m = re.search(r"finished in [\d.]+(?:us|ms|s|m), ([\d.]+) req/s", text)
    done_rps = float(m.group(1)) if m else 0.0
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", text)
    counts = [int(x) for x in m.groups()] if m else [0] * 7
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx", text)
    good = int(m.group(1)) + int(m.group(2)) if m else 0
    r["ok"] = min(counts[3], good)
    r["errors"] = counts[4] + counts[6]
    r["rps"] = done_rps * r["ok"] / counts[2] if counts[2] else 0.0
    m = re.search(r"TLS Protocol: (\S+)\s+Cipher: (\S+)", text)
    if m:
        r["tls"] = "%s/%s" % m.groups()
    durations = []
    try:
        with open(hlog) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3 and parts[1].startswith(("2", "3")):
                    durations.append(int(parts[2]))
        os.unlink(hlog)
    except (OSError, ValueError):
        pass
    durations.sort()
    if durations:
        r["p50"] = percentile(durations, 0.50) / 1e3
        r["p99"] = percentile(durations, 0.99) / 1e3
    if r["ok"] == 0:
        low = text.lower()
        if "connection refused" in low or "could not connect" in low:
            r["na"] = "connection refused"
        elif r["errors"] or counts[5] or "no protocol" in low:
            r["na"] = "protocol error"
    return r


# ---------------------------------------------------------------------
# The phases.

PHASE_END = None        # set per phase from BUDGET


def scale_estimate(nproxies):
    return sum(2 * nproxies * (scale_warmup(c) + SCALE_DURATION + 0.6 +
                               c / 2000.0) for c in SCALE_LEVELS) + 5


def rotate(seq, n):
    n %= len(seq)
    return seq[n:] + seq[:n]


def phase_idle(proxies, sslconf):
    """Bytes of VmRSS per idle keep-alive connection: IDLE_CONNS of each
    kind, opened on top of one another, on a proxy that has served only
    the probes."""
    res = {}
    env = dict(os.environ, OPENSSL_CONF=sslconf)
    for px in proxies:
        holders = []
        completed = False
        try:
            time.sleep(0.3)
            before = rss_kib(px.pids())
            for proto in PROTOS:
                if proto in px.na or not px.alive():
                    continue
                h = spawn("idleconns", [
                    PYTHON, os.path.join(BENCH, "idleconns.py"), proto,
                    "127.0.0.1", str(px.port[proto]), str(IDLE_CONNS)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    text=True, env=env)
                holders.append(PROCS[-1])
                line = h.stdout.readline().split()
                if len(line) < 3 or line[0] != "ready":
                    res[(proto, px.name)] = {"na": "idle client failed"}
                    continue
                ok, failed = int(line[1]), int(line[2])
                time.sleep(IDLE_SETTLE)
                after = rss_kib(px.pids())
                r = {"ok": ok, "failed": failed, "na": None,
                     "cipher": line[3] if len(line) > 3 else "-",
                     "bytes": (after - before) * 1024.0 / ok if ok else None}
                if not ok:
                    r["na"] = "no connection held"
                res[(proto, px.name)] = r
                before = after
            completed = True
        finally:
            for entry in holders:
                name, h = entry
                if completed:       # else stop them at once
                    try:
                        tail = h.communicate(timeout=10)[0].split()
                        if len(tail) == 2 and tail[0] == "dropped":
                            res[(h.args[2], px.name)]["dropped"] = int(
                                tail[1])
                    except (OSError, ValueError, KeyError,
                            subprocess.TimeoutExpired):
                        pass
                stop(entry)
        for proto in PROTOS:
            r = res.get((proto, px.name))
            if r and r.get("bytes") is not None:
                log("idle %s %s: %d open (%d failed, %d dropped), "
                    "%.0f bytes each%s" % (
                        px.name, proto, r["ok"], r["failed"],
                        r.get("dropped", 0), r["bytes"],
                        " " + r["cipher"] if proto == "tls" else ""))
    return res


def phase_matrix(proxies, tmp):
    res = {}
    for px in proxies:          # warm every proxy and its origin pool
        for proto in PROTOS:
            if proto not in px.na:
                run_load(px, proto, "/small", CONNS, 0.5, tmp,
                         "warmup-%s-%s" % (proto, px.name), STREAMS)
    for rnd in range(ROUNDS):
        log("round %d of %d" % (rnd + 1, ROUNDS))
        cell = 0
        for proto in PROTOS:
            for route in ROUTES:
                # Who goes first moves on from cell to cell and from
                # round to round.
                order = rotate(proxies, rnd + cell)
                cell += 1
                for px in order:
                    if proto in px.na or not px.alive():
                        continue
                    r = run_load(px, proto, route, CONNS, DURATION, tmp,
                                 "%s-%s-%s-r%d" % (proto, route.strip("/"),
                                                   px.name, rnd + 1),
                                 STREAMS)
                    res.setdefault((proto, route, px.name), []).append(r)
        log("round %d done" % (rnd + 1))
    return res


def scale_warmup(conns):
    """Time for every connection to be open and busy before counting."""
    return 0.5 if conns <= 100 else 1.0 if conns <= 1000 else 3.0


def phase_scale(proxies, tmp):
    res = {}
    for i, conns in enumerate(SCALE_LEVELS):
        for proto in ("h1", "h2c"):
            for px in rotate(proxies, i):
                if proto in px.na or not px.alive():
                    continue
                r = run_load(px, proto, "/small", conns, SCALE_DURATION, tmp,
                             "scale-%s-%d-%s" % (proto, conns, px.name),
                             1, scale_warmup(conns))
                res[(proto, conns, px.name)] = r
        log("scaling: %d connections done" % conns)
    return res


# ---------------------------------------------------------------------
# The table.

COLUMNS = ["section", "proto", "item", "proxy", "value", "unit",
           "vs_uxrpd", "vs_nginx", "vs_haproxy", "vs_h2o",
           "p50_ms", "p99_ms", "errors", "cpu_us_req", "rss_mib",
           "samples", "note"]


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if abs(v) >= 1000 and nd <= 1:
        return "%.0f" % v
    return "%.*f" % (nd, v)


def add_ratios(rows):
    """vs_PEER = this row's value / PEER's value in the same cell."""
    cells = {}
    for r in rows:
        cells.setdefault((r["section"], r["proto"], r["item"]), {})[
            r["proxy"]] = r["value"]
    for r in rows:
        peers = cells[(r["section"], r["proto"], r["item"])]
        for name in CLASSES:
            v, pv = r["value"], peers.get(name)
            if name == r["proxy"] or not isinstance(v, float) or \
                    not isinstance(pv, float) or pv == 0:
                r["vs_" + name] = "-" if name == r["proxy"] else "n/a"
            else:
                r["vs_" + name] = "%.2f" % (v / pv)


def build_rows(proxies, idle, matrix, scale, rss_marks):
    rows = []

    def row(**kw):
        r = {c: "-" for c in COLUMNS}
        r.update(kw)
        rows.append(r)

    for proto in PROTOS:
        for route in ROUTES:
            for px in proxies:
                runs = matrix.get((proto, route, px.name), [])
                good = [x for x in runs if not x.get("na")]
                note = px.notes.get((proto, route), "")
                if proto in px.na or not good:
                    why = px.na.get(proto) or next(
                        (x["na"] for x in runs if x.get("na")), "not run")
                    row(section="throughput", proto=proto, item=route,
                        proxy=px.name, value="n/a", unit="req/s", note=why)
                    continue
                tls = sorted({x["tls"] for x in good if x.get("tls")})
                if tls:
                    note = " ".join([note] + tls).strip()
                if len(good) < len(runs):
                    note = (note + " %d of %d runs n/a" % (
                        len(runs) - len(good), len(runs))).strip()
                killed = len([x for x in good if x["killed"]])
                if killed:
                    note = (note + " %d of %d runs: load tool did not end "
                            "in time" % (killed, len(runs))).strip()
                stalled = len([x for x in good if x["stalled"]])
                if stalled:
                    note = (note + " %d of %d runs completed no request" % (
                        stalled, len(runs))).strip()
                row(section="throughput", proto=proto, item=route,
                    proxy=px.name, value=med([x["rps"] for x in good]),
                    unit="req/s",
                    p50_ms=fmt(med([x["p50"] for x in good]), 2),
                    p99_ms=fmt(med([x["p99"] for x in good]), 2),
                    errors=sum(x["errors"] for x in good),
                    cpu_us_req=fmt(med([x["cpu_us"] for x in good]), 1),
                    samples=",".join("%.0f" % x["rps"] for x in good),
                    note=note or "-")
    for proto in PROTOS:
        for px in proxies:
            r = idle.get((proto, px.name))
            if proto in px.na or not r or r.get("na"):
                row(section="idle", proto=proto, item="%d conns" % IDLE_CONNS,
                    proxy=px.name, value="n/a", unit="B/conn",
                    note=px.na.get(proto) or (r or {}).get("na", "not run"))
                continue
            note = "%d held, %d failed, %d dropped" % (
                r["ok"], r["failed"], r.get("dropped", 0))
            if proto == "tls":
                note += " " + r["cipher"]
            row(section="idle", proto=proto, item="%d conns" % IDLE_CONNS,
                proxy=px.name, value=r["bytes"], unit="B/conn", note=note)
    for proto in ("h1", "h2c"):
        for conns in SCALE_LEVELS:
            for px in proxies:
                r = scale.get((proto, conns, px.name))
                if proto in px.na or not r or r.get("na"):
                    row(section="scaling", proto=proto, item="c=%d" % conns,
                        proxy=px.name, value="n/a", unit="req/s",
                        note=px.na.get(proto) or (r or {}).get(
                            "na", "not run"))
                    continue
                row(section="scaling", proto=proto, item="c=%d" % conns,
                    proxy=px.name, value=r["rps"], unit="req/s",
                    p50_ms=fmt(r["p50"], 2), p99_ms=fmt(r["p99"], 2),
                    errors=r["errors"], cpu_us_req=fmt(r["cpu_us"], 1),
                    rss_mib=fmt(r["rss_kib"] / 1024.0, 1),
                    note="load tool did not end in time" if r["killed"] else
                    "completed no request" if r["stalled"] else "-")
    for what, marks in rss_marks:
        for px in proxies:
            v = marks.get(px.name)
            row(section="rss", proto="-", item=what, proxy=px.name,
                value=None if v is None else v / 1024.0, unit="MiB",
                rss_mib=fmt(None if v is None else v / 1024.0, 1))
    add_ratios(rows)
    rows += targets(rows)
    return rows


def targets(rows):
    """The issue's targets for uxrpd, read off the rows above."""
    out = []
    by = {(r["section"], r["proto"], r["item"], r["proxy"]): r for r in rows}
    peers = [n for n in CLASSES if n != "uxrpd"]

    def val(sec, proto, item, name, key="value"):
        r = by.get((sec, proto, item, name))
        if not r:
            return None
        v = r[key]
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    def add(item, proto, value, need, ok, note):
        out.append(dict({c: "-" for c in COLUMNS}, section="target",
                        proto=proto, item=item, proxy="uxrpd",
                        value=value if value is not None else "n/a",
                        unit="ratio", note="%s (need %s)%s" % (
                            "n/a" if ok is None else
                            ("met" if ok else "MISSED"), need,
                            "; " + note if note else "")))

    for proto in PROTOS:
        for route in ROUTES:
            u = val("throughput", proto, route, "uxrpd")
            pv = {p: val("throughput", proto, route, p) for p in peers}
            pv = {p: v for p, v in pv.items() if v}
            if not pv:
                continue
            best = max(pv, key=pv.get)
            ratio = u / pv[best] if u else None
            note = "best peer %s" % best
            ok = None
            if ratio is not None:
                up99 = val("throughput", proto, route, "uxrpd", "p99_ms")
                bp99 = val("throughput", proto, route, best, "p99_ms")
                errs = val("throughput", proto, route, "uxrpd", "errors")
                ok = ratio >= 1.2 and errs == 0 and (
                    up99 is not None and bp99 is not None and up99 <= bp99)
                note += "; p99 %s vs %s ms; %s errors" % (
                    fmt(up99, 2), fmt(bp99, 2), fmt(errs, 0))
            add("req/s " + route, proto, ratio, ">= 1.20x, p99 <= peer's, "
                "0 errors", ok, note)
        u = val("throughput", proto, "/small", "uxrpd", "cpu_us_req")
        pv = [v for v in (val("throughput", proto, "/small", p,
                              "cpu_us_req") for p in peers) if v]
        if pv:
            ratio = u / min(pv) if u else None
            add("cpu/req /small", proto, ratio, "<= 0.70x best peer",
                None if ratio is None else ratio <= 0.7, "")
        u = val("idle", proto, "%d conns" % IDLE_CONNS, "uxrpd")
        n = val("idle", proto, "%d conns" % IDLE_CONNS, "nginx")
        if n:
            ratio = u / n if u is not None else None
            add("idle B/conn", proto, ratio, "<= 0.50x nginx",
                None if ratio is None else ratio <= 0.5, "")
    for proto in ("h1", "h2c"):
        hi, lo = max(SCALE_LEVELS), 100
        if hi == lo or lo not in SCALE_LEVELS:
            continue
        a = val("scaling", proto, "c=%d" % hi, "uxrpd")
        b = val("scaling", proto, "c=%d" % lo, "uxrpd")
        ratio = a / b if a is not None and b else None
        add("req/s c=%d / c=%d" % (hi, lo), proto, ratio, ">= 0.80",
            None if ratio is None else ratio >= 0.8, "")
    return out


def print_table(rows):
    show = ["proto", "item", "proxy", "value", "unit", "vs_uxrpd",
            "vs_nginx", "vs_haproxy", "vs_h2o", "p50_ms", "p99_ms", "errors",
            "cpu_us_req", "rss_mib", "note"]
    cells = [[fmt(r[c], 2 if isinstance(r[c], float) and r[c] < 10 else 1)
              for c in show] for r in rows]
    width = [max([len(c)] + [len(x[i]) for x in cells])
             for i, c in enumerate(show[:-1])]
    section = None
    for r, x in zip(rows, cells):
        if r["section"] != section:
            section = r["section"]
            print("\n== %s" % section)
            print("  ".join(c.ljust(w) for c, w in zip(show, width)) +
                  "  note")
        print("  ".join(v.ljust(w) for v, w in zip(x[:-1], width)) +
              "  " + x[-1])


def write_tsv(rows, path):
    with open(path, "w") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(fmt(r[c], 3 if isinstance(r[c], float) else 1)
                              .replace("\t", " ") for c in COLUMNS) + "\n")


# ---------------------------------------------------------------------

def main():
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_signal)
    if os.geteuid() != 0:
        raise Fatal("run as root: the proxies start as root and drop "
                    "to nobody")
    for tool in ("nginx", "haproxy", "h2o", "wrk", "h2load", "curl",
                 "openssl"):
        if not shutil.which(tool):
            raise Fatal("%s is missing; run: sh regress/deps.sh bench" % tool)
    if not shutil.which("perf"):
        CpuMeter.use_perf = False
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile == resource.RLIM_INFINITY or nofile > 1048576:
        nofile = 1048576
    if max(SCALE_LEVELS) * 2 + 200 > nofile:
        log("RLIMIT_NOFILE is %d (the hard limit): %d connections with "
            "one origin connection each may not fit a proxy" %
            (nofile, max(SCALE_LEVELS)))
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="uxrp-bench.")
    os.chmod(tmp, 0o755)
    log("settings: %g s per run, %d rounds, %d connections (h2: %d "
        "streams each), scaling %s for %g s, %d idle connections; "
        "RLIMIT_NOFILE %d; work dir %s" % (
            DURATION, ROUNDS, CONNS, STREAMS,
            ",".join(map(str, SCALE_LEVELS)), SCALE_DURATION, IDLE_CONNS,
            nofile, tmp))
    try:
        crt, key, pem, sslconf = make_files(tmp)
        origin = Origin(tmp, nofile)
        probe_perf(tmp)
        log("CPU per request: " + CpuMeter.method)
        ports = free_ports(3 * len(PROXIES))
        proxies = []
        for i, name in enumerate(PROXIES):
            px = CLASSES[name](tmp, ports[3 * i:3 * i + 3], crt, key, pem,
                               origin.sock, nofile)
            px.start()
            px.probe()
            proxies.append(px)
        idle, matrix, scale = {}, {}, {}
        if "idle" in PHASES:
            log("idle connections")
            idle = phase_idle(proxies, sslconf)
        before = {px.name: rss_kib(px.pids()) for px in proxies}
        global PHASE_END
        if "throughput" in PHASES:
            log("throughput: %d cells x %d proxies x %d rounds" % (
                len(PROTOS) * len(ROUTES), len(proxies), ROUNDS))
            if BUDGET:
                PHASE_END = T0 + BUDGET - (scale_estimate(len(proxies))
                                           if "scaling" in PHASES else 0)
            matrix = phase_matrix(proxies, tmp)
        time.sleep(0.5)
        after = {px.name: rss_kib(px.pids()) for px in proxies}
        if "scaling" in PHASES:
            # From a fresh start, so that memory at each level is not
            # what the earlier phases left behind.
            log("scaling (the proxies restarted)")
            for px in proxies:
                px.restart()
            if BUDGET:
                PHASE_END = T0 + BUDGET
            scale = phase_scale(proxies, tmp)
        for px in proxies:
            if not px.alive():
                log("%s exited during the run (status %s)" % (
                    px.name, px.proc.returncode))
        rows = build_rows(proxies, idle, matrix, scale, [
            ("idle, before load", before),
            ("idle, after throughput", after)])
        tsv = os.path.join(OUT, "results.tsv")
        write_tsv(rows, tsv)
        print_table(rows)
        print("\nbench: CPU per request measured with %s; req/s, p50, p99 "
              "and CPU are medians over %d rounds; wrote %s (%.0f s)" % (
                  CpuMeter.method, ROUNDS, tsv, time.monotonic() - T0))
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)     # let the cleanup finish
        stop_all()
        if KEEP:
            print("bench: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Fatal as e:
        print("bench: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as e:
        print("bench: interrupted (%s)" % e, file=sys.stderr)
        sys.exit(130)
