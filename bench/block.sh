#!/usr/bin/env bash
# Timed blocks: the per-packet cost with 1M exact blocks + 1k prefixes next to
# none (bench/block: BPF_PROG_TEST_RUN of the built-in program, private maps),
# and `pinwall block add --file` of 100k entries (wall and CPU time), then
# `block list` and `block flush` of them, on a pin root of its own removed at
# exit. Needs root; build first (make bench builds).
set -eu
cd "$(dirname "$0")/.."
ROOT="/sys/fs/bpf/pwbench-block-$$"
TMP=$(mktemp -d /tmp/pwbench-block.XXXXXX)
trap 'rm -rf "$ROOT" "$TMP"' EXIT
PW=(./build/pinwall --pin-root "$ROOT")

echo "== timed blocks: per-packet cost (./build/bench/block 1000000 5)"
./build/bench/block 1000000 5
echo
awk 'BEGIN { for (i = 0; i < 100000; i++)
	printf "10.%d.%d.%d\n", int(i / 65536) + 100, int(i / 256) % 256, i % 256 }' >"$TMP/100k"
TIMEFORMAT='%R s wall, %U s user, %S s system'
echo "== block add --file (100k IPv4 addresses)"
{ time "${PW[@]}" block add --file "$TMP/100k" >/dev/null; } 2>&1
echo "== the same again (every entry replaced, hits kept)"
{ time "${PW[@]}" block add --file "$TMP/100k" >/dev/null; } 2>&1
echo "== block list --json (100k)"
{ time "${PW[@]}" block list --json >/dev/null; } 2>&1
echo "== block flush (100k)"
{ time "${PW[@]}" block flush >/dev/null; } 2>&1
