#!/usr/bin/env bash
# The time of one scrape of `pinwall exporter` with 100k rules in force, in a
# throwaway namespace with a veth pair (pinwall loaded on veth0, frames sent
# so that rules have hits) and its own pin root, both removed at exit:
#  - curl's total time of GET /metrics (what a Prometheus scrape waits for),
#    and pinwall_scrape_duration_seconds from the page (reading the pins:
#    interfaces, counter maps, every rule's per-CPU counters, ranking); the
#    first scrape apart (it reads the rules too; later ones keep them while
#    the rule set in force is the same)
#  - with the default --max-rules 1000, and with every rule as a series
#  - the page's size
# The rule file comes from bench/cost --emit-rules (50k IPv4 + 50k IPv6
# prefixes + 6 port/proto rules: the 100k set of bench/controlplane.sh).
# Needs root; build first (make bench builds).
# Usage: bench/exporter.sh [RUNS]   (RUNS: scrapes timed per setting, 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
NS="pwexp-$$"
ROOT="/sys/fs/bpf/pwbench-$$"
PW=(./build/pinwall -n "$NS" --pin-root "$ROOT")
COST=./build/bench/cost
PORT=9840
tmp=$(mktemp -d)
exp_pid=
cleanup() {
	set +e
	[ -n "$exp_pid" ] && kill "$exp_pid" 2>/dev/null && wait "$exp_pid" 2>/dev/null
	[ -d "$ROOT" ] && "${PW[@]}" unload veth0 >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$ROOT" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in ./build/pinwall ./build/pwgen "$COST"; do
	[ -x "$b" ] || { echo "exporter: $b is missing: run 'make bench' (or make all build/bench/cost)" >&2; exit 1; }
done
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
stats() { # values on stdin -> "min X  median Y  max Z"
	sort -g | awk '{v[NR] = $1} END {printf "min %.1f  median %.1f  max %.1f", v[1], v[int((NR + 1) / 2)], v[NR]}'
}

echo "== exporter: machine $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "   date $(date -u +%Y-%m-%dT%H:%M:%SZ); load average $(cut -d' ' -f1-3 /proc/loadavg); command: bench/exporter.sh $runs"

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add name veth0 type veth peer name veth1
ip -n "$NS" link set veth0 up
ip -n "$NS" link set veth1 up
"${PW[@]}" load veth0 >/dev/null
"$COST" --emit-rules "$tmp/100k.rules" --v4 50000 --v6 50000
SSH_CONNECTION= "${PW[@]}" rule apply "$tmp/100k.rules" --force >/dev/null
nrules=$("${PW[@]}" rule list --json | jq '.rules | length')
# hits on a few thousand rules: frames from addresses inside their prefixes
awk '/^(drop|pass) src [0-9.]+\// && n < 300 { split($3, a, "/"); print a[1]; n++ }' "$tmp/100k.rules" >"$tmp/srcs"
while read -r a; do
	in_ns ./build/pwgen -i veth1 -c 3 --src "$a" -q
done <"$tmp/srcs"
echo "   $nrules rules in force ($(head -n1 "$tmp/100k.rules" | sed 's/^# //')); 900 frames sent to 300 of them"

# scrapes MAXRULES: start the exporter, time RUNS scrapes
scrapes() {
	local max=$1 t d first
	# nsenter execs pinwall: $! is the exporter itself
	nsenter --net="/run/netns/$NS" ./build/pinwall --pin-root "$ROOT" exporter \
		--listen "127.0.0.1:$PORT" --max-rules "$max" &
	exp_pid=$!
	# up when / answers (404: no scrape, so the first scrape below is the first)
	for _ in $(seq 1 100); do
		[ "$(in_ns curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 404 ] && break
		sleep 0.1
	done
	: >"$tmp/curl"
	: >"$tmp/collect"
	for i in $(seq 0 "$runs"); do
		t=$(in_ns curl -sf -o "$tmp/page" -w '%{time_total}' "http://127.0.0.1:$PORT/metrics")
		t=$(awk -v t="$t" 'BEGIN { printf "%.1f\n", t * 1000 }')
		d=$(awk '$1 == "pinwall_scrape_duration_seconds" { printf "%.1f\n", $2 * 1000 }' "$tmp/page")
		if [ "$i" = 0 ]; then
			first="$t ms (reading the pins $d ms)"
			continue
		fi
		echo "$t" >>"$tmp/curl"
		echo "$d" >>"$tmp/collect"
	done
	kill "$exp_pid"
	wait "$exp_pid" || true
	exp_pid=
	printf '%-24s first scrape            %s\n' "--max-rules $max" "$first"
	printf '%-24s scrape (curl time_total) %s ms\n' "" "$(stats <"$tmp/curl")"
	printf '%-24s reading the pins         %s ms\n' "" "$(stats <"$tmp/collect")"
	printf '%-24s page %s bytes, %s rule series, pinwall_rules_omitted %s\n' "" "$(wc -c <"$tmp/page")" \
		"$(grep -c '^pinwall_rule_hits_total{' "$tmp/page")" \
		"$(awk '$1 == "pinwall_rules_omitted" { print $2 }' "$tmp/page")"
}

echo "-- one scrape, $runs runs each (command: nsenter --net=/run/netns/$NS ./build/pinwall --pin-root $ROOT exporter --listen 127.0.0.1:$PORT --max-rules N; curl http://127.0.0.1:$PORT/metrics)"
scrapes 1000
scrapes "$nrules"
echo "   scrape = the whole HTTP request as Prometheus makes it (connect, read the counters of every"
echo "   rule, rank, render, transfer); reading the pins = pinwall_scrape_duration_seconds. The first"
echo "   scrape (and the first after a rule change: a new pw_config generation) also reads the rules"
echo "   themselves; later ones keep them and read only the counters."
