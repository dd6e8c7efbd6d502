#!/usr/bin/env bash
# Per-packet cost of `ct established` for a hit and a miss (BPF_PROG_TEST_RUN),
# against the same ordered rule without ct; see bench/ct.c. Builds nothing
# (make bench builds build/bench/ct). Needs root. Usage: bench/ct.sh [bench/ct options]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bench/ct
[ -x "$bin" ] || { echo "ct.sh: $bin is missing: run 'make bench' (or make all build/bench/ct)" >&2; exit 1; }
echo "== ct established: per-packet cost"
echo "machine: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $bin $*"
echo
"$bin" "$@"
