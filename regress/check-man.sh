#!/bin/sh
#
# check-man.sh page ...
#
# Lints each manual page with mandoc at warning level. Any line of
# output is a failure: it is printed, recorded in regress/.results
# under the label "man", and the script exits 1.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
results="$top/regress/.results"

record()
{
	printf 'man\t%s\t%s\t%s\t0\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
	    >>"$results"
}

echo "== man: mandoc -Tlint -Wwarning"
if ! command -v mandoc >/dev/null 2>&1; then
	echo "check-man: mandoc is not installed (make deps)"
	record mandoc 0 1 fail "mandoc missing"
	exit 1
fi

rv=0
for page in "$@"; do
	name=$(basename "$page")
	if [ ! -f "$page" ]; then
		echo "check-man: no such page: $page"
		record "$name" 0 1 fail "missing"
		rv=1
		continue
	fi
	out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
	if [ -n "$out" ]; then
		printf '%s\n' "$out"
		record "$name" 0 1 fail "lint"
		rv=1
	else
		echo "$name: clean"
		record "$name" 1 0 ok -
	fi
done
exit $rv
