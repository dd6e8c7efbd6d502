#!/usr/bin/env bash
# make bench: every benchmark, each printing its numbers and the command that
# produced them; JSON lines for the plot go to build/bench/results/.
set -eu
cd "$(dirname "$0")/.."
out=build/bench/results
mkdir -p "$out"
echo "== lifecycle"
bash bench/lifecycle.sh 20 1 | tee "$out/lifecycle.txt"
echo
bash bench/cost.sh --json "$out/cost.jsonl" | tee "$out/cost.txt"
echo
bash bench/controlplane.sh | tee "$out/controlplane.txt"
echo
bash bench/ct.sh | tee "$out/ct.txt"
echo
bash bench/capture.sh | tee "$out/capture.txt"
echo
bash bench/chain.sh | tee "$out/chain.txt"
echo
bash bench/ladder.sh "$out/ladder.jsonl" | tee "$out/ladder.txt"
echo
bash bench/exporter.sh | tee "$out/exporter.txt"
echo
bash bench/steer.sh | tee "$out/steer.txt"
bash bench/block.sh | tee "$out/block.txt"
bash bench/limit.sh | tee "$out/limit.txt"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
	/usr/bin/python3 bench/plot.py "$out" docs/bench.png && echo "plot: docs/bench.png"
else
	echo "plot skipped: install python3-matplotlib (scripts/deps.sh installs it)"
fi
