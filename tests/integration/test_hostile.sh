#!/usr/bin/env bash
# Hostile pin state: pins of the wrong shape where pinwall keeps its maps and
# records (one error line, exit 1, no crash, nothing changed), symbolic links
# inside the pin root (never followed: clean and unload leave their targets
# alone), and rule pins that are not the maps the running program uses (rule
# commands refuse and point to repin; the program keeps its rules).
. "$(dirname "$0")/lib.sh"

unset SSH_CONNECTION

setup() {
	ns_new NS h && veth_new "$NS" veth0 veth1
}

# send NS IFACE COUNT PWGEN-ARGS...: exactly COUNT frames out of IFACE
send() {
	local ns=$1 ifc=$2 n=$3 out
	shift 3
	out=$(gen "$ns" -i "$ifc" -c "$n" -r 50000 --json "$@") || { fail "pwgen -c $n $*: exit status $?"; return 1; }
	ASSERT_EQ "$(jq .sent <<<"$out")" "$n" "frames sent by 'pwgen -c $n $*'"
}

# drops NS IFACE TOTAL: XDP_DROP packets once TOTAL frames were counted (3 s at most)
drops() {
	local a d p
	for _ in $(seq 1 60); do
		a=$(pw "$1" stats "$2" --count 1 --interval 0.05 --json |
			jq -r '.interfaces[0].actions | "\(.XDP_DROP.packets) \(.XDP_PASS.packets)"')
		read -r d p <<<"$a"
		[ $((d + p)) -ge "$3" ] 2>/dev/null && break
		sleep 0.05
	done
	echo "$d"
}

# RUNS CMD...: the command ran to its end (no signal: exit status below 128)
RUNS() {
	"$@" >/dev/null 2>&1
	local rc=$?
	[ $rc -lt 128 ] || fail "'$*' was killed by signal $((rc - 128))"
}

# map id pinned at PATH
pin_id() { bpftool -j map show pinned "$1" 2>/dev/null | jq -r .id; }

# map ids of the XDP program on NS IFACE, sorted, one line
prog_maps() {
	local p
	p=$(ip -n "$1" -j link show "$2" | jq -r '.[0].xdp.prog.id // empty')
	[ -n "$p" ] && bpftool -j prog show id "$p" | jq -c '.map_ids | sort'
}

# replace the pin at PATH by a new map: PATH TYPE KEY VALUE ENTRIES NAME
swap_pin() {
	rm -f "$1" && bpftool map create "$1" type "$2" key "$3" value "$4" entries "$5" name "$6"
}

# ---- case 7: every pin is checked before use ----

test_config_value_size() {
	setup || { fail setup; return; }
	local cfg="$ROOT/shared/pw_config"
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	swap_pin "$cfg" array 4 4096 1 pw_config || { fail "bpftool map create"; return; }
	for cmd in "rule list" "rule policy deny" "rule add drop src 10.12.0.0/16" "rule del drop src 10.11.0.0/16"; do
		# shellcheck disable=SC2086
		ERR1 "pin '$cfg' has value size 4096, pinwall expects [0-9]+: it is not pinwall's map" \
			pw "$NS" $cmd
		ASSERT_EQ "$LAST_RC" 1 "exit status of '$cmd'"
	done
}

test_config_wrong_type() {
	setup || { fail setup; return; }
	local cfg="$ROOT/shared/pw_config"
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	swap_pin "$cfg" hash 4 24 1 pw_config || { fail "bpftool map create"; return; }
	ERR1 "pin '$cfg' is a map of type hash, pinwall expects array" pw "$NS" rule list
	swap_pin "$cfg" array 4 24 7 pw_config || { fail "bpftool map create"; return; }
	ERR1 "pin '$cfg' has max_entries 7, pinwall expects 1" pw "$NS" rule add pass dport 9
}

test_rules_value_64k() {
	setup || { fail setup; return; }
	local p="$ROOT/shared/pw_rules"
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	mkdir -p "$ROOT-other" && mv "$p" "$ROOT-other/pw_rules" || { fail "mv pw_rules"; return; }
	bpftool map create "$p" type array key 4 value 65536 entries 16 name pw_rules ||
		{ fail "bpftool map create"; return; }
	ERR1 "pin '$p' has value size 65536, pinwall expects [0-9]+" pw "$NS" rule list
	ASSERT_EQ "$LAST_RC" 1 "exit status of rule list"
	ERR1 "pin '$p' has value size 65536, pinwall expects [0-9]+" pw "$NS" rule add pass dport 9
	# a key of another size is named the same way
	rm "$p" && mv "$ROOT-other/pw_rules" "$p" || { fail "mv pw_rules back"; return; }
	ASSERT_OK pw "$NS" rule list
	p="$ROOT/shared/pw_v4_long"
	swap_pin "$p" hash 12 4 16 pw_v4_long || { fail "bpftool map create"; return; }
	ERR1 "pin '$p' has key size 12, pinwall expects 8" pw "$NS" rule list
}

test_records_wrong_shape() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	# a per-CPU load record would be read into one CPU's worth of memory
	swap_pin "$d/meta" percpu_array 4 64 1 pw_meta || { fail "bpftool map create"; return; }
	RUNS pw "$NS" status veth0
	RUNS pw "$NS" status --json
	RUNS pw "$NS" stats veth0 --count 1 --interval 0.05
	swap_pin "$d/intent" array 4 16384 1 pw_intent || { fail "bpftool map create"; return; }
	RUNS pw "$NS" status veth0
	ERR1 "pin '$d/intent' has value size 16384, pinwall expects [0-9]+" pw "$NS" recover veth0
	ERR1 "pin '$d/intent' has value size 16384, pinwall expects [0-9]+" pw "$NS" reload veth0
}

# ---- case 4: symbolic links inside the pin root are never followed ----

# a directory with files outside the pin root, and a map pin on another bpffs dir
make_victims() {
	mkdir -p "$T_TMP/victim/sub" && echo keep >"$T_TMP/victim/a" && echo keep >"$T_TMP/victim/sub/b" &&
	mkdir -p "$ROOT-other" &&
	bpftool map create "$ROOT-other/xdp_stats_map" type array key 4 value 4 entries 1 name other
}

assert_victims() {
	ASSERT_EQ "$(cat "$T_TMP/victim/a" "$T_TMP/victim/sub/b" 2>&1)" "keep
keep" "files behind the links, after $1"
	ASSERT_NE "$(pin_id "$ROOT-other/xdp_stats_map")" "" "map pin behind a link, after $1"
}

test_clean_never_follows() {
	setup || { fail setup; return; }
	local d ns out
	make_victims || { fail "victims"; return; }
	d=$(ifdir "$NS" veth0)
	ns=$(dirname "$d")
	mkdir -p "$ns"
	ln -s "$T_TMP/victim" "$ns/ghost0"		# an interface directory
	ln -s "$ROOT-other" "$ns/ghost1"
	ln -s "$T_TMP/victim" "$ROOT/ns4026500001"	# a namespace directory
	out=$(pw "$NS" clean)
	ASSERT_MATCH "$out" "^stale +ghost0 +$ns/ghost0 +\(symbolic link to '$T_TMP/victim' inside the pin root: never followed\)$" \
		"dry run names the link"
	ASSERT_MATCH "$out" "^stale +$ROOT/ns4026500001 .*symbolic link" "dry run names the namespace link"
	assert_victims "clean"
	ASSERT_OK pw "$NS" clean --yes
	assert_victims "clean --yes"
	[ -L "$ns/ghost0" ] || [ -L "$ns/ghost1" ] || [ -L "$ROOT/ns4026500001" ] &&
		fail "clean --yes left a link inside the pin root"
}

test_unload_never_follows() {
	setup || { fail setup; return; }
	local d j
	make_victims || { fail "victims"; return; }
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0
	# the program's own map directory moved away, a link in its place
	mv "$d/maps" "$ROOT-moved" || { fail "mv maps"; return; }
	ln -s "$ROOT-other" "$d/maps"
	ln -s "$T_TMP/victim" "$d/pending"
	j=$(pw "$NS" status veth0 --json)
	ASSERT_MATCH "$(jq -r '.[0].drift[]' <<<"$j")" "^'$d/maps' is a symbolic link to '$ROOT-other' inside the pin root: never followed" \
		"status reports the link as drift"
	ASSERT_NOMATCH "$(jq -r '.[0].maps[].path' <<<"$j")" "^$d/maps/" "status lists no map through the link"
	assert_victims "status"
	ASSERT_OK pw "$NS" unload veth0
	assert_victims "unload"
	ASSERT_EQ "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp.prog.id // empty')" "" "unload detached"
	[ -e "$d" ] || [ -L "$d" ] && fail "interface directory $d left behind"
}

test_link_pin_is_a_link() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	# a link pin exists only where an earlier version attached through a bpf_link
	ASSERT_OK env PINWALL_TEST_LEGACY_LINK=1 "$PWT" -n "$NS" --pin-root "$ROOT" load veth0
	mkdir -p "$ROOT-other"
	mv "$d/link" "$ROOT-other/link" || { fail "mv link"; return; }
	ln -s "$ROOT-other/link" "$d/link"
	ERR1 "'$d/link' is a symbolic link" pw "$NS" unload veth0
	ASSERT_NE "$(ip -n "$NS" -j link show veth0 | jq -r '.[0].xdp.prog.id // empty')" "" \
		"the program stays attached"
}

# ---- case 5: rule commands act only on the maps the program uses ----

test_rule_pins_moved() {
	setup || { fail setup; return; }
	local ids
	ASSERT_OK pw "$NS" load veth0
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	ids=$(prog_maps "$NS" veth0)
	mv "$ROOT/shared" "$ROOT-moved" || { fail "mv shared"; return; }
	ERR1 "the program on 'veth0' \(id [0-9]+\) uses rule maps that are not pinned in '$ROOT/shared': 'pinwall repin veth0' pins them again; nothing was changed" \
		pw "$NS" rule add drop src 10.12.0.0/16
	ASSERT_EQ "$LAST_RC" 1 "exit status of rule add"
	ERR1 "uses rule maps that are not pinned" pw "$NS" rule policy deny
	ERR1 "uses rule maps that are not pinned" pw "$NS" rule list
	# the program still runs its rules on its own maps
	ASSERT_EQ "$(prog_maps "$NS" veth0)" "$ids" "program maps"
	send "$NS" veth1 40 || return
	ASSERT_EQ "$(drops "$NS" veth0 40)" 40 "the old drop rule still drops"
	# back in place: rule commands work again, on the program's maps
	mv "$ROOT-moved" "$ROOT/shared" || { fail "mv back"; return; }
	ASSERT_OK pw "$NS" rule add drop src 10.12.0.0/16
	send "$NS" veth1 10 --src 10.12.0.2 || return
	ASSERT_EQ "$(drops "$NS" veth0 50)" 50 "the new rule is in force"
}

test_rule_pin_replaced() {
	setup || { fail setup; return; }
	local cfg="$ROOT/shared/pw_config" old
	ASSERT_OK pw "$NS" load veth0
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	old=$(pin_id "$cfg")
	mkdir -p "$ROOT-other"
	mv "$cfg" "$ROOT-other/pw_config" || { fail "mv pw_config"; return; }
	# the right shape, but not the program's map
	bpftool map create "$cfg" type array key 4 value "$(bpftool -j map show id "$old" | jq .bytes_value)" \
		entries 1 name pw_config || { fail "bpftool map create"; return; }
	ERR1 "rule map '$ROOT/shared/pw_config' is map id [0-9]+, but the program on 'veth0' \(id [0-9]+\) uses map id $old: 'pinwall repin veth0'" \
		pw "$NS" rule add pass dport 9
}

test_rule_maps_before_load() {
	setup || { fail setup; return; }
	# nothing runs yet: creating the rule maps is fine, and a load uses them
	ASSERT_OK pw "$NS" rule add drop src 10.11.0.0/16
	ASSERT_OK pw "$NS" load veth0
	ASSERT_OK pw "$NS" rule add pass dport 9
	send "$NS" veth1 20 || return
	ASSERT_EQ "$(drops "$NS" veth0 20)" 20 "rules made before the load are in force"
}

run_tests
