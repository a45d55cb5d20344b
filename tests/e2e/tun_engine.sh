#!/usr/bin/env bash
# The tun engine against the real kernel, in the lab of tests/e2e/lib.sh plus the namespace
# "far" behind a 1280-byte MTU link (software_engine_lib.sh):
#
#   in1 10.0.0.2 ─┐                                          ┌─ A1, A2 (STUN), R, Y1, Y2 (peers)
#                 ├─ lan0 [router: conenatd --engine tun] wan0 E1 ── inet ─┤
#   in2 10.0.0.3 ─┘        conenat0 (TUN)                    └─ far0 ══mtu 1280══ far 192.0.2.2
#
# For each NAT type (one worker for two of them, two for the others) the checks of
# software_engine_lib.sh: both classifiers, no port overloading, TTL probe and traceroute,
# fragmentation-needed from outside, TCP simultaneous open, hairpinning; after SIGTERM no
# table, policy rule, route or device remains and the local rule is back at priority 0. Once:
# bulk TCP both ways through GSO super-packets, fragments both ways and out of order (the
# engine reassembles: RFC 4787 REQ-14), DF too big for the WAN answered with 3/4 (REQ-13), TCP
# hairpin, the router's own traffic, a held SYN refused after at least 6 s, hand-offs between
# workers; first packets of 1200 and 1500 bytes, ping -s 1400, a UDP GSO first packet; a hostile
# outside (spoofed internal sources on the WAN, SYN floods, blind RSTs);
# the five other mapping x filtering pairs; MAP-E and per-host blocks over two workers; ICMP
# 3/13 from a per-host limit; --rules manual with examples/nftables-tun.nft; restart after
# kill -9; bad input.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
ENGINE=tun
source tests/e2e/software_engine_lib.sh
far_up

no_kernel_state() {
  [ -z "$(lab_exec "$LAB_RT" nft list tables)" ] &&
    [ "$(lab_exec "$LAB_RT" ip rule | head -n 1)" = "0:	from all lookup local" ] &&
    ! lab_exec "$LAB_RT" ip rule | grep -q fwmark &&
    [ -z "$(lab_exec "$LAB_RT" ip route show table 25454 2>/dev/null)" ] &&
    ! lab_exec "$LAB_RT" ip link show conenat0 >/dev/null 2>&1
}

every_type

echo "== bulk TCP, fragments, DF, TCP hairpin, the router's own traffic (full-cone, 2 workers)"
start_daemon --nat-type full-cone --queues 2 || fail "daemon did not start"
dev=$(lab_exec "$LAB_RT" ip -d link show conenat0)
check "the device: the WAN's MTU, a 4096-packet queue, one queue per worker" \
  eval 'grep -q "mtu 1500 .*qlen 4096" <<<"$dev" && grep -q "numqueues 2" <<<"$dev"'
held_syn_start
bulk_tcp_checks
first_packet_checks

fragment_echo_check " (reassembled both ways)"

# RFC 4787 REQ-14: fragments out of order (3-2-1, then 2-3-1) from Y1 to in1's mapping.
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5005 "$LAB_Y1" 5006)
lab_bg "$LAB_IN1" fragsink timeout 6 "$LAB_PY" "$QF" udp-sink "$LAB_IN1_ADDR" 5005 5 2
fragsink=$LAB_BG_PID
wait_for 50 0.05 lab_udp_listening "$LAB_IN1" "$LAB_IN1_ADDR" 5005
lab_exec "$LAB_INET" "$LAB_PY" - "$LAB_Y1" "${x%:*}" "${x#*:}" <<'PY'
import sys
from scapy.all import IP, UDP, Raw, fragment, send, conf
conf.verb = 0
src, dst, dport = sys.argv[1], sys.argv[2], int(sys.argv[3])
for order, ident in (((2, 1, 0), 0x4242), ((1, 2, 0), 0x4343)):
    frags = fragment(IP(src=src, dst=dst, id=ident) / UDP(sport=5006, dport=dport) / Raw(b'Z' * 2560), fragsize=1000)
    for i in order:
        send(frags[i])
PY
wait "$fragsink" 2>/dev/null
check "out-of-order fragments from outside reach in1 whole, twice ($(cat "$LAB_DIR/fragsink.log"))" \
  test "$(cat "$LAB_DIR/fragsink.log")" = "datagrams 2 sizes 2560,2560 intact yes"
reassembled=$(stat datagrams_reassembled)
check "the engine reassembled them ($reassembled datagrams)" test "${reassembled:-0}" -ge 4

tcp_hairpin_check

router_own_traffic_check
router_pmtu_check
held_syn_check
handoffs=$(stat handed_out)
# How many a full ring lost depends on scheduling (TCP recovered them): only that most crossed.
lost=$(stat handoff_full)
check "packets crossed between the two workers ($handoffs hand-offs, ${lost:-?} lost to a full ring)" \
  test "${handoffs:-0}" -gt 0 -a "${lost:-0}" -lt "${handoffs:-0}"
stop_daemon
check "after SIGTERM no table, policy rule, route or device remains" no_kernel_state

echo "== RFC 4787 REQ-13: DF=1 too big for the WAN (the device takes the WAN's MTU at start)"
lab_exec "$LAB_RT" ip link set wan0 mtu 1280
start_daemon --nat-type full-cone || fail "daemon did not start"
lab_exec "$LAB_IN1" ip route flush cache
toobig=$(qf "$LAB_IN1" pmtu-probe "$LAB_IN1_ADDR" "$LAB_Y2" 9998 1400)
check "a 1400-byte DF datagram is answered with 3/4 from the router: '$toobig'" \
  test "$toobig" = "frag-needed mtu=1280 from=$LAB_LAN_GW"
stop_daemon
lab_exec "$LAB_RT" ip link set wan0 mtu 1500

hostile_checks

combination_checks

port_set_checks

quota_check

echo "== --rules manual with examples/nftables-tun.nft"
lab_exec "$LAB_RT" nft -f examples/nftables-tun.nft || fail "the example does not load"
start_daemon --rules manual --nat-type port-restricted-cone --ports 20000-29999 || fail "daemon did not start"
m=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5100 "$LAB_A1" 7000)
check "manual rules: in1 maps to $m, inside 20000-29999" test "${m%:*}" = "$LAB_E1" -a "${m#*:}" -ge 20000 -a "${m#*:}" -le 29999
check "manual rules: ping through the NAT" ping_ok "$LAB_IN1" "$LAB_Y1"
stop_daemon
check "manual rules stay, the daemon's routing is gone" eval \
  'lab_exec "$LAB_RT" nft list table ip conenatd >/dev/null && ! lab_exec "$LAB_RT" ip rule | grep -q fwmark'
lab_exec "$LAB_RT" nft delete table ip conenatd

echo "== restart after kill -9"
start_daemon --nat-type full-cone || fail "daemon did not start"
lab_exec "$LAB_RT" kill -9 "$(cat "$LAB_DIR/conenatd.pid")"
wait "$DAEMON" 2>/dev/null; DAEMON=
start_daemon --nat-type full-cone || fail "daemon did not start over what the killed one left"
m=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5200 "$LAB_A1" 7000)
check "after kill -9 and a restart: in1 maps to $m, one fwmark rule" \
  test -n "$m" -a "$(lab_exec "$LAB_RT" ip rule | grep -c fwmark)" = 1
stop_daemon
check "then SIGTERM leaves nothing behind" no_kernel_state

echo "== bad input (the options are the conntrack engine's; these are the tun engine's own)"
bad --tun-name --tun-name a-name-longer-than-15
bad --queues --queues 0
bad --queues --queues 3 --ports 20000-20001
printed=$(lab_exec "$LAB_RT" "$BIN" --engine tun --nat-type full-cone --external-if wan0 --internal-net 10.0.0.0/24 \
  --external-ip "$LAB_E1" --print-rules 2>/dev/null)
check "--print-rules prints a table nft accepts" eval 'lab_exec "$LAB_RT" nft -c -f - <<<"$printed"'
checks_done tun_engine
