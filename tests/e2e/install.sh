#!/usr/bin/env bash
# `make install` / `make uninstall` into temporary trees (no root network, nothing outside them):
#   the default prefix and PREFIX=/usr SYSCONFDIR=/etc, under DESTDIR: exactly the files that
#   run (binaries, unit, example config, man pages, docs), the unit's paths substituted and its
#   Documentation= installed, the installed binaries' --version (the Makefile's VERSION) and
#   --help; a config the user changed survives a reinstall and the uninstall (an unchanged one
#   goes: the positive control); uninstall leaves no file.
#   A real prefix (no DESTDIR): `systemd-analyze verify` is clean and `systemd-analyze security
#   --offline=yes` rates the unit <= 2.5 (a unit stripped of its sandbox rates worse: the control).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
source tests/e2e/check_lib.sh
e2e_built "$BUILD/conenatd"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

VERSION=$(sed -n 's/^VERSION := //p' Makefile)
CTL=no; [ -e src/ctl/main.cpp ] && CTL=yes
mk() { make -s --no-print-directory BUILD="$BUILD" "$@"; }
files() { (cd "$1" && find . -type f -o -type l | sed 's|^\./||' | sort); }

# expected ROOT-RELATIVE PREFIX SYSCONFDIR UNITDIR: the files install must put there.
expected() {
  local p=${1#/} etc=${2#/} unit=${3#/}
  {
    echo "$p/sbin/conenatd"
    [ $CTL = yes ] && echo "$p/sbin/conenatctl"
    echo "$unit/conenatd.service"
    echo "$etc/conenatd.conf"
    for m in man/*.[1-8]; do echo "$p/share/man/man${m##*.}/${m#man/}"; done
    for d in README.md ARCHITECTURE.md LICENSE; do echo "$p/share/doc/conenatd/$d"; done
  } | sort
}

# one_tree NAME PREFIX SYSCONFDIR [make variables...]
one_tree() {
  local name=$1 prefix=$2 etc=$3; shift 3
  local root=$T/$name unit out
  unit=$prefix/lib/systemd/system
  mk install DESTDIR="$root" "$@" >"$T/$name.out" 2>&1 || { fail "$name: make install: $(cat "$T/$name.out")"; return; }
  check "$name: exactly the files that run are installed" \
    test "$(files "$root")" = "$(expected "$prefix" "$etc" "$unit")"
  [ "$(files "$root")" = "$(expected "$prefix" "$etc" "$unit")" ] ||
    diff <(expected "$prefix" "$etc" "$unit") <(files "$root") | sed 's/^/    /'
  out=$("$root$prefix/sbin/conenatd" --version 2>&1)
  check "$name: installed conenatd --version says '$out'" test "$out" = "conenatd $VERSION"
  check "$name: installed conenatd --help" bash -c "'$root$prefix/sbin/conenatd' --help | grep -q '^usage: conenatd'"
  if [ $CTL = yes ]; then
    out=$("$root$prefix/sbin/conenatctl" --version 2>&1)
    check "$name: installed conenatctl --version says '$out'" test "$out" = "conenatctl $VERSION"
    check "$name: installed conenatctl --help" bash -c "'$root$prefix/sbin/conenatctl' --help | grep -q '^usage: conenatctl'"
  fi
  local u=$root$unit/conenatd.service
  check "$name: no @placeholder@ left in the unit" bash -c "! grep -n '@[A-Z]*@' '$u'"
  check "$name: the unit starts the installed binary with the installed config" \
    grep -qx "ExecStart=$prefix/sbin/conenatd --foreground --config $etc/conenatd.conf" "$u"
  local doc
  doc=$(sed -n 's|^Documentation=.*file://\([^ ]*\).*|\1|p' "$u")
  check "$name: Documentation= names an installed file ($doc)" test -f "$root$doc"
  check "$name: the config is the example" cmp -s examples/conenatd.conf "$root$etc/conenatd.conf"
  check "$name: binaries 0755, the rest 0644" test "$(stat -c %a "$root$prefix/sbin/conenatd" "$u" "$root$etc/conenatd.conf" | tr '\n' ' ')" = "755 644 644 "

  # A config the user changed: kept by a reinstall and by the uninstall.
  echo "nat-type = symmetric" >>"$root$etc/conenatd.conf"
  cp "$root$etc/conenatd.conf" "$T/changed.conf"
  mk install DESTDIR="$root" "$@" >"$T/$name.out2" 2>&1
  check "$name: reinstall keeps the changed config" cmp -s "$T/changed.conf" "$root$etc/conenatd.conf"
  mk uninstall DESTDIR="$root" "$@" >"$T/$name.out3" 2>&1
  check "$name: uninstall keeps the changed config, and says so" \
    bash -c "cmp -s '$T/changed.conf' '$root$etc/conenatd.conf' && grep -q KEEP '$T/$name.out3'"
  check "$name: uninstall removes everything else" test "$(files "$root")" = "${etc#/}/conenatd.conf"
  # The unchanged example goes with the rest.
  rm -f "$root$etc/conenatd.conf"
  mk install DESTDIR="$root" "$@" >/dev/null 2>&1
  mk uninstall DESTDIR="$root" "$@" >/dev/null 2>&1
  check "$name: uninstall of an unchanged install leaves no file" test -z "$(files "$root")"
}

one_tree local /usr/local /usr/local/etc
one_tree usr /usr /etc PREFIX=/usr SYSCONFDIR=/etc

# INSTALL_STRIP=-s: stripped binaries (the build keeps its symbols: -g).
mk install DESTDIR="$T/strip" INSTALL_STRIP=-s >/dev/null 2>&1
check "INSTALL_STRIP=-s strips conenatd (the built one has symbols)" \
  bash -c "file -b '$T/strip/usr/local/sbin/conenatd' | grep -q ', stripped' && file -b '$BUILD/conenatd' | grep -q 'not stripped'"
mk uninstall DESTDIR="$T/strip" >/dev/null 2>&1

# ---------------------------------------------------------------- systemd-analyze
if ! command -v systemd-analyze >/dev/null; then
  echo "skipped: systemd-analyze (package systemd) missing: the unit's verify and security checks"
  [ "${CI:-}" = true ] && fail "systemd-analyze missing under CI"
else
  P=$T/prefix
  mk install PREFIX="$P" >/dev/null 2>&1 || fail "make install PREFIX=$P"
  U=$P/lib/systemd/system/conenatd.service
  out=$(MANPATH=$P/share/man systemd-analyze verify "$U" 2>&1); rc=$?
  check "systemd-analyze verify: clean (rc $rc${out:+: $out})" test $rc -eq 0 -a -z "$out"
  exposure() { systemd-analyze security --offline=yes "$1" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'; }
  score=$(exposure "$U")
  check "systemd-analyze security: exposure $score <= 2.5" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.5) }'
  # The control: without its sandbox lines the same unit rates worse than 2.5.
  mkdir -p "$T/bare"
  sed -E '/^(Capability|Ambient|NoNewPriv|Protect|Private|Restrict|SystemCall|ReadWrite|Device|Lock|Memory|Remove|Keyring|SecureBits|UMask)/d' \
    "$U" >"$T/bare/conenatd.service"
  bare=$(exposure "$T/bare/conenatd.service")
  check "control: the unit without its sandbox rates $bare > 2.5" awk -v s="$bare" 'BEGIN { exit !(s != "" && s > 2.5) }'
  mk uninstall PREFIX="$P" >/dev/null 2>&1
  check "uninstall PREFIX=$P leaves no file" test -z "$(files "$P")"
fi

if [ "$failures" -gt 0 ]; then echo "install: $failures failure(s)"; exit 1; fi
echo "install: all checks passed"
