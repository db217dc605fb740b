"""Fake origins for the uxrpd integration suite.

A FakeOrigin listens on a Unix socket (or on 127.0.0.1 TCP), serves
every connection in its own thread, reads requests with a small
HTTP/1.1 parser of its own and records what it saw: the raw bytes of
each connection, every request head byte for byte, the digest and
length of every body, whether the body was complete, and which process
connected (SO_PEERCRED). What it answers is chosen by the test with a
behaviour: a callable (request, connection) -> keep-alive flag, with
the optional attributes `send_continue` and `read_body`.

Everything is bounded: sockets carry timeouts, stop() closes the
listening socket and every connection and joins the threads.
"""

import hashlib
import json
import os
import socket
import struct
import threading
import time

IO_TIMEOUT = 60.0          # upper bound of any single blocking socket call
KEEP_BODY = 1 << 20        # bodies up to this size are kept, all hashed
KEEP_RAW = 4 << 20         # raw bytes kept per connection
BLOCK = 64 * 1024


class OriginError(Exception):
    pass


class OriginRequest:
    """One request as the origin saw it."""

    def __init__(self, conn, index, head):
        self.conn = conn            # connection number, from 1
        self.index = index          # request number on that connection
        self.head = head            # raw head bytes, CRLFCRLF included
        self.time = time.monotonic()
        self.method = ""
        self.target = ""
        self.version = ""
        self.headers = []           # [(name, value)] as sent, latin-1
        self.malformed = None       # why the head did not parse
        self.chunked = False
        self.content_length = None
        self.chunk_sizes = []
        self.body = bytearray()     # first KEEP_BODY bytes
        self.body_len = 0
        self._sha = hashlib.sha256()
        self.complete = False       # whole body (if any) received
        self._parse()

    def _parse(self):
        text = self.head[:-4].decode("latin-1")
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            self.malformed = "request line"
            return
        self.method, self.target, self.version = parts
        for line in lines[1:]:
            if ":" not in line:
                self.malformed = "field line"
                continue
            name, value = line.split(":", 1)
            self.headers.append((name, value.strip(" \t")))
        te = self.header("transfer-encoding")
        cl = self.header("content-length")
        if te is not None and te.lower().split(",")[-1].strip() == "chunked":
            self.chunked = True
        elif cl is not None:
            try:
                self.content_length = int(cl)
            except ValueError:
                self.malformed = "content-length"

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def header_names(self):
        return [n.lower() for n, _ in self.headers]

    def add_body(self, data):
        self._sha.update(data)
        self.body_len += len(data)
        room = KEEP_BODY - len(self.body)
        if room > 0:
            self.body += data[:room]

    @property
    def body_sha256(self):
        return self._sha.copy().hexdigest()

    def summary(self):
        return {
            "conn": self.conn,
            "index": self.index,
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "headers": self.headers,
            "body_len": self.body_len,
            "body_sha256": self.body_sha256,
            "chunked": self.chunked,
        }


class OriginConn:
    """One accepted connection: buffered reads, recorded bytes."""

    def __init__(self, origin, sock, number):
        self.origin = origin
        self.sock = sock
        self.number = number
        self.buf = bytearray()
        self.raw = bytearray()
        self.raw_len = 0
        self.closed = False
        self.eof = False
        self.peer = None            # (pid, uid, gid) for Unix sockets
        self.requests = []
        if sock.family == socket.AF_UNIX:
            try:
                creds = sock.getsockopt(socket.SOL_SOCKET,
                                        socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
                self.peer = struct.unpack("3i", creds)
            except OSError:
                pass
        sock.settimeout(IO_TIMEOUT)

    def recv_more(self, timeout=None):
        """Read once into the buffer; False on EOF or error."""
        if self.eof or self.closed:
            return False
        try:
            # Another thread may close the socket between the check
            # above and here: a closed socket reads as EOF.
            if timeout is not None:
                self.sock.settimeout(timeout)
            data = self.sock.recv(256 * 1024)
        except socket.timeout:
            raise
        except OSError:
            data = b""
        finally:
            if timeout is not None:
                try:
                    self.sock.settimeout(IO_TIMEOUT)
                except OSError:
                    pass
        if not data:
            self.eof = True
            return False
        self.raw_len += len(data)
        room = KEEP_RAW - len(self.raw)
        if room > 0:
            self.raw += data[:room]
        self.buf += data
        return True

    def read_head(self, first_byte_timeout=None):
        """The next request head, or None on EOF/timeout/oversize."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[:end + 4])
                del self.buf[:end + 4]
                return head
            if len(self.buf) > self.origin.max_head:
                return None
            tmo = first_byte_timeout if not self.buf else None
            try:
                if not self.recv_more(tmo):
                    return None
            except socket.timeout:
                return None

    def read_line(self, limit=8192):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit or not self.recv_more():
                raise OriginError("no line")

    def read_into(self, req, n):
        while n > 0:
            if not self.buf and not self.recv_more():
                raise OriginError("eof in body")
            take = min(n, len(self.buf))
            req.add_body(bytes(self.buf[:take]))
            del self.buf[:take]
            n -= take

    def read_body(self, req):
        """Read the body the head announces; True when complete."""
        try:
            if req.chunked:
                while True:
                    line = self.read_line()
                    size_s = line.split(b";", 1)[0].strip()
                    size = int(size_s, 16)
                    req.chunk_sizes.append(size)
                    if size == 0:
                        while self.read_line() != b"":
                            pass
                        return True
                    self.read_into(req, size)
                    if self.read_line() != b"":
                        raise OriginError("chunk without CRLF")
            elif req.content_length:
                self.read_into(req, req.content_length)
            return True
        except (OriginError, ValueError, OSError, socket.timeout):
            return False

    def send(self, data):
        self.sock.sendall(data)

    def wait_closed(self, timeout):
        """Wait until the peer closes or the origin stops."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.origin.stopping.is_set():
            try:
                if not self.recv_more(0.2):
                    return True
            except socket.timeout:
                continue
        return False

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FakeOrigin:
    """A threaded HTTP/1.1 origin on a Unix socket or TCP."""

    def __init__(self, behaviour=None, path=None, tcp=False, host="127.0.0.1",
                 mode=0o666, backlog=64, accept_delay=0.0, idle_close=None,
                 max_head=1 << 20, name=None, gate=None):
        self.behaviour = behaviour or Echo()
        self.path = path
        self.tcp = tcp
        self.host = host
        self.port = None
        self.mode = mode
        self.backlog = backlog
        self.accept_delay = accept_delay
        self.idle_close = idle_close
        self.max_head = max_head
        self.gate = gate            # threading.Event: accept only once set
        self.name = name or (path or "tcp")
        self.lock = threading.Lock()
        self.requests = []
        self.conns = []
        self.sent = []              # (length, sha256) of streamed bodies
        self.errors = []
        self.stopping = threading.Event()
        self.threads = []
        self.lsock = None
        self.accept_thread = None

    # life cycle

    def start(self):
        if self.tcp:
            fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, 0))
            self.port = s.getsockname()[1]
        else:
            if os.path.lexists(self.path):
                os.unlink(self.path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.path)
            if self.mode is not None:
                os.chmod(self.path, self.mode)
        s.listen(self.backlog)
        s.settimeout(0.1)
        self.lsock = s
        self.accept_thread = threading.Thread(target=self._accept_loop,
                                              daemon=True)
        self.accept_thread.start()
        return self

    # how a config names this origin

    def lws(self, inner="/"):
        """The libwebsockets form, +/path/to/sock:/inner/."""
        return "+%s:%s" % (self.path, inner)

    def unix(self):
        return "unix:%s" % self.path

    def hostport(self):
        if ":" in self.host:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)

    def stop(self, timeout=5.0):
        self.stopping.set()
        if self.lsock is not None:
            try:
                self.lsock.close()
            except OSError:
                pass
        if self.accept_thread is not None:
            self.accept_thread.join(timeout)
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close()
        end = time.monotonic() + timeout
        for t in list(self.threads):
            t.join(max(0.0, end - time.monotonic()))
        if self.path and not self.tcp:
            try:
                if os.path.exists(self.path):
                    os.unlink(self.path)
            except OSError:
                pass

    def reset(self):
        with self.lock:
            self.requests = []
            self.sent = []
            self.errors = []

    # what was seen

    @property
    def connection_count(self):
        with self.lock:
            return len(self.conns)

    def last_sent(self, timeout=5.0):
        """(length, sha256) of the last streamed body, once its last
        send returned: the client may have it all a moment before."""
        end = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.sent:
                    return self.sent[-1]
            if time.monotonic() >= end:
                return None
            time.sleep(0.01)

    def wait_requests(self, n, timeout=5.0, complete=False):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                reqs = [r for r in self.requests
                        if r.complete or not complete]
            if len(reqs) >= n:
                return reqs
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)

    def last(self, timeout=5.0):
        reqs = self.wait_requests(1, timeout)
        if not reqs:
            raise AssertionError("origin %s saw no request" % self.name)
        return reqs[-1]

    # serving

    def _accept_loop(self):
        if self.accept_delay:
            self.stopping.wait(self.accept_delay)
        n = 0
        while not self.stopping.is_set():
            if self.gate is not None and not self.gate.wait(0.1):
                continue
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            n += 1
            conn = OriginConn(self, sock, n)
            with self.lock:
                self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        index = 0
        try:
            while not self.stopping.is_set():
                head = conn.read_head(self.idle_close)
                if head is None:
                    break
                index += 1
                req = OriginRequest(conn.number, index, head)
                with self.lock:
                    self.requests.append(req)
                conn.requests.append(req)
                beh = self.behaviour
                expect = (req.header("expect") or "").lower()
                if expect == "100-continue" and \
                        getattr(beh, "send_continue", True):
                    conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                if getattr(beh, "read_body", True):
                    if not conn.read_body(req):
                        break
                    req.complete = True
                keep = beh(req, conn)
                if not keep or conn.closed:
                    break
                if (req.header("connection") or "").lower() == "close":
                    break
        except Exception as e:      # recorded, never raised in a thread
            with self.lock:
                self.errors.append(repr(e))
        finally:
            conn.close()


# Generated streams: 64 KiB blocks, each starting with its own number so
# that a lost, doubled or reordered block changes the digest.

_BASE = bytes((i * 7 + 13) & 0xff for i in range(BLOCK))


def gen_blocks(total, block=BLOCK):
    """Yield `total` bytes of the generated stream, block by block."""
    buf = bytearray(_BASE[:block])
    n = 0
    sent = 0
    while sent < total:
        buf[0:8] = n.to_bytes(8, "big")
        take = min(block, total - sent)
        yield bytes(buf[:take]) if take < block else bytes(buf)
        sent += take
        n += 1


def gen_bytes(total):
    return b"".join(gen_blocks(total))


# Behaviours

def _head(status, reason, headers):
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    for n, v in headers:
        lines.append("%s: %s" % (n, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


REASONS = {100: "Continue", 200: "OK", 201: "Created", 204: "No Content",
           206: "Partial Content", 301: "Moved Permanently",
           304: "Not Modified", 401: "Unauthorized", 404: "Not Found",
           500: "Internal Server Error"}


class Echo:
    """200 with a JSON document of what was received."""

    def __init__(self, status=200, headers=(), keep=True):
        self.status = status
        self.headers = list(headers)
        self.keep = keep

    def __call__(self, req, conn):
        doc = req.summary()
        doc["peer"] = conn.peer
        body = json.dumps(doc).encode()
        hdrs = [("Content-Type", "application/json"),
                ("Content-Length", str(len(body)))] + self.headers
        if req.method == "HEAD":
            body = b""
        conn.send(_head(self.status, REASONS.get(self.status, "X"), hdrs)
                  + body)
        return self.keep


Sink = Echo     # hashes the body whatever its size, answers its digest


class Fixed:
    """A fixed status, headers and body; Content-Length added unless
    the headers carry framing of their own or the status has no body."""

    def __init__(self, status=200, headers=(), body=b"", reason=None,
                 keep=True, length=True):
        self.status = status
        self.headers = list(headers)
        self.body = body
        self.reason = reason or REASONS.get(status, "Something")
        self.keep = keep
        self.length = length

    def __call__(self, req, conn):
        hdrs = list(self.headers)
        names = [n.lower() for n, _ in hdrs]
        nobody = self.status in (204, 304) or self.status < 200
        if self.length and not nobody and "content-length" not in names \
                and "transfer-encoding" not in names:
            hdrs.append(("Content-Length", str(len(self.body))))
        body = b"" if (req.method == "HEAD" or nobody) else self.body
        conn.send(_head(self.status, self.reason, hdrs) + body)
        return self.keep


class Raw:
    """Canned bytes, then close (or keep)."""

    def __init__(self, data, keep=False, delay=0.0):
        self.data = data
        self.keep = keep
        self.delay = delay

    def __call__(self, req, conn):
        if self.delay:
            conn.origin.stopping.wait(self.delay)
        conn.send(self.data)
        return self.keep


class Chunked:
    """A chunked response with the given chunk payloads; `pause`
    seconds before the last chunk, so that its end comes alone."""

    def __init__(self, chunks, headers=(), trailers=(), status=200,
                 pause=0.0):
        self.chunks = chunks
        self.headers = list(headers)
        self.trailers = list(trailers)
        self.status = status
        self.pause = pause

    def __call__(self, req, conn):
        hdrs = [("Transfer-Encoding", "chunked")] + self.headers
        conn.send(_head(self.status, REASONS.get(self.status, "X"), hdrs))
        for c in self.chunks:
            if c:
                conn.send(b"%x\r\n" % len(c) + c + b"\r\n")
        tr = "".join("%s: %s\r\n" % t for t in self.trailers)
        if self.pause and conn.origin.stopping.wait(self.pause):
            return False
        conn.send(b"0\r\n" + tr.encode() + b"\r\n")
        return True


class CloseDelimited:
    """No Content-Length, no chunking: the body ends when we close."""

    def __init__(self, body, headers=(), pieces=4):
        self.body = body
        self.headers = list(headers)
        self.pieces = pieces

    def __call__(self, req, conn):
        conn.send(_head(200, "OK", [("Content-Type", "application/octet-stream")]
                        + self.headers))
        step = max(1, len(self.body) // self.pieces)
        for i in range(0, len(self.body), step):
            conn.send(self.body[i:i + step])
            time.sleep(0.01)
        return False


class Slow:
    """Wait, then behave like `inner`."""

    def __init__(self, delay, inner=None):
        self.delay = delay
        self.inner = inner or Echo()
        self.send_continue = getattr(self.inner, "send_continue", True)

    def __call__(self, req, conn):
        conn.origin.stopping.wait(self.delay)
        return self.inner(req, conn)


class MidBodyClose:
    """Announce `total` bytes with Content-Length, send `sent`, close."""

    def __init__(self, total=100000, sent=5000, chunked=False):
        self.total = total
        self.sent = sent
        self.chunked = chunked

    def __call__(self, req, conn):
        data = gen_bytes(self.sent)
        if self.chunked:
            conn.send(_head(200, "OK", [("Transfer-Encoding", "chunked")]))
            conn.send(b"%x\r\n" % self.total + data)
        else:
            conn.send(_head(200, "OK", [("Content-Length", str(self.total))])
                      + data)
        time.sleep(0.05)
        return False


class Never:
    """Read the request, never answer; hold the connection open until
    the peer closes it (bounded)."""

    def __init__(self, hold=30.0):
        self.hold = hold

    def __call__(self, req, conn):
        conn.wait_closed(self.hold)
        return False


class CloseAtOnce:
    """Read the request and close without a byte."""

    def __call__(self, req, conn):
        return False


class HugeHead:
    """A response head larger than `size` bytes."""

    def __init__(self, size=70 * 1024):
        self.size = size

    def __call__(self, req, conn):
        hdrs = []
        n = 0
        while sum(len(a) + len(b) + 4 for a, b in hdrs) < self.size:
            hdrs.append(("X-Filler-%d" % n, "f" * 1000))
            n += 1
        hdrs.append(("Content-Length", "2"))
        conn.send(_head(200, "OK", hdrs) + b"ok")
        return False


class Stream:
    """Send `total` generated bytes (Content-Length or chunked) without
    holding them; record (length, sha256) of what was sent."""

    def __init__(self, total, chunked=False):
        self.total = total
        self.chunked = chunked

    def __call__(self, req, conn):
        if self.chunked:
            hdrs = [("Transfer-Encoding", "chunked")]
        else:
            hdrs = [("Content-Length", str(self.total))]
        hdrs.append(("Content-Type", "application/octet-stream"))
        conn.send(_head(200, "OK", hdrs))
        if req.method == "HEAD":
            return True
        sha = hashlib.sha256()
        for b in gen_blocks(self.total):
            sha.update(b)
            if self.chunked:
                conn.send(b"%x\r\n" % len(b) + b + b"\r\n")
            else:
                conn.send(b)
        if self.chunked:
            conn.send(b"0\r\n\r\n")
        with conn.origin.lock:
            conn.origin.sent.append((self.total, sha.hexdigest()))
        return True


class Trickle:
    """Head at once, then `pieces` body pieces `interval` seconds apart
    (Content-Length framing): slow, but never silent for long."""

    def __init__(self, pieces=8, interval=0.5, size=1000):
        self.pieces = pieces
        self.interval = interval
        self.size = size

    def __call__(self, req, conn):
        body = gen_bytes(self.pieces * self.size)
        conn.send(_head(200, "OK", [("Content-Length", str(len(body)))]))
        for i in range(self.pieces):
            if conn.origin.stopping.wait(self.interval):
                return False
            conn.send(body[i * self.size:(i + 1) * self.size])
        return True


class Func:
    """Any function (req, conn) -> keep."""

    def __init__(self, fn, send_continue=True, read_body=True):
        self.fn = fn
        self.send_continue = send_continue
        self.read_body = read_body

    def __call__(self, req, conn):
        return self.fn(req, conn)


class SocketOrigin:
    """A bare origin for tests that speak something else first (TLS,
    a PROXY header, a WebSocket): it accepts on a Unix socket (an
    abstract one when the path starts with NUL) and runs
    handle(conn) in a thread per connection, closing it after."""

    def __init__(self, path, handle, mode=0o666):
        self.path = path
        self.handle = handle
        self.conns = 0
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        if not path.startswith("\0"):
            os.chmod(path, mode)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns += 1
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(20)
            self.handle(c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


def read_head(c, limit=65536):
    """Bytes up to and with the first CRLFCRLF (and what came after),
    or what arrived before the peer closed."""
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < limit:
        d = c.recv(4096)
        if not d:
            break
        buf += d
    return buf
