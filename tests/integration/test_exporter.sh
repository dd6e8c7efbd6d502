#!/usr/bin/env bash
# The Prometheus exporter: Debian's Prometheus server scrapes it (everything
# on the loopback of the test's network namespace) and its HTTP API gives the
# exact counts of known traffic; a reload under it keeps it serving with no
# counter going backwards; promtool accepts a scrape; a replaced map and the
# rule cap are followed; the textfile is replaced atomically; a bad --listen
# is one line, exit status 2, nothing changed.
unset SSH_CONNECTION
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rules_lib.sh"

EXP_PORT=9840
PROM_PORT=9090

# in NS, like pw, but the whole process there: its socket on NS's loopback
pwn() {
	nsenter --net="/run/netns/$NS" "$PW" --pin-root "$ROOT" "$@"
}

# exporter ARGS...: the exporter in the background (stderr in exp.err),
# serving once it answers
exporter() {
	bg nsenter --net="/run/netns/$NS" "$PW" --pin-root "$ROOT" exporter "$@" 2>>"$T_TMP/exp.err"
	EXP_PID=$BG_PID
	for _ in $(seq 1 50); do
		scrape >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "the exporter does not answer on 127.0.0.1:$EXP_PORT"
	return 1
}

# scrape [PATH]: the page, as Prometheus gets it
scrape() {
	nsenter --net="/run/netns/$NS" curl -sf --max-time 5 "http://127.0.0.1:$EXP_PORT${1:-/metrics}"
}

# http_code [CURL-ARGS...] PATH
http_code() {
	local path=${*: -1}
	nsenter --net="/run/netns/$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"${@:1:$#-1}" "http://127.0.0.1:$EXP_PORT$path"
}

# re_quote TEXT: TEXT as an extended regex matching it (no backslash in TEXT)
re_quote() {
	sed 's/[].[*+?(){}|^$]/\\&/g' <<<"$1"
}

# sample TEXT SERIES: the value of one series in a scrape ('' if absent)
sample() {
	awk -v s="$2" 'index($0, s " ") == 1 { print $NF }' <<<"$1"
}

prometheus_start() {
	cat >"$T_TMP/prom.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pinwall
    static_configs:
      - targets: ['127.0.0.1:$EXP_PORT']
EOF
	bg nsenter --net="/run/netns/$NS" /usr/bin/prometheus --config.file="$T_TMP/prom.yml" \
		--storage.tsdb.path="$T_TMP/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT" \
		--log.level=warn 2>"$T_TMP/prom.log"
}

# pq QUERY: the value of the first sample of an instant query ('' if none)
pq() {
	nsenter --net="/run/netns/$NS" curl -s --max-time 3 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" 2>/dev/null | jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}

# wait_pq QUERY VALUE: until Prometheus answers VALUE (20 s at most); prints the last answer
wait_pq() {
	local v
	for _ in $(seq 1 100); do
		v=$(pq "$1")
		[ "$v" == "$2" ] && break
		sleep 0.2
	done
	echo "$v"
}

test_prometheus_scrapes_known_traffic() {
	setup_loaded || { fail setup; return; }
	local d id p1 p2
	# both start first: Prometheus gets ready while the rules and frames go in
	exporter --listen "127.0.0.1:$EXP_PORT" || return
	prometheus_start
	write "$T_TMP/r" "drop dport 5353" "drop src 10.11.9.0/24" "pass src 10.11.8.0/24"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/r"
	send "$NS" veth1 300 --dport 5353 -s 100            # rule 1: drop
	send "$NS" veth1 200                                # no rule: pass
	send "$NS" veth1 50 --src 10.11.8.7 -p tcp          # rule 3: pass
	ASSERT_EQ "$(settle "$NS" veth0 550)" "300 30000 250 16000" "counted by stats"
	ASSERT_EQ "$(wait_pq 'up{job="pinwall"}' 1)" 1 "Prometheus scrapes the exporter"
	ASSERT_EQ "$(wait_pq 'pinwall_packets_total{interface="veth0",action="drop"}' 300)" 300 "drop packets"
	ASSERT_EQ "$(pq 'pinwall_bytes_total{interface="veth0",action="drop"}')" 30000 "drop bytes"
	ASSERT_EQ "$(pq 'pinwall_packets_total{interface="veth0",action="pass"}')" 250 "pass packets"
	ASSERT_EQ "$(pq 'pinwall_bytes_total{interface="veth0",action="pass"}')" 16000 "pass bytes"
	ASSERT_EQ "$(pq 'pinwall_class_packets_total{interface="veth0",class="udp"}')" 500 "udp class"
	ASSERT_EQ "$(pq 'pinwall_class_packets_total{interface="veth0",class="tcp"}')" 50 "tcp class"
	ASSERT_EQ "$(pq 'pinwall_rule_hits_total{rule="drop dport 5353"}')" 300 "rule hits"
	ASSERT_EQ "$(pq 'pinwall_rule_bytes_total{rule="drop dport 5353"}')" 30000 "rule bytes"
	ASSERT_EQ "$(pq 'pinwall_rule_hits_total{rule="pass src 10.11.8.0/24"}')" 50 "rule hits (pass)"
	id=$(rule_id "$NS" "drop dport 5353")
	ASSERT_EQ "$(pq "pinwall_rule_hits_total{id=\"$id\"}")" 300 "rule hits by rule id"
	ASSERT_EQ "$(pq 'pinwall_rules')" 3 "rules in force"
	ASSERT_EQ "$(pq 'pinwall_rules_omitted')" 0 "none left out"
	ASSERT_EQ "$(pq 'sum(pinwall_scrape_errors_total)')" 0 "no failed read"
	p1=$(pw "$NS" status veth0 --json | jq .[0].prog_id)
	ASSERT_EQ "$(pq "pinwall_program_info{interface=\"veth0\",prog_id=\"$p1\"}")" 1 "program info"
	ASSERT_MATCH "$(pq 'pinwall_scrape_duration_seconds')" '^[0-9.e-]+$' "scrape duration"
	# promtool accepts the page as Prometheus gets it
	scrape >"$T_TMP/page"
	promtool check metrics <"$T_TMP/page" >"$T_TMP/lint" 2>&1 || fail "promtool check metrics: $(cat "$T_TMP/lint")"
	ASSERT_EQ "$(cat "$T_TMP/lint")" "" "promtool findings"
	# a reload under the exporter: it keeps serving, the counters go on
	ASSERT_OK pw "$NS" reload veth0
	p2=$(pw "$NS" status veth0 --json | jq .[0].prog_id)
	ASSERT_NE "$p2" "$p1" "a new program"
	send "$NS" veth1 100 --dport 5353 -s 100
	ASSERT_EQ "$(wait_pq "pinwall_program_info{prog_id=\"$p2\"}" 1)" 1 "the new program's info"
	ASSERT_EQ "$(wait_pq 'pinwall_packets_total{action="drop"}' 400)" 400 "drop packets after the reload"
	ASSERT_EQ "$(wait_pq 'pinwall_rule_hits_total{rule="drop dport 5353"}' 400)" 400 "rule hits after the reload"
	ASSERT_EQ "$(pq 'sum(resets(pinwall_packets_total[5m])) + sum(resets(pinwall_rule_hits_total[5m]))')" 0 \
		"counter resets Prometheus saw"
	ASSERT_EQ "$(pq 'up{job="pinwall"}')" 1 "still scraped"
	kill -0 "$EXP_PID" 2>/dev/null || fail "the exporter exited"
}

# a veth named with a quote and a backslash: the label is escaped; a name
# with the text \xff and one with the byte 0xff have distinct labels
test_http_paths_and_escaping() {
	ns_new NS h || { fail setup; return; }
	local name='q"x\y'
	ip -n "$NS" link add name "$name" type veth peer name p1 && ip -n "$NS" link set "$name" up &&
		ip -n "$NS" link set p1 up || { fail "veth named $name"; return; }
	ASSERT_OK pw "$NS" load "$name"
	# a name with the four characters \xff and one with the byte 0xff: two labels
	ip -n "$NS" link add name 'a\xff' type veth peer name "$(printf 'a\xff')" || { fail "veths a\\xff"; return; }
	ASSERT_OK pw "$NS" load 'a\xff'
	ASSERT_OK pw "$NS" load "$(printf 'a\xff')"
	exporter --listen "127.0.0.1:$EXP_PORT" || return
	ASSERT_EQ "$(http_code /metrics)" 200 "/metrics"
	ASSERT_EQ "$(http_code /)" 404 "/"
	ASSERT_EQ "$(http_code /metrics/x)" 404 "/metrics/x"
	ASSERT_EQ "$(http_code /metricsx)" 404 "/metricsx"
	ASSERT_EQ "$(http_code -X POST /metrics)" 405 "POST /metrics"
	ASSERT_EQ "$(http_code -I /metrics)" 200 "HEAD /metrics"
	ASSERT_MATCH "$(nsenter --net="/run/netns/$NS" curl -sI "http://127.0.0.1:$EXP_PORT/metrics")" \
		'Content-Type: text/plain; version=0\.0\.4; charset=utf-8' "content type"
	scrape >"$T_TMP/page"
	ASSERT_MATCH "$(cat "$T_TMP/page")" '^pinwall_interface_present\{interface="q\\"x\\\\\\\\y"\} 1$' "escaped label"
	ASSERT_EQ "$(grep -c '^pinwall_interface_present{interface="a\\\\\\\\xff"} 1$' "$T_TMP/page")" 1 "label of the name a\\xff"
	ASSERT_EQ "$(grep -c '^pinwall_interface_present{interface="a\\\\xff"} 1$' "$T_TMP/page")" 1 "label of a and the byte 0xff"
	promtool check metrics <"$T_TMP/page" >"$T_TMP/lint" 2>&1 || fail "promtool check metrics: $(cat "$T_TMP/lint")"
	# every family has HELP and TYPE; every counter ends in _total
	ASSERT_EQ "$(grep -c '^# TYPE pinwall_' "$T_TMP/page")" "$(grep -c '^# HELP pinwall_' "$T_TMP/page")" "HELP per TYPE"
	ASSERT_EQ "$(grep '^# TYPE .* counter$' "$T_TMP/page" | grep -vc '_total counter$')" 0 "counters named _total"
	# -n NS: the socket where pinwall started (here: the host's loopback,
	# a port nobody listens on), the metrics of NS
	local port=$((20000 + RANDOM % 40000))
	ss -Hltn "sport = :$port" | grep -q . && port=$((port + 1))
	bg "$PW" -n "$NS" --pin-root "$ROOT" exporter --listen "127.0.0.1:$port"
	for _ in $(seq 1 50); do
		curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" >"$T_TMP/host" && break
		sleep 0.1
	done
	ASSERT_MATCH "$(cat "$T_TMP/host")" '^pinwall_interface_present\{interface="q\\"x\\\\\\\\y"\} 1$' "-n NS: NS's metrics on the host's loopback"
}

test_follows_replaced_maps_and_rule_cap() {
	setup_loaded || { fail setup; return; }
	local m1 m2 t
	write "$T_TMP/r" "drop dport 1001" "drop dport 1002" "drop dport 1003" "drop dport 1004" "drop dport 1005"
	ASSERT_OK pw "$NS" rule apply "$T_TMP/r"
	send "$NS" veth1 30 --dport 1003
	send "$NS" veth1 20 --dport 1005
	send "$NS" veth1 10 --dport 1001
	settle "$NS" veth0 60 >/dev/null
	exporter --listen "127.0.0.1:$EXP_PORT" --max-rules 2 || return
	t=$(scrape)
	ASSERT_EQ "$(grep -c '^pinwall_rule_hits_total{' <<<"$t")" 2 "rule series under --max-rules 2"
	ASSERT_EQ "$(grep '^pinwall_rule_hits_total{' <<<"$t" | sed 's/.*rule="\([^"]*\)"} \(.*\)/\1 \2/')" \
		"drop dport 1003 30
drop dport 1005 20" "the two with the most hits"
	ASSERT_EQ "$(sample "$t" pinwall_rules)" 5 "rules in force"
	ASSERT_EQ "$(sample "$t" pinwall_rules_omitted)" 3 "rules left out"
	# another rule set in force: the next scrape has it
	ASSERT_OK pw "$NS" rule del drop dport 1005
	ASSERT_OK pw "$NS" rule add drop dport 1006
	ASSERT_OK pw "$NS" rule policy deny --change-policy
	t=$(scrape)
	ASSERT_EQ "$(grep '^pinwall_rule_hits_total{' <<<"$t" | sed 's/.*rule="\([^"]*\)"} \(.*\)/\1 \2/')" \
		"drop dport 1003 30
drop dport 1001 10" "the two with the most hits after a rule change"
	ASSERT_MATCH "$t" '^pinwall_rules_info\{policy="deny",' "the policy"
	ASSERT_OK pw "$NS" rule policy allow --change-policy
	m1=$(sample "$t" "pinwall_map_info{interface=\"veth0\",map=\"xdp_stats_map\",map_id=\"$(bpftool -j map show pinned "$(ifdir "$NS" veth0)/maps/xdp_stats_map" | jq .id)\"}")
	ASSERT_EQ "$m1" 1 "counter map id"
	ASSERT_EQ "$(sample "$t" 'pinwall_packets_total{interface="veth0",action="drop"}')" 60 "drops before"
	# unload: the interface leaves the page; load: new maps, counted from 0
	ASSERT_OK pw "$NS" unload veth0
	ASSERT_EQ "$(scrape | grep -c 'interface="veth0"')" 0 "series of an unloaded interface"
	ASSERT_OK pw "$NS" load veth0
	send "$NS" veth1 7 --dport 1004
	settle "$NS" veth0 7 >/dev/null
	t=$(scrape)
	m2=$(bpftool -j map show pinned "$(ifdir "$NS" veth0)/maps/xdp_stats_map" | jq .id)
	ASSERT_EQ "$(sample "$t" "pinwall_map_info{interface=\"veth0\",map=\"xdp_stats_map\",map_id=\"$m2\"}")" 1 "the new map's id"
	ASSERT_EQ "$(sample "$t" 'pinwall_packets_total{interface="veth0",action="drop"}')" 7 "drops of the new map"
	ASSERT_EQ "$(sample "$t" 'pinwall_scrape_errors_total{what="counters"}')" 0 "no failed read"
	# a pin that holds another kind of map: counted, left out, said once
	rm "$(ifdir "$NS" veth0)/maps/xdp_stats_map"
	bpftool map create "$(ifdir "$NS" veth0)/maps/xdp_stats_map" type hash key 4 value 16 entries 1 name bogus ||
		{ fail "bpftool map create"; return; }
	scrape >/dev/null
	t=$(scrape)
	ASSERT_EQ "$(sample "$t" 'pinwall_scrape_errors_total{what="counters"}')" 2 "failed reads of two scrapes"
	ASSERT_EQ "$(grep -c '^pinwall_packets_total{interface="veth0"' <<<"$t")" 0 "series of the unreadable map"
	ASSERT_EQ "$(sample "$t" 'pinwall_class_packets_total{interface="veth0",class="udp"}')" 7 "the other map is still read"
	ASSERT_EQ "$(grep -c "^pinwall: warning: interface 'veth0': cannot read counter map '.*/xdp_stats_map': " "$T_TMP/exp.err")" 1 \
		"warnings on stderr ($(cat "$T_TMP/exp.err"))"
}

test_textfile_is_replaced_atomically() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/prom/pinwall.prom partial=0 i1 i2 lines n held
	mkdir "$T_TMP/prom"
	send "$NS" veth1 40
	settle "$NS" veth0 40 >/dev/null
	# once: written, nothing else left in the directory
	ASSERT_OK pwn exporter --textfile "$f"
	ASSERT_EQ "$(sample "$(cat "$f")" 'pinwall_packets_total{interface="veth0",action="pass"}')" 40 "pass packets in the textfile"
	ASSERT_EQ "$(ls "$T_TMP/prom")" pinwall.prom "files in the textfile directory"
	ASSERT_EQ "$(stat -c %a "$f")" 644 "textfile mode (node_exporter reads it)"
	promtool check metrics <"$f" >"$T_TMP/lint" 2>&1 || fail "promtool check metrics: $(cat "$T_TMP/lint")"
	# every 0.1 s: each write is a new file renamed over the old one, and a
	# reader (reading whole files without a fork, as fast as it can) never
	# sees a part of one
	bg nsenter --net="/run/netns/$NS" "$PW" --pin-root "$ROOT" exporter --textfile "$f" --interval 0.1
	local pid=$BG_PID
	sleep 0.3
	# the file at the start, held open: its inode cannot be reused meanwhile
	exec {held}<"$f"
	i1=$(stat -L -c %i "/proc/$BASHPID/fd/$held")
	for _ in $(seq 1 2000); do
		mapfile -t lines <"$f"
		n=${#lines[@]}
		[ "$n" -gt 0 ] &&
			[ "${lines[0]}" == "# HELP pinwall_packets_total Frames the XDP program returned each action for, per interface." ] &&
			[ "${lines[n - 1]}" == 'pinwall_scrape_errors_total{what="rules"} 0' ] || partial=$((partial + 1))
	done
	i2=$(stat -c %i "$f")
	exec {held}<&-
	ASSERT_EQ "$partial" 0 "partial textfiles read"
	ASSERT_NE "$i2" "$i1" "inode of the textfile (a new file renamed over it)"
	kill -TERM "$pid"
	wait "$pid"
	ASSERT_EQ "$?" 0 "exit status on SIGTERM"
	ASSERT_EQ "$(ls "$T_TMP/prom")" pinwall.prom "files in the textfile directory after SIGTERM"
}

# what is left or planted at PATH.tmp is replaced, never opened: a FIFO
# would block the exporter (and its /metrics) for ever, someone else's file
# would become the textfile still owned by them
test_textfile_tmp_planted_is_replaced() {
	setup_loaded || { fail setup; return; }
	local f=$T_TMP/prom/pinwall.prom rc
	mkdir "$T_TMP/prom"
	send "$NS" veth1 5
	settle "$NS" veth0 5 >/dev/null
	mkfifo "$f.tmp"
	timeout 20 nsenter --net="/run/netns/$NS" "$PW" --pin-root "$ROOT" exporter --textfile "$f" \
		>"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	ASSERT_EQ "$rc" 0 "exit status with a FIFO at PATH.tmp (124: blocked; stderr: $(cat "$T_TMP/err"))"
	ASSERT_EQ "$(sample "$(cat "$f" 2>/dev/null)" 'pinwall_packets_total{interface="veth0",action="pass"}')" 5 \
		"pass packets in the textfile written past a FIFO"
	ASSERT_EQ "$(stat -c %F "$f")" "regular file" "type of the textfile"
	rm -f "$f"
	# a file of another user at PATH.tmp: the textfile is root's own
	rm -f "$f.tmp"
	echo planted >"$f.tmp"
	chown 65534:65534 "$f.tmp"
	ASSERT_EQ "$(stat -c %u "$f.tmp")" 65534 "owner of the planted file"
	ASSERT_OK pwn exporter --textfile "$f"
	ASSERT_EQ "$(stat -c %u:%a "$f")" 0:644 "owner and mode of the textfile"
	ASSERT_EQ "$(ls "$T_TMP/prom")" pinwall.prom "files in the textfile directory"
}

# nothing loaded: a refusal must not even make the pin root
test_bad_listen_is_one_line() {
	setup || { fail setup; return; }
	local v
	for v in 127.0.0.1 127.0.0.1:0 127.0.0.1:65536 127.0.0.1:x localhost:9840 '[::1:9840' \
		'::1:9840' 1.2.3.4.5:80 ''; do
		ERR1 "invalid --listen '$(re_quote "$v")': " pw "$NS" exporter --listen "$v"
		ASSERT_EQ "$LAST_RC" 2 "exit status of --listen '$v'"
	done
	ERR1 "nothing to do: give --listen" pw "$NS" exporter
	ASSERT_EQ "$LAST_RC" 2 "exit status without --listen or --textfile"
	ERR1 "--interval is how often the textfile is rewritten" pw "$NS" exporter --listen 127.0.0.1:9 --interval 5
	ASSERT_EQ "$LAST_RC" 2 "exit status of --interval without --textfile"
	ERR1 "invalid --textfile: cannot write into directory '$T_TMP/nodir'" pw "$NS" exporter --textfile "$T_TMP/nodir/x.prom"
	ASSERT_EQ "$LAST_RC" 2 "exit status of a textfile in a missing directory"
	# an address this host does not have, a port taken: one line, status 1
	ERR1 "cannot listen on '192\.0\.2\.1:$EXP_PORT': Cannot assign requested address" pwn exporter --listen "192.0.2.1:$EXP_PORT"
	ASSERT_EQ "$LAST_RC" 1 "exit status of an address not here"
	exporter --listen "127.0.0.1:$EXP_PORT" || return
	ASSERT_EQ "$(sample "$(scrape)" pinwall_rules)" 0 "rules, with nothing loaded"
	ERR1 "cannot listen on '127\.0\.0\.1:$EXP_PORT': Address already in use" pwn exporter --listen "127.0.0.1:$EXP_PORT"
	ASSERT_EQ "$LAST_RC" 1 "exit status of a port taken"
}

run_tests
