#!/usr/bin/env bash
# make check: BPF unit tests, then every integration test file; each must
# leave no namespace, pin or XDP attachment behind. Ends with the line
# "N passed, N failed".  Usage: tests/run.sh [FILE-PATTERN [SUBTEST-PATTERN]]
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
start=$(date +%s)
log=$(mktemp -d /tmp/pinwall-check.XXXXXX)

leaks() {
	{
		ip netns list 2>/dev/null | awk '$1 ~ /^pwt[0-9]/ {print "netns " $1}'
		ls -d /sys/fs/bpf/pwt[0-9]* 2>/dev/null | sed 's/^/pins /'
		ls -d /tmp/pwt[0-9]*.* 2>/dev/null | sed 's/^/tmp /'
	} | paste -sd, - | sed 's/,/, /g'
}

for u in test_prog test_rules test_ordered test_fuzz test_migrate test_framesum test_steer test_crowdsec; do
	[ -n "${1:-}" ] && [ "$1" != unit ] && [ "$1" != all ] && [ "$1" != "$u" ] && continue
	[ -x "./build/$u" ] || continue
	echo "== unit: $u (BPF_PROG_TEST_RUN)"
	t0=$(date +%s)
	"./build/$u" >"$log/unit-$u" 2>&1
	rc=$?
	echo "$u: $(( $(date +%s) - t0 )) s"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/unit-$u")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/unit-$u" | head -n1)
	grep -E '^\[  (FAILED|  ERROR) \]|not ok|FAIL' "$log/unit-$u" | head -n 40
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
	echo "$u: ${p:-0} passed, ${f:-0} failed"
done

for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	[ -n "${1:-}" ] && [ "$1" != all ] && [[ "$name" != *$1* ]] && continue
	echo "== $name"
	t0=$(date +%s)
	T_FILTER="${2:-}" bash "$t" >"$log/$name" 2>&1
	rc=$?
	echo "$name: $(( $(date +%s) - t0 )) s"
	grep -E '^(PASS|FAIL):|not ok' "$log/$name"
	p=$(grep -c '^PASS:' "$log/$name")
	f=$(grep -c '^FAIL:' "$log/$name")
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name exited $rc without a result"
		tail -n 20 "$log/$name"
		f=1
	fi
	left=$(leaks)
	if [ -n "$left" ]; then
		echo "FAIL: $name/cleanup: left behind: $left"
		f=$((f + 1))
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "logs: $log ($(( $(date +%s) - start )) s)"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
