#!/usr/bin/env bash
# The operators' mapping log (RFC 6888 REQ-12, RFC 7422), in the lab of tests/e2e/lib.sh: real
# flows through the real daemon; each flow's mapping-created line names the external endpoint
# the outside peer saw; a reload that moves the port pool ends them with mapping-removed lines
# (with their duration); a rotated file is reopened on SIGHUP; with --port-block-size one
# block-allocated line per host whose range holds its ports, block-released at the end; syslog
# mode through a datagram socket this test binds; bad settings refused.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/daemon_lib.sh

CONF=$LAB_DIR/conenatd.conf
LOG=$LAB_DIR/mappings.log
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
# Lines of FILE matching the extended regex RE (0 when none).
count() { grep -cE "$2" "$1" 2>/dev/null || true; }
# Waits (at most ~5 s) until FILE has at least N lines matching RE.
wait_lines() { wait_for 50 0.1 bash -c "n=\$(grep -cE '$2' '$1' 2>/dev/null); [ \"\${n:-0}\" -ge $3 ]"; }

# Makes N UDP flows from in1 (ports BASE..) to Y1; sets SEEN[i] to what Y1 saw.
declare -a SEEN
flows() {
  local base=$1 n=$2 i
  SEEN=()
  for ((i = 0; i < n; i++)); do
    SEEN[i]=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" $((base + i)) "$LAB_Y1" 7500)
  done
}

file_checks() {
  local engine=$1 base=$2 i x n=4 ok=0 removed=0
  echo "== $engine engine: --mapping-log mappings to a file"
  lab_conntrack_flush
  rm -f "$LOG" "$LOG.1"
  echo "ports = 20000-29999" >"$CONF"
  daemon_start --engine "$engine" --config "$CONF" --nat-type full-cone --mapping-log mappings \
    --mapping-log-file "$LOG" || { fail "$engine: daemon did not start"; return; }
  flows "$base" $n
  wait_lines "$LOG" "event=mapping-created proto=udp internal=$LAB_IN1_ADDR:" $n
  for ((i = 0; i < n; i++)); do
    x=${SEEN[i]}
    [ -n "$x" ] && [ "$(count "$LOG" "^$TS event=mapping-created proto=udp internal=$LAB_IN1_ADDR:$((base + i)) external=$x\$")" -eq 1 ] &&
      ok=$((ok + 1))
  done
  check "$engine: each of the $n flows has one created line naming the endpoint Y1 saw ($ok of $n; ${SEEN[*]})" test "$ok" -eq $n
  check "$engine: no removal yet" test "$(count "$LOG" "event=mapping-removed")" -eq 0

  echo "-- a reload moves the pool: every mapping ends, logged with its duration"
  echo "ports = 30000-39999" >"$CONF"
  kill -HUP "$DAEMON"
  wait_lines "$LOG" "event=mapping-removed proto=udp internal=$LAB_IN1_ADDR:" $n
  for ((i = 0; i < n; i++)); do
    x=${SEEN[i]}
    [ -n "$x" ] && [ "$(count "$LOG" "^$TS event=mapping-removed proto=udp internal=$LAB_IN1_ADDR:$((base + i)) external=$x duration=[0-9]+\$")" -eq 1 ] &&
      removed=$((removed + 1))
  done
  check "$engine: each one's removed line, with its duration ($removed of $n)" test "$removed" -eq $n

  echo "-- logrotate: the file moved away, SIGHUP, new lines in a new file"
  mv "$LOG" "$LOG.1"
  kill -HUP "$DAEMON"
  wait_for 50 0.1 test -e "$LOG"
  flows $((base + 50)) 1
  wait_lines "$LOG" "event=mapping-created proto=udp internal=$LAB_IN1_ADDR:$((base + 50)) external=${SEEN[0]}\$" 1
  check "$engine: the new flow is in the reopened file" \
    test "$(count "$LOG" "event=mapping-created proto=udp internal=$LAB_IN1_ADDR:$((base + 50)) external=${SEEN[0]}\$")" -eq 1
  check "$engine: ... and not in the rotated one" \
    test "$(count "$LOG.1" "internal=$LAB_IN1_ADDR:$((base + 50)) ")" -eq 0
  check "$engine: the statistics count the lines, none lost" \
    test "$(stat mapping_log_lines)" -ge $((2 * n + 1)) -a "$(stat mapping_log_lost)" = 0
  flows $((base + 60)) 1
  daemon_stop
  check "$engine: a flow made just before SIGTERM is logged all the same" \
    test "$(count "$LOG" "event=mapping-created proto=udp internal=$LAB_IN1_ADDR:$((base + 60)) external=${SEEN[0]}\$")" -eq 1
}

file_checks conntrack 5500
file_checks queue 5600

echo "== --port-block-size 64 --mapping-log blocks (RFC 7422): a line per block, not per mapping"
lab_conntrack_flush
rm -f "$LOG"
echo "ports = 20000-29999" >"$CONF"
daemon_start --engine queue --config "$CONF" --nat-type full-cone --port-block-size 64 --mapping-log blocks \
  --mapping-log-file "$LOG" || fail "daemon did not start"
flows 5700 3
p1=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" 5700 "$LAB_Y1" 7500)
wait_lines "$LOG" "event=block-allocated internal=$LAB_IN2_ADDR " 1
sleep 1.5
line1=$(grep -E "^$TS event=block-allocated internal=$LAB_IN1_ADDR external=$LAB_E1 ports=[0-9]+-[0-9]+\$" "$LOG")
check "in1's 3 flows: one block-allocated line ($(grep -c "internal=$LAB_IN1_ADDR " "$LOG"))" \
  test "$(grep -c "internal=$LAB_IN1_ADDR " "$LOG")" -eq 1 -a -n "$line1"
range=${line1##*ports=}
lo=${range%-*}; hi=${range#*-}
inside=0
for x in "${SEEN[@]}"; do
  port=${x##*:}
  [ -n "$x" ] && [ "${x%%:*}" = "$LAB_E1" ] && [ "$port" -ge "$lo" ] && [ "$port" -le "$hi" ] && inside=$((inside + 1))
done
check "the block $lo-$hi holds 64 ports and all 3 ports Y1 saw (${SEEN[*]})" test $((hi - lo)) -eq 63 -a "$inside" -eq 3
check "in2 has its own block line, holding its port ($p1)" bash -c "
  l=\$(grep -E 'event=block-allocated internal=$LAB_IN2_ADDR external=$LAB_E1 ports=' '$LOG') || exit 1
  r=\${l##*ports=}; p=${p1##*:}; [ \"\${r%-*}\" != '$lo' ] && [ \"\$p\" -ge \"\${r%-*}\" ] && [ \"\$p\" -le \"\${r#*-}\" ]"
check "no mapping lines in block mode" test "$(count "$LOG" "event=mapping-")" -eq 0
echo "ports = 30000-39999" >"$CONF"
kill -HUP "$DAEMON"
wait_lines "$LOG" "event=block-released" 2
check "the reload ends both hosts' mappings: two block-released lines with durations" \
  test "$(count "$LOG" "^$TS event=block-released internal=10\.0\.0\.[23] external=$LAB_E1 ports=[0-9]+-[0-9]+ duration=[0-9]+\$")" -eq 2
daemon_stop

echo "== syslog: LOG_DAEMON messages to a datagram socket of the test's own"
SOCK=$LAB_DIR/syslog.sock
GOT=$LAB_DIR/syslog.got
lab_bg "$LAB_RT" syslog_rx timeout 60 "$LAB_PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1.0)
with open(sys.argv[2], "a") as out:
    while True:
        try:
            msg = s.recv(4096)
        except socket.timeout:
            continue
        out.write(msg.decode(errors="replace") + "\n")
        out.flush()
' "$SOCK" "$GOT"
RX=$LAB_BG_PID
wait_for 50 0.1 test -S "$SOCK"
lab_conntrack_flush
daemon_start --engine queue --nat-type full-cone --mapping-log mappings --mapping-log-syslog-socket "$SOCK" ||
  fail "daemon did not start"
flows 5800 2
wait_lines "$GOT" "event=mapping-created proto=udp internal=$LAB_IN1_ADDR:5801 " 1
for i in 0 1; do
  check "syslog got <30> (daemon.info) from conenatd-mappings[$DAEMON] for flow $i (${SEEN[i]})" \
    test "$(count "$GOT" "^<30>conenatd-mappings\[$DAEMON\]: $TS event=mapping-created proto=udp internal=$LAB_IN1_ADDR:$((5800 + i)) external=${SEEN[i]}\$")" -eq 1
done
daemon_stop
lab_kill "$RX"

echo "== refusals, each next to a start that works (above)"
out=$(ip netns exec "$LAB_RT" "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --foreground \
  --pid-file "$LAB_DIR/bad.pid" --control-socket "$LAB_DIR/bad.sock" --mapping-log blocks 2>&1 >/dev/null); rc=$?
check "blocks without --port-block-size: exit 2 naming the option ($rc: $out)" \
  bash -c "[ $rc -eq 2 ] && grep -q 'mapping-log.*port-block-size' <<<'$out'"
out=$(ip netns exec "$LAB_RT" "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --foreground \
  --pid-file "$LAB_DIR/bad.pid" --control-socket "$LAB_DIR/bad.sock" --mapping-log sometimes 2>&1 >/dev/null); rc=$?
check "an unknown mode: exit 2 ($rc: $out)" bash -c "[ $rc -eq 2 ] && grep -q 'mapping-log' <<<'$out'"
out=$(ip netns exec "$LAB_RT" timeout 10 "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --foreground \
  --pid-file "$LAB_DIR/bad.pid" --control-socket "$LAB_DIR/bad.sock" --mapping-log mappings --mapping-log-syslog-socket "$LAB_DIR/nobody.sock" 2>&1 >/dev/null); rc=$?
check "no syslog at the socket: exit 1 naming it ($rc: $out)" \
  bash -c "[ $rc -eq 1 ] && grep -q 'nobody.sock' <<<'$out'"
out=$(ip netns exec "$LAB_RT" timeout 10 "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --foreground \
  --pid-file "$LAB_DIR/bad.pid" --control-socket "$LAB_DIR/bad.sock" --mapping-log mappings --mapping-log-file "$LAB_DIR/no/such/dir/m.log" 2>&1 >/dev/null); rc=$?
check "a file that cannot be opened: exit 1 naming it ($rc: $out)" \
  bash -c "[ $rc -eq 1 ] && grep -q 'no/such/dir/m.log' <<<'$out'"

checks_done mapping_log
