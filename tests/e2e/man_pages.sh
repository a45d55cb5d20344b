#!/usr/bin/env bash
# The man pages (man/): `mandoc -Tlint` finds nothing at warning level or above; every option
# of `conenatd --help` is described in conenatd.8 and every config key in conenatd.conf.5; every
# command and option of `conenatctl --help` in conenatctl.8 (once conenatctl is built). The
# control: a copy of a page with one option taken out is caught. No root needed.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
source tests/e2e/check_lib.sh
e2e_built "$BUILD/conenatd"
command -v mandoc >/dev/null || { echo "skipped: mandoc missing (apt-get install mandoc; scripts/deps.sh test)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for m in man/*.[1-8]; do
  out=$(mandoc -Tlint -Wwarning "$m" 2>&1); rc=$?
  check "mandoc -Tlint -Wwarning $m: clean${out:+: $out}" test $rc -eq 0 -a -z "$out"
  check "$m renders" bash -c "mandoc -Tmarkdown '$m' | grep -q '^# NAME'"
done

# The long options a --help prints ("  --name", "  -h [ --help ]" for boost, "  --name ..." for conenatctl).
long_options() { grep -oE -- '(^|[ [])--[a-z][a-z0-9-]*' | sed 's/^[ [(]*--//' | sort -u; }
# missing PAGE Fl|Cm NAMES...: the names the page has no list item for: ".It Fl -NAME ..." (an
# option; ".It Fl h , -help" too) or ".It Cm NAME ..." (a command, a config key).
missing() {
  local page=$1 macro=$2 n re; shift 2
  for n in "$@"; do
    if [ "$macro" = Fl ]; then re="^\.It Fl ([a-z] , )?-$n( |$)"; else re="^\.It Cm $n( |$)"; fi
    grep -qE -- "$re" "$page" || echo "$n"
  done
}

mapfile -t opts < <("$BUILD/conenatd" --help | grep -E '^  (-h \[ )?--' | long_options)
check "conenatd --help lists options (${#opts[@]})" test "${#opts[@]}" -gt 30
gone=$(missing man/conenatd.8 Fl "${opts[@]}")
check "every conenatd option is in conenatd.8${gone:+ (missing: $(echo $gone))}" test -z "$gone"
keys=()
for o in "${opts[@]}"; do
  case $o in help | version | config | print-rules | print-rules-without-queues) ;; *) keys+=("$o") ;; esac
done
gone=$(missing man/conenatd.conf.5 Cm "${keys[@]}")
check "every config key (${#keys[@]}) is in conenatd.conf.5${gone:+ (missing: $(echo $gone))}" test -z "$gone"
# The control: the same check on a page without one option's item.
grep -v -- '^\.It Fl -udp-timeout' man/conenatd.8 >"$T/conenatd.8"
check "control: a conenatd.8 without --udp-timeout is caught" \
  grep -qx udp-timeout <<<"$(missing "$T/conenatd.8" Fl "${opts[@]}")"

if [ -x "$BUILD/conenatctl" ]; then
  help=$("$BUILD/conenatctl" --help)
  mapfile -t cmds < <(sed -n '/^commands:/,/^$/p' <<<"$help" | awk 'NF > 1 && $1 != "commands:" { print $1 }')
  check "conenatctl --help lists commands (${#cmds[@]})" test "${#cmds[@]}" -ge 6
  gone=$(missing man/conenatctl.8 Cm "${cmds[@]}")
  check "every conenatctl command is in conenatctl.8${gone:+ (missing: $(echo $gone))}" test -z "$gone"
  mapfile -t copts < <(long_options <<<"$help")
  gone=$(missing man/conenatctl.8 Fl "${copts[@]}")
  check "every conenatctl option (${#copts[@]}) is in conenatctl.8${gone:+ (missing: $(echo $gone))}" test -z "$gone"
else
  echo "note: $BUILD/conenatctl not built: its page is only linted"
fi

if [ "$failures" -gt 0 ]; then echo "man_pages: $failures failure(s)"; exit 1; fi
echo "man_pages: all checks passed"
