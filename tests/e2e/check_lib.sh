# shellcheck shell=bash
# The bookkeeping of the e2e scripts that do not bring the lab up (sourced from the tree's top):
#   check WHAT cmd...     runs cmd: "ok: WHAT", or "FAIL: WHAT" counted in $failures
#   pass WHAT / fail WHAT  the same, decided by the caller
#   e2e_built FILE...     ends the script (exit 1) when a file the build makes is missing
#   e2e_scratch_ns PREFIX [LINK...]  one private namespace $NS (lo, and a veth pair per LINK,
#                         default wan0: LINK up with its peer LINKp; wan0 198.51.100.254/24, lan0
#                         10.0.0.1/24) and a scratch directory $TMP, both removed when the script
#                         ends, after the caller's e2e_cleanup (if it defines one)
#   e2e_daemon_ready TOOL...  ends the script unless $BIN (the daemon, default $BUILD/conenatd) is
#                         built, and (lib.sh's e2e_require_root) skips it unless root with the tools
failures=0
BUILD=${BUILD:-build}
BIN=${BIN:-$BUILD/conenatd}
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

e2e_built() {
  local f
  for f in "$@"; do [ -e "$f" ] || { echo "FAIL: $f not built"; exit 1; }; done
}

e2e_scratch_ns() {
  local prefix=$1 l; shift
  NS=$prefix$$-$RANDOM
  TMP=$(mktemp -d)
  trap e2e_scratch_cleanup EXIT INT TERM
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  for l in "${@:-wan0}"; do
    ip -n "$NS" link add "$l" type veth peer name "${l}p" # no dummy driver on every kernel
    ip -n "$NS" link set "${l}p" up
    case $l in
      wan0) ip -n "$NS" addr add 198.51.100.254/24 dev wan0 ;;
      lan0) ip -n "$NS" addr add 10.0.0.1/24 dev lan0 ;;
    esac
    ip -n "$NS" link set "$l" up
  done
}

e2e_scratch_cleanup() {
  declare -F e2e_cleanup >/dev/null && e2e_cleanup
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}

e2e_daemon_ready() {
  e2e_built "$BIN"
  e2e_require_root "$@"
}
