#!/usr/bin/env bash
# The queue engine against the real kernel, in the lab of tests/e2e/lib.sh plus one namespace
# "far" that the internet namespace routes to (a second hop behind a 1280-byte MTU link):
#
#   in1 10.0.0.2 ─┐                                         ┌─ A1, A2 (STUN), R, Y1, Y2 (peers)
#                 ├─ lan0 [router: conenatd --engine queue] wan0 E1 ── inet ─┤
#   in2 10.0.0.3 ─┘                                         └─ far0 192.0.2.1 ══mtu 1280══ far 192.0.2.2
#
# For each NAT type (one worker for two of them, two workers for the others): both classifiers
# report the configured mapping and filtering; two LAN hosts on one source port get distinct
# external endpoints; a TTL-limited probe through the NAT earns the outside hop's Time Exceeded;
# a fragmentation-needed from the outside reaches the LAN host's socket (its quoted header
# restored) and sets its route's MTU; TCP simultaneous open completes; a hairpinned datagram
# arrives from the sender's external endpoint (and is filtered under symmetric, as APDF wants);
# after SIGTERM no table, rule or queue binding remains. Once: bulk TCP both ways and UDP GSO
# (checksums of offloaded packets), fragments, TCP hairpin, the router's own traffic and its
# own ICMP errors, a held SYN refused after 6 s; the five other mapping x filtering pairs; MAP-E
# and per-host blocks over two workers; a per-host limit's ICMP 3/13; --rules manual with the
# examples; bad input.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
ENGINE=queue
source tests/e2e/software_engine_lib.sh

far_up

no_kernel_state() {
  [ -z "$(lab_exec "$LAB_RT" nft list tables)" ] &&
    ! lab_exec "$LAB_RT" awk '$1 < 8' /proc/net/netfilter/nfnetlink_queue | grep -q . &&
    ! lab_exec "$LAB_RT" iptables-save | grep -q NFQUEUE
}

every_type

echo "== bulk TCP, UDP GSO, fragments, TCP hairpin, the router's own traffic (full-cone, 2 workers)"
start_daemon --nat-type full-cone --queues 2 || fail "daemon did not start"
held_syn_start
bulk_tcp_checks

lab_bg "$LAB_INET" gso timeout 5 "$LAB_PY" "$QF" udp-sink "$LAB_Y1" 5003 3 8
gsosink=$LAB_BG_PID
wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 5003
qf "$LAB_IN1" udp-gso "$LAB_IN1_ADDR" 5003 "$LAB_Y1" 5003 1200 8
wait "$gsosink" 2>/dev/null
check "UDP GSO: 8 segments of one sendmsg arrive intact ($(cat "$LAB_DIR/gso.log"))" \
  test "$(cat "$LAB_DIR/gso.log")" = "datagrams 8 sizes 1200,1200,1200,1200,1200,1200,1200,1200 intact yes"

fragment_echo_check

tcp_hairpin_check

router_own_traffic_check
router_pmtu_check
held_syn_check
handoffs=$(stat hairpin_handoffs)
check "hairpinned packets crossed between the two workers ($handoffs hand-offs)" test "${handoffs:-0}" -gt 0
stop_daemon
check "after SIGTERM no table, rule or queue binding remains" no_kernel_state

combination_checks

port_set_checks

quota_check

echo "== --rules manual with examples/nftables-queue.nft and examples/iptables-queue.sh"
lab_exec "$LAB_RT" nft -f examples/nftables-queue.nft && lab_exec "$LAB_RT" sh examples/iptables-queue.sh ||
  fail "the examples do not load"
start_daemon --rules manual --nat-type port-restricted-cone --ports 20000-29999 || fail "daemon did not start"
m=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5100 "$LAB_A1" 7000)
check "manual rules: in1 maps to $m, inside 20000-29999" test "${m%:*}" = "$LAB_E1" -a "${m#*:}" -ge 20000 -a "${m#*:}" -le 29999
check "manual rules: ping through the NAT" ping_ok "$LAB_IN1" "$LAB_Y1"
stop_daemon
check "manual rules stay, the queues are unbound" test "$(lab_exec "$LAB_RT" awk '$1 < 2' /proc/net/netfilter/nfnetlink_queue | wc -l)" -eq 0 \
  -a "$(lab_exec "$LAB_RT" iptables-save | grep -c NFQUEUE)" -eq 4

lab_exec "$LAB_RT" sh -c 'iptables -t raw -F && iptables -t mangle -F && nft delete table ip conenatd'

echo "== bad input (the options are the conntrack engine's; these are the queue engine's own)"
bad --queues --queues 0
bad --queues --queues 65
bad --queues --queues 3 --ports 20000-20001
bad --nat-type --nat-type cone-ish
bad --ports --ports 30000-20000
out=$(lab_exec "$LAB_RT" "$BIN" --engine queue --external-if wan0 --internal-net 10.0.0.0/24 --fail-open --print-rules 2>/dev/null)
check "--fail-open: the queue rules bypass when nobody listens" grep -q "queue num 0 bypass" <<<"$out"

checks_done queue_engine
