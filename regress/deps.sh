#!/bin/sh
#
# Installs what building, testing and running the demo need: Debian
# packages through apt-get, OpenBSD packages through pkg_add. Quiet
# when everything is present already.

set -eu

DEBIAN_PKGS="build-essential clang pkg-config libevent-dev libssl-dev
libnghttp2-dev libjansson-dev libbsd-dev libseccomp-dev libcmocka-dev
python3 python3-pytest python3-h2 curl nghttp2-client mandoc procps
util-linux"

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
		deps_debian
		exit 0
	fi
	;;
OpenBSD)
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
