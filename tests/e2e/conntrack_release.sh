#!/usr/bin/env bash
# The release check of the conntrack engine (issue 13), in the lab of tests/e2e/lib.sh. Under
# endpoint-independent filtering (full cone) a new flow on an existing mapping has no conntrack
# event (conntrack_events.sh), so the engine does not know every flow of a mapping. A mapping
# past its timer therefore ends only after a conntrack dump shows no flow on it; while it is
# checked its map elements are out, then back if it stays.
#   - kept: in1:6000 makes its mapping with a flow to Y1:7 (queued, known), then a flow to Y2:7
#     (the kernel's map, no event). The first flow is deleted; the mapping's timer (2 s:
#     --udp-short-timeout for port 7) runs out, and the check finds the unseen flow: the mapping
#     stays (release_kept), listed by conenatctl, and the outside still reaches in1:6000 through
#     it, a new flow of in1:6000 leaves from it (EIM), and no other host gets its port.
#   - control, released: in1:6100's mapping has only its known flow; deleted, the mapping ends
#     after the check (gone from conenatctl, release_checks moved), and a new flow of in1:6100
#     gets a mapping again (the path stays live).
#   - during a check: in1:6200 starts a new flow every ~0.4 ms across its mapping's check (the
#     dump made long by 20000 other conntrack entries); the first that finds the elements out
#     goes through the queue thread, which puts them back: Y1 gets every datagram, all from the
#     one external endpoint.
# Root only; exit 77 (skip) otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
e2e_require_root conntrack
CTL=$BUILD/conenatctl
e2e_built "$CTL"
ctl() { "$CTL" --socket "$LAB_DIR/conenatd.sock" "$@"; }
# mapped INTERNAL_PORT: the external endpoint conenatctl lists for in1:PORT ("" if none).
mapped() { ctl mappings --proto udp --internal "$LAB_IN1_ADDR:$1" | grep -oE "$LAB_E1:[0-9]+" | head -n 1; }
delete_flow() { # delete_flow SPORT DST: in1's UDP flow from SPORT to DST
  lab_exec "$LAB_RT" conntrack -D -p udp -s "$LAB_IN1_ADDR" --orig-port-src "$1" -d "$2" >/dev/null 2>&1
}
# wait_stat NAME MIN: up to 20 s for counter NAME to reach MIN; prints its value.
wait_stat() {
  local v i
  for ((i = 0; i < 20; i++)); do
    v=$(stat "$1")
    [ "${v:-0}" -ge "$2" ] && break
  done
  echo "${v:-0}"
}

lab_conntrack_flush
daemon_start --engine conntrack --nat-type full-cone --udp-short-timeout 2 --udp-short-ports 7 \
  --resync-interval 3600 || fail "daemon did not start"
check "the events chain gives new flows on existing UDP and TCP mappings no event" bash -c \
  "ip netns exec $LAB_RT nft list chain ip conenatd events | grep -Eq 'meta l4proto \{ (tcp, udp|udp, tcp) \} ct event set 0x0'"

echo "== a mapping past its timer with a flow we were not told of stays"
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6000 "$LAB_Y1" 7)
n0=$(stat events_new)
y=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6000 "$LAB_Y2" 7)
check "in1:6000 is mapped ($x), and its flow to Y2 leaves from the same endpoint ($y)" \
  eval 'test "${x%%:*}" = "$LAB_E1" && test "$y" = "$x"'
check "the flow to Y2 sent no NEW event (events_new $n0 -> $(stat events_new))" test "$(stat events_new)" = "$n0"
c0=$(stat release_checks)
k0=$(stat release_kept)
delete_flow 6000 "$LAB_Y1"
check "the unseen flow is still in the kernel" eval \
  'lab_exec "$LAB_RT" conntrack -L -p udp --orig-port-src 6000 2>/dev/null | grep -q "dst=$LAB_Y2 "'
k1=$(wait_stat release_kept $((k0 + 1)))
check "a release check kept the mapping (release_kept $k0 -> $k1, release_checks $c0 -> $(stat release_checks))" \
  test "$k1" -gt "$k0"
check "conenatctl still lists in1:6000 -> $x ($(mapped 6000))" test "$(mapped 6000)" = "$x"
check "no mapping is due after the check ($(stat mappings_due))" test "$(stat mappings_due)" = 0
udp_observe "$LAB_IN1" "$LAB_IN1_ADDR" 6000 3 1 || fail "observer on in1:6000"
obs=$LAB_BG_PID
udp_send "$LAB_INET" "$LAB_Y1" 7001 "${x%%:*}" "${x##*:}"
check "Y1:7001 reaches in1:6000 through $x (full cone: the elements are back)" \
  test "$(udp_seen "$obs")" = "$LAB_Y1:7001"
z=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6000 "$LAB_Y1" 8)
check "a new flow of in1:6000 to Y1:8 leaves from $x too ($z)" test "$z" = "$x"
w=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" 6000 "$LAB_Y1" 7)
check "in2:6000 gets another port ($w)" eval 'test -n "$w" && test "$w" != "$x"'

echo "== control: a mapping with no flow left ends at the check"
u=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6100 "$LAB_Y1" 7)
check "in1:6100 is mapped ($u) and listed ($(mapped 6100))" eval 'test -n "$u" && test "$(mapped 6100)" = "$u"'
c1=$(stat release_checks)
delete_flow 6100 "$LAB_Y1"
c2=$(wait_stat release_checks $((c1 + 1)))
sleep 1.2 # the check's last step and the stats file
check "a release check ran (release_checks $c1 -> $c2) and in1:6100's mapping is gone ($(mapped 6100))" \
  eval 'test "$c2" -gt "$c1" && test -z "$(mapped 6100)"'
check "in1:6000's mapping, still used, is still there ($(mapped 6000))" test "$(mapped 6000)" = "$x"
v=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6100 "$LAB_Y1" 9)
check "a new flow of in1:6100 gets a mapping again ($v)" test "${v%%:*}" = "$LAB_E1"

echo "== new flows while a check has the mapping's elements out: they go through the queue, from the same endpoint"
# A conntrack table of 20000 more entries (in2 -> the router: not the NAT's) makes the check's
# dump last a while; in1:6200 sends a new flow every ~0.4 ms for ~12 s, to Y1:30000.., across the
# check of its mapping. Y1's set records every source it saw, its counter every datagram.
lab_exec "$LAB_INET" nft -f - <<EOF
table ip spray {
  set seen { type ipv4_addr . inet_service; flags dynamic; size 64; }
  counter n { }
  chain pre {
    type filter hook prerouting priority raw;
    ip daddr $LAB_Y1 udp dport 30000-60000 counter name n add @seen { ip saddr . udp sport } drop
  }
}
EOF
lab_exec "$LAB_IN2" "$LAB_PY" "$FLOWS" udp-spray "$LAB_IN2_ADDR" 6300 "$LAB_LAN_GW" 20000 20000 0
s=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6200 "$LAB_Y1" 7)
check "in1:6200 is mapped ($s); the conntrack table holds $(lab_exec "$LAB_RT" conntrack -C) entries" \
  test "${s%%:*}" = "$LAB_E1"
q0=$(stat queued_out) k0=$(stat release_kept)
delete_flow 6200 "$LAB_Y1"
lab_exec "$LAB_IN1" timeout 30 "$LAB_PY" "$FLOWS" udp-spray "$LAB_IN1_ADDR" 6200 "$LAB_Y1" 30000 30000 0.0003
sleep 0.5
q1=$(stat queued_out) k1=$(stat release_kept)
sent=$(lab_exec "$LAB_INET" nft list counter ip spray n | awk '/packets/ { print $2 }')
seen=$(lab_exec "$LAB_INET" nft list set ip spray seen | grep -oE '[0-9]+(\.[0-9]+){3} \. [0-9]+' | tr -d ' ')
check "a check kept the mapping meanwhile (release_kept $k0 -> $k1)" test "$k1" -gt "$k0"
check "the first flow that came while the elements were out went through the queue, which put them back (queued_out $q0 -> $q1)" test "$q1" -gt "$q0"
check "Y1 got all 30000 flows' datagrams ($sent)" test "${sent:-0}" -eq 30000
check "all from $s, none from elsewhere (sources: $(tr '\n' ' ' <<<"$seen"))" test "$seen" = "${s%%:*}.${s##*:}"
check "conenatctl still lists in1:6200 -> $s ($(mapped 6200))" test "$(mapped 6200)" = "$s"
check "the table stayed consistent ($(stat table_consistency_errors) errors)" test "$(stat table_consistency_errors)" = 0
daemon_stop

checks_done conntrack_release
