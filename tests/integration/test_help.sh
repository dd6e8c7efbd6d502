#!/usr/bin/env bash
# --help of every command, the man page in step with it, the bash completion,
# and 'make install'. The commands and their options are enumerated from the
# binary ('pinwall help --commands', '--options'), so a new command is covered
# without a change here.
. "$(dirname "$0")/lib.sh"

MAN="$TOP/docs/man/pinwall.8"
COMPLETION="$TOP/completion/pinwall"

# The man page's subsection of command PATH ('.SS load', '.SS "rule add"'),
# or the section .SH NAME: its lines up to the next heading.
man_section() { # HEADING-REGEX
	awk -v re="$1" '
		on && /^\.S[SH] / { exit }
		$0 ~ re { on = 1; next }
		on' "$MAN"
}

test_every_command_answers_help() {
	local path n=0 out
	while read -r path; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		out=$("$PW" $path --help 2>"$T_TMP/err")
		ASSERT_EQ "$?" 0 "exit status of 'pinwall $path --help'"
		ASSERT_EQ "$(cat "$T_TMP/err")" "" "stderr of 'pinwall $path --help'"
		ASSERT_MATCH "$(head -n1 <<<"$out")" "^Usage: pinwall $path " "usage line of '$path --help'"
		# shellcheck disable=SC2086
		ASSERT_EQ "$("$PW" help $path)" "$out" "'pinwall help $path' is '$path --help'"
		# -h too, and after the command's other words
		# shellcheck disable=SC2086
		ASSERT_EQ "$("$PW" $path -h)" "$out" "'pinwall $path -h'"
	done < <("$PW" help --commands)
	ASSERT_GE "$n" 20 "commands listed"
	ASSERT_MATCH "$("$PW" rule add --help | head -n1)" "^Usage: pinwall rule add RULE\.\.\. " "rule add --help"
	ASSERT_MATCH "$("$PW" rule add drop src 10.0.0.0/8 --help | head -n1)" "^Usage: pinwall rule add " \
		"--help after a rule's words"
	for out in help --help -h; do
		ASSERT_MATCH "$("$PW" $out | head -n1)" "^Usage: pinwall \[OPTIONS\] COMMAND" "pinwall $out"
	done
	ASSERT_MATCH "$("$PW" --version)" "^pinwall [0-9]" "--version"
	# a usage error names the group's help; the group alone shows it on stderr, exit 2
	"$PW" rule >"$T_TMP/out" 2>"$T_TMP/err"
	ASSERT_EQ "$?" 2 "exit status of 'pinwall rule'"
	ASSERT_MATCH "$(head -n1 "$T_TMP/err")" "^Usage: pinwall rule COMMAND" "'pinwall rule' on stderr"
	ASSERT_ERR "unknown option '--frob' \(see 'pinwall set --help'\)$" "$PW" set --frob list
	ASSERT_ERR "unknown command 'rule frob' \(see 'pinwall help'\)$" "$PW" help rule frob
	ASSERT_EQ "$LAST_RC" 2 "exit status of 'help rule frob'"
}

# Every command has its section, and each of its options is named there;
# the common options and pinwall's own are in OPTIONS.
test_man_page_in_step() {
	local path opt re sec common
	common=$("$PW" help --options | awk '$1 ~ /^--/ {print $1}')
	sec=$(man_section '^\.SH OPTIONS')
	for opt in $common; do
		ASSERT_MATCH "$sec" "${opt//-/\\\\-}" "man OPTIONS names $opt"
	done
	while read -r path; do
		re="^\\.SS \"?$path\"?\$"
		grep -qE "$re" "$MAN" || { fail "no man section '.SS $path'"; continue; }
		sec=$(man_section "$re")
		# shellcheck disable=SC2086
		for opt in $("$PW" help --options $path | awk '$1 ~ /^--/ {print $1}'); do
			grep -qx -- "$opt" <<<"$common" && continue
			ASSERT_MATCH "$sec" "${opt//-/\\\\-}" "man section '$path' names $opt"
		done
		# and its usage line's positional words
		# shellcheck disable=SC2086
		for opt in $("$PW" help --args $path | tr -d '[].' | tr '|' ' '); do
			ASSERT_MATCH "$sec" "$opt" "man section '$path' names $opt"
		done
	done < <("$PW" help --commands)
	man --warnings -l "$MAN" >/dev/null 2>"$T_TMP/err"
	ASSERT_EQ "$(cat "$T_TMP/err")" "" "man warnings"
}

# COMP ARG...: the completions of 'pinwall ARG...' (the last word being completed)
COMP() {
	# shellcheck disable=SC1090
	COMPREPLY=()
	COMP_WORDS=("$PW" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	_pinwall 2>"$T_TMP/comp-err"
	[ -s "$T_TMP/comp-err" ] && fail "completion stderr for '$*': $(cat "$T_TMP/comp-err")"
	printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' '
}

test_completion() {
	local f=$T_TMP/rules maps
	# shellcheck disable=SC1090
	. "$COMPLETION" || { fail "source $COMPLETION"; return; }
	ASSERT_EQ "$(COMP "")" "block clean crowdsec drops exporter help load recover reload repin restore rule save set stats status unload" "commands"
	ASSERT_EQ "$(COMP re)" "recover reload repin restore" "command prefix"
	ASSERT_EQ "$(COMP rule "")" "add apply del flush list policy" "rule subcommands"
	ASSERT_EQ "$(COMP --json set "")" "add del flush list" "set subcommands after an option"
	ASSERT_EQ "$(COMP load veth0 --mode "")" "auto native skb" "--mode words"
	ASSERT_EQ "$(COMP load veth0 -m n)" "native" "-m words"
	ASSERT_EQ "$(COMP load veth0 --pin-scope "")" "global iface none" "--pin-scope words"
	ASSERT_EQ "$(COMP rule list --sort "")" "bytes hits order rule" "rule list --sort words"
	ASSERT_EQ "$(COMP set list --sort "")" "hits prefix" "set list --sort words"
	ASSERT_EQ "$(COMP rule policy "")" "allow deny" "policy words"
	ASSERT_EQ "$(COMP unload veth0 --k)" "--keep-maps" "unload options"
	ASSERT_MATCH "$(COMP load veth0 --)" "--flat-path --force --fresh .*--json --map --migrate --mode " "load options"
	ASSERT_EQ "$(COMP --ver)" "--version" "pinwall's own option"
	ASSERT_EQ "$(COMP help rule "")" "add apply del flush list policy" "help's subcommands"
	# rule words
	ASSERT_EQ "$(COMP rule add "")" "drop limit pass" "rule action"
	ASSERT_EQ "$(COMP rule add limit 100 "")" "burst ct dport dst per proto sport src" "limit words"
	ASSERT_EQ "$(COMP rule add drop "")" "ct dport dst proto sport src" "rule matches"
	ASSERT_EQ "$(COMP rule del drop proto tcp "")" "ct dport dst sport src" "unused rule matches"
	ASSERT_EQ "$(COMP rule add pass ct "")" "established" "ct's word"
	ASSERT_EQ "$(COMP rule add pass ct established "")" "dport dst proto sport src" "matches after ct"
	ASSERT_EQ "$(COMP rule add pass proto icmp)" "icmp icmpv6" "protocols"
	# files, interfaces
	touch "$T_TMP/rules.txt"
	ASSERT_EQ "$(COMP rule apply "$T_TMP/rul")" "$T_TMP/rules.txt" "rule file"
	ASSERT_EQ "$(COMP load veth0 --obj "$T_TMP/rul")" "$T_TMP/rules.txt" "--obj file"
	ASSERT_MATCH "$(COMP status "")" "(^| )lo( |$)" "interfaces"
	# in a namespace: its interfaces, the pinned maps of the interface, the sets
	ns_new NS a && veth_new "$NS" veth0 veth1 || { fail setup; return; }
	ASSERT_EQ "$(COMP -n "$NS" stats "")" "lo veth0 veth1" "interfaces of the netns"
	ASSERT_EQ "$(COMP --netns "$NS" load v)" "veth0 veth1" "interfaces after --netns"
	ASSERT_OK pw "$NS" load veth0
	printf 'set block 10.9.0.0/16\nset backup 10.8.0.0/16\ndrop src @block proto tcp\n' >"$f"
	ASSERT_OK pw "$NS" rule apply "$f"
	maps=$(pw "$NS" status veth0 --json | jq -r '.[0].maps[].name' | sort | paste -sd' ')
	ASSERT_NE "$maps" "" "maps of veth0"
	ASSERT_EQ "$(COMP -n "$NS" --pin-root "$ROOT" reload veth0 --fresh "")" "$maps" "map names"
	ASSERT_EQ "$(COMP -n "$NS" --pin-root "$ROOT" set list "")" "backup block" "set names"
	ASSERT_EQ "$(COMP -n "$NS" --pin-root "$ROOT" set add b)" "backup block" "set names (add)"
	ASSERT_EQ "$(COMP -n "$NS" --pin-root "$ROOT" rule add drop src @)" "@backup @block" "@SET in a rule"
	ASSERT_EQ "$(COMP -n "$NS" --pin-root "$ROOT" rule add drop src @ba)" "@backup" "@SET prefix"
	# interface names are the system's: offered quoted, never run nor globbed
	# (a name has no white space, but '$', '(', '`', '>' and '*' are allowed)
	ip -n "$NS" link add '$(id>pwX)' type veth peer name '*' &&
		ip -n "$NS" link add '`id>pwY`' type veth peer name pwq1 || { fail "odd interfaces"; return; }
	ASSERT_EQ "$(cd "$T_TMP" && COMP -n "$NS" stats '$')" '\$\(id\>pwX\)' "a name with \$(...)"
	ASSERT_EQ "$(cd "$T_TMP" && COMP -n "$NS" stats '`')" '\`id\>pwY\`' "a name with backquotes"
	ASSERT_EQ "$(cd "$T_TMP" && COMP -n "$NS" stats '*')" '\*' "a name '*'"
	ASSERT_EQ "$(cd "$T_TMP" && COMP -n "$NS" stats "" | wc -w)" 7 "all interfaces ($(COMP -n "$NS" stats ""))"
	ASSERT_EQ "$(ls "$T_TMP" | grep -c '^pwX$\|^pwY$')" 0 "files made by completing"
}

# make install PREFIX= DESTDIR=: the binary, the man page, the completion.
test_make_install() {
	local d=$T_TMP/dest
	make -s -C "$TOP" install DESTDIR="$d" PREFIX=/usr >"$T_TMP/out" 2>&1 ||
		{ fail "make install: $(tail -n5 "$T_TMP/out")"; return; }
	[ -x "$d/usr/sbin/pinwall" ] || fail "no $d/usr/sbin/pinwall"
	ASSERT_EQ "$(stat -c %a "$d/usr/share/man/man8/pinwall.8" 2>&1)" 644 "man page mode"
	cmp -s "$MAN" "$d/usr/share/man/man8/pinwall.8" || fail "man page differs"
	cmp -s "$COMPLETION" "$d/usr/share/bash-completion/completions/pinwall" ||
		fail "completion not at share/bash-completion/completions/pinwall"
	ASSERT_MATCH "$("$d/usr/sbin/pinwall" --version)" "^pinwall " "installed binary runs"
	ASSERT_MATCH "$(grep '^ExecStart=' "$d/usr/lib/systemd/system/pinwall.service" 2>&1)" \
		"^ExecStart=/usr/sbin/pinwall " "systemd unit installed, naming the installed binary"
}

run_tests
