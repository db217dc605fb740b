#!/bin/sh
#
# Installs what building, testing and running the demo need: Debian
# packages through apt-get, OpenBSD packages through pkg_add. Quiet
# when everything is present already.
#
# `deps.sh bench` installs instead what `make bench` needs: the peer
# proxies, the origin, the load generators and perf. Never part of
# `make deps` or `make check`. The Debian packages start their system
# services on install; those are stopped again here (by pid file), and
# the benchmark runs its own instances with its own configurations.

set -eu

LIST=${1:-build}

DEBIAN_PKGS="build-essential clang pkg-config libevent-dev libssl-dev
libnghttp2-dev libjansson-dev libbsd-dev libseccomp-dev libcmocka-dev
python3 python3-pytest python3-h2 curl nghttp2-client mandoc procps
util-linux openssl iproute2"

DEBIAN_BENCH_PKGS="nginx haproxy h2o wrk nghttp2-client linux-perf openssl curl
procps python3"

OPENBSD_PKGS="gmake libevent jansson nghttp2 cmocka py3-test py3-h2 curl"

deps_debian()
{
	missing=
	for p in $DEBIAN_PKGS; do
		s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) ||
		    s=
		case $s in
		ii*)	;;
		*)	missing="$missing $p" ;;
		esac
	done
	[ -z "$missing" ] && return 0

	cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y"
	cmd="$cmd --no-install-recommends$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing:$missing" >&2
		echo "deps: as root, run: apt-get update &&" \
		    "$cmd" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	apt-get update -q
	eval "$cmd"
}

# Stops the system instances that installing nginx, haproxy and h2o may
# have started: the benchmark wants the CPU to itself. systemctl may not
# exist, so the pid file is what names the process.
stop_system_services()
{
	for f in /run/nginx.pid /run/haproxy.pid /run/h2o.pid \
	    /var/run/nginx.pid /var/run/haproxy.pid /var/run/h2o.pid; do
		[ -s "$f" ] || continue
		pid=$(head -n 1 "$f" | tr -cd 0-9)
		[ -n "$pid" ] || continue
		if kill -0 "$pid" 2>/dev/null; then
			echo "deps: stopping the system service of $f (pid $pid)"
			kill "$pid" 2>/dev/null || true
		fi
	done
	if command -v systemctl >/dev/null 2>&1 &&
	    [ -d /run/systemd/system ]; then
		systemctl disable --now nginx haproxy h2o >/dev/null 2>&1 ||
		    true
	fi
}

deps_openbsd()
{
	missing=
	for p in $OPENBSD_PKGS; do
		pkg_info -e "$p-*" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0

	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing:$missing" >&2
		echo "deps: as root, run: pkg_add$missing" >&2
		exit 1
	fi
	echo "deps: pkg_add$missing"
	pkg_add$missing
}

case $(uname -s) in
Linux)
	if [ -f /etc/debian_version ]; then
		if [ "$LIST" = bench ]; then
			DEBIAN_PKGS=$DEBIAN_BENCH_PKGS
			deps_debian
			stop_system_services
		else
			deps_debian
		fi
		exit 0
	fi
	;;
OpenBSD)
	if [ "$LIST" = bench ]; then
		echo "deps: the benchmark runs on Debian only" >&2
		exit 1
	fi
	deps_openbsd
	exit 0
	;;
esac

echo "deps: no installer for this system; install these by hand:" >&2
echo "  a C compiler, make, pkg-config, clang (for fuzzing), libevent," \
    "openssl, nghttp2, jansson, libbsd (Linux), libseccomp (Linux)," \
    "cmocka, python3 with pytest and h2, curl, nghttp2's nghttp," \
    "mandoc" >&2
exit 1
