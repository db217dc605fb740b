#!/bin/sh
#
# run.sh: `make bench`. Installs what the benchmark needs (Debian
# packages, through regress/deps.sh bench), raises the limit on open
# files and runs bench.py, which starts, measures and stops everything.
# BENCH_QUICK=1 and the other BENCH_* variables are described in
# regress/bench/README.

set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (the proxies start as root and drop to" \
	    "nobody, and the tools are installed with apt-get)" >&2
	exit 1
fi

sh "$top/regress/deps.sh" bench

# 10000 client connections need more than 10000 descriptors in the load
# tool and up to twice that in a proxy (one origin connection each).
# Raise the limit as far as this machine allows: 65536 where the hard
# limit may be raised (CAP_SYS_RESOURCE), else up to the hard limit.
# Every process started from here inherits it; the nginx, HAProxy and
# h2o configurations are sized from it by bench.py.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec /usr/bin/python3 "$top/regress/bench/bench.py"
