#!/usr/bin/env bash
# Error paths: every refusal is one clear 'pinwall: error:' line naming the
# bad value (and the fix), a non-zero exit (2 for usage errors), nothing
# attached and nothing changed below the pin root.
. "$(dirname "$0")/lib.sh"

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)

setup() {
	ns_new NS e && veth_new "$NS" veth0 veth1
}

# xdp_id NS|- IFACE: id of the XDP program attached to IFACE ('-': host), or ''
xdp_id() {
	local j
	if [ "$1" = - ]; then j=$(ip -j link show dev "$2"); else j=$(ip -n "$1" -j link show dev "$2"); fi
	jq -r '.[0].xdp.prog.id // (.[0].xdp.attached // [] | .[0].prog.id) // empty' <<<"$j"
}

# USAGE REGEX CMD...: a usage error: one line, exit status 2
USAGE() {
	ERR1 "$@"
	shift
	ASSERT_EQ "$LAST_RC" 2 "exit status of '$*'"
}

# pwr ROOT NS ARGS...: pinwall on another pin root
pwr() {
	local root=$1 ns=$2
	shift 2
	"$PW" -n "$ns" --pin-root "$root" "$@"
}

# ---- 1. no such interface ----

test_no_such_interface() {
	setup || { fail setup; return; }
	local out rc d
	ERR1 "no such interface 'nosuch0' in this network namespace \(see 'ip link'\)" pw "$NS" load nosuch0
	ERR1 "no such interface 'nosuch0' in this network namespace" pw "$NS" reload nosuch0
	ERR1 "no such interface 'nosuch0' and no pinwall pins for it" pw "$NS" status nosuch0
	# unload works on stale pins of vanished interfaces: it reports what is not loaded
	ERR1 "'nosuch0' is not loaded by pinwall \(no pin root '$ROOT'\)" pw "$NS" unload nosuch0
	ERR1 "interface name 'abcdefghijklmnopq' is longer than 15 characters" pw "$NS" load abcdefghijklmnopq
	# stats without an interface, nothing loaded: nothing to follow
	ERR1 "nothing loaded in this network namespace .*name an interface to wait for it" \
		pw "$NS" stats --count 1 --interval 0.05
	# with a pin root in place (another interface loaded) the same refusals
	ASSERT_OK pw "$NS" load veth1
	ERR1 "no such interface 'nosuch0' in this network namespace" pw "$NS" load nosuch0
	ERR1 "no such interface 'nosuch0' in this network namespace" pw "$NS" reload nosuch0
	d=$(ifdir "$NS" nosuch0)
	ERR1 "'nosuch0' is not loaded by pinwall \(no pins at '$d'\)" pw "$NS" unload nosuch0
	ERR1 "no such interface 'nosuch0' and no pinwall pins for it" pw "$NS" status nosuch0
	# stats on an interface that does not exist (and has no pins left from
	# when it did) is a mistake, not a wait (case 9)
	ERR1 "no such interface 'nosuch0' in this network namespace and no pinwall pins for it \(see 'ip link'\)" \
		timeout 10 "$PW" -n "$NS" --pin-root "$ROOT" stats nosuch0 --count 1 --interval 0.05
	ERR1 "no such interface 'nosuch0'" \
		timeout 10 "$PW" -n "$NS" --pin-root "$ROOT" stats veth1 nosuch0 --count 1 --interval 0.05
	# one that exists but runs no pinwall program waits for its pin, by
	# design: one interval, a waiting line, exit 0, nothing created
	local before after
	d=$(ifdir "$NS" veth0)
	before=$(pin_snapshot)
	out=$(timeout 10 "$PW" -n "$NS" --pin-root "$ROOT" stats veth0 --count 1 --interval 0.05 2>"$T_TMP/err")
	rc=$?
	after=$(pin_snapshot)
	ASSERT_EQ "$rc" 0 "stats veth0 exit status"
	ASSERT_MATCH "$out" "^veth0: map xdp_stats_map: no pin at $d/maps/xdp_stats_map, waiting for it$" "stats waiting line"
	ASSERT_MATCH "$out" "^veth0 +\(waiting for $d/maps/xdp_stats_map\)$" "stats interval line"
	ASSERT_EQ "$(cat "$T_TMP/err")" "" "stats veth0 stderr"
	ASSERT_EQ "$after" "$before" "pins after stats veth0"
	out=$(timeout 10 "$PW" -n "$NS" --pin-root "$ROOT" stats veth0 --count 1 --interval 0.05 --json)
	ASSERT_EQ "$(jq -sr '[.[].events[] | select(.event == "waiting")][0].ifname' <<<"$out")" veth0 "JSON waiting event"
	ASSERT_EQ "$(jq -sr '.[-1].interfaces[0].map_id' <<<"$out")" null "JSON map_id while waiting"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "veth0 untouched"
}

# ---- 2. not root ----

test_not_root() {
	setup || { fail setup; return; }
	local lo_before caps_re="missing capabilities: pinwall needs CAP_BPF and CAP_NET_ADMIN \(run it as root\)"
	lo_before=$(xdp_id - lo)
	# as nobody, without -n (entering a netns needs privileges): host lo
	ERR1 "$caps_re" "${NOBODY[@]}" "$PW" --pin-root "$ROOT" load lo
	ERR1 "$caps_re" "${NOBODY[@]}" "$PW" --pin-root "$ROOT" load lo --obj "$OBJS/tutorial.o"
	ERR1 "$caps_re" "${NOBODY[@]}" "$PW" --pin-root "$ROOT" load lo --mode skb --force
	ERR1 "$caps_re" "${NOBODY[@]}" "$PW" --pin-root "$ROOT" reload lo
	ERR1 "$caps_re" "${NOBODY[@]}" "$PW" --pin-root "$ROOT" unload lo
	ASSERT_EQ "$(xdp_id - lo)" "$lo_before" "host lo XDP after nobody's attempts"
	[ -e "$ROOT" ] && fail "pin root $ROOT created by nobody's attempts"
	# nobody with -n: the netns cannot be entered
	ERR1 "cannot enter network namespace '$NS': Operation not permitted" \
		"${NOBODY[@]}" "$PW" -n "$NS" --pin-root "$ROOT" load veth0
	# root without CAP_NET_ADMIN (CAP_SYS_ADMIN kept: setns works)
	local c
	for c in "load veth0" "load veth0 --obj $OBJS/tutorial.o" "reload veth0" "unload veth0"; do
		ERR1 "$caps_re" capsh --drop=cap_net_admin -- -c "exec '$PW' -n '$NS' --pin-root '$ROOT' $c"
	done
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "veth0 XDP after attempts without CAP_NET_ADMIN"
	# and once loaded, dropping CAP_NET_ADMIN still changes nothing
	ASSERT_OK pw "$NS" load veth0
	local id
	id=$(xdp_id "$NS" veth0)
	for c in "reload veth0" "unload veth0" "load veth0 --force"; do
		ERR1 "$caps_re" capsh --drop=cap_net_admin -- -c "exec '$PW' -n '$NS' --pin-root '$ROOT' $c"
	done
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$id" "program after attempts without CAP_NET_ADMIN"
}

# Read-only commands run unprivileged (inside the netns through nsenter,
# which keeps this mount namespace): they cannot read the pins or the
# program, so they must say so, not report the interface as someone else's
# or its pinned map as missing.
test_not_root_read_only() {
	setup || { fail setup; return; }
	ASSERT_OK pw "$NS" load veth0
	ASSERT_ERR "(capabilit|[Pp]ermission)" \
		nsenter --net="/run/netns/$NS" "${NOBODY[@]}" "$PW" --pin-root "$ROOT" status veth0
	ASSERT_NOMATCH "$(cat "$T_TMP/out")" "not pinwall's|another tool" "unprivileged status output"
	ASSERT_ERR "(capabilit|[Pp]ermission)" \
		nsenter --net="/run/netns/$NS" "${NOBODY[@]}" timeout 10 "$PW" --pin-root "$ROOT" \
		stats veth0 --count 1 --interval 0.05
	ASSERT_NOMATCH "$(cat "$T_TMP/out")" "no pin at|waiting for" "unprivileged stats output"
}

# ro_fresh MODE: in NS and a private mount namespace whose /sys/fs/bpf is a
# new bpffs of MODE ('own': the one 'pinwall load' mounts itself), load veth0
# as root, then run each of RO_CMDS as nobody: $T_TMP/ro.N.{out,err,rc}.
RO_CMDS=("status veth0" "status" "stats veth0 --count 1 --interval 0.05" "rule list" "rule policy")
ro_fresh() {
	local c
	{
		echo "set -u"
		# a bpffs of this mode, as pinwall's own mount (0700) or another;
		# load refuses to pin on a private one, so the pin root is made here
		echo "mount -t bpf -o mode=$1 bpf /sys/fs/bpf || exit 91"
		echo "mkdir -p /sys/fs/bpf/pinwall || exit 92"
		echo "stat -c %a /sys/fs/bpf >'$T_TMP/ro.mode'"
		for c in "${!RO_CMDS[@]}"; do
			echo "${NOBODY[*]} timeout 10 '$PW' ${RO_CMDS[$c]} >'$T_TMP/ro.$c.out' 2>'$T_TMP/ro.$c.err'"
			echo "echo \$? >'$T_TMP/ro.$c.rc'"
		done
	} >"$T_TMP/ro.sh"
	rm -f "$T_TMP"/ro.[0-9]*
	nobpffs "$NS" bash "$T_TMP/ro.sh"
}

# Case 8 (fresh machine): bpffs mounted with mode 0700 (pinwall's own
# mount, and the usual default) hides the pins from the unprivileged: that
# is a permission problem, never "not on bpffs". The test makes both states
# itself, whatever the host's /sys/fs/bpf looks like.
test_not_root_fresh_bpffs() {
	setup || { fail setup; return; }
	local mode i err what
	for mode in 0700 0755; do
		ro_fresh "$mode" || { fail "set-up on a bpffs '$mode' failed: $?"; continue; }
		ASSERT_MATCH "$(cat "$T_TMP/ro.mode")" "^1?${mode#0}$" "mode of the bpffs"
		for i in "${!RO_CMDS[@]}"; do
			what="unprivileged '${RO_CMDS[$i]}' on bpffs '$mode'"
			err=$(cat "$T_TMP/ro.$i.err")
			ASSERT_NE "$(cat "$T_TMP/ro.$i.rc")" 0 "exit status of $what"
			ASSERT_EQ "$(cat "$T_TMP/ro.$i.out")" "" "stdout of $what"
			ASSERT_EQ "$(nlines "$err")" 1 "stderr lines of $what ($err)"
			ASSERT_MATCH "$err" "^pinwall: error: .*(missing capabilities: reading pins needs CAP_BPF|cannot look at pin root '/sys/fs/bpf/pinwall': permission denied \(run as root\))" "$what"
		done
		# status looks at the pin root first: there the two states differ
		[ "$mode" = 0700 ] && ASSERT_EQ "$(cat "$T_TMP/ro.0.err")" \
			"pinwall: error: cannot look at pin root '/sys/fs/bpf/pinwall': permission denied (run as root)" \
			"status veth0 on a 0700 bpffs"
	done
	ASSERT_EQ "$(cat "$T_TMP/ro.0.err")" \
		"pinwall: error: missing capabilities: reading pins needs CAP_BPF (run it as root)" "status veth0 on a 0755 bpffs"
}

# ---- 3. bpffs ----

# run ARGS in NS, in a private mount namespace where /sys/fs/bpf is no bpffs
# (ip netns exec gives a fresh /sys; the umount is for good measure)
nobpffs() {
	local ns=$1
	shift
	ip netns exec "$ns" unshare -m --propagation private bash -c \
		"umount /sys/fs/bpf 2>/dev/null; $*"
}

PRIVATE_BPFFS="bpffs at '/sys/fs/bpf' is not mounted in the host's mount namespace: pins made here vanish when 'pinwall' exits; mount it there first or run outside 'unshare -m'"

test_bpffs_cannot_mount() {
	setup || { fail setup; return; }
	ASSERT_NE "$(nobpffs "$NS" stat -f -c %T /sys/fs/bpf)" bpf_fs "no bpffs in the private mount namespace"
	# CAP_BPF and CAP_NET_ADMIN, no CAP_SYS_ADMIN: a private mount namespace
	# is refused first (a bpffs mounted there would be private too)
	ERR1 "$PRIVATE_BPFFS" \
		nobpffs "$NS" "exec capsh --drop=cap_sys_admin -- -c \"exec '$PW' --pin-root '$ROOT' load veth0\""
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
	# reload/unload do not mount: nothing can be loaded where there is no bpffs
	ERR1 "bpffs not mounted at /sys/fs/bpf: nothing is loaded \(pinwall load mounts it, or run 'mount -t bpf bpf /sys/fs/bpf'\)" \
		nobpffs "$NS" "exec '$PW' --pin-root '$ROOT' reload veth0"
	ERR1 "bpffs not mounted at /sys/fs/bpf: nothing is loaded" \
		nobpffs "$NS" "exec '$PW' --pin-root '$ROOT' unload veth0"
	ERR1 "bpffs not mounted at /sys/fs/bpf: nothing is loaded" \
		nobpffs "$NS" "exec '$PW' --pin-root '$ROOT' stats veth0 --count 1"
}

# load in a private mount namespace: the bpffs pinwall would mount there (or
# one mounted there by hand) vanishes with it, and with it every pin; the
# program would run on, unmanageable. Refused before any change.
test_private_bpffs_refused() {
	setup || { fail setup; return; }
	local out
	out=$(nobpffs "$NS" "'$PW' --pin-root '$ROOT' load veth0; echo rc=\$?; stat -f -c %T /sys/fs/bpf" 2>&1)
	ASSERT_EQ "$(sed -n 1p <<<"$out")" "pinwall: error: $PRIVATE_BPFFS" "refused, one line"
	ASSERT_EQ "$(sed -n 2p <<<"$out")" "rc=1" "exit status"
	ASSERT_NE "$(sed -n 3p <<<"$out")" bpf_fs "no bpffs mounted by the refused load"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
	# a bpffs mounted by hand inside the private namespace: private too
	out=$(nobpffs "$NS" "mount -t bpf bpf /sys/fs/bpf && '$PW' --pin-root '$ROOT' load veth0; echo rc=\$?" 2>&1)
	ASSERT_EQ "$(sed -n 1p <<<"$out")" "pinwall: error: $PRIVATE_BPFFS" "private bpffs: refused"
	ASSERT_EQ "$(sed -n 2p <<<"$out")" "rc=1" "private bpffs: exit status"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached (private bpffs)"
	# a tmpfs over /sys/fs/bpf: the same refusal, naming the place
	out=$(nobpffs "$NS" "mount -t tmpfs tmpfs /sys/fs/bpf && '$PW' --pin-root '$ROOT' load veth0; echo rc=\$?" 2>&1)
	ASSERT_EQ "$(sed -n 1p <<<"$out")" "pinwall: error: $PRIVATE_BPFFS" "tmpfs: refused"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached (tmpfs)"
	[ -e "$ROOT" ] && fail "pins appeared on the host bpffs at $ROOT"
	# the host's bpffs, seen from a private mount namespace (unshare -m
	# without ip netns exec keeps the mounts): the pins outlive it, allowed
	# when PID 1's mounts can be compared (CAP_SYS_PTRACE over PID 1)
	if stat /proc/1/root/sys/fs/bpf >/dev/null 2>&1; then
		ASSERT_OK unshare -m --propagation private "$PW" -n "$NS" --pin-root "$ROOT" load veth0
		ASSERT_NE "$(xdp_id "$NS" veth0)" "" "attached from a private namespace seeing the host's bpffs"
		ASSERT_OK pw "$NS" unload veth0
	else
		ERR1 "$PRIVATE_BPFFS" unshare -m --propagation private "$PW" -n "$NS" --pin-root "$ROOT" load veth0
		echo "    (PID 1's mounts out of reach here: a private namespace is refused whatever it sees)"
	fi
}

# ---- 4. pin root not on bpffs ----

test_pin_root_not_bpffs() {
	setup || { fail setup; return; }
	local x="/tmp/$T_ID-x" c
	for c in "load veth0" "load veth0 --obj $OBJS/tutorial.o" "reload veth0" "unload veth0" \
		"stats veth0 --count 1" "status" "status veth0"; do
		# shellcheck disable=SC2086
		ERR1 "pin root '$x' is not on bpffs: choose a --pin-root below /sys/fs/bpf, or mount one there with 'mkdir -p $x && mount -t bpf bpf $x'" \
			pwr "$x" "$NS" $c
	done
	[ -e "$x" ] && fail "$x created"
	rm -rf "$x"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_pin_root_relative() {
	setup || { fail setup; return; }
	local c
	for c in "load veth0" "reload veth0" "unload veth0" "stats veth0 --count 1"; do
		# shellcheck disable=SC2086
		ERR1 "pin root 'rel/pins' is not an absolute path" \
			bash -c "cd '$T_TMP' && exec '$PW' -n '$NS' --pin-root rel/pins $c"
	done
	[ -e "$T_TMP/rel" ] && fail "relative pin root created"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

# status takes --pin-root like the others: a relative one is as wrong there
test_pin_root_relative_status() {
	setup || { fail setup; return; }
	ERR1 "pin root 'rel/pins' is not an absolute path" \
		bash -c "cd '$T_TMP' && exec '$PW' -n '$NS' --pin-root rel/pins status"
	ERR1 "pin root 'rel/pins' is not an absolute path" \
		bash -c "cd '$T_TMP' && exec '$PW' -n '$NS' --pin-root rel/pins status veth0"
}

# The fix offered must not be to mount bpffs over an unrelated directory
# (here /tmp, the nearest existing parent of the pin root): that hides it.
test_pin_root_mount_hint() {
	setup || { fail setup; return; }
	local x="/tmp/$T_ID-x"
	ERR1 "pin root '$x' is not on bpffs" pwr "$x" "$NS" load veth0
	ASSERT_NOMATCH "$LAST_ERR" "mount -t bpf bpf /tmp'" "suggested mount point"
	rm -rf "$x"
}

# ---- 5. pin paths holding the wrong thing ----

test_map_pin_holds_program() {
	setup || { fail setup; return; }
	local d p pid
	d=$(ifdir "$NS" veth0)
	p="$d/maps/xdp_stats_map"
	mkdir -p "$d/maps"
	bpftool prog load "$OBJS/tutorial.o" "$p" || { fail "bpftool prog load"; return; }
	pid=$(bpftool -j prog show pinned "$p" | jq .id)
	ASSERT_ERR "pinned map 'xdp_stats_map' cannot be reused by this program: pin path '$p' holds a program, not a map: remove it or choose another --pin-root; nothing was changed$" pw "$NS" load veth0
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" "pin path '$p' holds a program, not a map: remove it or choose another --pin-root" "detail"
	ASSERT_ERR "pinned map .* cannot be reused" pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_MATCH "$(sed -n 2p <<<"$LAST_ERR")" "^pin path '$p' holds a program, not a map" "detail line"
	ASSERT_EQ "$(bpftool -j prog show pinned "$p" | jq .id)" "$pid" "pinned program untouched"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_map_pin_is_directory() {
	setup || { fail setup; return; }
	local d p
	d=$(ifdir "$NS" veth0)
	p="$d/maps/xdp_stats_map"
	mkdir -p "$p"
	ASSERT_ERR "pinned map 'xdp_stats_map' cannot be reused by this program: pin path '$p' is a directory, not a map; nothing was changed$" pw "$NS" load veth0
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" "pin path '$p' is a directory, not a map" "detail"
	ASSERT_ERR "pinned map .* cannot be reused" pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_map_pin_wrong_kind() {
	setup || { fail setup; return; }
	local d p id
	d=$(ifdir "$NS" veth0)
	p="$d/maps/xdp_stats_map"
	mkdir -p "$d/maps"
	# only the type differs: one detail line
	bpftool map create "$p" type hash key 4 value 16 entries 5 name x || { fail "bpftool map create"; return; }
	id=$(bpftool -j map show pinned "$p" | jq .id)
	ASSERT_ERR "pinned map 'xdp_stats_map' cannot be reused by this program: type pinned hash, new percpu_array; nothing was changed \(start it empty with --fresh xdp_stats_map\)$" \
		pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" \
		"map 'xdp_stats_map' ($p): type pinned hash, new percpu_array" "detail"
	ASSERT_ERR "pinned map .* cannot be reused" pw "$NS" load veth0
	ASSERT_MATCH "$(sed -n '2,$p' <<<"$LAST_ERR")" "type pinned hash, new percpu_array" "detail (built-in)"
	ASSERT_EQ "$(bpftool -j map show pinned "$p" | jq .id)" "$id" "pinned map untouched"
	rm -f "$p"
	# everything differs: one line per property
	bpftool map create "$p" type hash key 8 value 8 entries 7 name x flags 1 || { fail "bpftool map create"; return; }
	ASSERT_ERR "pinned map .* cannot be reused" pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" "map 'xdp_stats_map' ($p): type pinned hash, new percpu_array
map 'xdp_stats_map' ($p): key_size pinned 8, new 4
map 'xdp_stats_map' ($p): value_size pinned 8, new 16
map 'xdp_stats_map' ($p): max_entries pinned 7, new 5
map 'xdp_stats_map' ($p): flags pinned 0x1, new 0x0" "detail lines"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_link_pin_holds_other() {
	setup || { fail setup; return; }
	local d c
	d=$(ifdir "$NS" veth0)
	mkdir -p "$d"
	bpftool map create "$d/link" type array key 4 value 4 entries 1 name x || { fail "bpftool map create"; return; }
	for c in "load veth0" "load veth0 --force" "reload veth0" "unload veth0"; do
		# shellcheck disable=SC2086
		ERR1 "pin path '$d/link' does not hold an XDP link: remove it" pw "$NS" $c
	done
	rm -f "$d/link"
	bpftool prog load "$OBJS/tutorial.o" "$d/link" || { fail "bpftool prog load"; return; }
	ERR1 "pin path '$d/link' does not hold an XDP link: remove it" pw "$NS" load veth0
	ERR1 "pin path '$d/link' does not hold an XDP link: remove it" pw "$NS" reload veth0
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_shared_pin_holds_program() {
	setup || { fail setup; return; }
	mkdir -p "$ROOT/shared"
	bpftool prog load "$OBJS/tutorial.o" "$ROOT/shared/shared_hits" || { fail "bpftool prog load"; return; }
	ASSERT_ERR "pinned map .* cannot be reused by this program: .*; nothing was changed" \
		pw "$NS" load veth0 --obj "$OBJS/byname.o" --prog xdp_count_pass
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" \
		"pin path '$ROOT/shared/shared_hits' holds a program, not a map: remove it or choose another --pin-root" "detail"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

# ---- 6. incompatible pinned map ----

test_incompatible_pinned_map() {
	setup || { fail setup; return; }
	local d id
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_OK pw "$NS" unload veth0 --keep-maps
	id=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	ASSERT_ERR "pinned map .* cannot be reused by this program: .*; nothing was changed" \
		pw "$NS" load veth0 --obj "$OBJS/tutorial_hash.o"
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" \
		"map 'xdp_stats_map' ($d/maps/xdp_stats_map): type pinned percpu_array, new percpu_hash" "detail"
	ASSERT_EQ "$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)" "$id" "map id"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].prog_id // "none"')" none "status: no program"
	# the old object still fits the kept map
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)" "$id" "map reused"
}

test_reload_incompatible_keeps_old() {
	setup || { fail setup; return; }
	local d id pid j
	d=$(ifdir "$NS" veth0)
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	pid=$(xdp_id "$NS" veth0)
	id=$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)
	ASSERT_ERR "pinned map .* cannot be reused by this program: .*; nothing was changed" \
		pw "$NS" reload veth0 --obj "$OBJS/tutorial_hash.o"
	ASSERT_EQ "$(sed -n '2,$p' <<<"$LAST_ERR")" \
		"map 'xdp_stats_map' ($d/maps/xdp_stats_map): type pinned percpu_array, new percpu_hash" "detail"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$pid" "old program still attached"
	ASSERT_EQ "$(bpftool -j map show pinned "$d/maps/xdp_stats_map" | jq .id)" "$id" "map id"
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq '.[0].drift | length' <<<"$j")" 0 "no drift"
	ASSERT_EQ "$(jq '.[0].reloads' <<<"$j")" 0 "reload count"
	ASSERT_EQ "$(jq -r '.[0].object' <<<"$j")" "$OBJS/tutorial.o" "object in the load record"
}

# ---- 7. object files ----

test_obj_missing() {
	setup || { fail setup; return; }
	local pid
	ERR1 "object file '$T_TMP/none.o': No such file or directory" pw "$NS" load veth0 --obj "$T_TMP/none.o"
	ERR1 "object file '$T_TMP' is not a regular file" pw "$NS" load veth0 --obj "$T_TMP"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
	# reload with a missing object keeps the running program
	ASSERT_OK pw "$NS" load veth0
	pid=$(xdp_id "$NS" veth0)
	ERR1 "object file '$T_TMP/none.o': No such file or directory" pw "$NS" reload veth0 --obj "$T_TMP/none.o"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$pid" "program after failed reload"
}

test_obj_not_elf() {
	setup || { fail setup; return; }
	echo "not an object" >"$T_TMP/text.o"
	ERR1 "object file '$T_TMP/text.o' is not an ELF file: build it with clang -target bpf" \
		pw "$NS" load veth0 --obj "$T_TMP/text.o"
	: >"$T_TMP/empty.o"
	ERR1 "object file '$T_TMP/empty.o' is not an ELF file" pw "$NS" load veth0 --obj "$T_TMP/empty.o"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_obj_not_bpf() {
	setup || { fail setup; return; }
	ERR1 "object file '/bin/true' is not a usable BPF object: " pw "$NS" load veth0 --obj /bin/true
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_obj_no_xdp_program() {
	setup || { fail setup; return; }
	ERR1 "no XDP program in '$OBJS/notxdp.o' \(programs need SEC\(\"xdp\"\)\)$" \
		pw "$NS" load veth0 --obj "$OBJS/notxdp.o"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_obj_prog_absent() {
	setup || { fail setup; return; }
	ERR1 "no program 'nope' in '$OBJS/byname.o'" pw "$NS" load veth0 --obj "$OBJS/byname.o" --prog nope
	ASSERT_EQ "$LAST_ERR" \
		"pinwall: error: no program 'nope' in '$OBJS/byname.o' (XDP programs: 'xdp_count_pass', 'xdp_count_drop')" \
		"message lists the XDP programs, parentheses closed"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_obj_several_xdp_programs() {
	setup || { fail setup; return; }
	ERR1 "'$OBJS/byname.o' has several XDP programs \('xdp_count_pass', 'xdp_count_drop'\): choose one with --prog$" \
		pw "$NS" load veth0 --obj "$OBJS/byname.o"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_obj_prog_not_xdp() {
	setup || { fail setup; return; }
	ERR1 "program 'sock_all' in '$OBJS/notxdp.o' is of type socket_filter, not xdp$" \
		pw "$NS" load veth0 --obj "$OBJS/notxdp.o" --prog sock_all
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

# ---- 8. verifier ----

test_verifier_rejection() {
	setup || { fail setup; return; }
	local pid
	ASSERT_ERR "the kernel rejected program 'xdp_unchecked' from '$OBJS/rejected.o': " \
		pw "$NS" load veth0 --obj "$OBJS/rejected.o"
	ASSERT_MATCH "$(sed -n 2p <<<"$LAST_ERR")" "^verifier log \(last [0-9]+ lines\):$" "verifier log header"
	ASSERT_MATCH "$LAST_ERR" "invalid access to packet" "verifier reason"
	ASSERT_MATCH "$LAST_ERR" "^  [0-9]+: \(" "verifier instruction lines"
	ASSERT_EQ "$(cat "$T_TMP/out")" "" "stdout"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
	[ -e "$ROOT" ] && fail "pin root created by a rejected load"
	# a rejected reload leaves the running program
	ASSERT_OK pw "$NS" load veth0
	pid=$(xdp_id "$NS" veth0)
	ASSERT_ERR "the kernel rejected program 'xdp_unchecked'" pw "$NS" reload veth0 --obj "$OBJS/rejected.o"
	ASSERT_MATCH "$LAST_ERR" "invalid access to packet" "verifier reason (reload)"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$pid" "program after rejected reload"
}

# ---- 9. modes ----

test_mode_not_supported() {
	setup || { fail setup; return; }
	ERR1 "mode 'native' is not supported on 'lo': use --mode skb \(or auto\)$" pw "$NS" load lo --mode native
	ERR1 "mode 'native' is not supported on 'lo'" pw "$NS" load lo -m native --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(xdp_id "$NS" lo)" "" "nothing attached to lo"
	[ -e "$ROOT" ] && fail "pin root left by a failed load"
	# with a pin root in place: the maps pinned on the way are removed again
	ASSERT_OK pw "$NS" load veth0
	ERR1 "mode 'native' is not supported on 'lo'" pw "$NS" load lo --mode native
	USAGE "invalid mode 'fast': use native, skb or auto \(usage: pinwall load IFACE " pw "$NS" load veth1 --mode fast
}

# A failed load removes what it created: with an object whose map is pinned
# by name (shared/), and with a pin root several levels below bpffs.
test_failed_load_leaves_no_dirs() {
	setup || { fail setup; return; }
	ERR1 "mode 'native' is not supported on 'lo'" \
		pw "$NS" load lo --mode native --obj "$OBJS/byname.o" --prog xdp_count_pass
	ERR1 "mode 'native' is not supported on 'lo'" \
		pwr "$ROOT/sub/pins" "$NS" load lo --mode native
	ASSERT_ERR "the kernel rejected program 'xdp_unchecked'" \
		pwr "$ROOT/sub/pins" "$NS" load veth0 --obj "$OBJS/rejected.o"
	[ -e "$ROOT" ] && fail "failed loads did not remove what they created: $(find "$ROOT" | tr '\n' ' ')"
}

# --force replaces only when the new program attaches: a failed attach must
# not leave the interface without the program it had.
test_force_failure_keeps_foreign() {
	setup || { fail setup; return; }
	local fid
	ip -n "$NS" link set dev lo xdpgeneric obj "$OBJS/tutorial.o" sec xdp ||
		{ fail "ip link set xdpgeneric"; return; }
	fid=$(xdp_id "$NS" lo)
	ERR1 "mode 'native' is not supported on 'lo'" pw "$NS" load lo --mode native --force
	ASSERT_EQ "$(xdp_id "$NS" lo)" "$fid" "foreign program after failed --force load"
}

# ---- 10. a program attached by another tool ----

test_foreign_program_bpftool() {
	setup || { fail setup; return; }
	local fid j
	mkdir -p "$ROOT/aux"
	bpftool prog load "$OBJS/tutorial.o" "$ROOT/aux/prog" || { fail "bpftool prog load"; return; }
	nsenter --net="/run/netns/$NS" bpftool net attach xdp pinned "$ROOT/aux/prog" dev veth0 ||
		{ fail "bpftool net attach"; return; }
	fid=$(xdp_id "$NS" veth0)
	ASSERT_NE "$fid" "" "foreign program attached"
	ERR1 "'veth0' has XDP program 'xdp_stats_func' \(id $fid\) attached by another tool: refusing to replace it \(use --force\)$" \
		pw "$NS" load veth0
	ERR1 "attached by another tool: refusing to replace it \(use --force\)" pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$fid" "foreign program still attached"
	# pinwall's own commands on it: not loaded by pinwall
	ERR1 "'veth0' is not loaded by pinwall" pw "$NS" reload veth0
	ERR1 "'veth0' is not loaded by pinwall" pw "$NS" unload veth0
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$fid" "foreign program still attached"
	# --force replaces it; status shows a clean pinwall load
	ASSERT_OK pw "$NS" load veth0 --force
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -r '.[0].prog_name' <<<"$j")" pinwall_xdp "program after --force"
	ASSERT_NE "$(jq -r '.[0].prog_id' <<<"$j")" "$fid" "program id after --force"
	ASSERT_EQ "$(jq -r '.[0].prog_id' <<<"$j")" "$(xdp_id "$NS" veth0)" "status agrees with the kernel"
	ASSERT_EQ "$(jq -c '.[0].drift' <<<"$j")" "[]" "no drift after --force"
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing left after unload"
	rm -rf "$ROOT/aux"
}

test_foreign_program_iproute2() {
	setup || { fail setup; return; }
	local fid j
	if ! ip -n "$NS" link set dev veth0 xdpgeneric obj "$OBJS/tutorial.o" sec xdp 2>"$T_TMP/iperr"; then
		echo "    skip: iproute2 cannot attach XDP objects here: $(head -n1 "$T_TMP/iperr")"
		return
	fi
	fid=$(xdp_id "$NS" veth0)
	ERR1 "'veth0' has XDP program 'xdp_stats_func' \(id $fid\) attached by another tool: refusing to replace it \(use --force\)$" \
		pw "$NS" load veth0 --mode skb
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "$fid" "foreign program still attached"
	ASSERT_OK pw "$NS" load veth0 --force
	j=$(pw "$NS" status veth0 --json)
	ASSERT_EQ "$(jq -r '.[0].prog_name' <<<"$j")" pinwall_xdp "program after --force"
	ASSERT_EQ "$(jq -c '.[0].drift' <<<"$j")" "[]" "no drift after --force"
	ASSERT_EQ "$(ip -n "$NS" -j link show dev veth0 | jq '[.[0].xdp.attached // [.[0].xdp] | .[] | select(.prog.id == '"$fid"')] | length')" 0 \
		"foreign generic program gone"
}

# ---- 11. usage ----

test_usage_unknown_option() {
	setup || { fail setup; return; }
	USAGE "unknown option '--bogus' \(see 'pinwall help'\)$" pw "$NS" --bogus status
	USAGE "unknown option '--bogus' \(usage: pinwall load IFACE \[--mode MODE\] \[--obj FILE \[--pin-scope SCOPE\] \[--map NAME=PATH\]...\] \[--prog NAME\] \[--then OBJ\] \[--force\] \[--migrate\] \[--fresh MAP\]... \[--steer CPULIST\] \[--flat-path\]\)$" \
		pw "$NS" load veth0 --bogus
	USAGE "unknown option '-x' \(usage: pinwall load " pw "$NS" load veth0 -x
	USAGE "unknown option '--bogus' \(usage: pinwall stats " pw "$NS" stats --bogus
	USAGE "unknown option '--bogus' \(usage: pinwall status " pw "$NS" status --bogus
	USAGE "unexpected argument 'veth1' \(usage: pinwall load " pw "$NS" load veth0 veth1
	USAGE "unexpected argument 'b' \(usage: pinwall status " pw "$NS" status a b
}

test_usage_missing_argument() {
	setup || { fail setup; return; }
	local c
	for c in load reload unload; do
		USAGE "missing interface name \(usage: pinwall $c IFACE" pw "$NS" $c
	done
	USAGE "option '--mode' needs an argument \(usage: pinwall load " pw "$NS" load veth0 --mode
	USAGE "option '--obj' needs an argument \(usage: pinwall reload " pw "$NS" reload veth0 --obj
	USAGE "option '--interval' needs an argument \(usage: pinwall stats \[IFACE...\] \[--interval SEC\] \[--count N\]\)$" \
		pw "$NS" stats --interval
	USAGE "option '--count' needs an argument \(usage: pinwall stats " pw "$NS" stats veth0 --count
	USAGE "option '--pin-root' needs an argument \(see 'pinwall help'\)$" "$PW" --pin-root
	USAGE "option '-n' needs an argument" "$PW" -n
	USAGE "--prog 'x' needs --obj FILE or --then OBJ \(usage: pinwall load " pw "$NS" load veth0 --prog x
	# no command at all: the help text, on stderr, exit 2
	"$PW" >"$T_TMP/out" 2>"$T_TMP/err"
	ASSERT_EQ "$?" 2 "exit status without a command"
	ASSERT_MATCH "$(head -n1 "$T_TMP/err")" "^Usage: pinwall " "help on stderr"
	ASSERT_EQ "$(cat "$T_TMP/out")" "" "stdout without a command"
}

test_usage_unknown_command() {
	setup || { fail setup; return; }
	USAGE "unknown command 'frob' \(see 'pinwall help'\)$" pw "$NS" frob
	USAGE "unknown command 'loads' " pw "$NS" loads veth0
}

test_usage_ambiguous_prefix() {
	setup || { fail setup; return; }
	local p
	for p in s st stat re; do
		USAGE "command '$p' is ambiguous \(see 'pinwall help'\)$" pw "$NS" $p
	done
	# unique prefixes run their command: 'rel' is reload, 'statu' is status
	ERR1 "'veth0' is not loaded by pinwall" pw "$NS" rel veth0
	ASSERT_EQ "$LAST_RC" 1 "exit status of 'rel veth0'"
	ASSERT_MATCH "$(pw "$NS" statu veth0)" "^veth0 \(ifindex [0-9]+\): not pinwall's" "'statu' runs status"
}

test_usage_option_not_taken() {
	setup || { fail setup; return; }
	USAGE "'unload' does not take --mode \(usage: pinwall unload IFACE \[--keep-maps\]\)$" pw "$NS" unload veth0 --mode skb
	USAGE "'unload' does not take --obj" pw "$NS" unload veth0 --obj "$OBJS/tutorial.o"
	USAGE "'reload' does not take --force \(usage: pinwall reload " pw "$NS" reload veth0 --force
	USAGE "'reload' does not take --mode" pw "$NS" reload veth0 --mode skb
	USAGE "'load' does not take --keep-maps" pw "$NS" load veth0 --keep-maps
	USAGE "unknown option '--mode' \(usage: pinwall status " pw "$NS" status --mode skb
	USAGE "unknown option '--keep-maps' \(usage: pinwall stats " pw "$NS" stats --keep-maps
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
}

test_usage_bad_interval() {
	setup || { fail setup; return; }
	local v
	for v in 0 -1 abc 0.01 3601 nan 1s ""; do
		USAGE "invalid interval '$v': seconds from 0.05 to 3600 \(usage: pinwall stats " \
			pw "$NS" stats veth0 --interval "$v"
	done
}

test_usage_bad_count() {
	setup || { fail setup; return; }
	local v
	for v in 0 x -1 1.5 ""; do
		USAGE "invalid count '$v': a positive number \(usage: pinwall stats " pw "$NS" stats veth0 --count "$v"
	done
}

# ---- 12. never loaded ----

test_never_loaded() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	ERR1 "'veth0' is not loaded by pinwall \(no pin root '$ROOT'\)" pw "$NS" reload veth0
	ERR1 "'veth0' is not loaded by pinwall \(no pin root '$ROOT'\)" pw "$NS" unload veth0
	ERR1 "'veth0' is not loaded by pinwall \(no pin root '$ROOT'\)" pw "$NS" unload veth0 --keep-maps
	# another interface loaded: the pin root exists
	ASSERT_OK pw "$NS" load veth1
	ERR1 "'veth0' is not loaded by pinwall \(no load record in '$d'\): use 'pinwall load veth0'$" \
		pw "$NS" reload veth0
	ERR1 "'veth0' is not loaded by pinwall \(no pins at '$d'\)$" pw "$NS" unload veth0
	# loaded twice
	ERR1 "'veth1' is already loaded by pinwall \(program id [0-9]+\): use 'pinwall reload veth1'$" \
		pw "$NS" load veth1
	# unloaded: reload and a second unload refuse
	ASSERT_OK pw "$NS" unload veth1
	d=$(ifdir "$NS" veth1)
	ERR1 "'veth1' is not loaded by pinwall \(no load record in '$d'\)" pw "$NS" reload veth1
	ERR1 "'veth1' is not loaded by pinwall \(no pins at '$d'\)" pw "$NS" unload veth1
	# unloaded with maps kept: reload refuses and points to load
	ASSERT_OK pw "$NS" load veth1
	ASSERT_OK pw "$NS" unload veth1 --keep-maps
	ERR1 "'veth1' is not loaded by pinwall \(unloaded with --keep-maps\): use 'pinwall load veth1'$" \
		pw "$NS" reload veth1
	ASSERT_EQ "$(xdp_id "$NS" veth0)$(xdp_id "$NS" veth1)" "" "nothing attached"
}

# ---- 12. inputs: read whole or refused (issue 8, cases 1, 2 and 9) ----

# rules_state: what a refused command must leave alone: the pins, the rule
# set generation, the rules with their ids and counters, the policy
rules_state() {
	pin_snapshot
	bpftool -j map dump pinned "$ROOT/shared/pw_config" | jq -c '.[0].formatted.value'
	"$PW" --pin-root "$ROOT" rule list --json
}

# setup_rules: a namespace and a rule set of two rules to keep
setup_rules() {
	setup || return 1
	printf 'policy allow\ndrop src 10.0.0.0/8\npass dport 22\n' >"$T_TMP/keep.rules"
	"$PW" --pin-root "$ROOT" rule apply "$T_TMP/keep.rules" >/dev/null
}

# KEPT REGEX CMD...: ERR1, and the rule set is the one before
KEPT() {
	local before
	before=$(rules_state)
	ERR1 "$@"
	shift
	ASSERT_EQ "$(rules_state)" "$before" "rule set after '$*'"
}

# Case 1: a read error was taken as the end of the file, so the rule set
# became the part read (nothing): every rule flushed, exit 0.
test_rule_file_read_error() {
	setup_rules || { fail setup; return; }
	KEPT "cannot read rule file '$T_TMP': Is a directory" pw "$NS" rule apply "$T_TMP"
	KEPT "rule file '-': standard input is closed; nothing was changed" \
		bash -c "exec '$PW' --pin-root '$ROOT' rule apply - <&-"
	KEPT "cannot read rule file '/proc/self/mem': Input/output error" pw "$NS" rule apply /proc/self/mem
	# unreadable: nobody cannot look into $T_TMP (mode 0700)
	chmod 0700 "$T_TMP"
	KEPT "rule file '$T_TMP/keep.rules': Permission denied" \
		"${NOBODY[@]}" "$PW" --pin-root "$ROOT" rule apply "$T_TMP/keep.rules"
	ASSERT_EQ "$("$PW" --pin-root "$ROOT" rule list --json | jq -c '[.rules[].rule]')" \
		'["drop src 10.0.0.0/8","pass dport 22"]' "rules after the read errors"
}

# Case 2: long lines were cut at 255 characters and changed meaning; now a
# value too long is refused with its limit, everywhere.
test_too_long_refused() {
	setup_rules || { fail setup; return; }
	local f=$T_TMP/long.rules sp1005 sp1007 long
	sp1005=$(printf '%1005s' '')
	sp1007=$(printf '%1007s' '')
	printf 'drop src%s10.0.0.0/8\n' "$sp1007" >"$f"
	KEPT "$f:1: rule 'drop src {32}\.\.\.' is longer than 1023 characters" pw "$NS" rule apply "$f"
	printf 'pass dport%s1000-2000\n' "$sp1007" >"$f"
	KEPT "$f:1: rule 'pass dport {30}\.\.\.' is longer than 1023 characters" pw "$NS" rule apply "$f"
	printf '# %4100s\n' x >"$f"
	KEPT "$f:1: line is longer than 4095 characters" pw "$NS" rule apply "$f"
	long=$(printf '1%.0s' {1..1100})
	KEPT "rule 'drop src 1{31}\.\.\.' is longer than 1023 characters" pw "$NS" rule add drop src "$long"
	KEPT "invalid --prefix '1{40}\.\.\.': longer than an address" pw "$NS" rule list --prefix "$long"
	KEPT "interface name 'abcdefghijklmnopq' is longer than 15 characters" \
		pw "$NS" stats abcdefghijklmnopq --count 1
	KEPT "interface name 'abcdefghijklmnopq' is longer than 15 characters" pw "$NS" unload abcdefghijklmnopq
	KEPT "interface name 'abcdefghijklmnopq' is longer than 15 characters" pw "$NS" recover abcdefghijklmnopq
	KEPT "program name 'x{40}\.\.\.' is longer than 63 characters" \
		pw "$NS" load veth0 --obj "$OBJS/tutorial.o" --prog "$(printf 'x%.0s' {1..70})"
	KEPT "pin root '/sys/fs/bpf/1{28}\.\.\.' is longer than 128 characters" \
		"$PW" -n "$NS" --pin-root "/sys/fs/bpf/$long" load veth0
	KEPT "network namespace '1{40}\.\.\.' is longer than 244 characters" "$PW" -n "$long" status
	local d=$T_TMP/$(printf 'd%.0s' {1..250})
	mkdir -p "$d" && cp "$OBJS/tutorial.o" "$d/"
	KEPT "object file path '$T_TMP/d+\.\.\.' is longer than 255 characters" \
		pw "$NS" load veth0 --obj "$d/tutorial.o"
	ASSERT_EQ "$(xdp_id "$NS" veth0)" "" "nothing attached"
	# 1023 characters is the limit, not less: the spaces are just spaces
	printf 'drop src%s10.0.0.0/8\npass dport 22\n' "$sp1005" >"$f"
	ASSERT_OK pw "$NS" rule apply "$f"
	ASSERT_EQ "$("$PW" --pin-root "$ROOT" rule list --json | jq -c '[.rules[].rule]')" \
		'["drop src 10.0.0.0/8","pass dport 22"]' "a 1023-character rule"
}

# Case 9: trailing words and bytes after a NUL were accepted; a message
# contradicted itself; usage hints named 'pinwall list'.
test_rule_file_garbage() {
	setup_rules || { fail setup; return; }
	local f=$T_TMP/bad.rules
	printf 'policy allow please\n' >"$f"
	KEPT "$f:1: one policy word expected, got extra 'please' after 'allow'" pw "$NS" rule apply "$f"
	printf 'drop src 10.0.0.0/8\npass dport 22\0drop src 0.0.0.0/0\n' >"$f"
	KEPT "$f:2: NUL byte: a rule file is text" pw "$NS" rule apply "$f"
	printf 'policy allow\ndrop src 10.0.0.0/8\npolicy deny\n' >"$f"
	KEPT "$f:3: 'policy deny' contradicts 'policy allow' on line 1" pw "$NS" rule apply "$f"
	printf 'policy\n' >"$f"
	KEPT "$f:1: 'policy' needs one word: allow or deny" pw "$NS" rule apply "$f"
	KEPT "one policy word expected, got extra 'deny' after 'allow' \(usage: pinwall rule policy " \
		pw "$NS" rule policy allow deny
	ASSERT_EQ "$LAST_RC" 2 "exit status of 'rule policy allow deny'"
	KEPT "unknown option '--frob' \(usage: pinwall rule list \[" pw "$NS" rule list --frob
	KEPT "missing rule file \(usage: pinwall rule apply FILE" pw "$NS" rule apply
	KEPT "unknown command 'frob' \(see 'pinwall rule'\)$" pw "$NS" rule frob
}

# Case 9: a value never splits a message, and --json is valid UTF-8 for any
# interface name (0xff is a valid byte in one).
test_values_quoted_safely() {
	setup_rules || { fail setup; return; }
	local ff=$'v\xff0' out
	KEPT "rule file '$T_TMP/a\\\\x0ab': No such file or directory" pw "$NS" rule apply "$T_TMP/a"$'\n'"b"
	KEPT "no such interface 'x\\\\x0ay\\\\x1b\[2J' in this network namespace" pw "$NS" load $'x\ny\e[2J'
	JSON_ERR 1 "^no such interface 'nosuch\\\\xff' in this" pw "$NS" --json load $'nosuch\xff'
	iconv -f UTF-8 -t UTF-8 "$T_TMP/out" >/dev/null || fail "JSON error is not UTF-8: $(od -c "$T_TMP/out")"
	ip -n "$NS" link add "$ff" type veth peer name $'v\xff1' && ip -n "$NS" link set "$ff" up &&
		ip -n "$NS" link set $'v\xff1' up || { fail "veth named with 0xff"; return; }
	ASSERT_OK pw "$NS" load "$ff"
	for c in "status" "status $ff" "stats --count 1 --interval 0.05"; do
		# shellcheck disable=SC2086
		out=$(pw "$NS" --json $c)
		iconv -f UTF-8 -t UTF-8 <<<"$out" >/dev/null || fail "'$c --json' is not UTF-8: $(od -c <<<"$out" | head)"
		ASSERT_MATCH "$(jq -r '.. | .ifname? // empty' <<<"$out" | sort -u)" '^v\\xff0$' "ifname of '$c --json'"
	done
}

# Case 9: a pw_config pin of another kind of map said "No such file or
# directory"; now the error names the pin and what it holds.
test_config_pin_wrong_kind() {
	setup_rules || { fail setup; return; }
	local before c re
	before=$(rules_state)
	mv "$ROOT/shared/pw_config" "$ROOT/shared/pwconfigkeep" &&
		bpftool map create "$ROOT/shared/pw_config" type hash key 4 value 24 entries 1 name pw_config ||
		{ fail "set-up of a hash map as pw_config"; return; }
	re="pin '$ROOT/shared/pw_config' is a map of type hash, pinwall expects array: it is not pinwall's map; move it away \('pinwall repin' pins a running program's own maps again\)$"
	for c in "rule list" "rule policy" "rule add drop src 10.9.0.0/16" "rule flush"; do
		# shellcheck disable=SC2086
		ERR1 "$re" pw "$NS" $c
	done
	rm "$ROOT/shared/pw_config" && mv "$ROOT/shared/pwconfigkeep" "$ROOT/shared/pw_config"
	ASSERT_EQ "$(rules_state)" "$before" "rule set after the refusals"
}

# A FIFO or a slow stdin waits for the end of the file, saying so once.
test_rule_apply_wait_says_so() {
	setup_rules || { fail setup; return; }
	local before rc
	mkfifo "$T_TMP/fifo"
	before=$(rules_state)
	timeout 8 "$PW" --pin-root "$ROOT" rule apply "$T_TMP/fifo" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	ASSERT_EQ "$rc" 124 "exit status of a rule apply reading a silent FIFO (killed by timeout)"
	ASSERT_EQ "$(cat "$T_TMP/err")" \
		"pinwall: still reading rule file '$T_TMP/fifo' after 5 s: the rules apply once it is read to its end (ctrl-c gives up, nothing changed)" \
		"the note on stderr"
	ASSERT_EQ "$(rules_state)" "$before" "rule set while waiting"
	{ sleep 6; printf 'drop src 10.0.0.0/8\n'; } | "$PW" --pin-root "$ROOT" rule apply - >"$T_TMP/out" 2>"$T_TMP/err"
	ASSERT_EQ "$?" 0 "exit status of a slow rule apply -"
	ASSERT_MATCH "$(cat "$T_TMP/err")" "^pinwall: still reading the rules from standard input after 5 s" "the note for stdin"
	ASSERT_EQ "$("$PW" --pin-root "$ROOT" rule list --json | jq -c '[.rules[].rule]')" \
		'["drop src 10.0.0.0/8"]' "rules after the slow apply"
}

# ---- 13. JSON ----

# JSON_ERR RC ERROR-REGEX CMD...: one JSON object with .error on stdout,
# nothing on stderr, exit status RC, no change below the pin root
JSON_ERR() {
	local want=$1 re=$2 before after rc
	shift 2
	before=$(pin_snapshot)
	"$@" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	after=$(pin_snapshot)
	ASSERT_EQ "$rc" "$want" "exit status of '$*'"
	ASSERT_EQ "$(wc -l <"$T_TMP/out")" 1 "stdout lines of '$*'"
	ASSERT_EQ "$(jq -r 'type' "$T_TMP/out" 2>&1)" object "stdout of '$*' is a JSON object"
	ASSERT_MATCH "$(jq -r '.error' "$T_TMP/out" 2>&1)" "$re" "JSON error of '$*'"
	ASSERT_EQ "$(cat "$T_TMP/err")" "" "stderr of '$*'"
	ASSERT_EQ "$after" "$before" "pins after failing '$*'"
	LAST_JSON=$(cat "$T_TMP/out")
}

test_json_errors() {
	setup || { fail setup; return; }
	local d
	d=$(ifdir "$NS" veth0)
	JSON_ERR 1 "^no such interface 'nosuch0' in this network namespace \(see 'ip link'\)$" \
		"$PW" -n "$NS" --pin-root "$ROOT" --json load nosuch0
	ASSERT_EQ "$(jq -c 'keys' <<<"$LAST_JSON")" '["error"]' "keys of a plain error"
	JSON_ERR 1 "^no such interface 'nosuch0'" pw "$NS" load nosuch0 --json
	JSON_ERR 1 "^no such interface 'nosuch0' and no pinwall pins" pw "$NS" status nosuch0 --json
	JSON_ERR 1 "^'veth0' is not loaded by pinwall" pw "$NS" unload veth0 --json
	JSON_ERR 2 "^unknown command 'frob'" pw "$NS" --json frob
	JSON_ERR 2 "^invalid mode 'fast'" pw "$NS" --json load veth0 --mode fast
	JSON_ERR 2 "^invalid count '0'" pw "$NS" --json stats veth0 --count 0
	JSON_ERR 1 "^network namespace '$T_ID-none': /run/netns/$T_ID-none: No such file or directory" \
		"$PW" -n "$T_ID-none" --pin-root "$ROOT" --json load veth0
	# detail lines become a "detail" array
	JSON_ERR 1 "^the kernel rejected program 'xdp_unchecked'" pw "$NS" --json load veth0 --obj "$OBJS/rejected.o"
	ASSERT_MATCH "$(jq -r '.detail[0]' <<<"$LAST_JSON")" "^verifier log" "verifier detail"
	ASSERT_MATCH "$(jq -r '.detail[]' <<<"$LAST_JSON")" "invalid access to packet" "verifier reason"
	ASSERT_OK pw "$NS" load veth0 --obj "$OBJS/tutorial.o"
	JSON_ERR 1 "^pinned map 'xdp_stats_map' cannot be reused by this program: type pinned percpu_array, new percpu_hash; nothing was changed \(start it empty with --fresh xdp_stats_map\)$" \
		pw "$NS" --json reload veth0 --obj "$OBJS/tutorial_hash.o"
	ASSERT_EQ "$(jq -c '.detail' <<<"$LAST_JSON")" \
		"[\"map 'xdp_stats_map' ($d/maps/xdp_stats_map): type pinned percpu_array, new percpu_hash\"]" "incompatibility detail"
	ASSERT_EQ "$(pw "$NS" status veth0 --json | jq -r '.[0].prog_name')" xdp_stats_func "old program kept"
}

run_tests
