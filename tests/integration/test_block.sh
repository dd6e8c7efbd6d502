#!/usr/bin/env bash
# Timed blocks with real frames on veth pairs: a block drops its source
# (IPv4, IPv6, prefixes) before the rules, counts hits, expires by itself
# while traffic runs; del/flush; bulk from a file; refusals change nothing;
# blocks survive reload and repin, and save/restore keeps absolute expiry.
. "$(dirname "$0")/lib.sh"

unset SSH_CONNECTION

. "$(dirname "$0")/rules_lib.sh"

# blocks NS: "PREFIX ORIGIN HITS", one line per block, as listed
blocks() {
	pw "$1" block list --json | jq -r '.blocks[] | "\(.prefix) \(.origin) \(.hits)"'
}

# A block drops before the rules (a pass rule does not save it), counts its
# hits, and ends by itself while traffic runs.
test_block_expires_under_traffic() {
	setup_loaded || { fail setup; return; }
	write "$T_TMP/r" "pass src 10.9.0.0/16"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/r"
	ASSERT_OK pw "$NS" block add fd00:9::1 10.77.0.0/16
	ASSERT_OK pw "$NS" block add 10.9.0.1 --for 1h
	send "$NS" veth1 10 --src 10.9.0.1
	send "$NS" veth1 6 -6 --src fd00:9::1
	send "$NS" veth1 4 --src 10.77.3.4
	send "$NS" veth1 5 --src 10.9.0.2                       # not blocked
	ASSERT_EQ "$(settle "$NS" veth0 25)" "20 $((20 * 64)) 5 $((5 * 64))" "XDP_DROP/XDP_PASS"
	ASSERT_EQ "$(blocks "$NS" | sort)" "$(printf '%s\n' "10.77.0.0/16 manual 4" "10.9.0.1 manual 10" "fd00:9::1 manual 6")" "hits per block"
	ASSERT_EQ "$(pw "$NS" block list --json | jq -c '[.blocks[] | .remaining != null]')" "[true,false,false]" "remaining only for the timed one"
	# traffic across a block that starts and expires while it runs
	ASSERT_OK pw "$NS" block del 10.9.0.1
	gen "$NS" -i veth1 -c 0 -r 200 -d 9 --src 10.9.0.1 -q &
	local g=$! drop pass
	T_PIDS+=("$g")
	sleep 1
	ASSERT_OK pw "$NS" block add 10.9.0.1 --for 3s
	wait "$g"
	read -r drop _ pass _ <<<"$(acts "$NS" veth0)"
	echo "    over 9 s at 200/s with a 3 s block: $((drop - 20)) dropped, $((pass - 5)) passed"
	ASSERT_LE "$((drop - 20))" $((3 * 200 + 40)) "frames dropped: at most the 3 s of the block"
	ASSERT_GE "$((drop - 20))" 100 "frames dropped while the block held"
	ASSERT_GE "$((pass - 5))" 500 "frames passed before and after it"
	ASSERT_EQ "$(blocks "$NS" | sort)" "$(printf '%s\n' "10.77.0.0/16 manual 4" "fd00:9::1 manual 6")" "blocks after the expiry"
	# the next block command swept the expired entry away
	ASSERT_OK pw "$NS" block del 192.0.2.250
	ASSERT_EQ "$(bpftool -j map dump pinned "$ROOT/shared/pw_block4" | jq length)" 0 "pw_block4 entries"
}

# An expired longer prefix hides no live shorter one; a ban of another
# origin never shortens an operator's block, and its unban leaves it.
test_nested_and_origins() {
	setup_loaded || { fail setup; return; }
	ASSERT_OK pw "$NS" block add 10.0.0.0/8
	ASSERT_OK pw "$NS" block add 10.1.0.0/16 10.1.2.0/24 --for 1s
	sleep 2.2
	send "$NS" veth1 5 --src 10.1.2.3
	ASSERT_EQ "$(settle "$NS" veth0 5)" "5 320 0 0" "the live /8 drops below the expired /16 and /24"
	ASSERT_OK pw "$NS" block add 192.0.2.7
	ASSERT_OK pw "$NS" block add 192.0.2.7 --for 600s --origin fail2ban
	ASSERT_EQ "$(pw "$NS" block list --json | jq -r '.blocks[] | select(.prefix == "192.0.2.7") | "\(.origin) \(.remaining)"')" \
		"manual null" "a fail2ban ban keeps the operator's longer block"
	ASSERT_EQ "$(pw "$NS" block del 192.0.2.7 --origin fail2ban --json | jq -c .)" '{"deleted":0,"not blocked":1}' \
		"fail2ban's unban leaves it"
	ASSERT_EQ "$(blocks "$NS" | grep -c '^192.0.2.7 manual')" 1 "still blocked"
	ASSERT_OK pw "$NS" block add 192.0.2.8 --for 60s --origin fail2ban
	ASSERT_OK pw "$NS" block add 192.0.2.8
	ASSERT_EQ "$(blocks "$NS" | grep -c '^192.0.2.8 manual')" 1 "the operator's longer block wins"
}

test_del_and_flush() {
	setup_loaded || { fail setup; return; }
	ASSERT_OK pw "$NS" block add 10.9.0.1 10.9.0.2 fd00:9::/64
	ASSERT_EQ "$(pw "$NS" block del 10.9.0.1 10.9.0.3 --json | jq -c .)" '{"deleted":1,"not blocked":1}' "del report"
	send "$NS" veth1 3 --src 10.9.0.1
	send "$NS" veth1 4 --src 10.9.0.2
	ASSERT_EQ "$(settle "$NS" veth0 7)" "4 256 3 192" "XDP_DROP/XDP_PASS after del"
	ASSERT_OK pw "$NS" block add 10.1.0.1 --origin fail2ban
	ASSERT_EQ "$(pw "$NS" block flush --origin fail2ban --json | jq .deleted)" 1 "flush of one origin"
	ASSERT_EQ "$(blocks "$NS" | wc -l)" 2 "blocks left"
	ASSERT_EQ "$(pw "$NS" block flush --json | jq .deleted)" 2 "flush"
	send "$NS" veth1 4 --src 10.9.0.2
	ASSERT_EQ "$(settle "$NS" veth0 11)" "4 256 7 448" "XDP_DROP/XDP_PASS after flush"
}

# 100k entries from a file in at most a second, then deleted by the same file
test_bulk_file() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/bulk
	awk 'BEGIN { for (i = 0; i < 100000; i++)
		printf "10.%d.%d.%d%s\n", int(i / 65536) + 100, int(i / 256) % 256, i % 256,
		       i % 1000 == 0 ? "   # a comment" : "" }' >"$f"
	echo "2001:db8::/48 10m" >>"$f"
	# CPU time (user + system): wall time on a loaded machine says little
	local t u sy r TIMEFORMAT='%U %S %R'
	t=$( { time pw "$NS" block add --file "$f" >/dev/null; } 2>&1)
	read -r u sy r <<<"$t"
	echo "    block add --file: 100001 entries: ${u}s user ${sy}s system ${r}s wall"
	ASSERT_EQ "$(awk -v u="$u" -v s="$sy" 'BEGIN { print (u + s <= 1.0) }')" 1 "CPU seconds for 100k entries ($u + $sy) at most 1"
	ASSERT_EQ "$(pw "$NS" block list --json | jq '.blocks | length')" 100001 "entries listed"
	ASSERT_EQ "$(pw "$NS" block list --json | jq -r '.blocks[] | select(.prefix == "2001:db8::/48") | "\(.origin) \(.remaining > 500)"')" "file true" "a line's own duration"
	send "$NS" veth1 3 --src 10.100.2.7
	ASSERT_EQ "$(settle "$NS" veth0 3)" "3 192 0 0" "a blocked source of the file"
	ASSERT_OK pw "$NS" block del --file - <"$f"
	ASSERT_EQ "$(blocks "$NS")" "" "deleted by the same file"
}

# Bad input: one line naming the value, non-zero, nothing changed.
test_refusals() {
	setup_loaded || { fail setup; return; }
	ASSERT_OK pw "$NS" block add 10.9.0.1
	local before
	before=$(blocks "$NS")
	ERR1 "invalid duration '5x'" pw "$NS" block add 10.9.0.2 --for 5x
	ERR1 "invalid duration '0'" pw "$NS" block add 10.9.0.2 --for 0
	ERR1 "invalid address '10.9.0.300'" pw "$NS" block add 10.9.0.2 10.9.0.300
	ERR1 "prefix '10.9.0.1/24' has host bits set" pw "$NS" block add 10.9.0.1/24
	ERR1 "invalid prefix length in '10.9.0.0/33'" pw "$NS" block add 10.9.0.0/33
	printf '10.9.0.5\n10.9.0.6 soon\n' >"$T_TMP/bad"
	ERR1 "$T_TMP/bad:2: invalid duration 'soon'" pw "$NS" block add --file "$T_TMP/bad"
	printf '10.9.0.5\n# x\nfd00::1/129\n' >"$T_TMP/bad"
	ERR1 "$T_TMP/bad:3: invalid prefix length in 'fd00::1/129'" pw "$NS" block add --file "$T_TMP/bad"
	ERR1 "cannot read '$T_TMP/none'" pw "$NS" block add --file "$T_TMP/none"
	ERR1 "'me'.*--origin" pw "$NS" block add 10.9.0.2 --origin me
	ASSERT_EQ "$(blocks "$NS")" "$before" "blocks after the refusals"
}

# Blocks are shared state: kept by reload, and by repin after the pins go.
test_survive_reload_and_repin() {
	setup_loaded || { fail setup; return; }
	ASSERT_OK pw "$NS" block add 10.9.0.1 --for 1h
	ASSERT_OK pw "$NS" reload veth0
	send "$NS" veth1 3 --src 10.9.0.1
	ASSERT_EQ "$(settle "$NS" veth0 3)" "3 192 0 0" "dropped after reload"
	rm -f "$ROOT"/shared/pw_block4 "$ROOT"/shared/pw_block6 "$ROOT"/shared/pw_block_pfx
	ERR1 "uses block maps that are not pinned: 'pinwall repin veth0'" pw "$NS" block add 10.9.0.2
	ASSERT_OK pw "$NS" repin veth0
	ASSERT_EQ "$(blocks "$NS")" "10.9.0.1 manual 3" "blocks after repin"
	ASSERT_OK pw "$NS" block add 10.9.0.2
	send "$NS" veth1 2 --src 10.9.0.2
	ASSERT_EQ "$(settle "$NS" veth0 5)" "5 320 0 0" "a block added after repin drops"
}

# A program of the version before blocks would not see them: block add
# refuses, naming the interface to reload; after the reload blocks work.
test_older_program_refused() {
	setup || { fail setup; return; }
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/pinwall_noblock.o"
	ERR1 "the program on 'veth0' \(id [0-9]+\) predates blocks and would not see them: 'pinwall reload veth0' first; nothing was changed" \
		pw "$NS" block add 10.9.0.1
	ASSERT_EQ "$(blocks "$NS")" "" "no block added"
	# (reload keeps the recorded object: name today's program as one)
	ASSERT_OK pw "$NS" reload veth0 --obj "$OBJS/pinwall_v1.o"
	ASSERT_OK pw "$NS" block add 10.9.0.1
	send "$NS" veth1 2 --src 10.9.0.1
	ASSERT_EQ "$(settle "$NS" veth0 2)" "2 128 0 0" "dropped after the reload"
}

# fail2ban's own server (not the system's) with the installed action: a
# jail over a log this test writes bans by a timed block; unban deletes it.
test_fail2ban_end_to_end() {
	command -v fail2ban-server >/dev/null || { fail "fail2ban not installed (scripts/deps.sh)"; return; }
	setup_loaded || { fail setup; return; }
	local d=$T_TMP/f2b ip=10.9.0.7 f2b
	mkdir -p "$d/action.d" "$d/filter.d" || { fail "mkdir $d"; return; }
	cp "$TOP/fail2ban/action.d/pinwall.conf" "$d/action.d/"
	: >"$d/auth.log"
	printf '[Definition]\nloglevel = INFO\nlogtarget = %s\nsocket = %s\npidfile = %s\ndbfile = :memory:\nallowipv6 = auto\nsyslogsocket = auto\ndbpurgeage = 1d\n' \
		"$d/server.log" "$d/sock" "$d/pid" >"$d/fail2ban.conf"
	printf '[Definition]\nfailregex = ^\\s*auth failure from <HOST>\\s*$\n' >"$d/filter.d/pwtest.conf"
	printf '%s\n' "[pwtest]" "enabled = true" "backend = polling" "filter = pwtest" \
		"logpath = $d/auth.log" "maxretry = 2" "findtime = 600" "bantime = 3600" \
		"action = pinwall[pinwall=\"$PW -n $NS --pin-root $ROOT\"]" >"$d/jail.conf"
	bg fail2ban-client -c "$d" -s "$d/sock" -p "$d/pid" -x -f start
	f2b=$BG_PID
	for _ in $(seq 1 100); do f2b_client "$d" status pwtest >/dev/null 2>&1 && break; sleep 0.1; done
	ASSERT_OK f2b_client "$d" status pwtest
	# fail2ban takes only lines with a time
	local now
	now=$(date '+%Y-%m-%d %H:%M:%S')
	printf "$now auth failure from %s\n" $ip $ip $ip >>"$d/auth.log"
	for _ in $(seq 1 100); do blocks "$NS" | grep -q "^$ip " && break; sleep 0.1; done
	ASSERT_EQ "$(pw "$NS" block list --json | jq -r --arg ip $ip '.blocks[] | select(.prefix == $ip) | "\(.origin) \(.remaining > 3500 and .remaining <= 3600)"')" \
		"fail2ban true" "the ban as a block (origin, remaining)"
	send "$NS" veth1 4 --src $ip
	ASSERT_EQ "$(settle "$NS" veth0 4)" "4 256 0 0" "frames from the banned address"
	ASSERT_OK f2b_client "$d" set pwtest unbanip $ip
	for _ in $(seq 1 100); do blocks "$NS" | grep -q "^$ip " || break; sleep 0.1; done
	ASSERT_EQ "$(blocks "$NS")" "" "no block after unban"
	grep -q "Unban $ip" "$d/server.log" || fail "fail2ban's log: $(tail -n 5 "$d/server.log")"
	send "$NS" veth1 3 --src $ip
	ASSERT_EQ "$(settle "$NS" veth0 7)" "4 256 3 192" "frames after unban"
	f2b_client "$d" stop >/dev/null 2>&1
	for _ in $(seq 1 50); do kill -0 "$f2b" 2>/dev/null || break; sleep 0.1; done
}

# f2b_client DIR ARGS...: the client of this test's fail2ban server
f2b_client() {
	local d=$1
	shift
	fail2ban-client -c "$d" -s "$d/sock" -p "$d/pid" "$@"
}

run_tests
