#!/usr/bin/env bash
# Per-dropped-frame cost of captured drops (BPF_PROG_TEST_RUN): the built-in
# program built without the capture code, with capture off (nobody runs
# 'pinwall drops'), capturing under the rate limit, and capturing every
# frame; see bench/capture.c. Builds nothing (make bench builds
# build/bench/capture). Needs root.
# Usage: bench/capture.sh [REPEAT [ROUNDS [OBJECT]]] (OBJECT: another build of
# the built-in program, e.g. the version before captured drops, measured too)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bench/capture
[ -x "$bin" ] || { echo "capture.sh: $bin is missing: run 'make bench' (or make build/bench/capture)" >&2; exit 1; }
echo "== captured drops: cost per dropped frame"
echo "machine: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $bin $*"
echo
"$bin" "$@"
