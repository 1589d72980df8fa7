#!/usr/bin/env bash
# deb.sh: the Debian package scripts/mkdeb.sh builds (make deb). dpkg-deb reads its
# control fields and contents: the three programs in /usr/sbin, the five man pages, the
# systemd unit pointed at /usr/sbin, the alerting rules; every Depends is an installed
# Debian package. The programs unpacked from it run (--help). lintian runs when it is
# installed. Control: a listing without a man page is caught. The package is not
# installed here (make test shares the machine): make deb-check does that in a chroot.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}

if ! deb=$(scripts/mkdeb.sh "$BUILD" "$tmp/out" 2>"$tmp/err"); then
	nok "scripts/mkdeb.sh builds a package: $(tail -3 "$tmp/err")"
	echo "$passed passed, $failed failed"
	exit 1
fi
version=$("$BUILD/canaryctl" --version | awk '{ print $2 }')
[ "$(basename "$deb")" = "xdp-canary_${version}_$(dpkg --print-architecture).deb" ] &&
	ok "the package is named xdp-canary_VERSION_ARCH.deb ($(basename "$deb"))" ||
	nok "the package is named xdp-canary_VERSION_ARCH.deb ($(basename "$deb"))"

dpkg-deb --info "$deb" >"$tmp/info" 2>&1 && ok "dpkg-deb --info reads it" ||
	nok "dpkg-deb --info reads it: $(cat "$tmp/info")"
bad=""
for f in Package Version Architecture Maintainer Depends Description; do
	[ -n "$(dpkg-deb --field "$deb" "$f")" ] || bad+=" $f"
done
[ -z "$bad" ] && ok "control has every required field" || nok "control has every required field (missing:$bad)"
bad=""
for p in $(dpkg-deb --field "$deb" Depends | tr -d ' ' | tr ',' ' '); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || bad+=" $p"
done
[ -z "$bad" ] && ok "every Depends is an installed Debian package" ||
	nok "every Depends is an installed Debian package (not:$bad)"

# Prints the expected paths a listing (dpkg-deb --contents) lacks.
lacks() {
	local want
	for want in usr/sbin/canary-loader usr/sbin/canaryctl usr/sbin/canaryd \
		usr/share/man/man8/canaryctl.8.gz usr/share/man/man8/canaryd.8.gz \
		usr/share/man/man8/canary-loader.8.gz usr/share/man/man5/xdp-canary-services.5.gz \
		usr/share/man/man5/xdp-canary-plan.5.gz lib/systemd/system/canaryd.service \
		usr/share/doc/xdp-canary/contrib/prometheus/xdp-canary-rules.yml \
		usr/share/doc/xdp-canary/contrib/grafana/xdp-canary.json \
		usr/share/doc/xdp-canary/contrib/argo/analysis-template.yaml \
		usr/share/doc/xdp-canary/contrib/flagger/canary.yaml; do
		grep -q " \./$want\$" "$1" || echo "$want"
	done
}
dpkg-deb --contents "$deb" >"$tmp/contents"
miss=$(lacks "$tmp/contents" | tr '\n' ' ')
[ -z "$miss" ] && ok "it holds the programs, man pages, unit, rules and dashboard" ||
	nok "it holds the programs, man pages, unit, rules and dashboard (missing: $miss)"
grep -v 'canaryd\.8\.gz' "$tmp/contents" >"$tmp/cut"
[ "$(lacks "$tmp/cut")" = usr/share/man/man8/canaryd.8.gz ] &&
	ok "control: a package without a man page is caught" ||
	nok "control: a package without a man page is caught"
grep -E '^-..x' "$tmp/contents" | grep -v ' \./usr/sbin/' >"$tmp/x"
[ ! -s "$tmp/x" ] && ok "only the programs are executable" || nok "only the programs are executable: $(cat "$tmp/x")"

dpkg-deb -x "$deb" "$tmp/root"
grep -q '^ExecStart=/usr/sbin/canaryd ' "$tmp/root/lib/systemd/system/canaryd.service" &&
	! grep -q /usr/local "$tmp/root/lib/systemd/system/canaryd.service" &&
	ok "the unit starts /usr/sbin/canaryd and names no /usr/local path" ||
	nok "the unit starts /usr/sbin/canaryd and names no /usr/local path"
bad=""
for p in canary-loader canaryctl canaryd; do
	"$tmp/root/usr/sbin/$p" --help 2>&1 | grep -q "^Usage: $p" || bad+=" $p"
done
[ -z "$bad" ] && ok "the unpacked programs run (--help)" || nok "the unpacked programs run (--help):$bad"
zcat "$tmp/root/usr/share/man/man8/canaryctl.8.gz" | grep -q '^\.TH "canaryctl" "8"' &&
	ok "the man pages are gzipped roff" || nok "the man pages are gzipped roff"

if command -v lintian >/dev/null; then
	if lintian --no-tag-display-limit "$deb" >"$tmp/lint" 2>&1 && ! grep -q '^E:' "$tmp/lint"; then
		ok "lintian reports no errors"
	else
		nok "lintian reports no errors: $(grep '^E:' "$tmp/lint" | head -5)"
	fi
else
	echo "# lintian is not installed: skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
