#!/usr/bin/env bash
# save and restore (#10.3) with real frames on veth pairs: the saved files,
# a boot simulated from nothing through the unit's ExecStart line giving the
# same verdicts, restore from partly loaded and from the saved state itself
# (nothing changed, and it says so), bad configs refused whole with FILE:LINE
# and nothing changed, a device missing at boot, atomic saves, and the
# systemd unit as 'make install' writes it, checked by systemd-analyze.
. "$(dirname "$0")/lib.sh"

unset SSH_CONNECTION	# the lock-out guard must not see the test's session

. "$(dirname "$0")/rules_lib.sh"

UNIT_IN="$TOP/systemd/pinwall.service.in"

setup2() {
	ns_new NS p && veth_new "$NS" veth0 veth1 && veth_new "$NS" veth2 veth3
}

# The rule set: policy deny, a set inline, a set too large for one line
# (saved to a set file), ordered rules before and after the prefix table.
write_rules() {
	local i
	for i in $(seq 0 299); do echo "10.$((100 + i / 256)).$((i % 256)).0/24"; done >"$T_TMP/block.txt"
	write "$T_TMP/in.rules" "policy deny" "set mgmt 10.20.0.0/16 fd00:20::/32" \
		"set block file block.txt" "drop src @block" "pass proto tcp src @mgmt dport 22" \
		"drop proto tcp dport 22" "pass src 198.51.100.7" "pass proto udp dport {53,123}"
}

# verdicts PEER IFACE: the same frames out of PEER each time, the actions
# IFACE's program took: 150 dropped, 120 passed, 64 bytes each (a frame lost
# on the way shows as a count that never settles)
verdicts() {
	gen "$NS" -i "$1" -r 50000 -q -c 20 -p tcp --src 10.20.1.1 --dport 22	# ordered, @mgmt: pass
	gen "$NS" -i "$1" -r 50000 -q -c 30 -p tcp --dport 22			# the table: drop
	gen "$NS" -i "$1" -r 50000 -q -c 40 --dport 53				# ordered, after the table: pass
	gen "$NS" -i "$1" -r 50000 -q -c 50 --src 10.100.1.5			# @block (a set file): drop
	gen "$NS" -i "$1" -r 50000 -q -c 60 --src 198.51.100.7			# the table: pass
	gen "$NS" -i "$1" -r 50000 -q -c 70					# policy deny: drop
	settle "$NS" "$2" 270
}
VERDICTS="150 9600 120 7680"

# denies PEER IFACE: 70 frames no rule passes, all dropped by the policy
denies() {
	gen "$NS" -i "$1" -r 50000 -q -c 70
	settle "$NS" "$2" 70
}

# loaded: veth0 native, veth2 skb, the rules applied
setup_state() {
	setup2 && write_rules &&
	pw "$NS" rule apply "$T_TMP/in.rules" >/dev/null &&
	pw "$NS" load veth0 --mode native >/dev/null && pw "$NS" load veth2 --mode skb >/dev/null
}

# unit_cmd Exec(Start|Reload): the unit's command line, with this test's
# binary and options in place of the path and $PINWALL_OPTS
unit_cmd() {
	local line
	line=$(sed -n "s/^$1=//p" "$UNIT_IN")
	line=${line/@SBINDIR@\/pinwall/$PW}
	echo "${line/\$PINWALL_OPTS/--config $T_TMP/conf --pin-root $ROOT -n $NS}"
}

# what restore must leave alone: the pin tree, the rule set (generation,
# ids, counters), the programs attached and their maps
world() {
	find "$ROOT" | sort
	generation
	pw "$NS" rule list --json | jq -c .
	pw "$NS" status --json | jq -c '[.[] | {ifname, state, prog_id, mode, maps: [.maps[].id]}]'
}

# set_file DIR: the set file DIR/rules names for set 'block'
set_file() { echo "$1/$(sed -n 's/^set block file //p' "$1/rules")"; }

rule_texts() { pw "$NS" rule list --json | jq -c '[.policy, [.rules[].rule]]'; }
set_texts() { pw "$NS" set list --json | jq -c '[.sets[] | [.name, [.prefixes[].prefix]]]'; }

test_boot_simulation() {
	setup_state || { fail setup; return; }
	local out rules sets rc
	ASSERT_EQ "$(verdicts veth1 veth0)" "$VERDICTS" "veth0 verdicts before the save"
	rules=$(rule_texts)
	sets=$(set_texts)
	out=$(pw "$NS" save --config "$T_TMP/conf") || fail "save: $out"
	ASSERT_MATCH "$out" "saved 2 interface\(s\), 5 rule\(s\), 2 set\(s\) \(1 in set files\), policy deny" "save summary"
	ASSERT_EQ "$(grep -v '^#' "$T_TMP/conf/interfaces")" "$(printf 'veth0 mode native\nveth2 mode skb')" "interfaces file"
	ASSERT_MATCH "$(head -n 3 "$T_TMP/conf/rules")" "written by pinwall save .* at 20[0-9-]+T" "rules header: who and when"
	ASSERT_MATCH "$(head -n 3 "$T_TMP/conf/rules")" "Counters are not configuration" "rules header: counters"
	ASSERT_MATCH "$(grep '^set block' "$T_TMP/conf/rules")" "^set block file sets/block@[0-9]+\.[0-9]+\.[0-9]+$" \
		"the large set names its file, a name of this save"
	ASSERT_EQ "$(grep -c '^10\.' "$(set_file "$T_TMP/conf")")" 300 "prefixes in the set file"
	ASSERT_EQ "$(find "$T_TMP/conf" -name '.*' | wc -l)" 0 "no temporary file left"
	# what save wrote is what 'rule apply' reads back to the same rule set
	ASSERT_MATCH "$(pw "$NS" rule apply "$T_TMP/conf/rules")" "^no change" "saved rules re-applied"

	# a boot from nothing: no program, no rule, no pin root
	pw "$NS" unload veth0 >/dev/null && pw "$NS" unload veth2 >/dev/null &&
		pw "$NS" rule flush >/dev/null && rm -rf "$ROOT" || fail "tear down"
	ASSERT_EQ "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp.prog.id // "none"')" none "no program before the boot"
	out=$($(unit_cmd ExecStart) 2>&1)
	rc=$?
	ASSERT_EQ "$rc" 0 "ExecStart exit status (output: $out)"
	ASSERT_MATCH "$out" "rules: applied .*: added 5, removed 0, kept 0; 5 rules, policy deny" "rules restored"
	ASSERT_MATCH "$out" "veth0: loaded \(native mode, program id [0-9]+\)" "veth0 restored"
	ASSERT_MATCH "$out" "veth2: loaded \(skb mode, program id [0-9]+\)" "veth2 restored"
	ASSERT_EQ "$(rule_texts)" "$rules" "rules after the boot"
	ASSERT_EQ "$(set_texts)" "$sets" "sets after the boot"
	ASSERT_EQ "$(verdicts veth1 veth0)" "$VERDICTS" "veth0 verdicts after the boot"
	ASSERT_EQ "$(verdicts veth3 veth2)" "$VERDICTS" "veth2 verdicts after the boot"

	# already there: nothing changes, and restore says so (ExecReload too)
	local before
	before=$(world)
	out=$($(unit_cmd ExecReload) 2>&1) || fail "ExecReload: $out"
	ASSERT_MATCH "$out" "nothing changed: already in the saved state" "restore when already there"
	ASSERT_MATCH "$out" "veth0: unchanged" "veth0 unchanged"
	ASSERT_EQ "$(pw "$NS" restore --config "$T_TMP/conf" --json | jq -c '[.changed, [.interfaces[].result]]')" \
		'[false,["unchanged","unchanged"]]' "restore --json when already there"
	ASSERT_EQ "$(world)" "$before" "pins, rules, counters and programs after restoring the same state"
}

# bad_conf: a fresh copy of the saved config in $T_TMP/bad, to be broken
bad_conf() {
	rm -rf "$T_TMP/bad" && cp -r "$T_TMP/conf" "$T_TMP/bad"
}

# quick: what a refused restore must not touch, cheaply: the pin tree, the
# rule set generation, the programs attached
quick() {
	find "$ROOT" | sort
	generation
	ip -n "$NS" -j link show | jq -c '[.[] | .xdp.prog.id]'
}

# REFUSED_CONF REGEX: restore of the broken copy refused with one error line
# naming FILE:LINE, nothing on stdout, nothing changed ($QUICK: quick before)
REFUSED_CONF() {
	local rc err
	pw "$NS" restore --config "$T_TMP/bad" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	err=$(cat "$T_TMP/err")
	ASSERT_EQ "$rc" 1 "exit status of a restore refused for '$1'"
	ASSERT_MATCH "$err" "^pinwall: error: .*$1" "the error line"
	ASSERT_EQ "$(nlines "$err")" 1 "stderr line count (stderr: $err)"
	ASSERT_EQ "$(cat "$T_TMP/out")" "" "stdout of a refused restore"
	ASSERT_EQ "$(quick)" "$QUICK" "pins, generation and programs after a refused restore"
}

# restores of broken copies of the saved config, each refused whole
bad_configs() {
	local n f
	QUICK=$(quick)
	n=$(($(wc -l <"$T_TMP/conf/interfaces") + 1))
	bad_conf && echo "veth3 mood skb" >>"$T_TMP/bad/interfaces"
	REFUSED_CONF "/bad/interfaces:$n: unknown keyword 'mood': use mode, obj, prog, scope, map, flat, steer, then or thenprog"
	bad_conf && echo "veth3 mode skb obj /nonexistent/x.o" >>"$T_TMP/bad/interfaces"
	REFUSED_CONF "/bad/interfaces:$n: object file '/nonexistent/x.o': No such file"
	bad_conf && echo "veth3/x mode skb" >>"$T_TMP/bad/interfaces"
	REFUSED_CONF "/bad/interfaces:$n: invalid interface name 'veth3/x'"
	bad_conf && echo "veth0 mode skb" >>"$T_TMP/bad/interfaces"
	REFUSED_CONF "/bad/interfaces:$n: interface 'veth0' given twice \\(first on line [0-9]+\\)"
	bad_conf && rm "$T_TMP/bad/rules"
	REFUSED_CONF "rule file '.*/bad/rules': No such file or directory"
	bad_conf && rm "$T_TMP/bad/interfaces"
	REFUSED_CONF "interfaces file '.*/bad/interfaces': No such file or directory"
	n=$(($(wc -l <"$T_TMP/conf/rules") + 1))
	bad_conf && echo "drop sport" >>"$T_TMP/bad/rules"
	REFUSED_CONF "/bad/rules:$n: "
	bad_conf && rm "$(set_file "$T_TMP/bad")"
	REFUSED_CONF "/bad/rules:[0-9]+: set 'block': set file '.*/bad/sets/block@[^']*': No such file"
	bad_conf && rm "$T_TMP/bad/rules" && mkfifo "$T_TMP/bad/rules"
	REFUSED_CONF "'.*/bad/rules' is not a regular file"
	# a FIFO (or a device) would block a boot: refused at once, naming the line
	bad_conf && f=$(set_file "$T_TMP/bad") && rm "$f" && mkfifo "$f"
	REFUSED_CONF "/bad/rules:[0-9]+: set 'block': set file '.*/bad/sets/block@.*' is not a regular file"
	bad_conf && sed -i 's|^set block file .*|set block file /dev/stdin|' "$T_TMP/bad/rules"
	REFUSED_CONF "/bad/rules:[0-9]+: set 'block': set file '/dev/stdin' is not a regular file"
	bad_conf && rm "$T_TMP/bad/interfaces" && mkfifo "$T_TMP/bad/interfaces"
	REFUSED_CONF "'.*/bad/interfaces' is not a regular file"
	bad_conf && sed -i '/^policy/d' "$T_TMP/bad/rules"
	REFUSED_CONF "has no 'policy allow\\|deny' line"
}

test_partly_loaded() {
	setup_state || { fail setup; return; }
	local out before
	pw "$NS" save --config "$T_TMP/conf" >/dev/null || fail save
	# drift from the saved state: veth2 unloaded, a rule gone
	pw "$NS" unload veth2 >/dev/null && pw "$NS" rule del pass src 198.51.100.7 >/dev/null || fail drift
	before=$(world)
	bad_configs
	ASSERT_EQ "$(world)" "$before" "pins, rules, counters and programs after the refused restores"
	out=$(pw "$NS" restore --config "$T_TMP/conf" --dry-run) || fail "dry run: $out"
	ASSERT_MATCH "$out" "\(dry run\) rules: would apply" "dry run: rules"
	ASSERT_MATCH "$out" "\(dry run\) veth2: would load \(skb mode\)" "dry run: veth2"
	ASSERT_MATCH "$out" "\(dry run\) veth0: unchanged" "dry run: veth0"
	ASSERT_EQ "$(world)" "$before" "nothing changed by the dry run"
	out=$($(unit_cmd ExecReload) 2>&1) || fail "restore: $out"
	ASSERT_MATCH "$out" "rules: applied .*: added 1, removed 0, kept 4" "the missing rule restored, the others kept"
	ASSERT_MATCH "$out" "veth2: loaded \(skb mode" "veth2 loaded"
	ASSERT_MATCH "$out" "veth0: unchanged" "veth0 left as it runs"
	ASSERT_EQ "$(verdicts veth3 veth2)" "$VERDICTS" "veth2 verdicts after the restore"
}

test_missing_device() {
	setup2 && write_rules || { fail setup; return; }
	local out rc j
	mkdir -p "$T_TMP/conf"
	cp "$T_TMP/in.rules" "$T_TMP/block.txt" "$T_TMP/conf/"
	mv "$T_TMP/conf/in.rules" "$T_TMP/conf/rules"
	write "$T_TMP/conf/interfaces" "veth0 mode native" "veth9 mode skb"
	# a NIC missing at boot: the rest is restored and filters; exit 4 names it
	pw "$NS" restore --config "$T_TMP/conf" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	ASSERT_EQ "$rc" 4 "exit status with a device missing"
	ASSERT_EQ "$(cat "$T_TMP/err")" "pinwall: error: one interface is not as saved (veth9 missing); the rest is restored" "the error line"
	ASSERT_MATCH "$(cat "$T_TMP/out")" "veth9: missing: no such device 'veth9'" "the missing device reported"
	ASSERT_EQ "$(denies veth1 veth0)" "70 4480 0 0" "veth0 filters meanwhile"
	# --wait: the device appears later and is restored then
	bg "$PW" -n "$NS" --pin-root "$ROOT" restore --config "$T_TMP/conf" --wait 20 --json
	sleep 0.5
	veth_new "$NS" veth9 veth8 || fail "veth9"
	wait "$BG_PID" && rc=0 || rc=$?
	ASSERT_EQ "$rc" 0 "restore --wait exit status once the device appeared"
	j=$(pw "$NS" status veth9 --json)
	ASSERT_EQ "$(jq -r '.[0] | "\(.state) \(.mode)"' <<<"$j")" "ok skb" "veth9 restored when it appeared"
	ASSERT_EQ "$(denies veth8 veth9)" "70 4480 0 0" "veth9 filters"
}

# an object of the user's: saved with its program and pin scope, reloaded
# back when another program runs, never forced across a mode change
test_user_object() {
	setup2 && write_rules || { fail setup; return; }
	local obj=$OBJS/byname.o out rc
	pw "$NS" rule apply "$T_TMP/in.rules" >/dev/null &&
		pw "$NS" load veth2 --mode skb --obj "$obj" --prog xdp_count_pass --pin-scope iface >/dev/null ||
		{ fail "load --obj"; return; }
	pw "$NS" save --config "$T_TMP/conf" >/dev/null || fail save
	ASSERT_EQ "$(grep -v '^#' "$T_TMP/conf/interfaces")" \
		"veth2 mode skb obj $(realpath "$obj") prog xdp_count_pass scope iface" "interfaces file"
	pw "$NS" reload veth2 --obj "$obj" --prog xdp_count_drop >/dev/null || fail reload
	out=$(pw "$NS" restore --config "$T_TMP/conf") || fail "restore: $out"
	ASSERT_MATCH "$out" "veth2: reloaded \(skb mode, program id [0-9]+\)" "the saved program back"
	ASSERT_EQ "$(pw "$NS" status veth2 --json | jq -r '.[0] | "\(.prog_name) \(.pin_scope)"')" \
		"xdp_count_pass iface" "program and scope after the restore"
	# another mode: a reload cannot change it; left as it is, named, exit 4
	pw "$NS" unload veth2 >/dev/null && pw "$NS" load veth2 --mode native --obj "$obj" \
		--prog xdp_count_pass --pin-scope iface >/dev/null || fail "load native"
	out=$(pw "$NS" restore --config "$T_TMP/conf" 2>&1)
	rc=$?
	ASSERT_EQ "$rc" 4 "exit status of a restore that leaves a conflict"
	ASSERT_MATCH "$out" "veth2: conflict: runs in native mode, saved skb" "the conflict said"
	ASSERT_MATCH "$out" "pinwall: error: one interface is not as saved \(veth2 conflict\)" "the error line"
	ASSERT_EQ "$(pw "$NS" status veth2 --json | jq -r '.[0].mode')" native "left as it runs"
}

test_save_atomic() {
	setup2 && write_rules && pw "$NS" rule apply "$T_TMP/in.rules" >/dev/null || { fail setup; return; }
	local old new
	pw "$NS" save --config "$T_TMP/conf" >/dev/null || fail save
	old=$(cat "$T_TMP/conf/rules")
	exec 3<"$T_TMP/conf/rules"
	pw "$NS" rule del pass src 198.51.100.7 >/dev/null || fail "rule del"
	pw "$NS" save --config "$T_TMP/conf" >/dev/null || fail "second save"
	# replaced by a rename: a reader of the old file still reads it whole
	ASSERT_EQ "$(cat <&3)" "$old" "the old file, read through a descriptor opened before"
	exec 3<&-
	new=$(cat "$T_TMP/conf/rules")
	ASSERT_EQ "$(grep -c '198.51.100.7' <<<"$new")" 0 "the new file has the change"
	ASSERT_EQ "$(tail -n 1 <<<"$new")" "pass proto udp dport {53,123}" "the new file is whole"
	# a save that fails leaves the old files as they were and no temporary file
	rm -rf "$T_TMP/conf/sets" && touch "$T_TMP/conf/sets"
	ERR1 "config directory '.*/conf/sets'" pw "$NS" save --config "$T_TMP/conf"
	ASSERT_EQ "$(cat "$T_TMP/conf/rules")" "$new" "rules file after a failed save"
	ASSERT_EQ "$(find "$T_TMP/conf" -name '.*' | wc -l)" 0 "no temporary file after a failed save"
}

# save_state DIR: what each file of DIR says: the prefixes in the set file
# the rule file names (empty: not there), a rule, the interfaces
save_state() {
	local f
	f=$(set_file "$1")
	echo "$( [ -f "$f" ] && grep -c '^10\.' "$f") $(grep -c '198.51.100.7' "$1/rules") $(grep -vc '^#' "$1/interfaces")"
}

# a save killed at each step leaves a rule file whose set file is the one it
# was written with: the old state whole, or the new rule file with its sets
test_save_killed() {
	setup2 && write_rules && pw "$NS" rule apply "$T_TMP/in.rules" >/dev/null &&
		pw "$NS" save --config "$T_TMP/conf" >/dev/null || { fail setup; return; }
	local step want
	# the new state: set 'block' smaller, a rule gone, veth0 loaded
	sed -i '1,10d' "$T_TMP/block.txt"
	sed -i '/198.51.100.7/d' "$T_TMP/in.rules"
	pw "$NS" rule apply "$T_TMP/in.rules" >/dev/null && pw "$NS" load veth0 >/dev/null || { fail change; return; }
	ASSERT_EQ "$(save_state "$T_TMP/conf")" "300 1 0" "the first save"
	for step in sets:"300 1 0" rules:"290 0 0" interfaces:"290 0 1"; do
		want=${step#*:} step=${step%%:*}
		rm -rf "$T_TMP/k" && cp -a "$T_TMP/conf" "$T_TMP/k"
		PINWALL_TEST_KILL_AT=save:$step pwt "$NS" save --config "$T_TMP/k" >/dev/null 2>&1
		ASSERT_EQ "$(save_state "$T_TMP/k")" "$want" "the files after a save killed at '$step'"
		ASSERT_OK pw "$NS" restore --config "$T_TMP/k" --dry-run
	done
	# the next save ends it: one set file, the one the rule file names
	pw "$NS" save --config "$T_TMP/k" >/dev/null || fail "save after the kill"
	ASSERT_EQ "$(save_state "$T_TMP/k")" "290 0 1" "the files after the next save"
	ASSERT_EQ "$(ls "$T_TMP/k/sets")" "$(basename "$(set_file "$T_TMP/k")")" "the set files of earlier saves removed"
}

# save deletes and creates files in sets/: never through a symlink, and only
# set files of its own naming
test_save_sets_dir() {
	setup2 && write_rules && pw "$NS" rule apply "$T_TMP/in.rules" >/dev/null || { fail setup; return; }
	local old
	mkdir -p "$T_TMP/conf" "$T_TMP/target" && echo keep >"$T_TMP/target/block" &&
		echo keep >"$T_TMP/target/x@1.2.3" && ln -s "$T_TMP/target" "$T_TMP/conf/sets" || fail plant
	ERR1 "config directory '.*/conf/sets' is not a directory \(a symlink or a file\)" pw "$NS" save --config "$T_TMP/conf"
	ASSERT_EQ "$(ls "$T_TMP/conf")" sets "nothing written beside the symlink"
	ASSERT_EQ "$(cat "$T_TMP/target/block" "$T_TMP/target/x@1.2.3")" "$(printf 'keep\nkeep')" "the symlink's target untouched"
	# in a real sets/: files not of save's naming, and links, are left alone
	rm "$T_TMP/conf/sets" && mkdir "$T_TMP/conf/sets" && echo keep >"$T_TMP/conf/sets/block" &&
		ln -s "$T_TMP/target/x@1.2.3" "$T_TMP/conf/sets/y@1.2.3" && echo old >"$T_TMP/conf/sets/z@1.2.3" || fail plant2
	pw "$NS" save --config "$T_TMP/conf" >/dev/null || fail save
	ASSERT_EQ "$(cd "$T_TMP/conf/sets" && ls | grep -v '^block@')" "$(printf 'block\ny@1.2.3')" \
		"a stale set file of save's naming removed, the others kept"
	ASSERT_EQ "$(cat "$T_TMP/target/x@1.2.3")" keep "a symlink's target untouched"
}

# rule apply reads set files through the same reader: a FIFO refused at once
# at the line naming it; the rule file itself may still come from stdin
test_apply_set_fifo() {
	setup2 || { fail setup; return; }
	mkfifo "$T_TMP/fifo" && write "$T_TMP/r" "policy allow" "set f file fifo" "drop src @f" || fail files
	ERR1 "/r:2: set 'f': set file '.*/fifo' is not a regular file" pw "$NS" rule apply "$T_TMP/r"
	write "$T_TMP/p" "10.9.0.0/16" && sed -i "s|file fifo|file $T_TMP/p|" "$T_TMP/r" || fail files
	ASSERT_OK pw "$NS" rule apply - <"$T_TMP/r"
}

# runs as saved but a pin is gone: said (drift, exit 4, repin named), not "unchanged"
test_drift_reported() {
	setup2 && pw "$NS" load veth0 >/dev/null && pw "$NS" save --config "$T_TMP/conf" >/dev/null ||
		{ fail setup; return; }
	local rc
	rm "$(ifdir "$NS" veth0)/maps/pw_classes" || fail "rm pin"
	pw "$NS" restore --config "$T_TMP/conf" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	ASSERT_EQ "$rc" 4 "exit status of a restore finding drift"
	ASSERT_EQ "$(grep '^veth0' "$T_TMP/out")" \
		"veth0: drift: runs as saved, but pins are missing: 'pinwall repin veth0' puts its pins back (see 'pinwall status veth0')" \
		"the drift said, with its fix"
	ASSERT_EQ "$(cat "$T_TMP/err")" "pinwall: error: one interface is not as saved (veth0 drift); the rest is restored" "the error line"
	pw "$NS" repin veth0 >/dev/null || fail repin
	ASSERT_MATCH "$(pw "$NS" restore --config "$T_TMP/conf")" "veth0: unchanged" "after the repin: as saved"
}

test_unit_verify() {
	local p=$T_TMP/prefix out
	out=$(make -s -C "$TOP" install PREFIX="$p" 2>&1) || { fail "make install: $out"; return; }
	local unit=$p/lib/systemd/system/pinwall.service
	[ -f "$unit" ] || { fail "no unit at $unit"; return; }
	ASSERT_EQ "$(sed -n 's/^ExecStart=//p' "$unit")" "$p/sbin/pinwall restore --wait 30 \$PINWALL_OPTS" "installed ExecStart"
	out=$(MANPATH=$p/share/man systemd-analyze verify "$unit" 2>&1)
	ASSERT_EQ "$?:$out" "0:" "systemd-analyze verify of the installed unit"
	# the check can fail: a unit whose binary is not there is refused
	sed "s|$p/sbin/pinwall|$p/nonexistent/pinwall|" "$unit" >"$T_TMP/pinwall.service"
	MANPATH=$p/share/man systemd-analyze verify "$T_TMP/pinwall.service" >/dev/null 2>&1 &&
		fail "systemd-analyze verify accepted a unit whose ExecStart is missing"
}

# steer_list IFACE: the CPU list pinned for IFACE's steering ("" when off)
steer_list() {
	bpftool -j map lookup pinned "$(ifdir "$NS" "$1")/maps/pw_steer_cpus" key 0 0 0 0 2>/dev/null |
		jq -r '.formatted.value as $v | $v.cpu[0:$v.n] | map(tostring) | join(",")'
}

# load --steer and --then kept by save/restore: steering on veth0, a chained
# program on veth2 that drops port 9 (frames prove it runs after the restore);
# a chained object gone or a bad steer/then word refused with FILE:LINE
test_steer_chain_saved() {
	setup2 || { fail setup; return; }
	local ch=$OBJS/chained.o out
	cp "$ch" "$T_TMP/ch.o" || { fail "copy object"; return; }
	pw "$NS" load veth0 --mode skb --steer 0 >/dev/null &&
		pw "$NS" load veth2 --mode skb --then "$T_TMP/ch.o" --prog drop_port >/dev/null ||
		{ fail "load --steer / --then"; return; }
	pw "$NS" save --config "$T_TMP/conf" >/dev/null || fail save
	ASSERT_EQ "$(grep -v '^#' "$T_TMP/conf/interfaces")" \
		"$(printf 'veth0 mode skb steer 0\nveth2 mode skb then %s thenprog drop_port' "$T_TMP/ch.o")" \
		"interfaces file with steer and then"
	pw "$NS" unload veth0 >/dev/null && pw "$NS" unload veth2 >/dev/null || fail unload
	out=$(pw "$NS" restore --config "$T_TMP/conf") || fail "restore: $out"
	ASSERT_EQ "$(steer_list veth0)" 0 "steering back after the restore"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -c '.[0].steer') $(pw "$NS" status veth2 --json | jq -c '.[0].steer')" \
		"[0] null" "status --json: steer"
	ASSERT_MATCH "$(pw "$NS" status veth0)" "steer    cpus 0" "status text: steer"
	ASSERT_EQ "$(pw "$NS" status veth2 --json | jq -r '.[0].chain.prog_name')" drop_port \
		"chained program back after the restore"
	gen "$NS" -i veth3 -c 30 --dport 9 -q
	gen "$NS" -i veth3 -c 20 --dport 53 -q
	settle "$NS" veth2 50 >/dev/null
	ASSERT_EQ "$(pw "$NS" status veth2 --json | jq -r '.[0].chain.verdicts | "\(.drop) \(.pass)"')" \
		"30 20" "the restored chained program filters"

	local QUICK
	pw "$NS" unload veth2 >/dev/null || fail "unload veth2"
	QUICK=$(quick)
	bad_conf && sed -i 's/steer 0/steer 0,x/' "$T_TMP/bad/interfaces"
	REFUSED_CONF "$T_TMP/bad/interfaces:[0-9]+: invalid steer '0,x'"
	bad_conf && sed -i 's/thenprog drop_port/thenprog/' "$T_TMP/bad/interfaces"
	REFUSED_CONF "$T_TMP/bad/interfaces:[0-9]+: 'thenprog' needs a value"
	bad_conf && rm -f "$T_TMP/ch.o"
	REFUSED_CONF "$T_TMP/bad/interfaces:[0-9]+: chained: object file '$T_TMP/ch.o'"
}

# timed blocks kept by save/restore with their absolute expiry and origin:
# one for an hour, one for ever, one expired by restore time (not brought
# back); a frame from a blocked prefix dropped after the restore; a bad line
# of the blocks file refused with FILE:LINE
test_blocks_saved() {
	setup2 || { fail setup; return; }
	local out want bf QUICK
	pw "$NS" load veth0 --mode skb >/dev/null &&
		pw "$NS" block add 10.1.1.1 --for 1h --origin fail2ban >/dev/null &&
		pw "$NS" block add 10.2.0.0/16 >/dev/null &&
		pw "$NS" block add 10.3.3.3 --for 2 >/dev/null || { fail "load, block add"; return; }
	want=$(pw "$NS" block list --json | jq -c '[.blocks[] | select(.prefix != "10.3.3.3") | [.prefix, .origin, .expires]]')
	out=$(pw "$NS" save --config "$T_TMP/conf") || fail "save: $out"
	ASSERT_MATCH "$out" "3 block\(s\) with their absolute expiry" "save summary: blocks"
	bf=$(sed -n 's/^blocks: //p' "$T_TMP/conf/interfaces")
	ASSERT_MATCH "$bf" "^blocks@[0-9]+\.[0-9]+\.[0-9]+$" "the interfaces file names a blocks file of this save"
	ASSERT_MATCH "$(grep -v '^#' "$T_TMP/conf/$bf" | sort)" "^10\.1\.1\.1 [0-9]{10} fail2ban
10\.2\.0\.0/16 0 manual
10\.3\.3\.3 [0-9]{10} manual$" "blocks file: prefix, absolute expiry, origin"
	pw "$NS" unload veth0 >/dev/null && pw "$NS" block flush >/dev/null || fail "unload, flush"
	ASSERT_EQ "$(pw "$NS" block list --json | jq '.blocks | length')" 0 "no block before the restore"
	sleep 2.5	# 10.3.3.3 expires
	out=$(pw "$NS" restore --config "$T_TMP/conf") || fail "restore: $out"
	ASSERT_MATCH "$out" "blocks: added 2, 1 expired since the save" "restore summary: blocks"
	ASSERT_EQ "$(pw "$NS" block list --json | jq -c '[.blocks[] | [.prefix, .origin, .expires]]')" \
		"$want" "blocks back with their origin and absolute expiry, the expired one gone"
	gen "$NS" -i veth1 -r 50000 -q -c 20 --src 10.2.5.5
	gen "$NS" -i veth1 -r 50000 -q -c 10 --src 10.4.4.4
	ASSERT_EQ "$(settle "$NS" veth0 30)" "20 1280 10 640" "frames from a restored block dropped, others passed"

	QUICK=$(quick)
	bad_conf && echo "10.5.0.0/16 0 martian" >>"$T_TMP/bad/$bf"
	REFUSED_CONF "$T_TMP/bad/$bf:[0-9]+: invalid origin 'martian'"
	bad_conf && sed -i 's/^10\.2\.0\.0\/16 0/10.2.0.0\/16 soon/' "$T_TMP/bad/$bf"
	REFUSED_CONF "$T_TMP/bad/$bf:[0-9]+: invalid expiry 'soon'"
	bad_conf && sed -i "s/^blocks: .*/blocks: ..\/x/" "$T_TMP/bad/interfaces"
	REFUSED_CONF "$T_TMP/bad/interfaces:[0-9]+: invalid blocks file name '../x'"
	ASSERT_EQ "$(pw "$NS" block list --json | jq '.blocks | length')" 2 "refused restores added no block"
}

run_tests
