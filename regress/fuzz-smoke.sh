#!/bin/sh
#
# fuzz-smoke.sh runs fuzzer ...
#
# Runs each libFuzzer binary for a fixed number of inputs, starting
# from its seed corpus regress/fuzz/corpus/<name>/ when there is one.
# New inputs go to a scratch directory, never into the seed corpus; a
# crashing input is kept as obj-fuzz/<name>-crash-*. Records go to
# regress/.results under the label "fuzz"; exits 1 on any failure.

set -u

if [ $# -lt 1 ]; then
	echo "usage: fuzz-smoke.sh runs [fuzzer ...]" >&2
	exit 2
fi
runs=$1
shift

top=$(cd "$(dirname "$0")/.." && pwd)
results="$top/regress/.results"

record()
{
	printf 'fuzz\t%s\t%s\t%s\t0\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
	    >>"$results"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/uxrp-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

echo "== fuzz: $runs runs per target"
if [ $# -eq 0 ]; then
	echo "fuzz: no fuzz targets"
	record none 0 0 absent "no targets"
	exit 0
fi

rv=0
for bin in "$@"; do
	name=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		echo "$name: no such binary: $bin"
		record "$name" 0 1 fail "not built"
		rv=1
		continue
	fi
	seeds="$top/regress/fuzz/corpus/$name"
	if [ ! -d "$seeds" ]; then
		seeds="$tmp/$name.seeds"
		mkdir -p "$seeds"
	fi
	mkdir -p "$tmp/$name"
	if "$bin" -runs="$runs" -max_total_time=300 \
	    -artifact_prefix="$(dirname "$bin")/$name-" \
	    "$tmp/$name" "$seeds" >"$tmp/$name.log" 2>&1; then
		echo "$name: $(grep -E '^Done [0-9]+ runs' "$tmp/$name.log" ||
		    echo ok)"
		record "$name" 1 0 ok -
	else
		tail -n 60 "$tmp/$name.log"
		echo "$name: FAILED (artifacts under $(dirname "$bin"))"
		record "$name" 0 1 fail "crash"
		rv=1
	fi
done
exit $rv
