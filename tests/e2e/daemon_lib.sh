# shellcheck shell=bash
# Shared by the engine e2e scripts (sourced from the tree's top): the lab (lib.sh) brought up
# and torn down at exit, the daemon under test in the lab's router, check bookkeeping, and the
# classifier check of a named NAT type.
#   daemon_start ARGS...   start $BIN --foreground in $LAB_RT with --stats-file $STATS; wait until up
#   daemon_stop            SIGTERM it (by PID) and wait
#   stat NAME              a counter, read after the daemon's next write (every second)
#   check WHAT cmd...      runs cmd: "ok: WHAT" or "FAIL: WHAT" (counted in $failures)
#   check_classifiers TYPE  (lib.sh) both classifiers from in1 report TYPE's mapping and filtering
#   checks_done NAME       the closing line and exit status

source tests/e2e/lib.sh
e2e_require_root
lab_up >/dev/null || { echo "FAIL: lab_up"; exit 1; }
lab_trap

BUILD=${BUILD:-build}
BIN=$BUILD/conenatd
FLOWS=tests/e2e/flows.py
source tests/e2e/check_lib.sh
e2e_built "$BIN"

STATS=$LAB_DIR/stats
DAEMON=
daemon_start() {
  local level=(--log-level debug) # mapping lines in the log, unless the caller chose a level
  [[ " $* " == *" --log-level "* ]] && level=()
  rm -f "$STATS"
  lab_bg "$LAB_RT" conenatd "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --external-ip "$LAB_E1" \
    --foreground --pid-file "$LAB_DIR/conenatd.pid" --control-socket "$LAB_DIR/conenatd.sock" --stats-file "$STATS" "${level[@]}" "$@"
  DAEMON=$LAB_BG_PID
  wait_for 100 0.1 test -s "$STATS"
}
daemon_stop() { [ -n "$DAEMON" ] && lab_kill "$DAEMON" 10; DAEMON=; }
stat() { sleep 1.1; awk -v k="$1" '$1 == k { print $2 }' "$STATS"; }

checks_done() {
  if [ "$failures" -gt 0 ]; then echo "$1: $failures failure(s)"; exit 1; fi
  echo "$1: all checks passed"
  exit 0
}
