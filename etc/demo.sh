#!/bin/sh
#
# demo.sh: "make demo". Starts the sample origin on a Unix domain socket
# and uxrpd in front of it, in the foreground, until Ctrl-C. Everything
# lives in one temporary directory that goes away on exit.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
uxrpd="$top/uxrpd"

if [ ! -x "$uxrpd" ]; then
	echo "demo: $uxrpd is not built; run make first" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/uxrp-demo.XXXXXX")
origin_pid=
tail_pid=

cleanup()
{
	set +e
	trap - EXIT INT TERM HUP
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	if [ -n "$origin_pid" ]; then
		kill "$origin_pid" 2>/dev/null
		wait "$origin_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The first port from 8080 up that nothing listens on.
port=$("$PYTHON" - <<'EOF'
import socket
for port in range(8080, 8180):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
EOF
)
if [ -z "$port" ]; then
	echo "demo: no free port between 8080 and 8179" >&2
	exit 1
fi

"$PYTHON" "$top/etc/demo-origin.py" "$tmp/app.sock" "$top/etc/error.css" &
origin_pid=$!
i=0
while [ ! -S "$tmp/app.sock" ]; do
	i=$((i + 1))
	if [ "$i" -gt 50 ] || ! kill -0 "$origin_pid" 2>/dev/null; then
		echo "demo: the sample origin did not start" >&2
		exit 1
	fi
	sleep 0.1
done

# As root the workers run as nobody in an empty chroot directory, and
# the master connects them to the origin socket that lies outside it.
if [ "$(id -u)" -eq 0 ]; then
	mkdir "$tmp/chroot"
	privs="\"user\": \"nobody\", \"chroot\": \"$tmp/chroot\","
else
	privs="\"chroot\": null,"
fi

: >"$tmp/access.log"
cat >"$tmp/uxrpd.conf" <<EOF
{
  $privs
  "workers": 2,
  "access_log": "$tmp/access.log",
  "timeouts": { "drain": 2 },
  "listen": [ { "address": "127.0.0.1", "port": $port } ],
  "vhosts": [ {
    "names": [ "localhost" ],
    "mounts": [
      { "mountpoint": "/down/", "origin": "+$tmp/down.sock:/" },
      { "mountpoint": "/", "origin": "+$tmp/app.sock:/" }
    ]
  } ]
}
EOF

# How uxrpd will reach each origin; /down/ has no socket, on purpose.
"$uxrpd" -n -f "$tmp/uxrpd.conf"

# The access log, as requests come in.
tail -n 0 -f "$tmp/access.log" &
tail_pid=$!

url="http://127.0.0.1:$port/"
echo "demo: ${url}down/ has no origin and shows the 503 page"
echo "uxrpd is serving $url (origin on unix socket $tmp/app.sock);" \
    "Ctrl-C stops it"
set +e
"$uxrpd" -d -f "$tmp/uxrpd.conf"
rv=$?
set -e
exit "$rv"
