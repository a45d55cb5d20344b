#!/usr/bin/env bash
# The Debian package: a copy of the tree is built with `dpkg-buildpackage -us -uc -b` (only the
# daemon and conenatctl, -j2; the time is printed), checked by lintian (no error), installed with
# `dpkg -i` (a temporary policy-rc.d refuses every start; the unit is installed disabled), its
# binaries run, then purged: nothing it installed is left, /etc/conenatd.conf included.
# Root: it installs into this machine's root file system; it skips (77) when a conenatd is
# already there (package, `make install` to /usr, or /etc/conenatd.conf) rather than touch it.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/lib.sh
source tests/e2e/check_lib.sh
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root (dpkg -i / --purge)"; exit 77; fi
missing=()
for t in dpkg-buildpackage dh lintian fakeroot dpkg-parsechangelog; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "skipped: missing ${missing[*]} (scripts/deps.sh test installs debhelper, dpkg-dev, lintian, fakeroot)"
  exit 77
fi
if dpkg-query -W -f='${Status}' conenatd 2>/dev/null | grep -q 'installed\|config-files'; then
  echo "skipped: a conenatd package is on this machine; not replacing it"; exit 77
fi
for f in /usr/sbin/conenatd /usr/sbin/conenatctl /etc/conenatd.conf; do
  [ -e "$f" ] && { echo "skipped: $f exists (not from a package); not overwriting it"; exit 77; }
done

TMP=$(mktemp -d)
POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=
INSTALLED=
cleanup() {
  [ -n "$INSTALLED" ] && dpkg --purge conenatd >/dev/null 2>&1
  [ -n "$OUR_POLICY" ] && rm -f "$POLICY"
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM


# A copy of the tree without builds and git metadata: the package builds from scratch.
mkdir "$TMP/src"
tar -C . --exclude=./.git --exclude='./build*' --exclude=./debian/conenatd --exclude=./debian/.debhelper \
  -cf - . | tar -C "$TMP/src" -xf - || { echo "FAIL: cannot copy the tree"; exit 1; }
want_version=$(dpkg-parsechangelog -l debian/changelog -S Version)

TIMEFORMAT='%R s wall, %U s user + %S s system CPU'
if { time (cd "$TMP/src" && DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b \
      >"$TMP/build.log" 2>&1); } 2>"$TMP/time"; then
  pass "dpkg-buildpackage -us -uc -b built $(cd "$TMP" && ls conenatd_*.deb): $(cat "$TMP/time") (parallel=2)"
else
  tail -40 "$TMP/build.log"; echo "FAIL: dpkg-buildpackage (log above)"; exit 1
fi
deb=$(ls "$TMP"/conenatd_"${want_version}"_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { ls "$TMP"; echo "FAIL: no conenatd_${want_version}_*.deb"; exit 1; }

# lintian: no error; its warnings and the rest are printed for the record.
lintian --fail-on error --display-info "$TMP"/conenatd_*.changes >"$TMP/lintian" 2>&1; rc=$?
sed 's/^/  lintian: /' "$TMP/lintian"
if [ $rc -eq 0 ] && ! grep -q '^E:' "$TMP/lintian"; then pass "lintian: no error ($(grep -c '^W:' "$TMP/lintian") warnings)"
else fail "lintian found errors (exit $rc)"; fi

# What the package holds.
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\.||; s|\(.\)/$|\1|')
man=$(for m in man/*.[1-8]; do [ -e "$m" ] && echo "/usr/share/man/man${m##*.}/${m##*/}.gz"; done)
for f in /usr/sbin/conenatd /etc/conenatd.conf /lib/systemd/system/conenatd.service $man \
         /usr/share/doc/conenatd/copyright /usr/share/doc/conenatd/README.md; do
  grep -qx -- "$f" <<<"$contents" && pass "the package holds $f" || fail "the package lacks $f"
done
dpkg-deb -f "$deb" Depends | grep -q 'libnetfilter-queue1' && pass "Depends from shlibs: $(dpkg-deb -f "$deb" Depends)" ||
  fail "Depends lacks the shared libraries: $(dpkg-deb -f "$deb" Depends)"

# What of it is on the machine already (directories such as /usr/sbin): only that may stay.
while read -r p; do [ -e "$p" ] && echo "$p"; done <<<"$contents" >"$TMP/before"

# Install: nothing may start (our policy-rc.d, unless the machine has its own).
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# package_deb.sh (conenatd tests): no service starts while it installs\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  OUR_POLICY=1
fi
INSTALLED=1
if ! dpkg -i "$deb" >"$TMP/install.log" 2>&1; then
  cat "$TMP/install.log"; echo "FAIL: dpkg -i"; exit 1
fi
pass "dpkg -i $(basename "$deb")"
dpkg-query -W -f='${Conffiles}\n' conenatd | grep -q '^ /etc/conenatd.conf ' && pass "/etc/conenatd.conf is a conffile" ||
  fail "/etc/conenatd.conf is not a conffile: $(dpkg-query -W -f='${Conffiles}' conenatd)"
unit=/lib/systemd/system/conenatd.service
grep -q '^ExecStart=/usr/sbin/conenatd ' "$unit" && ! grep -q '/usr/local\|@[A-Z]*@' "$unit" &&
  pass "the unit runs /usr/sbin/conenatd (paths substituted)" || fail "the unit's paths: $(grep -n '/usr/\|@' "$unit")"
[ ! -e /etc/systemd/system/multi-user.target.wants/conenatd.service ] && pass "the unit is not enabled" ||
  fail "the unit was enabled on install"
out=$(/usr/sbin/conenatd --version 2>&1)
[ "$out" = "conenatd $want_version" ] && pass "/usr/sbin/conenatd --version: $out" ||
  fail "/usr/sbin/conenatd --version says '$out' (want 'conenatd $want_version')"
if [ -x /usr/sbin/conenatctl ]; then
  out=$(/usr/sbin/conenatctl --help 2>&1); rc=$?
  [ $rc -eq 0 ] && grep -qi usage <<<"$out" && pass "/usr/sbin/conenatctl --help" || fail "conenatctl --help: exit $rc: $out"
elif grep -qx /usr/sbin/conenatctl <<<"$contents"; then
  fail "/usr/sbin/conenatctl in the package but not installed"
else
  echo "note: this tree builds no conenatctl: its check is skipped"
fi

# Purge: every file and directory of its own is gone; the conffile too.
dpkg -L conenatd >"$TMP/list"
dpkg --purge conenatd >"$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log"; fail "dpkg --purge"; }
INSTALLED=
left=0
while read -r p; do
  [ "$p" = /. ] && p=/
  [ -e "$p" ] || continue
  grep -qxF -- "$p" "$TMP/before" && continue
  fail "left after purge: $p"; left=$((left + 1))
done <"$TMP/list"
[ -e /etc/conenatd.conf ] && { fail "left after purge: /etc/conenatd.conf"; left=$((left + 1)); }
[ $left -eq 0 ] && pass "dpkg --purge left none of its $(wc -l <"$TMP/list") paths, nor /etc/conenatd.conf"

if [ $failures -gt 0 ]; then echo "package_deb: $failures failure(s)"; exit 1; fi
echo "package_deb: all checks passed"
