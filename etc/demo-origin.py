#!/usr/bin/python3
#
# Copyright (c) 2026 The uxrp authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.

"""The sample origin of "make demo".

An HTTP/1.1 server on a Unix domain socket that answers every request
with a page showing the request as it arrived: method, target, version,
headers and the size of the body. So the page shows what uxrpd
forwards, X-Forwarded-* and Forwarded included. With a second argument,
it also serves that file as /error.css, the stylesheet of the error
pages uxrpd sends when an origin is down.

usage: demo-origin.py socket-path [error.css]
"""

import html
import http.server
import os
import signal
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "uxrp-demo-origin"
    css = None

    def address_string(self):
        # A peer on a Unix domain socket has no address.
        return "unix"

    def log_message(self, fmt, *args):
        sys.stderr.write("origin: %s\n" % (fmt % args))

    def read_body(self):
        """Reads the request body, Content-Length or chunked."""
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            body = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, ctype, payload, head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def page(self, body):
        rows = "\n".join(
            "<tr><th>%s</th><td>%s</td></tr>"
            % (html.escape(k), html.escape(v))
            for k, v in self.headers.items())
        return ("""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>uxrp demo origin</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto;
       max-width: 48rem; padding: 0 1rem; color: #333; }
code, td, th { font-family: ui-monospace, monospace; font-size: 14px; }
table { border-collapse: collapse; width: 100%%; }
th, td { text-align: left; vertical-align: top; padding: 0.2rem 0.6rem;
         border-bottom: 1px solid #e4e4e4; word-break: break-all; }
th { white-space: nowrap; color: #666; font-weight: normal; }
</style></head>
<body>
<h1>Hello from a Unix socket</h1>
<p>This page comes from the demo origin listening on
<code>%s</code>; uxrpd forwarded your request to it.
This is the request as the origin received it:</p>
<p><code>%s %s %s</code></p>
<table>
%s
</table>
<p>Body: %d bytes.</p>
<p>Try <a href="/down/">/down/</a>: a mount whose origin does not exist,
answered by uxrpd with its 503 page.</p>
</body></html>
""" % (html.escape(self.server.server_address),
            html.escape(self.command), html.escape(self.path),
            html.escape(self.request_version), rows, len(body))
        ).encode("utf-8")

    def respond(self, head=False):
        body = self.read_body()
        if self.path == "/error.css" and self.css is not None:
            self.send(200, "text/css; charset=utf-8", self.css, head)
        else:
            self.send(200, "text/html; charset=utf-8", self.page(body),
                      head)

    def do_GET(self):
        self.respond()

    def do_HEAD(self):
        self.respond(head=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET


class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: demo-origin.py socket-path [error.css]\n")
        return 1
    path = sys.argv[1]
    if len(sys.argv) == 3:
        with open(sys.argv[2], "rb") as f:
            Handler.css = f.read()
    if os.path.exists(path):
        os.unlink(path)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    with Server(path, Handler) as server:
        # The proxy may run as another user: let it connect.
        os.chmod(path, 0o666)
        try:
            server.serve_forever()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
