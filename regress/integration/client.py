"""Clients for the uxrpd integration suite: a raw HTTP/1.1 connection
that sends exactly the bytes a test gives it and parses what comes
back strictly, and a wrapper around curl(1). Every call is bounded by
a timeout."""

import hashlib
import os
import socket
import ssl
import subprocess
import time


class ResponseError(Exception):
    pass


class Response:
    def __init__(self):
        self.version = ""
        self.status = 0
        self.reason = ""
        self.headers = []       # [(name, value)] in order, as received
        self.head = b""         # raw head, CRLFCRLF included
        self.body = b""         # decoded body (unless sent to a sink)
        self.body_len = 0
        self.body_sha256 = None
        self.chunk_sizes = []
        self.framing = None     # "length", "chunked", "close", "none"
        self.complete = False   # framing satisfied

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def __repr__(self):
        return "<Response %d %r %d bytes>" % (self.status, self.headers,
                                              self.body_len)


class Conn:
    """One client connection: TCP (host, port) or a Unix socket path."""

    def __init__(self, port=None, host="127.0.0.1", path=None, timeout=10.0):
        self.timeout = timeout
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = path
        else:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(fam, socket.SOCK_STREAM)
            addr = (host, port)
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(256 * 1024)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise ResponseError("line too long")
            if not self._recv(deadline):
                raise ResponseError("EOF inside a line: %r" % bytes(self.buf))

    def read_head(self, timeout=None):
        """Read one response head; returns a Response without body."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > (1 << 20):
                raise ResponseError("response head too large")
            if not self._recv(deadline):
                raise ResponseError("EOF before a complete head: %r"
                                    % bytes(self.buf))
        head = bytes(self.buf[:end + 4])
        del self.buf[:end + 4]
        r = Response()
        r.head = head
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ResponseError("bad status line %r" % lines[0])
        r.version = parts[0]
        r.status = int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            if ":" not in line or line[0] in " \t":
                raise ResponseError("bad field line %r" % line)
            n, v = line.split(":", 1)
            if n != n.strip():
                raise ResponseError("whitespace in field name %r" % line)
            r.headers.append((n, v.strip(" \t")))
        return r

    def read_response(self, method="GET", timeout=None, sink=None,
                      interim=False):
        """Read a whole response. 1xx responses are skipped unless
        `interim`. With `sink` (a hashlib object) the body is hashed
        instead of kept. Raises ResponseError/socket.timeout when the
        response is incomplete."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            r = self.read_head(deadline - time.monotonic())
            if 100 <= r.status < 200 and r.status != 101:
                if interim:
                    r.framing = "none"
                    r.complete = True
                    return r
                continue
            break
        self.read_body(r, method, deadline, sink)
        return r

    def read_body(self, r, method, deadline, sink=None):
        sha = sink or hashlib.sha256()
        keep = sink is None
        parts = []

        def take(data):
            sha.update(data)
            r.body_len += len(data)
            if keep:
                parts.append(bytes(data))

        te = r.header_all("transfer-encoding")
        cl = r.header_all("content-length")
        if method == "HEAD" or r.status in (204, 304) or r.status < 200:
            r.framing = "none"
        elif te:
            if te[-1].lower().split(",")[-1].strip() != "chunked":
                raise ResponseError("unknown transfer coding %r" % te)
            if cl:
                raise ResponseError("Content-Length with Transfer-Encoding")
            r.framing = "chunked"
            while True:
                line = self._line(deadline)
                size = int(line.split(b";", 1)[0].strip(), 16)
                r.chunk_sizes.append(size)
                if size == 0:
                    while self._line(deadline) != b"":
                        pass
                    break
                while len(self.buf) < size + 2:
                    if not self._recv(deadline):
                        take(self.buf)
                        self.buf.clear()
                        raise ResponseError("EOF inside a chunk")
                take(self.buf[:size])
                if self.buf[size:size + 2] != b"\r\n":
                    raise ResponseError("chunk not followed by CRLF")
                del self.buf[:size + 2]
        elif cl:
            if len(cl) != 1:
                raise ResponseError("several Content-Length: %r" % cl)
            n = int(cl[0])
            r.framing = "length"
            while n > 0:
                if not self.buf and not self._recv(deadline):
                    r.body = b"".join(parts)
                    r.body_sha256 = sha.hexdigest()
                    raise ResponseError("EOF after %d body bytes, %d short"
                                        % (r.body_len, n))
                k = min(n, len(self.buf))
                take(self.buf[:k])
                del self.buf[:k]
                n -= k
        else:
            r.framing = "close"
            while True:
                if self.buf:
                    take(self.buf)
                    self.buf.clear()
                if not self._recv(deadline):
                    break
        r.body = b"".join(parts)
        r.body_sha256 = sha.hexdigest()
        r.complete = True
        return r

    def wait_eof(self, timeout=5.0):
        """True when the peer closes within `timeout` (extra bytes are
        kept in self.buf)."""
        deadline = time.monotonic() + timeout
        try:
            while self._recv(deadline):
                pass
            return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def read_all(self, timeout=5.0):
        self.wait_eof(timeout)
        data = bytes(self.buf)
        self.buf.clear()
        return data


def tls_wrap(sock, alpn):
    """sock over TLS to a test certificate for a.test, unverified, with
    ALPN offering only alpn, which the server must pick."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    sock = ctx.wrap_socket(sock, server_hostname="a.test")
    assert sock.selected_alpn_protocol() == alpn
    return sock


def build(method="GET", target="/", host="a.test", headers=(), body=None,
          version="HTTP/1.1"):
    """Request bytes: the request line, Host (unless None), headers in
    order, Content-Length when a body is given and none is named."""
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    names = []
    for n, v in headers:
        lines.append("%s: %s" % (n, v))
        names.append(n.lower())
    if body is not None and "content-length" not in names and \
            "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is not None:
        data += body
    return data


def exchange(port, data, host="127.0.0.1", method="GET", timeout=10.0,
             path=None):
    """Send raw bytes on a new connection, return the one response."""
    with Conn(port, host=host, path=path, timeout=timeout) as c:
        c.send(data)
        return c.read_response(method=method)


def request(port, method="GET", target="/", host="a.test", headers=(),
            body=None, timeout=10.0, addr="127.0.0.1"):
    return exchange(port, build(method, target, host, headers, body),
                    host=addr, method=method, timeout=timeout)


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


CURL_ENV = {k: v for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy",
                                 "no_proxy")}


def curl(*args, timeout=30.0, input=None):
    """Run curl with the given arguments; CompletedProcess (bytes)."""
    cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout)]
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout + 10,
                          env=CURL_ENV)
