#!/usr/bin/env bash
# pinwall clean: lists, and with --yes removes, pin directories whose
# namespace or interface is gone; never live ones, kept ones or rule maps.
. "$(dirname "$0")/lib.sh"

setup() {
	ns_new NS a && veth_new "$NS" veth0 veth1 && veth_new "$NS" veth2 veth3 &&
		pw "$NS" load veth0 >/dev/null && pw "$NS" load veth2 >/dev/null
}

test_interface_gone() {
	setup || { fail setup; return; }
	local d0 d2 j
	d0=$(ifdir "$NS" veth0)
	d2=$(ifdir "$NS" veth2)
	ASSERT_MATCH "$(pw "$NS" clean)" "nothing stale" "healthy: nothing stale"
	ip -n "$NS" link del veth2
	j=$(pw "$NS" clean --json)
	ASSERT_EQ "$(jq -r --arg p "$d2" '.[] | select(.path == $p) | .stale' <<<"$j")" true "veth2 stale"
	ASSERT_EQ "$(jq -r --arg p "$d0" '.[] | select(.path == $p) | .stale' <<<"$j")" false "veth0 live"
	[ -d "$d2" ] || fail "listing removed $d2"
	ASSERT_OK pw "$NS" clean --yes
	[ -e "$d2" ] && fail "$d2 still there after --yes"
	[ -e "$d0/meta" ] || fail "live pins of veth0 touched"
	gen "$NS" -i veth1 -c 10 -q
	ASSERT_EQ "$(action_count "$NS" veth0 XDP_PASS | cut -d' ' -f1)" 10 "veth0 still counts"
}

test_kept_maps_and_rules_untouched() {
	setup || { fail setup; return; }
	local d2
	d2=$(ifdir "$NS" veth2)
	ASSERT_OK pw "$NS" rule add drop dport 7
	ASSERT_OK pw "$NS" unload veth2 --keep-maps
	ASSERT_OK pw "$NS" clean --yes
	[ -e "$d2/maps/xdp_stats_map" ] || fail "maps kept with --keep-maps were removed"
	[ -e "$ROOT/shared/pw_rules" ] || fail "rule maps removed"
	ASSERT_MATCH "$(pw "$NS" clean)" "unloaded with --keep-maps: kept" "reason shown"
}

test_namespace_gone() {
	setup || { fail setup; return; }
	local d0 i
	d0=$(ifdir "$NS" veth0)
	ip netns del "$NS"
	# namespace teardown is asynchronous: its links detach shortly after
	for i in $(seq 50); do
		"$PW" --pin-root "$ROOT" clean --json | jq -e --arg p "$d0" '.[] | select(.path == $p and .stale)' \
			>/dev/null && break
		sleep 0.1
	done
	ASSERT_MATCH "$("$PW" --pin-root "$ROOT" clean)" "network namespace [0-9]+ is gone" "namespace gone"
	ASSERT_OK "$PW" --pin-root "$ROOT" clean --yes
	[ -e "$d0" ] && fail "$d0 still there"
	[ -e "$ROOT/shared/pw_rules" ] || fail "rule maps removed"
}

test_outside_root_untouched() {
	setup || { fail setup; return; }
	mkdir -p "$ROOT-outside"
	bpftool map create "$ROOT-outside/m" type array key 4 value 4 entries 1 name outside
	ip -n "$NS" link del veth2
	ASSERT_OK pw "$NS" clean --yes
	[ -e "$ROOT-outside/m" ] || fail "pin outside the pin root removed"
	rm -rf "$ROOT-outside"
}

run_tests
