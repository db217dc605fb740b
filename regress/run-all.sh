#!/bin/sh
#
# run-all.sh [-u] label [unit-binary ...]
#
# Runs each cmocka unit binary, then the integration suite under
# regress/integration (unless -u), prints each suite's own output and
# appends one record per suite to regress/.results for summary.sh.
# A suite that fails, crashes or cannot run is a failure record; this
# script itself exits 0 so that the rest of "make check" still runs.
#
# Environment: UXRPD, the daemon the integration suite starts;
# PYTHON, the interpreter with pytest (default /usr/bin/python3);
# SANITIZE=1 when the binaries carry ASan and UBSan.
# With CI set, each suite runs under timeout(1) so that a hang ends.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
results="$top/regress/.results"
PYTHON=${PYTHON:-/usr/bin/python3}
UXRPD=${UXRPD:-$top/uxrpd}
export UXRPD

unitonly=0
if [ "${1:-}" = "-u" ]; then
	unitonly=1
	shift
fi
if [ $# -lt 1 ]; then
	echo "usage: run-all.sh [-u] label [unit-binary ...]" >&2
	exit 2
fi
label=$1
shift

tmp=$(mktemp -d "${TMPDIR:-/tmp}/uxrp-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
esc=$(printf '\033')

# record suite passed failed skipped status note
record()
{
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$1" "$2" "$3" \
	    "$4" "$5" "$6" >>"$results"
}

# run seconds command...: the command's output goes to the terminal
# and to $tmp/out, its exit status to $tmp/rc.
run()
{
	secs=$1
	shift
	if [ -n "${CI:-}" ] && command -v timeout >/dev/null 2>&1; then
		set -- timeout -k 10 "$secs" "$@"
	fi
	{ "$@" 2>&1; echo $? >"$tmp/rc"; } | tee "$tmp/out"
	rc=$(cat "$tmp/rc")
}

# Reports of either sanitizer, in case a binary went on after one.
sanitizer_report()
{
	grep -q -e '^==[0-9]*==ERROR: ' -e 'runtime error: ' "$tmp/out"
}

unit_suite()
{
	bin=$1
	name=$(basename "$bin")
	echo "== $label: $name"
	if [ ! -x "$bin" ]; then
		echo "$name: no such binary: $bin"
		record "$name" 0 1 0 fail "not built"
		return
	fi
	run 300 "$bin"
	counts=$(sed "s/$esc\[[0-9;]*m//g" "$tmp/out" | awk '
		function count(tag) {
			if (!match($0, "\\[  " tag " *\\] [0-9]+ test"))
				return 0
			$0 = substr($0, RSTART + 13)
			return $1 + 0
		}
		/\[==========\] [0-9]+ test\(s\) run/ { done = 1 }
		{ line = $0; p += count("PASSED") }
		{ $0 = line; f += count("FAILED") }
		{ $0 = line; s += count("SKIPPED") }
		END { print p + 0, f + 0, s + 0, done + 0 }')
	set -- $counts
	p=$1 f=$2 s=$3 done=$4
	status=ok note=-
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		status=fail note="timed out"
		f=$((f + 1))
	elif [ "$done" -eq 0 ]; then
		status=fail note="exit status $rc before the end"
		f=$((f + 1))
	elif sanitizer_report; then
		status=fail note="sanitizer report"
		f=$((f + 1))
	elif [ "$f" -ne 0 ]; then
		status=fail
	elif [ "$rc" -ne 0 ]; then
		status=fail note="exit status $rc"
		f=1
	fi
	record "$name" "$p" "$f" "$s" "$status" "$note"
}

integration_suite()
{
	echo "== $label: integration"
	dir="$top/regress/integration"
	if ! ls "$dir"/test_*.py >/dev/null 2>&1; then
		echo "integration: regress/integration holds no tests;" \
		    "0 recorded"
		record integration 0 0 0 absent "no tests"
		return
	fi
	if [ ! -x "$UXRPD" ]; then
		echo "integration: no daemon at $UXRPD"
		record integration 0 1 0 fail "no daemon"
		return
	fi
	run 900 "$PYTHON" -m pytest -q -p no:cacheprovider "$dir"
	# The last line names the counts: "3 failed, 40 passed in 2.1s".
	counts=$(sed "s/$esc\[[0-9;]*m//g" "$tmp/out" |
	    grep -E '[0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed)' |
	    tail -n 1 | tr -d '=' | tr ',' '\n' | awk '
		$2 == "passed" || $2 == "xpassed" { p += $1 }
		$2 == "failed" || $2 ~ /^errors?$/ { f += $1 }
		$2 == "skipped" || $2 == "xfailed" { s += $1 }
		END { print p + 0, f + 0, s + 0 }')
	set -- $counts
	p=$1 f=$2 s=$3
	status=ok note=-
	case $rc in
	0)	;;
	1)	status=fail
		[ "$f" -eq 0 ] && f=1 ;;
	5)	note="no tests collected" ;;
	124|137)
		status=fail note="timed out"
		f=$((f + 1)) ;;
	*)	status=fail note="pytest exit status $rc"
		[ "$f" -eq 0 ] && f=1 ;;
	esac
	record integration "$p" "$f" "$s" "$status" "$note"
}

for bin in "$@"; do
	if [ "${SANITIZE:-0}" = 1 ]; then
		ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
		export ASAN_OPTIONS UBSAN_OPTIONS
	fi
	unit_suite "$bin"
done

if [ "$unitonly" -eq 0 ]; then
	# The daemon's processes exec and chroot: reports go to stderr,
	# which the integration tests capture and check.
	if [ "${SANITIZE:-0}" = 1 ]; then
		ASAN_OPTIONS=abort_on_error=0:halt_on_error=1:detect_leaks=0
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
		export ASAN_OPTIONS UBSAN_OPTIONS
	fi
	integration_suite
fi
exit 0
