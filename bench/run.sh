#!/usr/bin/env bash
# make bench: every benchmark, each printing its numbers and the command.
set -eu
cd "$(dirname "$0")/.."
echo "== lifecycle"
bash bench/lifecycle.sh 20 1
