#!/usr/bin/env bash
# Control-plane timings of the rule commands, in a throwaway namespace with a
# veth pair (pinwall loaded on veth0, so a program reads the rule maps while
# they change) and its own pin root, both removed at exit:
#  - `pinwall rule apply FILE` of 100k IPv4 + 100k IPv6 prefixes (mixed
#    lengths, no duplicates, no host bits) + 6 port/proto rules, from empty:
#    pinwall's switch_ms / total_ms (JSON) and the command's wall time
#  - `pinwall rule list --json` with those rules (wall time), next to commands
#    that stop earlier on the same path, so the differences show where the
#    time goes; then the same at 100k rules (50k + 50k)
#  - `rule apply` of the same set with 1% of its rules replaced, and back
#  - ordered rules and sets: `rule apply` of the same 200k prefixes as four
#    named blocklists (set files) + small sets + 64 ordered rules, from empty;
#    1% of the set elements replaced, and back; `set add NAME PREFIX` and
#    `set del` of one element with the 200k in force
#  - memlock of the rule maps (bpftool map show) per prefix in force
#  - the built-in program: verifier steps (bench/cost --prog-info), load
#    and reload times (wall, and pinwall's own elapsed_ms)
# The rule files come from bench/cost --emit-rules (the sets bench/cost
# measures per packet). Needs root; build first (make bench builds).
# Usage: bench/controlplane.sh [RUNS]   (RUNS: repetitions of each list,
#        set add/del and reload, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
NS="pwcp-$$"
ROOT="/sys/fs/bpf/pwbench-$$"
PW=(./build/pinwall -n "$NS" --pin-root "$ROOT")
COST=./build/bench/cost
tmp=$(mktemp -d)
cleanup() {
	set +e
	[ -d "$ROOT" ] && "${PW[@]}" unload veth0 >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$ROOT" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in ./build/pinwall "$COST"; do
	[ -x "$b" ] || { echo "controlplane: $b is missing: run 'make bench' (or make all build/bench/cost)" >&2; exit 1; }
done

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'; }
stats() { # values on stdin -> "min X  median Y  max Z"
	sort -g | awk '{v[NR] = $1} END {printf "min %.1f  median %.1f  max %.1f", v[1], v[int((NR + 1) / 2)], v[NR]}'
}
# wall FILE CMD...: run CMD (stdout to FILE), print its wall time in ms
wall() {
	local out=$1 t0 t1
	shift
	t0=$(date +%s%N)
	"$@" >"$out"
	t1=$(date +%s%N)
	ms "$t0" "$t1"
}

echo "== control plane: machine $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "   date $(date -u +%Y-%m-%dT%H:%M:%SZ); load average $(cut -d' ' -f1-3 /proc/loadavg); command: bench/controlplane.sh $runs"

ip netns add "$NS"
ip -n "$NS" link add name veth0 type veth peer name veth1
ip -n "$NS" link set veth0 up
ip -n "$NS" link set veth1 up
# memlock of the shared rule maps, bytes: "total prefix_maps" (prefix maps:
# the long-prefix hashes, the set elements and their hit counters, the maps
# that grow with the prefixes; the others are arrays of a fixed size)
memlock() {
	local m total=0 pfx=0 b
	for m in "$ROOT"/shared/*; do
		b=$(bpftool map show pinned "$m" --json | jq .bytes_memlock)
		total=$((total + b))
		case ${m##*/} in pw_v4_long | pw_v6_long | pw_set_elems | pw_elem_hits) pfx=$((pfx + b)) ;; esac
	done
	echo "$total $pfx"
}

t0=$(date +%s%N)
"${PW[@]}" load veth0 --json >"$tmp/load.json"
t1=$(date +%s%N)
load_wall=$(ms "$t0" "$t1")
mem0=$(memlock)

t0=$(date +%s%N)
"$COST" --emit-rules "$tmp/big.rules"
"$COST" --emit-rules "$tmp/big-1pct.rules" --change 1
"$COST" --emit-rules "$tmp/half.rules" --v4 50000 --v6 50000
"$COST" --emit-rules "$tmp/ord.rules" --ordered
"$COST" --emit-rules "$tmp/ord-1pct.rules" --ordered --change 1
t1=$(date +%s%N)
nbig=$(grep -vc '^#' "$tmp/big.rules")
nchg=$(diff <(grep -v '^#' "$tmp/big.rules" | sort) <(grep -v '^#' "$tmp/big-1pct.rules" | sort) | grep -c '^>' || true)
nhalf=$(grep -vc '^#' "$tmp/half.rules")
echo "   rule files: $nbig rules ($(head -c 200 "$tmp/big.rules" | head -n1 | sed 's/^# //')),"
echo "               the same with $nchg rules replaced, and $nhalf rules;"
echo "               ordered: $(head -n1 "$tmp/ord.rules" | sed 's/^# bench\/cost --emit-rules --ordered: //')"
echo "               and the same with $(head -n1 "$tmp/ord-1pct.rules" | sed 's/.*; //'); written in $(ms "$t0" "$t1") ms"
echo

# apply FILE LABEL TAG: time one apply, print pinwall's numbers and the wall
# time, keep them under TAG
apply() {
	local file=$1 label=$2 w
	w=$(wall "$tmp/apply.json" "${PW[@]}" rule apply "$file" --json)
	printf '%-34s wall %7.1f ms   switch_ms %7.1f   total_ms %7.1f   added %s removed %s kept %s\n' \
		"$label" "$w" "$(jq .switch_ms "$tmp/apply.json")" "$(jq .total_ms "$tmp/apply.json")" \
		"$(jq .added "$tmp/apply.json")" "$(jq .removed "$tmp/apply.json")" "$(jq .kept "$tmp/apply.json")"
	echo "$w" >>"$tmp/wall.$3"
	jq .switch_ms "$tmp/apply.json" >>"$tmp/switch.$3"
	jq .total_ms "$tmp/apply.json" >>"$tmp/total.$3"
}

flush() {
	local w
	w=$(wall "$tmp/flush.json" "${PW[@]}" rule flush --json)
	printf '%-34s wall %7.1f ms   switch_ms %7.1f   total_ms %7.1f   removed %s\n' "flush" "$w" \
		"$(jq .switch_ms "$tmp/flush.json")" "$(jq .total_ms "$tmp/flush.json")" "$(jq .removed "$tmp/flush.json")"
}

echo "-- rule apply (command: ${PW[*]} rule apply FILE --json)"
for i in 1 2 3; do
	[ "$i" = 1 ] || flush
	apply "$tmp/big.rules" "apply $nbig rules, from empty" full
done
apply "$tmp/big.rules" "apply the same file again" same
mem_single1=$(memlock)
for _ in 1 2; do
	apply "$tmp/big-1pct.rules" "apply with 1% replaced" chg
	apply "$tmp/big.rules" "apply the original (1% back)" chg
done
mem_single2=$(memlock)
echo "   wall = the whole command (process start, parsing and checking the file, pinwall's apply, exit);"
echo "   switch_ms = apply start to the new set in force; total_ms = + waiting for running programs"
echo "   and clearing removed rules (both measured inside pinwall, after parsing)"
echo

# list timings at the rule count in force
lists() {
	local n=$1 f
	echo "-- reading at $n rules ($runs runs each, wall ms of the command)"
	for _ in $(seq "$runs"); do
		wall /dev/null ./build/pinwall --version >>"$tmp/l0.$n"
		wall /dev/null "${PW[@]}" rule policy --json >>"$tmp/l1.$n"
		wall /dev/null "${PW[@]}" rule list --prefix 255.255.255.255/32 --json >>"$tmp/l2.$n"
		wall "$tmp/list.json" "${PW[@]}" rule list --json >>"$tmp/l3.$n"
	done
	f=$(jq '.total.rules' "$tmp/list.json")
	if command -v strace >/dev/null; then
		# the two batch reads themselves: the BPF_MAP_LOOKUP_BATCH syscalls
		for _ in $(seq "$runs"); do
			strace -T -e trace=bpf -o "$tmp/strace" "${PW[@]}" rule list --prefix 255.255.255.255/32 --json >/dev/null
			awk '/BPF_OBJ_GET/ && /pw_rules"/ { r = $(NF - 1) }
			     /BPF_OBJ_GET/ && /pw_rule_stats"/ { s = $(NF - 1) }
			     /BPF_MAP_LOOKUP_BATCH/ { match($0, /map_fd=[0-9]+/); fd = substr($0, RSTART + 7, RLENGTH - 7)
				t = $NF; gsub(/[<>]/, "", t)
				if (fd == r) rt = t * 1000; if (fd == s) st = t * 1000 }
			     END { printf "%.1f %.1f\n", rt, st }' "$tmp/strace" >>"$tmp/sc.$n"
		done
	fi
	printf '  %-62s %s\n' "pinwall --version   (process start and exit)" "$(stats <"$tmp/l0.$n")"
	printf '  %-62s %s\n' "rule policy --json  (+ open the pins, read the whole rule array)" "$(stats <"$tmp/l1.$n")"
	printf '  %-62s %s\n' "rule list --prefix 255.255.255.255/32 --json (+ all counters, no output)" "$(stats <"$tmp/l2.$n")"
	printf '  %-62s %s\n' "rule list --json    (+ sort, JSON of every rule, print)" "$(stats <"$tmp/l3.$n")"
	echo "  (rule list --json listed $f rules, $(stat -c %s "$tmp/list.json") bytes of JSON)"
	awk -v a="$(stats <"$tmp/l1.$n" | awk '{print $4}')" -v b="$(stats <"$tmp/l2.$n" | awk '{print $4}')" \
		'BEGIN { printf "  counter read by difference (median list --prefix minus median rule policy): %.1f ms\n", b - a }'
	if [ -s "$tmp/sc.$n" ]; then
		printf '  %-62s %s\n' "syscall BPF_MAP_LOOKUP_BATCH on pw_rules (strace -T)" "$(awk '{print $1}' "$tmp/sc.$n" | stats)"
		printf '  %-62s %s\n' "syscall BPF_MAP_LOOKUP_BATCH on pw_rule_stats (strace -T)" "$(awk '{print $2}' "$tmp/sc.$n" | stats)"
	fi
	echo "$f" >"$tmp/n.$n"
}
lists 200k
echo
# the 100k set straight over the 200k one: new rules need free ids while the
# old ones still hold theirs
if "${PW[@]}" rule apply "$tmp/half.rules" --json >"$tmp/half.json" 2>&1; then
	echo "-- applying $nhalf rules over the $nbig: ok"
else
	echo "-- applying $nhalf rules over the $nbig in one step is refused: $(jq -r .error "$tmp/half.json" 2>/dev/null || cat "$tmp/half.json")"
	echo "   (old and new rules must fit in the id space together); flush first:"
	flush
	apply "$tmp/half.rules" "apply $nhalf rules, from empty" half
fi
lists 100k
echo "   commands: ${PW[*]} rule list --json; ... rule list --prefix 255.255.255.255/32 --json;"
echo "             ... rule policy --json; ./build/pinwall --version"
echo

# ordered rules and sets: the same 200k prefixes as named blocklists
nord=$(head -n1 "$tmp/ord.rules" | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "IPv4") a = $i; else if ($(i + 1) == "IPv6") b = $i } END { print a + b }')
echo "-- ordered rules and sets, $nord set elements (command: ${PW[*]} rule apply FILE --json)"
flush
for i in 1 2 3; do
	[ "$i" = 1 ] || flush
	apply "$tmp/ord.rules" "apply $nord elements, from empty" ofull
done
apply "$tmp/ord.rules" "apply the same file again" osame
for _ in 1 2; do
	apply "$tmp/ord-1pct.rules" "apply with 1% of elements replaced" ochg
	apply "$tmp/ord.rules" "apply the original (1% back)" ochg
done
mem_ord=$(memlock)
# setop VERB PREFIX TAG: one element into or out of the largest IPv4 blocklist
setop() {
	local w
	w=$(wall "$tmp/set.json" "${PW[@]}" set "$1" bad4src "$2" --json)
	printf '%-34s wall %7.1f ms   switch_ms %7.1f   total_ms %7.1f\n' "set $1 bad4src $2" "$w" \
		"$(jq .switch_ms "$tmp/set.json")" "$(jq .total_ms "$tmp/set.json")"
	echo "$w" >>"$tmp/wall.$3"
	jq .switch_ms "$tmp/set.json" >>"$tmp/switch.$3"
	jq .total_ms "$tmp/set.json" >>"$tmp/total.$3"
}
for i in $(seq "$runs"); do
	setop add "198.51.100.$i/32" sadd
	setop del "198.51.100.$i/32" sdel
done
echo "   (command: ${PW[*]} set add|del bad4src PREFIX --json)"
echo

# the built-in program: verifier steps, load and reload
echo "-- the built-in program (command: ${PW[*]} reload veth0 --json; $COST --prog-info ID)"
for _ in $(seq "$runs"); do
	wall "$tmp/reload.json" "${PW[@]}" reload veth0 --json >>"$tmp/wall.reload"
	jq .elapsed_ms "$tmp/reload.json" >>"$tmp/el.reload"
done
"$COST" --prog-info "$(jq .prog_id "$tmp/reload.json")" >"$tmp/prog.json"
insns=$(jq .verified_insns "$tmp/prog.json")
printf '  %-62s %s\n' "verifier steps (verified_insns)" "$insns ($(jq .xlated_bytes "$tmp/prog.json") bytes xlated, $(jq .jited_bytes "$tmp/prog.json") jited)"
printf '  %-62s wall %.1f ms, elapsed_ms %.1f\n' "load veth0 (once, at the start)" "$load_wall" "$(jq .elapsed_ms "$tmp/load.json")"
printf '  %-62s %s\n' "reload veth0, wall ms ($runs runs)" "$(stats <"$tmp/wall.reload")"
printf '  %-62s %s\n' "reload veth0, elapsed_ms (call start to switched)" "$(stats <"$tmp/el.reload")"
echo

# memlock per prefix: the prefix maps' growth over the empty state
echo "-- memlock (bytes_memlock of the shared rule maps, bpftool map show pinned)"
memrow() { # LABEL "TOTAL PFX" PREFIXES
	awk -v l="$1" -v m="$2" -v m0="$mem0" -v n="$3" 'BEGIN {
		split(m, a, " "); split(m0, b, " ")
		printf "  %-48s all maps %7.1f MiB, prefix maps %7.1f MiB", l, a[1] / 1048576, a[2] / 1048576
		if (n > 0) printf "; per prefix in force: %5.1f bytes (prefix maps), %5.1f (all maps)",
			(a[2] - b[2]) / n, (a[1] - b[1]) / n
		printf "\n" }'
}
memrow "after load, no rules" "$mem0" 0
memrow "200,006 single-match rules (one buffer)" "$mem_single1" 200000
memrow "the same, both buffers filled (steady state)" "$mem_single2" 200000
memrow "$nord set elements, both buffers (steady state)" "$mem_ord" "$nord"
echo "   (prefix maps: pw_v4_long, pw_v6_long, pw_set_elems, pw_elem_hits; every apply writes the inactive buffer and"
echo "    leaves the other one's entries until the next apply, so a steady state holds two copies)"
echo

# targets
med() { stats <"$1" | awk '{print $4}'; }
echo "-- targets (medians)"
awk -v w="$(med "$tmp/wall.full")" -v t="$(med "$tmp/total.full")" 'BEGIN {
	printf "  rule apply of 200,006 single-match rules <= 1 s: wall %.0f ms, total_ms %.0f -> %s (wall), %s (total_ms)\n",
		w, t, w <= 1000 ? "MET" : "NOT MET", t <= 1000 ? "MET" : "NOT MET" }'
awk -v w="$(med "$tmp/wall.ofull")" -v t="$(med "$tmp/total.ofull")" -v n="$nord" 'BEGIN {
	printf "  rule apply of %d set elements <= 1 s: wall %.0f ms, total_ms %.0f -> %s (wall), %s (total_ms)\n",
		n, w, t, w <= 1000 ? "MET" : "NOT MET", t <= 1000 ? "MET" : "NOT MET" }'
awk -v c="$(med "$tmp/wall.ochg")" -v f="$(med "$tmp/wall.ofull")" -v ct="$(med "$tmp/total.ochg")" -v ft="$(med "$tmp/total.ofull")" 'BEGIN {
	printf "  1%% of the set elements changed <= 0.1x the full apply: wall %.0f / %.0f ms = %.2fx, total_ms %.0f / %.0f = %.2fx -> %s\n",
		c, f, c / f, ct, ft, ct / ft, c / f <= 0.1 ? "MET" : "NOT MET" }'
awk -v c="$(med "$tmp/wall.chg")" -v f="$(med "$tmp/wall.full")" 'BEGIN {
	printf "    (single-match rules, 1%% replaced: wall %.0f / %.0f ms = %.2fx the full apply)\n", c, f, c / f }'
awk -v w="$(med "$tmp/wall.sadd")" -v t="$(med "$tmp/total.sadd")" -v d="$(med "$tmp/wall.sdel")" 'BEGIN {
	printf "  set add of one element with the 200k in force <= 5 ms: wall %.1f ms, total_ms %.1f (set del: wall %.1f ms) -> %s\n",
		w, t, d, w <= 5 ? "MET" : "NOT MET" }'
awk -v l2="$(med "$tmp/l2.200k")" -v l3="$(med "$tmp/l3.200k")" 'BEGIN {
	printf "  rule list of 200k rules without output <= 30 ms: %.1f ms -> %s\n", l2, l2 <= 30 ? "MET" : "NOT MET"
	printf "  rule list --json of 200k rules <= 300 ms: %.1f ms -> %s\n", l3, l3 <= 300 ? "MET" : "NOT MET" }'
awk -v r="$(med "$tmp/el.reload")" -v i="$insns" 'BEGIN {
	printf "  reload about half of the earlier ~205 ms (<= 103 ms): elapsed_ms %.0f -> %s; verifier steps %d (earlier ~240k)\n",
		r, r <= 103 ? "MET" : "NOT MET", i }'
