#!/usr/bin/env bash
# Issue 12: a synced flow's binding wins over a mapping of our own (the takeover's race, without
# keepalived: one router of tests/e2e/lib.sh's lab). conntrackd's commit writes the peer
# router's flows over ctnetlink; `conntrack -I` is the same kernel interface from another
# process. in1's endpoint 10.0.0.2:5000 has a mapping E1:P1 (made here, as when a first packet
# beats the commit); a flow of the same endpoint bound to E1:P2 is written: the daemon ends its
# own mapping (sync_replaced, its kernel flow deleted) and adopts P2, so the stream and a new
# flow to a new peer leave from P2. Control first: a written flow that agrees with the mapping
# changes nothing. Then a synced flow that takes another endpoint's port (in2's): in2's mapping
# ends, in1's second endpoint holds the port.
#
# Root only; exit 77 (skip) otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/daemon_lib.sh
e2e_require_root conntrack

daemon_start --engine conntrack --nat-type full-cone --ports 20000-29999 || fail "daemon did not start"
mapped() { udp_mapped_port "$1" "$2" "$3" "$4" "$5"; }
# write_flow SRC SPORT DST DPORT EXT_PORT: a flow written over ctnetlink, source-NATed to E1:EXT_PORT
write_flow() {
  lab_exec "$LAB_RT" conntrack -I -p udp -s "$1" --sport "$2" -d "$3" --dport "$4" -t 120 \
    --src-nat "$LAB_E1:$5" >/dev/null 2>&1
}
replaced() { [ "$(stat sync_replaced)" -ge "$1" ]; }

x1=$(mapped "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_Y1" 7000)
p1=${x1#*:}
check "in1:5000 is mapped to $x1" test "${x1%:*}" = "$LAB_E1"
p2=$((20000 + (p1 - 20000 + 5000) % 10000))

# Control: a written flow with the mapping's own binding is adopted as a flow of it.
write_flow "$LAB_IN1_ADDR" 5000 "$LAB_Y2" 7100 "$p1"
check "control: a written flow that agrees ends nothing (sync_replaced 0)" test "$(stat sync_replaced)" = 0
x=$(mapped "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_Y1" 7001)
check "control: a new flow of in1:5000 still leaves from $x1 (got $x)" test "$x" = "$x1"

# The synced binding P2 of the same internal endpoint wins.
write_flow "$LAB_IN1_ADDR" 5000 "$LAB_Y2" 7200 "$p2"
check "a written flow bound to $LAB_E1:$p2 ends the mapping $x1 (sync_replaced 1)" wait_for 20 0.2 replaced 1
check "the log names it" wait_for 20 0.2 grep -q "takeover: udp mapping $LAB_IN1_ADDR:5000 -> $x1 ends" "$LAB_DIR/conenatd.log"
x=$(mapped "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_Y1" 7000)
check "the first flow's next datagram leaves from $LAB_E1:$p2 (got $x; its old kernel flow was deleted)" test "$x" = "$LAB_E1:$p2"
x=$(mapped "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_Y1" 7002)
check "a new flow to a new peer leaves from $LAB_E1:$p2 (got $x)" test "$x" = "$LAB_E1:$p2"

# A synced flow on another endpoint's port: in2's mapping gives the port up.
x2=$(mapped "$LAB_IN2" "$LAB_IN2_ADDR" 6000 "$LAB_Y1" 7000)
check "in2:6000 is mapped to $x2" test "${x2%:*}" = "$LAB_E1"
write_flow "$LAB_IN1_ADDR" 5001 "$LAB_Y2" 7300 "${x2#*:}"
check "a written flow of in1:5001 on $x2 ends in2's mapping (sync_replaced 2)" wait_for 20 0.2 replaced 2
x=$(mapped "$LAB_IN1" "$LAB_IN1_ADDR" 5001 "$LAB_Y1" 7003)
check "in1:5001 leaves from $x2 (got $x)" test "$x" = "$x2"
x=$(mapped "$LAB_IN2" "$LAB_IN2_ADDR" 6000 "$LAB_Y1" 7004)
check "in2:6000 gets another endpoint (got $x)" eval '[ "${x%:*}" = "$LAB_E1" ] && [ "$x" != "$x2" ]'
daemon_stop

# --takeover-grace is an HA pair's: bad uses are refused, named; the control passes.
opts() { lab_exec "$LAB_RT" "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --print-rules "$@" 2>&1; }
refused() { # WANT ARGS...: exit non-zero with WANT in the output
  local want=$1 out rc; shift
  out=$(opts "$@"); rc=$?
  [ "$rc" -ne 0 ] && grep -q -- "$want" <<<"$out" || { echo "   (exit $rc: $(head -c 200 <<<"$out"))"; return 1; }
}
check "--takeover-grace without --external-ip: refused" refused "--takeover-grace: needs --external-ip" --takeover-grace 2000
check "--takeover-grace with the queue engine: refused" refused "--takeover-grace: only for --engine conntrack" \
  --engine queue --external-ip "$LAB_E1" --takeover-grace 2000
check "--takeover-grace 70000: refused" refused "--takeover-grace: expected a number in 0..60000" --external-ip "$LAB_E1" --takeover-grace 70000
check "control: --takeover-grace 2000 --external-ip $LAB_E1 is taken" eval 'opts --external-ip "$LAB_E1" --takeover-grace 2000 | grep -q "^table ip conenatd"'
checks_done ha_sync_conflict
