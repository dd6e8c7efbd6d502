#!/usr/bin/env bash
# pinwall drops: copies of exactly the dropped frames (rule id, reason) as
# lines, JSON and pcap that tcpdump and tshark read; the in-kernel --rule
# filter and rate limit; capture off after the end, also after SIGKILL;
# refusals of bad arguments; a program without capture maps reloaded.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS d && veth_new "$NS" veth0 veth1 && pw "$NS" load veth0 >/dev/null &&
		pw "$NS" rule add drop dport 7777 >/dev/null &&
		pw "$NS" rule add drop src 10.66.0.0/16 >/dev/null &&
		RA=$(pw "$NS" rule list --json | jq -r '.rules[] | select(.rule | test("7777")) | .id') &&
		RB=$(pw "$NS" rule list --json | jq -r '.rules[] | select(.rule | test("10.66")) | .id') &&
		[ -n "$RA" ] && [ -n "$RB" ]
}

# the capture config's field F on IFACE veth0
cap() {
	bpftool -j map dump pinned "$(ifdir "$NS" veth0)/maps/pw_capture" |
		jq -r ".[0].formatted.value.$1"
}

# wait_on: until a capture holds the lease (up to 3 s)
wait_on() {
	for _ in $(seq 1 60); do
		[ "$(cap until)" != 0 ] && return 0
		sleep 0.05
	done
	fail "capture never turned on"
	return 1
}

# wait_exit PID SECONDS: the process ended by itself in time; its status in RC
wait_exit() {
	for _ in $(seq 1 $(($2 * 20))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && { fail "drops still running after $2 s"; kill -INT "$1"; }
	wait "$1"
	RC=$?
}

# REFUSED STATUS REGEX CMD...: exit STATUS, one 'pinwall: error:' line matching
# REGEX, nothing on stdout, no pin made or removed (paths only: drops never
# writes a pin, and ERR1's per-pin bpftool calls would take seconds here)
REFUSED() {
	local rc=$1 re=$2 before
	shift 2
	before=$(find "$ROOT" 2>/dev/null | sort)
	"$@" >"$T_TMP/out" 2>"$T_TMP/err"
	ASSERT_EQ "$?" "$rc" "exit status of '$*'"
	ASSERT_MATCH "$(cat "$T_TMP/err")" "^pinwall: error: .*$re" "error of '$*'"
	ASSERT_EQ "$(wc -l <"$T_TMP/err"):$(wc -c <"$T_TMP/out")" "1:0" "one line, no output: '$*'"
	ASSERT_EQ "$(find "$ROOT" 2>/dev/null | sort)" "$before" "pins after '$*'"
}

send() { # COUNT PWGEN-ARGS...
	local n=$1
	shift
	gen "$NS" -i veth1 -c "$n" -r 2000 -q "$@" || fail "pwgen $*"
}

test_exact_frames_lines_json_pcap_filter_policy() {
	setup || { fail setup; return; }
	local out=$T_TMP/out f=$T_TMP/d.pcap
	bg_pw "$NS" drops veth0 --count 8 --pcap "$f" --json >"$out" 2>"$T_TMP/err"
	local p=$BG_PID
	wait_on || return
	send 20                           # passes
	send 5 --dport 7777               # rule A
	send 10 -p tcp --dport 80         # passes
	send 3 -p tcp --src 10.66.0.5     # rule B
	wait_exit "$p" 5
	ASSERT_EQ "$RC" 0 "exit status after --count"
	ASSERT_EQ "$(jq -s '[.[] | select(.summary | not)] | length' "$out")" 8 "frames printed"
	ASSERT_EQ "$(jq -s -c "[.[] | select(.rule == $RA and .reason == \"rule\" and .proto == \"udp\" and .dport == 7777 and .len == 64 and .caplen == 64)] | length" "$out")" 5 "rule A's frames"
	ASSERT_EQ "$(jq -s -c "[.[] | select(.rule == $RB and .src == \"10.66.0.5\" and .proto == \"tcp\")] | length" "$out")" 3 "rule B's frames"
	ASSERT_EQ "$(jq -c '.summary | select(.) | [.frames, .suppressed, .lost]' "$out")" "[8,0,0]" "summary line"
	ASSERT_EQ "$(tcpdump -nn -r "$f" 2>/dev/null | wc -l)" 8 "tcpdump reads 8 frames"
	ASSERT_EQ "$(tcpdump -nn -r "$f" 'udp dst port 7777' 2>/dev/null | wc -l)" 5 "tcpdump: rule A's"
	ASSERT_EQ "$(cap until)" 0 "capture off after drops ended"
	# text lines: time, interface, reason, rule, addresses, length
	bg_pw "$NS" drops veth0 --count 1 --snaplen 40 --pcap "$f" >"$out" 2>"$T_TMP/err"
	p=$BG_PID
	wait_on || return
	send 1 --dport 7777
	wait_exit "$p" 5
	ASSERT_MATCH "$(cat "$out")" "^[0-9:.]+ veth0 rule +rule $RA udp 10.11.0.2:40000 > 10.11.0.1:7777 len 64$" "text line"
	ASSERT_MATCH "$(cat "$T_TMP/err")" "^drops on veth0: 1 frames; in the kernel: 1 captured, 0 suppressed" "text summary"
	ASSERT_MATCH "$(tcpdump -nn -r "$f" -v 2>/dev/null | head -1)" "" "tcpdump reads the short capture"
	ASSERT_EQ "$(tshark -r "$f" -T fields -e frame.cap_len -e frame.len 2>/dev/null)" "$(printf '40\t64')" "snap length 40 of 64"
	# --rule in the kernel; then a policy drop (no rule)
	ASSERT_OK pw "$NS" rule add pass dport 9
	ASSERT_OK pw "$NS" rule policy deny --change-policy
	bg_pw "$NS" drops veth0 --count 4 --rule "$RB" --json >"$out"
	p=$BG_PID
	wait_on || return
	ASSERT_EQ "$(cap rule)" "$RB" "the filter is in the kernel"
	send 6 --dport 7777               # rule A: filtered out
	send 5 --dport 9                  # passes
	send 4 -p tcp --src 10.66.1.1     # rule B
	wait_exit "$p" 5
	ASSERT_EQ "$(jq -s -c '[.[] | select(.summary | not) | .rule] | unique' "$out")" "[$RB]" "only rule B's frames"
	ASSERT_EQ "$(jq -c '.summary | select(.) | .captured' "$out")" 4 "the kernel wrote only rule B's"
	# no rule, policy deny
	bg_pw "$NS" drops veth0 --count 2 --json >"$out"
	p=$BG_PID
	wait_on || return
	send 2 --dport 1234
	wait_exit "$p" 5
	ASSERT_EQ "$(jq -s -c '[.[] | select(.summary | not) | [.rule, .reason]] | unique' "$out")" '[[null,"policy"]]' "policy drops"
}

test_rate_limit_under_flood() {
	setup || { fail setup; return; }
	local out=$T_TMP/out t0 t1 sent c s l shown
	t0=$(date +%s%N)
	bg_pw "$NS" drops veth0 --rate 100 --json >"$out"
	local p=$BG_PID
	wait_on || return
	sent=$(gen "$NS" -i veth1 -c 0 -d 1.5 -r 20000 --dport 7777 --json | jq .sent)
	sleep 0.3
	kill -INT "$p"
	wait_exit "$p" 3
	t1=$(date +%s%N)
	ASSERT_EQ "$RC" 0 "exit status on SIGINT"
	read -r c s l shown < <(jq -r '.summary | select(.) | "\(.captured) \(.suppressed) \(.lost) \(.frames)"' "$out")
	ASSERT_GE "$sent" 20000 "frames sent"
	# at most rate x time + burst (a tenth of the rate)
	ASSERT_LE "$c" $(( (t1 - t0) * 100 / 1000000000 + 10 )) "captured within the limit"
	ASSERT_GE "$c" 100 "captured at the rate"
	ASSERT_EQ "$((c + s + l))" "$sent" "every dropped frame captured or counted"
	ASSERT_EQ "$shown" "$c" "every captured frame printed"
	ASSERT_EQ "$(cap until)" 0 "capture off after SIGINT"
}

# SIGKILL: the lease runs out within 3 s (bad arguments are refused meanwhile)
test_sigkill_lease_bad_arguments() {
	setup || { fail setup; return; }
	local c a t
	bg_pw "$NS" drops veth0 --json >/dev/null
	local p=$BG_PID
	wait_on || return
	REFUSED 1 "a capture is already running on 'veth0' \(process $p\)" pw "$NS" drops veth0
	kill -KILL "$p"
	wait "$p" 2>/dev/null
	t=$(date +%s%N)
	send 3 --dport 7777
	c=$(cap captured)
	ASSERT_EQ "$c" 3 "captured while the lease runs"
	for a in "" "veth0 --rate 0" "veth0 --rate 1000001" "veth0 --snaplen 129" "veth0 --snaplen 0" \
		 "veth0 --rule 0" "veth0 --count x" "veth0 --bogus" "veth0 veth1"; do
		# shellcheck disable=SC2086
		REFUSED 2 "\(usage: pinwall drops IFACE" pw "$NS" drops $a
	done
	REFUSED 1 "no such interface 'nope0'" pw "$NS" drops nope0
	REFUSED 1 "'veth1' is not loaded by pinwall" pw "$NS" drops veth1
	sleep "$(echo "scale=3; x = 3.1 - ($(date +%s%N) - $t) / 1000000000; if (x < 0) 0 else x" | bc)"
	send 3 --dport 7777
	ASSERT_EQ "$(cap captured)" "$c" "nothing captured once the lease ran out"
	ASSERT_EQ "$(cap until)" 0 "the program turned capture off"
	REFUSED 1 "cannot write pcap file '/nonexistent/x.pcap'" pw "$NS" drops veth0 --pcap /nonexistent/x.pcap
	ASSERT_EQ "$(cap until)" 0 "capture off after a refused pcap file"
	# a symlink at the pcap path is not followed: its target is untouched
	echo keep >"$T_TMP/target"
	ln -s "$T_TMP/target" "$T_TMP/link.pcap"
	REFUSED 1 "cannot write pcap file '$T_TMP/link.pcap': a symbolic link \\(not followed\\)" \
		pw "$NS" drops veth0 --pcap "$T_TMP/link.pcap"
	ASSERT_EQ "$(cat "$T_TMP/target")" keep "the symlink's target"
	REFUSED 1 "cannot write pcap file '/dev/null': not a regular file or a FIFO" \
		pw "$NS" drops veth0 --pcap /dev/null
	ASSERT_EQ "$(cap until)" 0 "capture off after a refused symlink"
	# and the next capture works
	bg_pw "$NS" drops veth0 --count 1 --json >"$T_TMP/out"
	p=$BG_PID
	wait_on || return
	send 1 --dport 7777
	wait_exit "$p" 5
	ASSERT_EQ "$(jq -s '[.[] | select(.rule)] | length' "$T_TMP/out")" 1 "a new capture after the kill"
}

test_reload_brings_capture_maps() {
	ns_new NS d && veth_new "$NS" veth0 veth1 || { fail setup; return; }
	local d j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/pinwall_nocap.o"
	REFUSED 1 "'veth0' has no capture maps" pw "$NS" drops veth0
	j=$(pw "$NS" reload veth0 --obj "$TOP/build/pinwall.bpf.o" --json) || fail "reload: $j"
	ASSERT_EQ "$(jq -r '[.maps[] | select(.name == "pw_drops" or .name == "pw_capture") | .fate] | join(",")' <<<"$j")" \
		"created,created" "capture maps created by the reload"
	ASSERT_EQ "$(jq -r '[.maps[] | select(.name == "xdp_stats_map") | .fate] | join(",")' <<<"$j")" reused "counters reused"
	pw "$NS" rule add drop dport 7777 >/dev/null
	bg_pw "$NS" drops veth0 --count 1 --json >"$T_TMP/out"
	local p=$BG_PID
	wait_on || return
	send 1 --dport 7777
	wait_exit "$p" 5
	ASSERT_EQ "$(jq -s '[.[] | select(.reason == "rule")] | length' "$T_TMP/out")" 1 "captured after the reload"
	# an unload under a running capture ends it (within the 1 s renewal)
	bg_pw "$NS" drops veth0 >"$T_TMP/out" 2>"$T_TMP/err"
	p=$BG_PID
	wait_on || return
	ASSERT_OK pw "$NS" unload veth0
	wait_exit "$p" 4
	ASSERT_EQ "$RC" 1 "exit status when the capture maps go"
	ASSERT_MATCH "$(cat "$T_TMP/err")" "^pinwall: error: the capture maps of 'veth0' are gone or replaced" "error when the capture maps go"
}

run_tests
