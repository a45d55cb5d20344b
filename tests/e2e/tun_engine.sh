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
# hairpin, the router's own traffic, a held SYN refused after 6 s, hand-offs between workers;
# the five other mapping x filtering pairs; MAP-E and per-host blocks over two workers; ICMP
# 3/13 from a per-host limit; --rules manual with examples/nftables-tun.nft; restart after
# kill -9; bad input.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
e2e_require_root
lab_up >/dev/null || { echo "FAIL: lab_up"; exit 1; }
lab_trap
source tests/e2e/daemon_lib.sh
source tests/e2e/software_engine_lib.sh
far_up

start_daemon() { daemon_start --engine tun "$@"; }
stop_daemon() { daemon_stop; }
no_kernel_state() {
  [ -z "$(lab_exec "$LAB_RT" nft list tables)" ] &&
    [ "$(lab_exec "$LAB_RT" ip rule | head -n 1)" = "0:	from all lookup local" ] &&
    ! lab_exec "$LAB_RT" ip rule | grep -q fwmark &&
    [ -z "$(lab_exec "$LAB_RT" ip route show table 25454 2>/dev/null)" ] &&
    ! lab_exec "$LAB_RT" ip link show conenat0 >/dev/null 2>&1
}

declare -A QUEUES=([full-cone]=1 [restricted-cone]=2 [port-restricted-cone]=1 [symmetric]=2)
for T in full-cone restricted-cone port-restricted-cone symmetric; do
  Q=${QUEUES[$T]}
  echo "== $T, $Q worker(s)"
  start_daemon --nat-type "$T" --queues "$Q" || { fail "$T: daemon did not start: $(tail -5 "$LAB_DIR/conenatd.log")"; continue; }
  type_checks "$T"
  stop_daemon
  check "$T: after SIGTERM no table, policy rule, route or device remains" no_kernel_state
done

echo "== bulk TCP, fragments, DF, TCP hairpin, the router's own traffic (full-cone, 2 workers)"
start_daemon --nat-type full-cone --queues 2 || fail "daemon did not start"
# RFC 5382 REQ-4: an unsolicited SYN to a port nobody mapped is held 6 s, then answered with
# ICMP port unreachable (its connect() fails as refused). Runs while the rest goes on.
lab_bg "$LAB_INET" held timeout 12 "$LAB_PY" tests/e2e/labtool.py tcp-connect "$LAB_E1" 40000 10 "$LAB_Y2"
held=$LAB_BG_PID
held_since=$SECONDS
lab_bg "$LAB_INET" sink timeout 15 "$LAB_PY" "$QF" tcp-sink "$LAB_Y1" 5001 12
sink=$LAB_BG_PID
wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 5001
sent=$(qf "$LAB_IN1" tcp-source "$LAB_Y1" 5001 50000000)
wait "$sink" 2>/dev/null
got=$(cat "$LAB_DIR/sink.log")
check "50 MB upload arrives intact (${sent#sent }; ${got#received })" test "${sent#sent }" = "${got#received }" -a -n "${sent#sent }"
lab_bg "$LAB_INET" give timeout 15 "$LAB_PY" "$QF" tcp-give "$LAB_Y1" 5002 50000000 12
give=$LAB_BG_PID
wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 5002
got=$(qf "$LAB_IN1" tcp-fetch "$LAB_Y1" 5002 12)
wait "$give" 2>/dev/null
sent=$(cat "$LAB_DIR/give.log")
check "50 MB download arrives intact (${got#received })" test "${sent#sent }" = "${got#received }" -a -n "${got#received }"
gso=$(stat gso_packets); partial=$(stat partial_checksums)
check "GSO super-packets went through the device ($gso GSO packets, $partial partial checksums settled)" \
  test "${gso:-0}" -gt 0 -a "${partial:-0}" -gt 0

lab_bg "$LAB_INET" echo timeout 5 "$LAB_PY" tests/e2e/labtool.py udp-echo "$LAB_Y1" 5004 4
wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 5004
frag=$(lab_exec "$LAB_IN1" "$LAB_PY" - "$LAB_IN1_ADDR" "$LAB_Y1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5004))
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: fragment it
s.settimeout(2)
s.sendto(bytes(range(256)) * 16, (sys.argv[2], 5004))
try:
    data, _ = s.recvfrom(65535)
    print("echo", len(data), "intact" if data == bytes(range(256)) * 16 else "corrupt")
except OSError:
    print("none")
PY
)
check "a fragmented 4 KB datagram goes out and comes back (reassembled both ways): $frag" test "$frag" = "echo 4096 intact"

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

# TCP hairpin: in2 keeps a TCP mapping open (it connected out from port 6300 and listens on it).
lab_bg "$LAB_INET" serve timeout 8 "$LAB_PY" "$FLOWS" tcp-serve "$LAB_Y2" 80 8
wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y2" 80
lab_bg "$LAB_IN2" punch timeout 8 "$LAB_PY" "$FLOWS" tcp-punch "$LAB_IN2_ADDR" 6300 "$LAB_Y2" 80 6
punch=$LAB_BG_PID
wait_for 50 0.1 grep -q outbound "$LAB_DIR/punch.log"
ext=$(grep -o "accepted [0-9.:]*" "$LAB_DIR/serve.log" | head -n 1 | cut -d' ' -f2)
r=$(tcp_connect "$LAB_IN1" "${ext%:*}" "${ext#*:}" 3)
wait_for 20 0.1 grep -q accepted "$LAB_DIR/punch.log"
check "TCP hairpin to in2's $ext: $r, in2 saw $(grep -o 'accepted [0-9.:]*' "$LAB_DIR/punch.log")" \
  test "$r" = connected -a "$(grep -o 'accepted [0-9.]*' "$LAB_DIR/punch.log")" = "accepted $LAB_E1"
lab_kill "$punch" 2

lab_bg "$LAB_INET" own timeout 5 socat -u TCP-LISTEN:81,bind="$LAB_Y1",reuseaddr /dev/null
wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 81
own=$(lab_exec "$LAB_RT" bash -c "echo router | timeout 3 socat -u - TCP:$LAB_Y1:81 && echo ok")
check "the router's own TCP connection and ping are untouched" test "$own" = ok -a "$(ping_ok "$LAB_RT" "$LAB_Y1" && echo ok)" = ok
# The router's own fragmentation-needed about an inbound packet (the LAN link is the narrow
# one now) quotes the translated packet: rerouted into the device, it goes out restored.
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6400 "$LAB_Y1" 6401)
lab_exec "$LAB_RT" ip link set lan0 mtu 1280
pmtu=$(qf "$LAB_INET" pmtu-probe "$LAB_Y1" "${x%:*}" "${x#*:}" 1400)
lab_exec "$LAB_RT" ip link set lan0 mtu 1500
check "the router's fragmentation needed for an inbound packet reaches the sender: '$pmtu'" \
  test "$pmtu" = "frag-needed mtu=1280 from=$LAB_E1"
wait "$held" 2>/dev/null
check "an unsolicited SYN was held, then refused with ICMP 3/3 ($(cat "$LAB_DIR/held.log") after ~$((SECONDS - held_since)) s)" \
  test "$(cat "$LAB_DIR/held.log")" = refused -a $((SECONDS - held_since)) -ge 5
handoffs=$(stat handed_out)
check "packets crossed between the two workers ($handoffs hand-offs, $(stat handoff_full) lost)" \
  test "${handoffs:-0}" -gt 0 -a "$(stat handoff_full)" = 0
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

echo "== the other five mapping x filtering combinations (--mapping, --filtering)"
port=12000
for combo in address-dependent:endpoint-independent address-dependent:address-dependent \
             address-dependent:address-and-port-dependent address-and-port-dependent:endpoint-independent \
             address-and-port-dependent:address-dependent; do
  start_daemon --mapping "${combo%:*}" --filtering "${combo#*:}" --queues 2 ||
    { fail "$combo: daemon did not start"; continue; }
  port=$((port + 10))
  seen=$(probe_behaviour $port)
  check "--mapping ${combo%:*} --filtering ${combo#*:}: $seen" test "$seen" = "mapping=${combo%:*} filtering=${combo#*:}"
  stop_daemon
done

echo "== port sets split between two workers: MAP-E (RFC 7597), per-host blocks (RFC 7422)"
start_daemon --nat-type port-restricted-cone --queues 2 --map-e psid=0x34,psid-len=8,offset=4 || fail "daemon did not start"
round_trips mape
in_set() { [ -n "$1" ] && [ $((($1 >> 4) & 0xff)) -eq $((0x34)) ] && [ $(($1 >> 12)) -ne 0 ]; }
check "MAP-E: both hosts' ports ($p1, $p2) are in the PSID's set, replies came back ($r1; $r2)" \
  eval 'in_set "$p1" && in_set "$p2" && [ "$r1" = "reply from $LAB_Y1:7200" ] && [ "$r2" = "reply from $LAB_Y1:7200" ]'
stop_daemon
start_daemon --nat-type port-restricted-cone --queues 2 --ports 20000-29999 --port-block-size 1000 || fail "daemon did not start"
round_trips blocks
check "blocks: in1 (host 2) maps into 22000-22999 ($p1), in2 into 23000-23999 ($p2), replies came back" \
  eval '[ "${p1:-0}" -ge 22000 ] && [ "${p1:-0}" -le 22999 ] && [ "${p2:-0}" -ge 23000 ] && [ "${p2:-0}" -le 23999 ] &&
        [ "$r1" = "reply from $LAB_Y1:7200" ] && [ "$r2" = "reply from $LAB_Y1:7200" ]'
stop_daemon

echo "== a per-host limit: the refused flow's sender gets ICMP 3/13 (RFC 5508 REQ-8)"
start_daemon --nat-type full-cone --per-host-limit 1 || fail "daemon did not start"
udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5050 "$LAB_A1" 7000 >/dev/null
refused=$(qf "$LAB_IN1" ttl-probe "$LAB_IN1_ADDR" "$LAB_A1" 7000 64)
check "a second mapping for in1 is refused: '$refused'" test "$refused" = "icmp type=3 code=13 from=$LAB_E1"
stop_daemon

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
bad() {
  local name=$1 out rc; shift
  out=$(lab_exec "$LAB_RT" "$BIN" --engine tun --external-if wan0 --internal-net 10.0.0.0/24 --foreground \
          --pid-file "$LAB_DIR/bad.pid" "$@" 2>&1); rc=$?
  check "bad input exits 2 naming $name: $*" eval 'test $rc -eq 2 -a -n "$(grep -- "$name" <<<"$out")" && no_kernel_state'
}
bad --tun-name --tun-name a-name-longer-than-15
bad --queues --queues 0
bad --queues --queues 3 --ports 20000-20001
printed=$(lab_exec "$LAB_RT" "$BIN" --engine tun --nat-type full-cone --external-if wan0 --internal-net 10.0.0.0/24 \
  --external-ip "$LAB_E1" --print-rules 2>/dev/null)
check "--print-rules prints a table nft accepts" eval 'lab_exec "$LAB_RT" nft -c -f - <<<"$printed"'
checks_done tun_engine
