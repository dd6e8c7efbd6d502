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
# The rule files come from bench/cost --emit-rules (the set bench/cost
# measures per packet). Needs root; build first (make bench builds).
# Usage: bench/controlplane.sh [RUNS]   (RUNS: repetitions of each list, 5)
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
"${PW[@]}" load veth0 >/dev/null

t0=$(date +%s%N)
"$COST" --emit-rules "$tmp/big.rules"
"$COST" --emit-rules "$tmp/big-1pct.rules" --change 1
"$COST" --emit-rules "$tmp/half.rules" --v4 50000 --v6 50000
t1=$(date +%s%N)
nbig=$(grep -vc '^#' "$tmp/big.rules")
nchg=$(diff <(grep -v '^#' "$tmp/big.rules" | sort) <(grep -v '^#' "$tmp/big-1pct.rules" | sort) | grep -c '^>' || true)
nhalf=$(grep -vc '^#' "$tmp/half.rules")
echo "   rule files: $nbig rules ($(head -c 200 "$tmp/big.rules" | head -n1 | sed 's/^# //')),"
echo "               the same with $nchg rules replaced, and $nhalf rules; written in $(ms "$t0" "$t1") ms"
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
for _ in 1 2; do
	apply "$tmp/big-1pct.rules" "apply with 1% replaced" chg
	apply "$tmp/big.rules" "apply the original (1% back)" chg
done
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

# targets
full=$(stats <"$tmp/wall.full" | awk '{print $4}')
fullsw=$(stats <"$tmp/switch.full" | awk '{print $4}')
fulltot=$(stats <"$tmp/total.full" | awk '{print $4}')
sc=$( [ -s "$tmp/sc.100k" ] && awk '{print $2}' "$tmp/sc.100k" | stats | awk '{print $4}' || echo -1)
l3=$(stats <"$tmp/l3.100k" | awk '{print $4}')
l2=$(stats <"$tmp/l2.100k" | awk '{print $4}')
l1=$(stats <"$tmp/l1.100k" | awk '{print $4}')
echo "-- targets"
awk -v w="$full" -v s="$fullsw" -v t="$fulltot" 'BEGIN {
	printf "  rule apply of 100k+100k <= 1 s (medians of 3): wall %.0f ms (switch %.0f ms, total %.0f ms) -> %s (wall), %s (total_ms)\n",
		w, s, t, w <= 1000 ? "MET" : "NOT MET", t <= 1000 ? "MET" : "NOT MET" }'
awk -v l3="$l3" -v l2="$l2" -v l1="$l1" -v sc="$sc" 'BEGIN {
	printf "  rule list counters at 100k rules <= 20 ms: list --json median %.1f ms -> %s; the read alone (no output) %.1f ms -> %s;\n",
		l3, l3 <= 20 ? "MET" : "NOT MET", l2, l2 <= 20 ? "MET" : "NOT MET"
	printf "    counters only (list --prefix minus policy) %.1f ms -> %s", l2 - l1, l2 - l1 <= 20 ? "MET" : "NOT MET"
	if (sc >= 0) printf "; the counter syscall alone %.1f ms -> %s", sc, sc <= 20 ? "MET" : "NOT MET"
	printf "\n" }'
chg=$(stats <"$tmp/wall.chg")
echo "  1% change: wall $chg ms (4 applies: 1% replaced, and back, twice)"
