#!/usr/bin/env bash
# The chain's per-packet cost (BPF_PROG_TEST_RUN): pinwall with its chain
# slot empty, with a no-op program chained, and with it chained and counted
# as `load --then` does; see bench/chain.c. Builds nothing (make bench
# builds build/bench/chain and build/objs/chained.o). Needs root.
# Usage: bench/chain.sh [OBJ [REPEAT [RUNS]]]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bench/chain
obj=${1:-build/objs/chained.o}
for f in "$bin" "$obj"; do
	[ -e "$f" ] || { echo "chain.sh: $f is missing: run 'make bench'" >&2; exit 1; }
done
echo "== the chain's per-packet cost"
echo "machine: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $bin $obj ${2:-1000000} ${3:-9}"
echo
"$bin" "$obj" "${2:-1000000}" "${3:-9}"
