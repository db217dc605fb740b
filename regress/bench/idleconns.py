#!/usr/bin/python3
#
# idleconns.py KIND HOST PORT COUNT
#
# Part of `make bench`. Opens COUNT connections to a proxy, makes one
# GET /small request on each and then keeps every connection open and
# idle, so that the caller can read how much the proxy's resident
# memory grew. KIND is h1 (HTTP/1.1 keep-alive), h2c (HTTP/2 with prior
# knowledge) or tls (HTTP/2 over TLS 1.3, ALPN h2).
#
# Prints "ready OK FAILED CIPHER" on standard output once every
# connection is either open and idle (OK) or has failed (FAILED), then
# holds them until standard input is closed, and prints
# "dropped N", N being the connections the server closed meanwhile.
# Standard library only.

import asyncio
import ssl
import struct
import sys

PATH = "/small"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
OPEN_AT_ONCE = 64
TIMEOUT = 10            # for one connection and its request
DEADLINE = 60           # for all of them

F_DATA, F_HEADERS, F_RST, F_SETTINGS, F_PING, F_GOAWAY = 0, 1, 3, 4, 6, 7
FL_END_STREAM, FL_ACK, FL_END_HEADERS = 0x1, 0x1, 0x4


def h2frame(ftype, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes((ftype, flags)) +
            struct.pack(">I", stream) + payload)


def hpack_literal(name_index, value):
    # Literal header field without indexing, name from the static table
    # (RFC 7541 6.2.2), no Huffman coding: short values only.
    v = value.encode("ascii")
    assert name_index < 15 and len(v) < 127
    return bytes((name_index, len(v))) + v


def h2_opening(https, authority):
    block = (b"\x82" +                          # :method GET
             (b"\x87" if https else b"\x86") +  # :scheme https / http
             hpack_literal(4, PATH) +           # :path
             hpack_literal(1, authority))       # :authority
    return (PREFACE + h2frame(F_SETTINGS, 0, 0) +
            h2frame(F_HEADERS, FL_END_STREAM | FL_END_HEADERS, 1, block))


async def h2_frame_in(reader):
    head = await reader.readexactly(9)
    length = int.from_bytes(head[0:3], "big")
    stream = int.from_bytes(head[5:9], "big") & 0x7fffffff
    payload = await reader.readexactly(length) if length else b""
    return head[3], head[4], stream, payload


def h2_answer(writer, ftype, flags, payload):
    # Keeps the connection in good standing while it idles.
    if ftype == F_SETTINGS and not flags & FL_ACK:
        writer.write(h2frame(F_SETTINGS, FL_ACK, 0))
    elif ftype == F_PING and not flags & FL_ACK:
        writer.write(h2frame(F_PING, FL_ACK, 0, payload))


async def h2_exchange(reader, writer, https, authority):
    writer.write(h2_opening(https, authority))
    await writer.drain()
    while True:
        ftype, flags, stream, payload = await h2_frame_in(reader)
        h2_answer(writer, ftype, flags, payload)
        if ftype == F_GOAWAY:
            raise ConnectionError("GOAWAY")
        if stream == 1 and ftype == F_RST:
            raise ConnectionError("RST_STREAM")
        if (stream == 1 and ftype in (F_DATA, F_HEADERS) and
                flags & FL_END_STREAM):
            await writer.drain()
            return


async def h2_hold(reader, writer):
    while True:
        ftype, flags, _, payload = await h2_frame_in(reader)
        h2_answer(writer, ftype, flags, payload)
        if ftype == F_GOAWAY:
            return


async def h1_exchange(reader, writer, authority):
    writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                  (PATH, authority)).encode("ascii"))
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 2"):
        raise ConnectionError(lines[0])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        elif name.strip().lower() == "transfer-encoding":
            raise ConnectionError("chunked /small")
    if length is None:
        raise ConnectionError("no Content-Length")
    await reader.readexactly(length)


async def h1_hold(reader, writer):
    await reader.read()


class Pool:
    def __init__(self, kind, host, port):
        self.kind, self.host, self.port = kind, host, port
        self.authority = "localhost:%d" % port
        self.ok = self.failed = self.dropped = 0
        self.cipher = "-"
        self.holders = []
        self.writers = []
        self.ctx = None
        if kind == "tls":
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
            self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            self.ctx.set_alpn_protocols(["h2"])

    async def one(self, gate):
        async with gate:
            try:
                await asyncio.wait_for(self.open(), TIMEOUT)
            except (OSError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, asyncio.TimeoutError,
                    ConnectionError, ValueError, ssl.SSLError):
                self.failed += 1

    async def open(self):
        if self.ctx:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.ctx,
                server_hostname="localhost")
            sslobj = writer.get_extra_info("ssl_object")
            if sslobj.selected_alpn_protocol() != "h2":
                writer.close()
                raise ConnectionError("ALPN did not select h2")
            self.cipher = "%s/%s" % (sslobj.version(), sslobj.cipher()[0])
        else:
            reader, writer = await asyncio.open_connection(
                self.host, self.port)
        try:
            if self.kind == "h1":
                await h1_exchange(reader, writer, self.authority)
                hold = h1_hold(reader, writer)
            else:
                await h2_exchange(reader, writer, self.kind == "tls",
                                  self.authority)
                hold = h2_hold(reader, writer)
        except BaseException:
            writer.close()
            raise
        self.ok += 1
        self.writers.append(writer)
        self.holders.append(asyncio.ensure_future(self.watch(hold)))

    async def watch(self, hold):
        try:
            await hold
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        self.dropped += 1


async def main():
    kind, host, port, count = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                               int(sys.argv[4]))
    if kind not in ("h1", "h2c", "tls"):
        sys.exit("idleconns: KIND is h1, h2c or tls")
    pool = Pool(kind, host, port)
    gate = asyncio.Semaphore(OPEN_AT_ONCE)
    tasks = [asyncio.ensure_future(pool.one(gate)) for _ in range(count)]
    _, late = await asyncio.wait(tasks, timeout=DEADLINE)
    for t in late:
        t.cancel()
    pool.failed += len(late)
    print("ready %d %d %s" % (pool.ok, pool.failed, pool.cipher), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)
    dropped = pool.dropped
    for w in pool.writers:
        w.close()
    for h in pool.holders:
        h.cancel()
    print("dropped %d" % dropped, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
