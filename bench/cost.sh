#!/usr/bin/env bash
# Per-packet cost (BPF_PROG_TEST_RUN): pinwall at 10, 10k and 100k+100k rules,
# and 64 ordered rules over the 100k+100k prefixes as named sets,
# against a bare XDP_DROP program and xdp-filter's objects; see bench/cost.c.
# Builds nothing (make bench builds build/bench/cost). Needs root.
# Usage: bench/cost.sh [--json FILE] [other bench/cost options]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bench/cost
[ -x "$bin" ] || { echo "cost.sh: $bin is missing: run 'make bench' (or make all build/bench/cost)" >&2; exit 1; }
echo "== per-packet cost"
echo "machine: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $bin $*"
echo
"$bin" "$@"
