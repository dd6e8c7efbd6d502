#!/usr/bin/env bash
# Drop ladder: how fast does one receiver core dispose of a flood of 64-byte
# UDP/IPv4 frames from 10.11.0.2 under a "drop src 10.11.0.0/16" rule, with
#   pinwall                 XDP, native, `rule add drop src 10.11.0.0/16`
#   xdp-filter              XDP, native, default features (`xdp-filter load`),
#                           `xdp-filter ip 10.11.0.2 --mode src` (exact address:
#                           it has no prefixes)
#   xdp-filter-ipv4         the same with `--features ipv4` (its leanest program
#                           for this rule)
#   nftables                netdev ingress hook on veth0, `ip saddr 10.11.0.0/16
#                           counter drop`
#   iptables                raw PREROUTING -s 10.11.0.0/16 -j DROP (Debian's
#                           default iptables, i.e. iptables-nft)
#   iptables-legacy         the same rule through iptables-legacy (x_tables)
#   none                    no filter: the frames go up the stack to a local
#                           address and a closed UDP port (Udp NoPorts)
#
# Set-up, per contestant, in a fresh namespace: veth1 -> veth0. bench/livegen
# (BPF_PROG_RUN live frames, bpf_redirect out of veth1) runs pinned to
# GEN_CPU and puts frames straight into veth0's XDP receive ring; veth0's NAPI
# is made threaded and its kthread (napi/veth0-N) pinned to RX_CPU, so all of
# the receive work -- XDP program, or skb + GRO + netfilter + IP/UDP -- runs
# on that one core. (Without threaded NAPI the poll would run in softirq on
# the generator's own core, right after each batch.) This script pins itself
# to GEN_CPU too. veth0 has GRO on so it has NAPI without an XDP program
# (a veth without either drops redirected frames).
#
# Counters, sampled every second of a DURATION-second window that starts
# WARMUP seconds after livegen:
#   processed = veth0 rx_packets: frames veth0's NAPI took out of its ring
#               and ran through XDP or the stack (veth counts every frame it
#               polls, whatever the verdict; equals ethtool's
#               rx_queue_0_xdp_packets plus the few frames veth1 sent the
#               ordinary way). Frames that found the ring full never got
#               there: they are veth0's rx_dropped (veth reports veth1's
#               tx_queue_0_xdp_xmit_errors there), shown as ring-drop.
#   offered   = processed + ring-drop: every frame livegen redirected.
#   filter    = the contestant's own counter (pinwall rule hits, veth0
#               rx_queue_0_xdp_drops for xdp-filter, the nft/iptables rule
#               counter, Udp NoPorts for none): the rule, not something else,
#               disposed of the frames. Read at the window's ends only.
#   busy      = the NAPI kthread's CPU time / window. Below ~100 % the
#               receiver waited for frames (the generator was slower, or was
#               descheduled), and capacity = processed / busy estimates what
#               the core would do fully busy.
#   peak      = the best one-second processed rate of the window.
#   other     = CPU time of other processes on the generator's and the
#               receiver's core: above a few % the numbers are disturbed.
# Scheduling: the NAPI kthread runs SCHED_FIFO 50 (RX_FIFO=1) and livegen
# SCHED_FIFO 40 (GEN_FIFO=1), so other processes disturb the measurement
# less (RT throttling still leaves them ~5 % of each core; with preempt=none,
# as here, a process inside a long system call still delays ours). This
# script then runs at SCHED_FIFO 45, so its samples are not held up behind
# livegen.
# GEN_FIFO=0: livegen runs in its own scheduler autogroup at nice GEN_NICE
# instead. On a busy machine the numbers still vary: see "other".
#
# Usage: bench/ladder.sh [JSONL_OUT]     (root; run `make all build/bench/livegen`)
# Env: DURATION=5 WARMUP=1 ROUNDS=2 GEN_CPU=0 RX_CPU=1 SPORTS=1 (source ports cycled)
#      RX_FIFO=1 GEN_FIFO=1 GEN_NICE=-10 (used with GEN_FIFO=0)
#      CONTESTANTS="pinwall xdp-filter xdp-filter-ipv4 nftables iptables iptables-legacy none"
set -u
cd "$(dirname "$0")/.."
OUT=${1:-/dev/null}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-1}
GEN_CPU=${GEN_CPU:-0}
RX_CPU=${RX_CPU:-1}
SPORTS=${SPORTS:-1}
GEN_NICE=${GEN_NICE:--10}
RX_FIFO=${RX_FIFO:-1}
GEN_FIFO=${GEN_FIFO:-1}
CONTESTANTS=${CONTESTANTS:-"pinwall xdp-filter xdp-filter-ipv4 nftables iptables iptables-legacy none"}
GEN=./build/bench/livegen
PWBIN=./build/pinwall
SRC=10.11.0.2
RULE_NET=10.11.0.0/16
DST=10.12.0.1

TAG="pwladder-$$"
ROOT="/sys/fs/bpf/$TAG"
tmp=$(mktemp -d)
NS=""		# the current contestant's namespace
GENPID=""
HOLDER=""	# private mount namespace (own bpffs) for xdp-filter

log() { echo "ladder: $*" >&2; }

cleanup() {
	trap - EXIT INT TERM
	[ -n "$GENPID" ] && kill "$GENPID" 2>/dev/null && wait "$GENPID" 2>/dev/null
	teardown_ns
	[ -d "$ROOT" ] && rm -rf "$ROOT"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

need() { command -v "$1" >/dev/null || { log "missing $1"; exit 1; }; }
for c in ip ethtool nsenter unshare taskset chrt jq awk nft "$GEN" "$PWBIN"; do need "$c"; done
[ "$(id -u)" = 0 ] || { log "needs root"; exit 1; }
ncpu=$(nproc --all)
if [ "$GEN_CPU" = "$RX_CPU" ] || [ "$GEN_CPU" -ge "$ncpu" ] || [ "$RX_CPU" -ge "$ncpu" ]; then
	log "need two distinct CPUs below $ncpu (GEN_CPU=$GEN_CPU RX_CPU=$RX_CPU)"
	exit 1
fi
taskset -pc "$GEN_CPU" $$ >/dev/null	# keep this script's children off the receiver core
[ "$GEN_FIFO" = 1 ] && chrt -f -p 45 $$

nsx() { nsenter --net="/run/netns/$NS" "$@"; }	# run in the contestant's netns
# a pin root per namespace: pinwall's rules are shared maps that outlive unload
PW() { "$PWBIN" -n "$NS" --pin-root "$ROOT/$NS" "$@"; }
XF() { nsenter --mount="/proc/$HOLDER/ns/mnt" --net="/run/netns/$NS" xdp-filter "$@"; }

teardown_ns() {
	[ -z "$NS" ] && return 0
	if [ -n "$HOLDER" ]; then
		XF unload --all >/dev/null 2>&1
		kill "$HOLDER" 2>/dev/null
		wait "$HOLDER" 2>/dev/null
		HOLDER=""
	fi
	if [ -d "$ROOT/$NS" ]; then
		PW unload veth0 >/dev/null 2>&1
		rm -rf "${ROOT:?}/$NS"
	fi
	ip netns del "$NS" 2>/dev/null
	NS=""
}

napi_threads() { ps -eLo tid=,comm= | awk '$2 ~ /^napi\/veth0-/ { print $1 }' | sort; }

# One namespace, veth1 (generator) -> veth0 (receiver, 10.12.0.1/24).
make_ns() {
	NS="$TAG-$1"
	ip netns add "$NS" || return 1
	ip -n "$NS" link add veth0 type veth peer name veth1 || return 1
	nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n "$NS" addr add "$DST/24" dev veth0
	ip -n "$NS" link set veth0 up && ip -n "$NS" link set veth1 up || return 1
	nsx sysctl -qw net.ipv4.conf.veth0.rp_filter=0
	nsx ethtool -K veth0 gro on >/dev/null || return 1
}

# After the contestant's set-up: threaded NAPI on veth0, kthread onto RX_CPU.
pin_napi() {
	local before after
	before=$(napi_threads)
	ip netns exec "$NS" sh -c 'echo 1 > /sys/class/net/veth0/threaded' || return 1
	sleep 0.1
	after=$(napi_threads)
	NAPI_TID=$(comm -13 <(echo "$before") <(echo "$after") | head -n1)
	[ -n "$NAPI_TID" ] || { log "no new napi/veth0 thread after enabling threaded NAPI"; return 1; }
	taskset -pc "$RX_CPU" "$NAPI_TID" >/dev/null || return 1
	if [ "$RX_FIFO" = 1 ]; then chrt -f -p 50 "$NAPI_TID" || return 1; fi
}

stat_of() { # IFACE NAME -> ethtool statistic
	nsx ethtool -S "$1" | awk -v k="$2:" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}

# "NAME, native" or "NAME, skb (generic)": what runs on veth0's XDP hook
xdp_attached() {
	ip -n "$NS" link show dev veth0 | awk '$1 ~ /^prog\/xdp/ {
		printf "%s, %s", $5, $1 == "prog/xdp" ? "native" : "skb (generic)"; exit }'
}

# ---- contestants: setup_X (0 = ready, else reason on stdout), counter_X ----
setup_pinwall() {
	PW load veth0 --mode native >/dev/null 2>"$tmp/err" &&
		PW rule add drop src "$RULE_NET" >/dev/null 2>>"$tmp/err" || { head -n1 "$tmp/err"; return 1; }
	LOADED=$(xdp_attached)
}
counter_pinwall() { PW rule list --json | jq '.total.packets'; }

start_holder() {
	unshare --mount --propagation private sh -c 'mount -t bpf bpf /sys/fs/bpf && exec sleep 100000' &
	HOLDER=$!
	for _ in $(seq 50); do
		[ "$(nsenter --mount="/proc/$HOLDER/ns/mnt" stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] && return 0
		sleep 0.02
	done
	echo "private bpffs for xdp-filter did not come up"
	return 1
}
setup_xdpfilter_common() { # FEATURES
	command -v xdp-filter >/dev/null || { echo "xdp-filter not installed"; return 1; }
	start_holder || return 1
	local feat=()
	[ "$1" != all ] && feat=(--features "$1")
	# xdp-filter prints libxdp's fallback notes (no multiprog dispatcher) on stderr
	if ! XF load veth0 --mode native -v "${feat[@]}" >"$tmp/xf" 2>&1; then
		log "xdp-filter load --mode native failed: $(grep -v '^$' "$tmp/xf" | tail -n1); trying skb mode"
		XF load veth0 --mode skb -v "${feat[@]}" >"$tmp/xf" 2>&1 ||
			{ echo "xdp-filter load failed (native and skb): $(tail -n1 "$tmp/xf")"; return 1; }
	fi
	XF ip "$SRC" --mode src >>"$tmp/xf" 2>&1 || { echo "xdp-filter ip failed: $(tail -n1 "$tmp/xf")"; return 1; }
	LOADED=$(xdp_attached)
	grep -q 'without dispatcher' "$tmp/xf" && LOADED="$LOADED, no dispatcher (libxdp fell back to a single program)"
	return 0
}
setup_xdp-filter() { setup_xdpfilter_common all; }
setup_xdp-filter-ipv4() { setup_xdpfilter_common ipv4; }
counter_xdp-filter() { stat_of veth0 rx_queue_0_xdp_drops; }
counter_xdp-filter-ipv4() { counter_xdp-filter; }

setup_nftables() {
	nsx nft -f - <<-EOF 2>&1 | head -n1 || return 1
	table netdev pwladder {
		chain ingress {
			type filter hook ingress device "veth0" priority 0; policy accept;
			ip saddr $RULE_NET counter drop
		}
	}
	EOF
	nsx nft list table netdev pwladder >/dev/null 2>&1 || { echo "nft table not created"; return 1; }
	LOADED="nft netdev ingress, $(nft --version)"
}
counter_nftables() { nsx nft -j list table netdev pwladder | jq '[.. | .counter? | .packets? // empty] | add'; }

setup_ipt() { # BINARY
	command -v "$1" >/dev/null || { echo "$1 not installed"; return 1; }
	nsx "$1" -t raw -A PREROUTING -s "$RULE_NET" -j DROP 2>&1 | head -n1
	nsx "$1" -t raw -S PREROUTING 2>/dev/null | grep -q -- '-j DROP' || { echo "$1 rule not in place"; return 1; }
	LOADED="$($1 --version)"
}
ipt_counter() { nsx "$1" -t raw -L PREROUTING -v -x -n | awk 'NR == 3 { print $1 }'; }
setup_iptables() { setup_ipt iptables; }
counter_iptables() { ipt_counter iptables; }
setup_iptables-legacy() { setup_ipt iptables-legacy; }
counter_iptables-legacy() { ipt_counter iptables-legacy; }

setup_none() { LOADED="no filter: UDP to $DST:9 (closed port), counter Udp NoPorts"; }
counter_none() { nsx awk '$1 == "Udp:" && n++ { print $3 }' /proc/net/snmp; }

# One sample: "t_start t_end rx_packets rx_dropped napi_ns gen_ns rxcpu_ns
# gencpu_ns", read by one `ip` and one `awk` ($EPOCHREALTIME is bash's own
# clock, no fork).
sample() {
	local ta line
	ta=$EPOCHREALTIME
	line=$(ip -n "$NS" -s -j link show dev veth0 |
		awk -v hz="$(getconf CLK_TCK)" -v r="cpu$RX_CPU" -v g="cpu$GEN_CPU" '
		FILENAME == "-" { if (match($0, /"rx":\{[^}]*\}/)) {
				rx = substr($0, RSTART, RLENGTH)
				match(rx, /"packets":[0-9]+/); p = substr(rx, RSTART + 10, RLENGTH - 10)
				match(rx, /"dropped":[0-9]+/); d = substr(rx, RSTART + 10, RLENGTH - 10) }
			next }
		FNR == 1 && FILENAME != "/proc/stat" { v[FILENAME] = $1 }
		FILENAME == "/proc/stat" && ($1 == r || $1 == g) {
			b = 0; for (i = 2; i <= NF; i++) if (i != 5 && i != 6) b += $i; c[$1] = b * 1e9 / hz }
		END { printf "%s %s %.0f %.0f %.0f %.0f", p, d, v[ARGV[2]], v[ARGV[3]], c[r], c[g] }' \
		- "/proc/$NAPI_TID/schedstat" "/proc/$GENPID/schedstat" /proc/stat)
	echo "$ta $EPOCHREALTIME $line"
}

filter_sample() { # CONTESTANT -> "t_mid count"
	local ta f
	ta=$EPOCHREALTIME
	f=$("counter_$1" 2>/dev/null)
	echo "$(awk -v a="$ta" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", (a + b) / 2 }') ${f:-0}"
}

not_measured() { # CONTESTANT REASON
	log "$1: not measured: $2"
	jq -nc --arg c "$1" --arg why "$2" --argjson r "$ROUND" \
		'{contestant: $c, round: $r, measured: false, reason: $why}' >>"$tmp/res"
}

run_one() { # CONTESTANT
	local c=$1 why r t0 i f0 f1
	LOADED=""
	NAPI_TID=""
	if ! make_ns "$c"; then
		why="namespace set-up failed"
	else
		# in this shell, not $(...): set-up sets LOADED and HOLDER
		if "setup_$c" >"$tmp/why"; then
			why=""
			pin_napi || why="threaded NAPI unavailable"
		else
			why=$(head -n1 "$tmp/why")
			why=${why:-"set-up failed"}
		fi
	fi
	if [ -n "$why" ]; then
		not_measured "$c" "$why"
		teardown_ns
		return
	fi
	log "$c: $LOADED; NAPI kthread $NAPI_TID on CPU $RX_CPU, livegen on CPU $GEN_CPU"
	# setsid and nsenter exec, so $! is livegen itself; it runs until told to
	# stop. Its own session is its own scheduler autogroup, whose nice we set:
	# with autogroups, a process's nice counts only inside its own group.
	setsid nsenter --net="/run/netns/$NS" "$GEN" -i veth1 -d 0 -C "$GEN_CPU" \
		--src "$SRC" --dst "$DST" --sport-range "$SPORTS" --json >"$tmp/gen" 2>"$tmp/generr" &
	GENPID=$!
	if [ "$GEN_FIFO" = 1 ]; then
		chrt -f -p 40 "$GENPID"
	elif [ -w "/proc/$GENPID/autogroup" ]; then
		echo "$GEN_NICE" >"/proc/$GENPID/autogroup" 2>/dev/null
	else
		renice -n "$GEN_NICE" -p "$GENPID" >/dev/null
	fi
	sleep "$WARMUP"
	: >"$tmp/samples"
	f0=$(filter_sample "$c")
	t0=$EPOCHREALTIME
	sample >>"$tmp/samples"
	for i in $(seq "$DURATION"); do
		sleep "$(awk -v t0="$t0" -v i="$i" -v now="$EPOCHREALTIME" 'BEGIN { d = t0 + i - now; printf "%.3f", (d > 0 ? d : 0) }')"
		sample >>"$tmp/samples"
	done
	f1=$(filter_sample "$c")
	kill -INT "$GENPID" 2>/dev/null	# livegen prints its total and exits
	wait "$GENPID"
	r=$?
	GENPID=""
	if [ "$r" -ne 0 ] || ! [ -s "$tmp/gen" ]; then
		not_measured "$c" "livegen failed: $(tail -n1 "$tmp/generr")"
	elif [ "$(wc -l <"$tmp/samples")" -lt 2 ] || awk 'NF != 8 { bad = 1 } END { exit !bad }' "$tmp/samples"; then
		not_measured "$c" "counters could not be read"
	else
		awk -v c="$c" -v loaded="$LOADED" -v f0="$f0" -v f1="$f1" -v genpps="$(jq .pps "$tmp/gen")" \
			-v rxcpu="$RX_CPU" -v gencpu="$GEN_CPU" -v sports="$SPORTS" -v fifo="$RX_FIFO" -v round="$ROUND" '
		{ n++; for (k = 1; k <= NF; k++) s[n, k] = $k; t[n] = ($1 + $2) / 2
		  if ($2 - $1 > readmax) readmax = $2 - $1 }
		function rate(k, i, j) { return (s[j, k] - s[i, k]) / (t[j] - t[i]) }
		function other(i, j) {	# CPU share of others on the receiver core
			o = ((s[j, 7] - s[i, 7]) - (s[j, 5] - s[i, 5])) / 1e9 / (t[j] - t[i])
			return o < 0 ? 0 : o }
		END {
			dt = t[n] - t[1]
			proc = rate(3, 1, n); drop = rate(4, 1, n)
			busy = rate(5, 1, n) / 1e9; genbusy = rate(6, 1, n) / 1e9
			rxother = other(1, n)
			genother = ((s[n, 8] - s[1, 8]) - (s[n, 6] - s[1, 6])) / 1e9 / dt
			if (genother < 0) genother = 0
			split(f0, a); split(f1, b); filt = (b[2] - a[2]) / (b[1] - a[1])
			cap = busy > 0 ? proc / (busy > 1 ? 1 : busy) : 0
			ivs = ""; peak = -1
			for (i = 1; i < n; i++) {
				p = rate(3, i, i + 1)
				ivs = ivs sprintf("%s%.0f", (i > 1 ? "," : ""), p)
				if (p > peak) { peak = p; pbusy = rate(5, i, i + 1) / 1e9; pother = other(i, i + 1) }
			}
			gsub(/"/, "\\\"", loaded)
			printf "{\"contestant\":\"%s\",\"round\":%d,\"measured\":true,\"seconds\":%.3f," \
				"\"offered_pps\":%.0f,\"processed_pps\":%.0f,\"ring_drop_pps\":%.0f,\"filter_pps\":%.0f," \
				"\"rx_core_busy\":%.3f,\"capacity_pps\":%.0f,\"peak_pps\":%.0f,\"peak_busy\":%.3f,\"peak_rx_other\":%.3f," \
				"\"interval_pps\":[%s],\"gen_core_busy\":%.3f,\"rx_core_other\":%.3f,\"gen_core_other\":%.3f," \
				"\"gen_run_pps\":%.0f,\"sample_ms_max\":%.1f,\"rx_cpu\":%d,\"gen_cpu\":%d,\"rx_fifo\":%s," \
				"\"sport_range\":%d,\"frame_len\":64,\"loaded\":\"%s\"}\n",
				c, round, dt, proc + drop, proc, drop, filt, busy, cap, peak, pbusy, pother, ivs,
				genbusy, rxother, genother, genpps, readmax * 1000, rxcpu, gencpu,
				fifo == 1 ? "true" : "false", sports, loaded
		}' "$tmp/samples" >>"$tmp/res"
	fi
	teardown_ns
}

date_s=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "$ncpu CPUs, $(uname -r); $ROUNDS round(s) of a ${DURATION} s window after ${WARMUP} s warm-up; livegen CPU $GEN_CPU, receiver CPU $RX_CPU"
: >"$tmp/res"
for c in $CONTESTANTS; do
	declare -F "setup_$c" >/dev/null || { log "unknown contestant '$c'"; exit 2; }
done
# rounds alternate the order, so a slow drift of the machine's load does not
# always hit the same contestants; the best round of each is reported
for ROUND in $(seq "$ROUNDS"); do
	order=$CONTESTANTS
	[ $((ROUND % 2)) = 0 ] && order=$(echo "$CONTESTANTS" | tr ' ' '\n' | tac | tr '\n' ' ')
	for c in $order; do
		run_one "$c"
	done
done
jq -sc --arg order "$CONTESTANTS" '. as $all | $order | split(" ") | map(select(. != "")) | .[] as $c |
	($all | map(select(.contestant == $c))) as $rs | ($rs | map(select(.measured))) as $m |
	if ($m | length) > 0 then
		($m | max_by(.processed_pps)) + {best: true, rounds: ($rs | length),
			processed_pps_rounds: ($m | map(.processed_pps))}
	else ($rs | first) + {best: true} end' "$tmp/res" >"$tmp/best"

# ---- table, ratios, targets ----
pw=$(jq -r 'select(.contestant == "pinwall" and .measured) | "\(.processed_pps) \(.capacity_pps) \(.peak_pps)"' "$tmp/best")
echo
echo "best of $ROUNDS round(s) per contestant (highest processed rate); rounds: processed Mpps of each round"
printf '%-16s %7s %9s %9s %7s %5s %8s %7s %9s %7s %7s %7s  %s\n' contestant offered processed ring-drop filter busy capacity peak other "pinwall/x" "" "" rounds
printf '%-16s %7s %9s %9s %7s %5s %8s %7s %9s %7s %7s %7s\n' "" Mpps Mpps Mpps Mpps "%" Mpps Mpps "gen/rx%" proc. cap. peak
jq -r --arg pw "${pw:-0 0 0}" '($pw | split(" ") | map(tonumber)) as [$pp, $pc, $pk] |
	def r(a; b): if a > 0 and b > 0 then a / b else -1 end;
	if .measured then
	[.contestant, (.offered_pps / 1e6), (.processed_pps / 1e6), (.ring_drop_pps / 1e6),
	 (.filter_pps / 1e6), (.rx_core_busy * 100), (.capacity_pps / 1e6), (.peak_pps / 1e6),
	 "\(.gen_core_other * 100 | round)/\(.rx_core_other * 100 | round)",
	 r($pp; .processed_pps), r($pc; .capacity_pps), r($pk; .peak_pps),
	 (.processed_pps_rounds | map(. / 1e6 * 100 | round / 100 | tostring) | join("/"))] | @tsv
	else [.contestant, "not measured: " + .reason] | @tsv end' "$tmp/best" |
	awk -F'\t' 'function x(v) { return v < 0 ? "-" : sprintf("%.2fx", v) }
		NF == 2 { printf "%-16s %s\n", $1, $2; next }
		{ printf "%-16s %7.2f %9.2f %9.2f %7.2f %5.0f %8.2f %7.2f %9s %7s %7s %7s  %s\n",
			$1, $2, $3, $4, $5, $6, $7, $8, $9, x($10), x($11), x($12), $13 }'
echo "busy: NAPI kthread's share of the receiver core; capacity = processed / busy; peak: best"
echo "1-s processed rate; other: CPU share of other processes on the generator/receiver core"

echo
summary=$(jq -s --arg date "$date_s" --arg kernel "$(uname -r)" --argjson dur "$DURATION" --argjson rounds "$ROUNDS" '
	def get(n; f): (map(select(.contestant == n and .measured)) | first | .[f]) // null;
	def div(a; b): if a and b and b > 0 then a / b else null end;
	def tgt(n; t): {vs: n, target: t,
		ratio: div(get("pinwall"; "processed_pps"); get(n; "processed_pps")),
		capacity_ratio: div(get("pinwall"; "capacity_pps"); get(n; "capacity_pps")),
		peak_ratio: div(get("pinwall"; "peak_pps"); get(n; "peak_pps"))}
		| .met = (if .ratio then .ratio >= t else null end);
	{summary: true, date: $date, kernel: $kernel, window_s: $dur, rounds: $rounds,
	 max_other: ([.[] | select(.measured) | .rx_core_other, .gen_core_other] | max),
	 targets: [tgt("xdp-filter"; 1.3), tgt("xdp-filter-ipv4"; 1.3), tgt("nftables"; 2.5),
		   tgt("iptables"; 3), tgt("iptables-legacy"; 3)]}' "$tmp/best")
echo "$summary" | jq -r 'def f: if . then "\(. * 100 | round / 100)x" else "-" end;
	.targets[] | select(.ratio) |
	"target pinwall >= \(.target)x \(.vs): \(.ratio | f) processed, \(.capacity_ratio | f) capacity, \(.peak_ratio | f) peak -> \(if .met then "met" else "NOT met" end) (on processed)"'
echo "$summary" | jq -r 'select(.max_other > 0.1) |
	"WARNING: other processes used up to \(.max_other * 100 | round) % of a benchmark core: rerun on a quiet machine"'
cat "$tmp/res" "$tmp/best" >"$OUT"
echo "$summary" | jq -c . >>"$OUT"
[ "$OUT" != /dev/null ] && echo "JSON lines: $OUT"
echo "command: DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS SPORTS=$SPORTS bench/ladder.sh ${1:-}"
