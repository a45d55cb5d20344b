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
# own ICMP errors, a held SYN refused after at least 6 s; first packets of 1200 and 1500 bytes,
# ping -s 1400, a UDP GSO first packet; a hostile outside (spoofed internal sources on the WAN,
# SYN floods at a mapping and at an unmapped port, blind RSTs); the five other mapping x
# filtering pairs; MAP-E and per-host blocks over two workers; a per-host limit's ICMP 3/13;
# --rules manual with the examples; --fail-open with a full queue and with the daemon gone
# (and without it); bad input.
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

first_packet_checks

fragment_echo_check

tcp_hairpin_check

router_own_traffic_check
router_pmtu_check
held_syn_check
handoffs=$(stat hairpin_handoffs)
check "hairpinned packets crossed between the two workers ($handoffs hand-offs)" test "${handoffs:-0}" -gt 0
stop_daemon
check "after SIGTERM no table, rule or queue binding remains" no_kernel_state

hostile_checks

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

echo "== --fail-open: what the kernel does when the queue is full and when nobody listens"
# Queue full (the daemon stopped with SIGSTOP, 6000 datagrams into its 4096-packet queue): the
# kernel (nfnetlink_queue) accepts the excess untouched under NFQA_CFG_F_FAIL_OPEN, so it leaves
# untranslated (and untracked: the rules took it out of conntrack); without it, it drops the
# excess (queue_dropped). Nobody listens (kill -9: the rules stay, the socket's close unbinds the
# queue): the rules' bypass flag (--queue-bypass / nft "queue ... bypass", set by --fail-open)
# makes the kernel accept the packet untouched; without it the kernel drops it.
for mode in fail-open fail-closed; do
  args=(); [ $mode = fail-open ] && args=(--fail-open)
  start_daemon --nat-type full-cone "${args[@]}" || { fail "$mode: daemon did not start"; continue; }
  pid=$(cat "$LAB_DIR/conenatd.pid")
  lab_bg "$LAB_INET" "burst$mode" timeout 6 "$LAB_PY" "$QF" udp-sources "$LAB_Y1" 6900 4
  sink=$LAB_BG_PID
  wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 6900
  kill -STOP "$pid"
  qf "$LAB_IN1" udp-burst "$LAB_IN1_ADDR" 6901 "$LAB_Y1" 6900 6000
  dropped=$(lab_exec "$LAB_RT" awk '$1 == 0 { print $6 }' /proc/net/netfilter/nfnetlink_queue)
  sleep 0.5
  kill -CONT "$pid"
  wait "$sink" 2>/dev/null
  untranslated=$(awk -v a="$LAB_IN1_ADDR" '$1 == a { print $2 }' "$LAB_DIR/burst$mode.log")
  translated=$(awk -v a="$LAB_E1" '$1 == a { print $2 }' "$LAB_DIR/burst$mode.log")
  if [ $mode = fail-open ]; then
    check "queue full, --fail-open: the excess passes untranslated (${untranslated:-0} from $LAB_IN1_ADDR), the queued ones are translated once the daemon runs again (${translated:-0} from $LAB_E1)" \
      test "${untranslated:-0}" -gt 0 -a "${translated:-0}" -gt 0
  else
    check "queue full, without --fail-open: the kernel drops the excess ($dropped dropped, ${untranslated:-none} untranslated), the queued ones are translated (${translated:-0} from $LAB_E1)" \
      test -z "$untranslated" -a "${dropped:-0}" -gt 0 -a "${translated:-0}" -gt 0
  fi
  kill -KILL "$pid"
  wait "$DAEMON" 2>/dev/null; DAEMON=
  gone=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6902 "$LAB_Y1" 6903)
  if [ $mode = fail-open ]; then
    check "daemon gone (kill -9, rules left), --fail-open: packets pass untranslated (Y1 saw ${gone:-nothing})" \
      test "$gone" = "$LAB_IN1_ADDR:6902"
  else
    check "daemon gone (kill -9, rules left), without --fail-open: the kernel drops them (Y1 saw ${gone:-nothing})" test -z "$gone"
  fi
  lab_exec "$LAB_RT" nft delete table ip conenatd
done

echo "== bad input (the options are the conntrack engine's; these are the queue engine's own)"
bad --queues --queues 0
bad --queues --queues 65
bad --queues --queues 3 --ports 20000-20001
bad --nat-type --nat-type cone-ish
bad --ports --ports 30000-20000
out=$(lab_exec "$LAB_RT" "$BIN" --engine queue --external-if wan0 --internal-net 10.0.0.0/24 --fail-open --print-rules 2>/dev/null)
check "--fail-open: the queue rules bypass when nobody listens" grep -q "queue num 0 bypass" <<<"$out"

checks_done queue_engine
