#!/bin/sh
#
# summary.sh [label ...]
#
# Adds up the records that run-all.sh, check-man.sh and fuzz-smoke.sh
# left in regress/.results, one line per suite, and ends with the
# totals: "N passed, N failed" and ", N skipped" when some were.
# Exits 1 when anything failed, when a suite could not run, or when
# one of the labels named on the command line left no record.
#
# A record is one line of tab-separated fields: label, suite, passed,
# failed, skipped, status (ok, fail, or absent for a suite that has no
# tests yet) and a note ("-" for none).

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
results="$top/regress/.results"

[ -f "$results" ] || : >"$results"

echo "== summary"
awk -F '\t' -v want="$*" '
	BEGIN {
		n = split(want, w, " ")
		for (i = 1; i <= n; i++)
			wanted[w[i]] = 1
	}
	NF >= 6 {
		seen[$1] = 1
		p += $3; f += $4; s += $5
		line = sprintf("%-11s %-24s %5d passed, %d failed", \
		    $1, $2, $3, $4)
		if ($5 > 0)
			line = line sprintf(", %d skipped", $5)
		if ($7 != "" && $7 != "-")
			line = line " (" $7 ")"
		if ($6 == "absent")
			line = line " [not present]"
		print line
		if ($6 != "ok" && $6 != "absent")
			bad = 1
	}
	END {
		for (l in wanted)
			if (!(l in seen)) {
				printf("%-11s %-24s did not run\n", l, "-")
				bad = 1
				f++
			}
		if (p + f == 0)
			print "no test ran"
		line = sprintf("%d passed, %d failed", p, f)
		if (s > 0)
			line = line sprintf(", %d skipped", s)
		print line
		exit (bad || f > 0 || p + f == 0) ? 1 : 0
	}' "$results"
