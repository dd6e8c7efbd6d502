#!/usr/bin/env bash
# The CrowdSec bouncer against Debian's crowdsec local API, both in the
# test's network namespace (the API on its loopback): `cscli decisions add`
# becomes a block within two polls and frames from the address are dropped;
# `cscli decisions delete` lets them pass again; a Range decision blocks its
# prefix; other types are skipped; a bouncer started again removes the bans
# deleted while it was away and leaves manual blocks alone; a local API that
# goes away leaves the blocks in place. Bad options and key files: one line.
#
# crowdsec is not installed (its post-install registers with the online
# API): the package is fetched with `apt-get download` into build/crowdsec
# and unpacked there once with `dpkg -x` (the test's own cache); each subtest
# has its own configuration, database and credentials. No download, no pass:
# the test fails saying so.
unset SSH_CONNECTION
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rules_lib.sh"

CS_CACHE="$TOP/build/crowdsec"
CS_PORT=8080
INTERVAL=1

# the crowdsec package, downloaded once into the cache; its path on stdout
cs_deb() {
	local deb
	deb=$(ls "$CS_CACHE"/crowdsec_*.deb 2>/dev/null | head -n1)
	if [ -z "$deb" ]; then
		mkdir -p "$CS_CACHE"
		(cd "$CS_CACHE" && apt-get download crowdsec >"$CS_CACHE/download.log" 2>&1)
		deb=$(ls "$CS_CACHE"/crowdsec_*.deb 2>/dev/null | head -n1)
	fi
	[ -n "$deb" ] && echo "$deb"
}

# cs_unpack DEB: its files in $CS_CACHE/root (once per package: the name of
# the package unpacked is kept beside it; a rename makes it appear whole)
cs_unpack() {
	local tmp="$CS_CACHE/root.$$"
	[ "$(cat "$CS_CACHE/root.deb" 2>/dev/null)" == "$(basename "$1")" ] &&
		[ -x "$CS_CACHE/root/usr/bin/crowdsec" ] && return 0
	rm -rf "$tmp" && dpkg -x "$1" "$tmp" || { rm -rf "$tmp"; return 1; }
	rm -rf "$CS_CACHE/root" && mv "$tmp" "$CS_CACHE/root" &&
		basename "$1" >"$CS_CACHE/root.deb"
}

# cs_config DIR: the local API only, on NS's loopback, everything below DIR
cs_config() {
	local d=$1
	mkdir -p "$d/data" "$d/cfg"
	cp "$CS_ROOT/etc/crowdsec/profiles.yaml" "$CS_ROOT/etc/crowdsec/simulation.yaml" "$d/cfg/"
	cat >"$d/cfg/config.yaml" <<EOF
common:
  daemonize: false
  log_media: stdout
  log_level: warning
  working_dir: $d
config_paths:
  config_dir: $d/cfg/
  data_dir: $d/data/
  simulation_path: $d/cfg/simulation.yaml
  hub_dir: $d/hub/
  index_path: $d/hub/.index.json
  notification_dir: $d/cfg/notifications/
  plugin_dir: $d/plugins/
cscli:
  output: human
  color: false
db_config:
  log_level: warning
  type: sqlite
  db_path: $d/data/crowdsec.db
  use_wal: false
api:
  client:
    credentials_path: $d/cfg/local_api_credentials.yaml
  server:
    log_level: warning
    listen_uri: 127.0.0.1:$CS_PORT
    profiles_path: $d/cfg/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
EOF
}

# cscli ARGS...: in NS, on the test's config
cscli() {
	nsenter --net="/run/netns/$NS" "$CS_ROOT/usr/bin/cscli" -c "$CS/cfg/config.yaml" "$@"
}

# the local API in NS, in the background (CS_PID), serving once it answers
cs_start() {
	bg nsenter --net="/run/netns/$NS" "$CS_ROOT/usr/bin/crowdsec" -c "$CS/cfg/config.yaml" \
		-no-cs -no-capi >>"$CS/crowdsec.log" 2>&1
	CS_PID=$BG_PID
	for _ in $(seq 1 100); do
		nsenter --net="/run/netns/$NS" curl -s -o /dev/null --max-time 1 \
			"http://127.0.0.1:$CS_PORT/health" && return 0
		sleep 0.1
	done
	fail "the crowdsec local API does not answer on 127.0.0.1:$CS_PORT"
	return 1
}

cs_stop() {
	kill "$CS_PID" 2>/dev/null
	wait "$CS_PID" 2>/dev/null
}

# cs_setup: NS with a loaded veth pair, crowdsec unpacked and serving, a
# machine and a bouncer; the bouncer's key in $CS/key (0600)
cs_setup() {
	local deb
	setup_loaded || { fail "set-up of the namespace"; return 1; }
	deb=$(cs_deb) || {
		fail "cannot get the crowdsec package: 'apt-get download crowdsec' failed" \
		     "($(tail -n1 "$CS_CACHE/download.log" 2>/dev/null))"
		return 1
	}
	cs_unpack "$deb" || { fail "dpkg -x $deb"; return 1; }
	CS="$T_TMP/cs"
	CS_ROOT="$CS_CACHE/root"
	cs_config "$CS"
	cs_start || return 1
	cscli machines add --auto >/dev/null 2>&1 || { fail "cscli machines add --auto"; return 1; }
	(umask 077 && cscli bouncers add pwtest -o raw 2>/dev/null | tr -d '\n' >"$CS/key")
	[ -s "$CS/key" ] || { fail "cscli bouncers add gave no key"; return 1; }
}

# bouncer ARGS...: pinwall crowdsec in NS, in the background (BN_PID)
bouncer() {
	bg "$PW" -n "$NS" --pin-root "$ROOT" crowdsec --lapi "http://127.0.0.1:$CS_PORT" \
		--key-file "$CS/key" --interval $INTERVAL "$@" >>"$T_TMP/bn.out" 2>>"$T_TMP/bn.err"
	BN_PID=$BG_PID
}

bouncer_stop() {
	kill "$BN_PID" 2>/dev/null
	wait "$BN_PID" 2>/dev/null
}

# blocks: "PREFIX ORIGIN" per block, sorted
blocks() {
	pw "$NS" block list --json | jq -r '.blocks[] | "\(.prefix) \(.origin)"' | sort
}

# wait_blocks WANT: until `blocks` is WANT, two polls and a second at most
wait_blocks() {
	local got
	for _ in $(seq 1 $(((2 * INTERVAL + 1) * 10))); do
		got=$(blocks)
		[ "$got" == "$1" ] && return 0
		sleep 0.1
	done
	fail "blocks after two polls: got '$got', expected '$1'"
}

# dropped SRC N: N frames from SRC: how many the program dropped
dropped() {
	local before after
	read -r before _ <<<"$(acts "$NS" veth0)"
	send "$NS" veth1 "$2" --src "$1" >&2
	sleep 0.3
	read -r after _ <<<"$(acts "$NS" veth0)"
	echo $((after - before))
}

test_decisions_become_blocks() {
	cs_setup || return
	bouncer
	cscli decisions add --ip 10.11.0.66 --duration 1h >/dev/null 2>&1
	wait_blocks "10.11.0.66 crowdsec"
	ASSERT_EQ "$(dropped 10.11.0.66 20)" 20 "frames from a banned address dropped"
	ASSERT_EQ "$(dropped 10.11.0.67 20)" 0 "frames from another address dropped"
	local left
	left=$(pw "$NS" block list --json | jq -r '.blocks[0].remaining')
	ASSERT_GE "$left" 3500 "seconds left of a 1h ban"
	ASSERT_LE "$left" 3600 "seconds left of a 1h ban"

	cscli decisions delete --ip 10.11.0.66 >/dev/null 2>&1
	wait_blocks ""
	ASSERT_EQ "$(dropped 10.11.0.66 20)" 0 "frames from an address whose ban was deleted"

	cscli decisions add --range 10.11.128.0/17 --duration 30m >/dev/null 2>&1
	cscli decisions add --ip 10.11.0.77 --type captcha >/dev/null 2>&1
	wait_blocks "10.11.128.0/17 crowdsec"
	ASSERT_EQ "$(dropped 10.11.200.9 10)" 10 "frames from inside a banned range dropped"
	ASSERT_EQ "$(dropped 10.11.0.77 10)" 0 "frames from a captcha decision's address dropped"
	ASSERT_MATCH "$(cat "$T_TMP/bn.out")" "skipped 1 \(type 1," "the captcha decision counted"
}

test_restart_resumes() {
	cs_setup || return
	pw "$NS" block add 10.11.0.5 >/dev/null || fail "manual block add"
	cscli decisions add --ip 10.11.0.21 --duration 1h >/dev/null 2>&1
	cscli decisions add --ip 10.11.0.22 --duration 1h >/dev/null 2>&1
	bouncer
	wait_blocks "$(printf '10.11.0.21 crowdsec\n10.11.0.22 crowdsec\n10.11.0.5 manual')"
	bouncer_stop
	cscli decisions delete --ip 10.11.0.21 >/dev/null 2>&1
	cscli decisions add --ip 10.11.0.23 --duration 1h >/dev/null 2>&1
	# the same state again from one full pull (--once), then the daemon
	ASSERT_OK "$PW" -n "$NS" --pin-root "$ROOT" crowdsec --lapi "http://127.0.0.1:$CS_PORT" \
		--key-file "$CS/key" --once
	ASSERT_EQ "$(blocks)" "$(printf '10.11.0.22 crowdsec\n10.11.0.23 crowdsec\n10.11.0.5 manual')" \
		"blocks after a restart"
	ASSERT_EQ "$(dropped 10.11.0.21 10)" 0 "frames from an address deleted while away"
	ASSERT_EQ "$(dropped 10.11.0.5 10)" 10 "frames from a manual block"

	# the local API goes away: the bouncer warns, retries, the blocks stay
	bouncer --state "$T_TMP/state.json"
	sleep 1.5
	cs_stop
	sleep $((3 * INTERVAL))
	ASSERT_MATCH "$(cat "$T_TMP/bn.err")" "cannot reach the local API.*blocks kept, retry in" \
		"the bouncer's warning while the local API is down"
	ASSERT_EQ "$(blocks | wc -l)" 3 "blocks while the local API is down"
	ASSERT_GE "$(jq -r .failures_in_a_row "$T_TMP/state.json")" 1 "failures in --state"
	cs_start || return
	cscli decisions delete --ip 10.11.0.22 >/dev/null 2>&1
	sleep $((4 * INTERVAL))	# the backoff: 1, 2, 4 intervals
	wait_blocks "$(printf '10.11.0.23 crowdsec\n10.11.0.5 manual')"
	ASSERT_EQ "$(jq -r .failures_in_a_row "$T_TMP/state.json")" 0 "failures in --state after"
}

# A hostile local API: bad decisions skipped with warnings, bad answers
# (not JSON, mistyped, over 64 MiB, HTTP 500) warned about and retried; the
# bouncer keeps running and the good ban stays a block.
test_hostile_lapi() {
	setup_loaded || return
	CS="$T_TMP"
	printf 'k3y\n' >"$CS/key"
	chmod 600 "$CS/key"
	bg nsenter --net="/run/netns/$NS" python3 "$(dirname "$0")/crowdsec_hostile.py" $CS_PORT k3y
	for _ in $(seq 1 50); do
		nsenter --net="/run/netns/$NS" curl -s -o /dev/null --max-time 1 \
			"http://127.0.0.1:$CS_PORT/" && break
		sleep 0.1
	done
	bouncer
	wait_blocks "10.11.0.88 crowdsec"
	# each bad answer is followed by a full pull: the last one comes 4th
	for _ in $(seq 1 200); do
		grep -q "HTTP 500" "$T_TMP/bn.err" && break
		sleep 0.1
	done
	kill -0 "$BN_PID" 2>/dev/null || fail "the bouncer ended under a hostile local API"
	ASSERT_EQ "$(blocks)" "10.11.0.88 crowdsec" "blocks under a hostile local API"
	local err
	err=$(cat "$T_TMP/bn.err")
	ASSERT_MATCH "$(cat "$T_TMP/bn.out")" "full set: 1 added.*bad 9" "the full set's report"
	ASSERT_MATCH "$err" "decision 2 skipped: bad Ip value '10.11.0.300'" "a bad address"
	ASSERT_MATCH "$err" "decision 4 skipped: bad duration 'forever'" "a bad duration"
	ASSERT_MATCH "$err" "is not JSON; blocks kept" "an answer that is not JSON"
	ASSERT_MATCH "$err" "'new' that is not a list; blocks kept" "a mistyped answer"
	ASSERT_MATCH "$err" "over 67108864 bytes; blocks kept" "an answer over the cap"
	ASSERT_MATCH "$err" "answered HTTP 500; blocks kept" "an HTTP error"
}

test_bad_input() {
	setup_loaded || return
	local k="$T_TMP/key" lapi=(--lapi http://127.0.0.1:1)
	printf 'abc\n' >"$k"
	chmod 600 "$k"
	ERR1 "missing --lapi" pw "$NS" crowdsec --key-file "$k"
	ERR1 "missing --key-file" pw "$NS" crowdsec "${lapi[@]}"
	ERR1 "invalid value 'ftp://x' for --lapi" pw "$NS" crowdsec --lapi ftp://x --key-file "$k"
	ERR1 "invalid interval '0'" pw "$NS" crowdsec "${lapi[@]}" --key-file "$k" --interval 0
	chmod 644 "$k"
	ERR1 "key file '$k' is open to others \(mode 0644\): chmod o-rwx" \
		pw "$NS" crowdsec "${lapi[@]}" --key-file "$k"
	chmod 600 "$k"
	ln -s "$k" "$T_TMP/link"
	ERR1 "key file '$T_TMP/link' is a symlink" pw "$NS" crowdsec "${lapi[@]}" --key-file "$T_TMP/link"
	ERR1 "key file '$T_TMP' is not a regular file" pw "$NS" crowdsec "${lapi[@]}" --key-file "$T_TMP"
	printf 'a b\n' >"$k"
	ERR1 "key file '$k' holds more than one word" pw "$NS" crowdsec "${lapi[@]}" --key-file "$k"
	: >"$k"
	ERR1 "key file '$k' is empty" pw "$NS" crowdsec "${lapi[@]}" --key-file "$k"
	# a local API that is not there: --once fails, nothing changed
	printf 'abc\n' >"$k"
	ERR1 "cannot reach the local API" pw "$NS" crowdsec "${lapi[@]}" --key-file "$k" --once
}

run_tests
