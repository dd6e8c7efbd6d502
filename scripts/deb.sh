#!/usr/bin/env bash
# make deb: build the Debian package from a copy of the tree's files (those git
# knows, as they are in the work tree; never build/), check it with lintian
# (no errors) and its contents, and leave pinwall_*.deb in build/.
# Needs debhelper, dpkg-dev, fakeroot, lintian and the Build-Depends.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
tmp=$(mktemp -d /tmp/pinwall-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/pinwall"
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' |
	xargs -0 cp -a --parents -t "$tmp/pinwall" 2>/dev/null || true
start=$(date +%s)
(cd "$tmp/pinwall" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 || {
	tail -n 30 "$tmp/build.log"
	echo "deb: dpkg-buildpackage failed" >&2
	exit 1
}
echo "deb: built in $(($(date +%s) - start)) s"
deb=$(ls "$tmp"/pinwall_*.deb)
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/pinwall ./usr/share/man/man8/pinwall.8.gz ./usr/lib/systemd/system/pinwall.service \
	 ./usr/share/bash-completion/completions/pinwall ./usr/share/doc/pinwall/copyright \
	 ./etc/fail2ban/action.d/pinwall.conf; do
	grep -qx -- "$f" <<<"$contents" || { echo "deb: $f missing from the package" >&2; exit 1; }
done
lintian --tag-display-limit 0 "$tmp"/pinwall_*.changes | tee "$tmp/lintian" || true
if grep -q '^E:' "$tmp/lintian"; then
	echo "deb: lintian reports errors" >&2
	exit 1
fi
mkdir -p "$top/build"
cp "$deb" "$top/build/"
echo "deb: build/$(basename "$deb"), lintian: $(grep -c '^W:' "$tmp/lintian") warning(s), no error"
