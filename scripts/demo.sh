#!/usr/bin/env bash
# Shows conenatd giving the router each of the four NAT types, as two independent classifiers
# (coturn's RFC 5780 turnutils_natdiscovery and the RFC 3489 `stun` client) see it from a LAN host.
# Builds nothing: `make demo` builds first. Needs root (network namespaces); see tests/e2e/lib.sh.
#
#   scripts/demo.sh              the daemon ($BUILD/conenatd, or $CONENATD), one run per NAT type
#   scripts/demo.sh --baseline   plain kernel MASQUERADE in every row (always EIM + APDF)
#   scripts/demo.sh --reference  nft emulations of each type (tests/e2e/lib.sh lab_reference_nat_on)
#   -v                           also print the daemon's non-zero counters after each type
# Environment: BUILD (default build), CONENATD (daemon path), DEMO_ENGINE (conntrack, the default;
# queue; tun), DEMO_DAEMON_ARGS (extra arguments).
# Exit status: 0 when every row shows the expected type, 1 otherwise, 77 when it cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh

mode=daemon verbose=0
for a in "$@"; do
  case "$a" in
    --baseline) mode=baseline ;;
    --reference) mode=reference ;;
    -v|--verbose) verbose=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $a (try --help)" >&2; exit 2 ;;
  esac
done

daemon=${CONENATD:-${BUILD:-build}/conenatd}
e2e_require_root "${LAB_TOOLS[@]}"
if [ "$mode" = daemon ] && [ ! -x "$daemon" ]; then
  echo "demo: $daemon not found: build it first (make), or run with --baseline" >&2
  exit 1
fi
[ "$mode" = daemon ] && daemon=$(realpath "$daemon")

types=(full-cone restricted-cone port-restricted-cone symmetric)

# What a correct NAT of each type looks like to the two classifiers. Symmetric may map per
# address (ADM) or per address and port (APDM): RFC 4787 calls both "symmetric".
expected_nd() {
  case "$1" in
    full-cone) echo "endpoint-independent/endpoint-independent" ;;
    restricted-cone) echo "endpoint-independent/address-dependent" ;;
    port-restricted-cone) echo "endpoint-independent/address-and-port-dependent" ;;
    symmetric) echo "address-dependent/address-and-port-dependent address-and-port-dependent/address-and-port-dependent address-dependent/address-dependent" ;;
  esac
}
expected_stun() { echo "$1"; }

daemon_table_exists() { lab_exec "$LAB_RT" nft list table ip conenatd >/dev/null 2>&1; }

# Start the NAT of row TYPE in the router. Sets nat_pid (empty for the nft/iptables modes).
nat_start() {
  local type=$1
  nat_pid=
  case "$mode" in
    baseline) lab_masquerade_on ;;
    reference) lab_reference_nat_on "$type" ;;
    daemon)
      # shellcheck disable=SC2086  # DEMO_DAEMON_ARGS is a list of words on purpose
      lab_bg "$LAB_RT" "conenatd.$type" "$daemon" --engine "${DEMO_ENGINE:-conntrack}" --nat-type "$type" \
        --external-if wan0 --internal-net "$LAB_INTERNAL_NET" --foreground \
        --pid-file "$LAB_DIR/conenatd.$type.pid" --control-socket "$LAB_DIR/conenatd.$type.sock" --stats-file "$LAB_DIR/conenatd.$type.stats" \
        ${DEMO_DAEMON_ARGS:-}
      nat_pid=$LAB_BG_PID
      local i
      # Ready = its nft table exists. Bounded: 10 s, and give up at once if it died.
      for ((i = 0; i < 100; i++)); do
        daemon_table_exists && return 0
        lab_alive "$nat_pid" || break
        sleep 0.1
      done
      echo "demo: conenatd ($type) did not become ready; its log:" >&2
      tail -n 20 "$LAB_DIR/conenatd.$type.log" >&2 || true
      return 1 ;;
  esac
}

# Stop it. Prints "ok" when the NAT is gone without leftovers, else what was wrong.
nat_stop() {
  local type=$1 res=ok
  case "$mode" in
    baseline) lab_masquerade_off ;;
    reference) lab_reference_nat_off ;;
    daemon)
      kill -TERM "$nat_pid" 2>/dev/null || res="already-exited"
      local i
      for ((i = 0; i < 50; i++)); do lab_alive "$nat_pid" || break; sleep 0.1; done
      if lab_alive "$nat_pid"; then res="needed-SIGKILL"; lab_kill "$nat_pid" 1; fi
      wait "$nat_pid" 2>/dev/null || true
      if daemon_table_exists; then
        res="table-left"
        lab_exec "$LAB_RT" nft delete table ip conenatd 2>/dev/null || true
      fi
      # The next row starts from a clean router: no conntrack entry of this one lingers.
      lab_conntrack_flush ;;
  esac
  echo "$res"
}

lab_trap
lab_up >/dev/null 2>&1 || { echo "demo: could not build the lab" >&2; exit 1; }
lab_start_stun

fmt="%-21s | %-55s | %-21s | %-8s | %s\n"
echo "NAT under test: $mode$([ "$mode" = daemon ] && echo " ($daemon --engine ${DEMO_ENGINE:-conntrack})")"
# shellcheck disable=SC2059
printf "$fmt" "configured" "natdiscovery mapping/filtering" "stun" "stop" "verdict"
printf "%s\n" "----------------------+---------------------------------------------------------+-----------------------+----------+--------"
bad=0
for t in "${types[@]}"; do
  if ! nat_start "$t"; then
    # shellcheck disable=SC2059
    printf "$fmt" "$t" "(daemon not ready)" "-" "$(nat_stop "$t")" "FAIL"
    bad=$((bad + 1)); continue
  fi
  nd=$(classify_natdiscovery "$LAB_IN1")
  st=$(classify_stun "$LAB_IN1")
  stop=$(nat_stop "$t")
  m=${nd#mapping=}; m=${m%% *}; f=${nd##*filtering=}
  if [ "$mode" = baseline ]; then
    want_nd="endpoint-independent/address-and-port-dependent" want_st=port-restricted-cone
  else
    want_nd=$(expected_nd "$t") want_st=$(expected_stun "$t")
  fi
  verdict=ok
  [[ " $want_nd " == *" $m/$f "* ]] || verdict=MISMATCH
  [ "$st" = "$want_st" ] || verdict=MISMATCH
  [ "$stop" = ok ] || verdict=FAIL
  [ "$verdict" = ok ] || bad=$((bad + 1))
  # shellcheck disable=SC2059
  printf "$fmt" "$t" "$m / $f" "$st" "$stop" "$verdict"
  if [ "$verbose" = 1 ] && [ -s "$LAB_DIR/conenatd.$t.stats" ]; then
    echo "    stats (non-zero): $(awk '$2 != 0 { printf "%s=%s ", $1, $2 }' "$LAB_DIR/conenatd.$t.stats")"
  fi
done
[ "$mode" = baseline ] && echo "(baseline: MASQUERADE is EIM + APDF whatever the row says; expected port-restricted-cone everywhere)"
if [ $bad -ne 0 ]; then
  echo "demo: $bad of ${#types[@]} rows wrong"
  exit 1
fi
echo "demo: all ${#types[@]} rows as expected"
