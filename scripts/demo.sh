#!/usr/bin/env bash
# make demo: pinwall end to end in a throwaway network namespace.
# A veth pair demo0 <-> demo1; pinwall on demo0; pwgen sends from demo1; the
# stats follower runs as a separate process through a reload (counters
# continue), a blocklist set with ordered rules, the dropped frames captured,
# Prometheus metrics, the state saved for a reboot, and an unload + load
# (fresh counter maps: it reports the replacement; the rules stay).
# Everything it creates is removed on exit, Ctrl-C included.
set -u
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates a network namespace)" >&2; exit 1; }

NS="pinwall-demo-$$"
ROOT="/sys/fs/bpf/pinwall-demo-$$"
PW=(./build/pinwall -n "$NS" --pin-root "$ROOT")
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	"${PW[@]}" unload demo0 >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$ROOT"
	echo "== cleaned up: namespace $NS and pins $ROOT removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

step "namespace $NS with veth pair demo0 <-> demo1"
ip netns add "$NS"
ip -n "$NS" link add name demo0 type veth peer name demo1
ip -n "$NS" link set demo0 up
ip -n "$NS" link set demo1 up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

step "pinwall load demo0 (pins below $ROOT)"
"${PW[@]}" load demo0 || exit 1
"${PW[@]}" status demo0

step "traffic: 20000 frames/s from demo1 for 20 s; follower every second"
nsenter --net="/run/netns/$NS" ./build/pwgen -i demo1 -c 0 -r 20000 -d 20 -q &
pids+=($!)
"${PW[@]}" stats demo0 --interval 1 &
pids+=($!)
sleep 4.5

step "pinwall reload demo0: atomic program swap, maps reused, counters continue"
"${PW[@]}" reload demo0
sleep 4

step "pinwall rule apply: named sets and ordered rules (first match wins): the traffic moves from XDP_PASS to XDP_DROP"
rules=$(mktemp)
printf '%s\n' "set mgmt 10.20.0.0/16" "set blocklist 10.11.0.0/16 192.0.2.0/24" \
	"pass proto tcp src @mgmt dport 22" "drop src @blocklist" >"$rules"
cat "$rules"
"${PW[@]}" rule apply "$rules"
rm -f "$rules"
sleep 2.5
"${PW[@]}" rule list
"${PW[@]}" set list --sort hits

step "pinwall drops demo0: copies of the frames the rules drop (also --pcap FILE for tcpdump)"
"${PW[@]}" drops demo0 --count 3

step "pinwall exporter: Prometheus metrics (--listen ADDR:PORT serves /metrics; --textfile for node_exporter)"
conf=$(mktemp -d)
"${PW[@]}" exporter --textfile "$conf/pinwall.prom" &&
	grep -E '^pinwall_(packets_total|rule_hits_total)' "$conf/pinwall.prom" | head -n 6

step "pinwall save: the interfaces, rules and sets as files that 'pinwall restore' (the systemd unit) brings back at boot"
"${PW[@]}" save --config "$conf" && cat "$conf/interfaces"
rm -rf "$conf"

step "pinwall unload demo0 + load demo0: fresh counter maps (the follower notices the new map IDs); the rules stay"
"${PW[@]}" unload demo0 && "${PW[@]}" load demo0
sleep 4.5

step "final status"
"${PW[@]}" status demo0
