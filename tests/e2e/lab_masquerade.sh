#!/usr/bin/env bash
# Tests the lab itself against the kernel's plain MASQUERADE, whose behaviour is known
# (kernel-facts.md): Endpoint-Independent Mapping + Address-and-Port-Dependent Filtering, ports
# preserved when free. If the classifiers or probes disagree here, they cannot judge the daemon.
# Exit 0 pass, 77 skipped (not root / tools missing), anything else fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
e2e_require_root "${LAB_TOOLS[@]}"

fails=0
check() {   # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok   $1: $3"
  else
    echo "FAIL $1: expected '$2', got '$3'"
    fails=$((fails + 1))
  fi
}

lab_trap
lab_up
prefix=$LAB_PREFIX

# Without NAT nothing inside may reach the outside: the internet has no route to 10.0.0.0/24.
if lab_exec "$LAB_IN1" ping -c1 -W1 "$LAB_Y1" >/dev/null 2>&1; then r=reachable; else r=unreachable; fi
check "no NAT: in1 -> Y1" unreachable "$r"

lab_masquerade_on
for h in "in1:$LAB_IN1:$LAB_Y1" "in2:$LAB_IN2:$LAB_Y2"; do
  IFS=: read -r name ns peer <<<"$h"
  if lab_exec "$ns" ping -c1 -W2 "$peer" >/dev/null 2>&1; then r=reachable; else r=unreachable; fi
  check "MASQUERADE: ping $name -> $peer" reachable "$r"
done

lab_start_stun
check "natdiscovery (in1)" "mapping=endpoint-independent filtering=address-and-port-dependent" \
  "$(classify_natdiscovery "$LAB_IN1")"
# stun-client 0.97 prints "Independent Mapping, Port Dependent Filter" for EIM + APDF.
check "stun (in1)" port-restricted-cone "$(classify_stun "$LAB_IN1")"
check "stun (in2)" port-restricted-cone "$(classify_stun "$LAB_IN2")"

# UDP probes: what the peer sees. Port preserved, and the same external port towards a second
# peer (EIM while the first flow is alive) ...
check "udp in1:5000 -> Y1" "$LAB_E1:5000" "$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_Y1" 7000)"
check "udp in1:5000 -> Y2" "$LAB_E1:5000" "$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_Y2" 7000)"
# ... and a second host with the same source port towards the same peer gets another port
# (the 5-tuple E1:5000 -> Y1:7000 is taken).
m2=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" 5000 "$LAB_Y1" 7000)
if [ -n "$m2" ] && [ "${m2%%:*}" = "$LAB_E1" ] && [ "$m2" != "$LAB_E1:5000" ]; then r=distinct; else r="same-or-none($m2)"; fi
check "udp in2:5000 -> Y1 external port" distinct "$r"
# Unsolicited inbound UDP to the mapped port, from a peer never contacted: APDF drops it; the
# contacted peer's datagram right after it is the control that the listener does hear.
udp_observe "$LAB_IN1" "$LAB_IN1_ADDR" 5001 2 2
obs=$LAB_BG_PID
udp_send "$LAB_IN1" "$LAB_IN1_ADDR" 5001 "$LAB_Y1" 7001
lab_exec "$LAB_INET" "$LAB_PY" "$LAB_HELPER" udp-send "$LAB_Y2" 7001 "$LAB_E1" 5001 unsolicited
lab_exec "$LAB_INET" "$LAB_PY" "$LAB_HELPER" udp-send "$LAB_Y1" 7001 "$LAB_E1" 5001 reply
check "udp Y2:7001 then Y1:7001 -> E1:5001, in1 hears" "$LAB_Y1:7001" "$(udp_seen "$obs" | tr '\n' ' ' | sed 's/ $//')"

# TCP probes: the three answers tcp_connect can give.
tcp_listen "$LAB_INET" "$LAB_Y1" 8080 5
check "tcp in1 -> Y1:8080" connected "$(tcp_connect "$LAB_IN1" "$LAB_Y1" 8080 2)"
tcp_listen "$LAB_IN1" "$LAB_IN1_ADDR" 8082 5
check "tcp Y1 -> E1:8082 (no forward)" refused "$(tcp_connect "$LAB_INET" "$LAB_E1" 8082 2 "$LAB_Y1")"
check "tcp in1 -> 203.0.113.99 (black hole)" timeout "$(tcp_connect "$LAB_IN1" 203.0.113.99 80 1)"

# The lab must be gone after lab_down, and lab_down must be idempotent.
lab_down
lab_down
left=$(ip netns list | awk '{print $1}' | grep -c "^$prefix" || true)
check "namespaces left with prefix $prefix" 0 "$left"

if [ $fails -ne 0 ]; then
  echo "lab_masquerade: $fails check(s) failed"
  exit 1
fi
echo "lab_masquerade: all checks passed"
