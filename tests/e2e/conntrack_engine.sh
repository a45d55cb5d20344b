#!/usr/bin/env bash
# The conntrack engine against the real kernel, in the lab of tests/e2e/lib.sh:
#
#   in1 10.0.0.2 ─┐                                   ┌─ S: coturn / stund on A1 198.51.100.1, A2 .2
#                 ├─ lan0 10.0.0.1 [router: conenatd] wan0 198.51.100.254 ── inet ─┤
#   in2 10.0.0.3 ─┘                                   └─ peers Y1 203.0.113.5, Y2 203.0.113.6
#
# For each NAT type: both classifiers report the configured mapping and filtering; two LAN
# hosts on one source port get distinct external ports and keep EIM; TCP filtering (an unseen
# peer, a seen address from another port, the permitted endpoint); hairpinning when both LAN
# hosts first send to each other's external endpoint (UDP and TCP, the receiver sees the
# sender's external endpoint); ping works; only first packets reach the daemon; SIGTERM leaves
# no kernel state. Then: first packets of any size up to the MTU; spoofed internal sources on
# the WAN change nothing; a second instance changes nothing of the first one's; two starts
# racing on one pid file; SYN floods from outside (one host, many; held SYNs) leave the LAN's
# connections alone; kill -9 and restart rebuilds the mappings from conntrack without
# breaking a live flow; a forced event overflow recovers.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
start_daemon() { daemon_start --ports 1024-65535 "$@"; }
stop_daemon() { daemon_stop; }
no_kernel_state() {
  [ -z "$(lab_exec "$LAB_RT" nft list tables)" ] &&
    ! lab_exec "$LAB_RT" awk '$1 == 0 || $1 == 1' /proc/net/netfilter/nfnetlink_queue 2>/dev/null | grep -q .
}
ping_ok() { lab_exec "$LAB_IN1" ping -c 2 -W 2 -q "$LAB_Y1" >/dev/null; }
# flows.py in NS, bounded by SECS (its own bound) + 5.
fl() { local ns=$1 secs=$2; shift 2; lab_exec "$ns" timeout $((secs + 5)) "$LAB_PY" "$FLOWS" "$@"; }
# The external endpoint ("E1:port") the dnat map gives INTERNAL ("addr . port") for PROTO.
dnat_of() {
  lab_exec "$LAB_RT" nft list map ip conenatd "dnat_$1" | grep -o "$LAB_E1 \. [0-9]* : $2" | awk '{print $1 ":" $3}' | head -1
}
map_elements() { local m; for m in snat_udp snat_tcp snat_icmp dnat_udp dnat_tcp; do lab_exec "$LAB_RT" nft list map ip conenatd $m; done; }

# TCP filtering (RFC 5382 REQ-3 / RFC 4787 §5) of in1's mapping from port P, made by a
# connection attempt to Y1:81 that Y1 refuses (its conntrack entry then removed, as when a
# connection ends; the permit outlives it): from Y2 (never contacted), from Y1:82 (the
# contacted address, another port), from Y1:81 (the contacted endpoint: always permitted,
# the positive control that the inbound path is live).
tcp_filter_checks() {
  local T=$1 p=$2 punch ext r_y2 r_y1 r_ok want_y2 want_y1
  lab_bg "$LAB_IN1" "punch$p" timeout 14 "$LAB_PY" "$FLOWS" tcp-punch "$LAB_IN1_ADDR" "$p" "$LAB_Y1" 81 12
  punch=$LAB_BG_PID
  wait_for 50 0.1 grep -q "^outbound" "$LAB_DIR/punch$p.log"
  check "$T: in1's SYN to Y1:81 (nobody listens) was answered: $(head -1 "$LAB_DIR/punch$p.log")" \
    grep -q "^outbound failed.*refused" "$LAB_DIR/punch$p.log"
  ext=$(dnat_of tcp "$LAB_IN1_ADDR \\. $p")
  check "$T: in1:$p has a TCP mapping ($ext)" test -n "$ext"
  [ -n "$ext" ] || { lab_kill "$punch" 2; return; }
  lab_exec "$LAB_RT" conntrack -D -p tcp -s "$LAB_IN1_ADDR" --orig-port-src "$p" >/dev/null 2>&1
  r_y2=$(fl "$LAB_INET" 3 tcp-connect "$LAB_Y2" 0 "${ext%:*}" "${ext#*:}" 3 | cut -d' ' -f1)
  r_y1=$(fl "$LAB_INET" 3 tcp-connect "$LAB_Y1" 82 "${ext%:*}" "${ext#*:}" 3 | cut -d' ' -f1)
  r_ok=$(fl "$LAB_INET" 3 tcp-connect "$LAB_Y1" 81 "${ext%:*}" "${ext#*:}" 3 | cut -d' ' -f1)
  case $T in
    full-cone) want_y2=connected want_y1=connected ;;
    restricted-cone) want_y2=timeout want_y1=connected ;;
    *) want_y2=timeout want_y1=timeout ;;
  esac
  check "$T: TCP from Y2 (never contacted) to $ext: $r_y2 (want $want_y2)" test "$r_y2" = "$want_y2"
  check "$T: TCP from Y1:82 (contacted address, other port) to $ext: $r_y1 (want $want_y1)" test "$r_y1" = "$want_y1"
  check "$T: TCP from Y1:81 (the contacted endpoint) to $ext connects (control): $r_ok" test "$r_ok" = connected
  check "$T: in1 accepted what was let in (from its log: $(grep -c accepted "$LAB_DIR/punch$p.log"))" \
    grep -q "accepted $LAB_Y1:81" "$LAB_DIR/punch$p.log"
  lab_kill "$punch" 2
}

# Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8) as ICE does it: in1:P and in2:P+1 learn their
# external endpoints from A1, then each first sends to the other's at the same time.
hairpin_checks() {
  local T=$1 p=$2 x1 x2 h1 h2 own1 own2
  x1=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A1" 7000)
  x2=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" $((p + 1)) "$LAB_A1" 7000)
  lab_bg "$LAB_IN1" "hp1.$p" "$LAB_PY" "$FLOWS" udp-exchange "$LAB_IN1_ADDR" "$p" "${x2%:*}" "${x2#*:}" 2
  h1=$LAB_BG_PID
  lab_bg "$LAB_IN2" "hp2.$p" "$LAB_PY" "$FLOWS" udp-exchange "$LAB_IN2_ADDR" $((p + 1)) "${x1%:*}" "${x1#*:}" 2
  h2=$LAB_BG_PID
  wait "$h1" "$h2" 2>/dev/null
  if [ "$T" = symmetric ]; then
    # APDM: each host's mapping towards the other is a new one, which the other's APDF filter
    # has never seen: nothing gets through (RFC 4787 §4.1); the daemon made those mappings.
    own1=$(lab_exec "$LAB_RT" nft list map ip conenatd snat_udp | grep -c "$LAB_IN1_ADDR \. $p \. ${x2%:*} \. ${x2#*:} :")
    check "$T: UDP hairpin between new APDM mappings is filtered (in1 heard: $(paste -sd' ' "$LAB_DIR/hp1.$p.log"); in2: $(paste -sd' ' "$LAB_DIR/hp2.$p.log"))" \
      test ! -s "$LAB_DIR/hp1.$p.log" -a ! -s "$LAB_DIR/hp2.$p.log"
    check "$T: in1's hairpinned datagrams went through the daemon: its mapping towards $x2 exists (control)" test "$own1" -eq 1
  else
    check "$T: UDP hairpin, both first: in2 heard in1's external endpoint $x1 ($(paste -sd' ' "$LAB_DIR/hp2.$p.log"))" \
      test -n "$x1" -a "$(cat "$LAB_DIR/hp2.$p.log")" = "from $x1"
    check "$T: UDP hairpin, both first: in1 heard in2's external endpoint $x2 ($(paste -sd' ' "$LAB_DIR/hp1.$p.log"))" \
      test -n "$x2" -a "$(cat "$LAB_DIR/hp1.$p.log")" = "from $x2"
  fi

  # TCP: each listens on its port and connects from it to the other's external endpoint, both
  # at once: one side accepts (seeing the other's external endpoint) or both open at once. The
  # endpoints come from a refused connection to Y1:83 from the same port (EIM: the same for all).
  x1=$(tcp_mapped "$LAB_IN1" "$LAB_IN1_ADDR" $((p + 2)))
  x2=$(tcp_mapped "$LAB_IN2" "$LAB_IN2_ADDR" $((p + 3)))
  lab_bg "$LAB_IN1" "th1.$p" "$LAB_PY" "$FLOWS" tcp-meet "$LAB_IN1_ADDR" $((p + 2)) "${x2%:*}" "${x2#*:}" 4
  h1=$LAB_BG_PID
  lab_bg "$LAB_IN2" "th2.$p" "$LAB_PY" "$FLOWS" tcp-meet "$LAB_IN2_ADDR" $((p + 3)) "${x1%:*}" "${x1#*:}" 4
  h2=$LAB_BG_PID
  wait "$h1" "$h2" 2>/dev/null
  if [ "$T" = symmetric ]; then
    own1=$(lab_exec "$LAB_RT" nft list map ip conenatd snat_tcp | grep -c "$LAB_IN1_ADDR \. $((p + 2)) \. ${x2%:*} \. ${x2#*:} :")
    check "$T: TCP hairpin between new APDM mappings is filtered ($(cat "$LAB_DIR/th1.$p.log"), $(cat "$LAB_DIR/th2.$p.log"))" \
      test "$(cat "$LAB_DIR/th1.$p.log" "$LAB_DIR/th2.$p.log")" = "$(printf 'failed\nfailed')"
    check "$T: in1's hairpinned SYNs went through the daemon: its mapping towards $x2 exists (control)" test "$own1" -eq 1
  else
    # What each saw of the other: the peer it accepted, or (its own connect completed) the
    # endpoint the SYN-ACK or the simultaneous SYN came from; either way the sender's external one.
    check "$T: TCP hairpin, both first: in1 met in2 as $x2 ($(cat "$LAB_DIR/th1.$p.log"))" \
      grep -qx "connected peer=$x2\|accepted $x2" "$LAB_DIR/th1.$p.log"
    check "$T: TCP hairpin, both first: in2 met in1 as $x1 ($(cat "$LAB_DIR/th2.$p.log"))" \
      grep -qx "connected peer=$x1\|accepted $x1" "$LAB_DIR/th2.$p.log"
  fi
}
# in NS, a TCP connection attempt from ADDR:P to Y1:83 (refused): prints the mapping's external endpoint.
tcp_mapped() {
  local ns=$1 addr=$2 p=$3
  fl "$ns" 3 tcp-connect "$addr" "$p" "$LAB_Y1" 83 3 >/dev/null
  dnat_of tcp "$addr \\. $p"
}
port=20000
for T in full-cone restricted-cone port-restricted-cone symmetric; do
  echo "== $T"
  lab_conntrack_flush
  start_daemon --nat-type "$T" || { fail "$T: daemon did not start: $(tail -5 "$LAB_DIR/conenatd.log")"; continue; }

  check_classifiers "$T"

  # UDP-3 / UDP-1: one source port on two hosts; each keeps its external port for a new peer.
  port=$((port + 10))
  a1=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" $port "$LAB_A1" 7000)
  a2=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" $port "$LAB_A1" 7000)
  b1=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" $port "$LAB_Y1" 7001)
  b2=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" $port "$LAB_Y1" 7001)
  check "$T: two hosts on port $port get distinct external endpoints ($a1, $a2)" test -n "$a1" -a -n "$a2" -a "$a1" != "$a2"
  if [ "$T" = symmetric ]; then
    check "$T: a new peer gets a new external port ($a1 -> $b1)" test -n "$b1" -a "$a1" != "$b1"
  else
    check "$T: endpoint-independent for both hosts ($a1=$b1, $a2=$b2)" test "$a1" = "$b1" -a "$a2" = "$b2"
  fi
  [ "${a1%%:*}" = "$LAB_E1" ] || fail "$T: mapped address $a1 is not E1"

  tcp_filter_checks "$T" $((port + 1))
  hairpin_checks "$T" $((port + 2))

  check "$T: ping from in1 to Y1" ping_ok

  # Only first packets reach userspace: 40 new endpoints x 5 datagrams, all delivered, each
  # first one queued (more when a second datagram overtakes the first one's verdict: that
  # depends on scheduling); then 40 x 5 more on the same endpoints: none queued.
  q0=$(stat queued_out)
  for round in 1 2; do
    lab_bg "$LAB_INET" "count$port.$round" timeout 15 "$LAB_PY" "$FLOWS" udp-count "$LAB_Y2" 9000 12
    counter=$LAB_BG_PID
    wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y2" 9000
    lab_exec "$LAB_IN2" "$LAB_PY" "$FLOWS" udp-flows "$LAB_IN2_ADDR" $((30000 + port)) 40 "$LAB_Y2" 9000 5 0.05
    wait "$counter" 2>/dev/null
    got=$(cat "$LAB_DIR/count$port.$round.log")
    check "$T: round $round: every datagram delivered, first ones included ($got)" test "$got" = "datagrams 200 sources 40 firsts 40"
    [ $round = 1 ] && q1=$(stat queued_out)
  done
  q2=$(stat queued_out)
  check "$T: each new endpoint's first packet was queued (queued_out $q0 -> $q1)" test $((q1 - q0)) -ge 40
  check "$T: once mapped, no packet of theirs was queued (queued_out $q1 -> $q2)" test "$q2" -eq "$q1"

  stop_daemon
  check "$T: after SIGTERM no table and no queue binding remain" no_kernel_state
done

echo "== first packets of any size up to the MTU (QUIC Initials are >= 1200 bytes, RFC 9000 §14.1)"
lab_conntrack_flush
start_daemon --nat-type port-restricted-cone || fail "daemon did not start"
lab_bg "$LAB_INET" sizes timeout 8 "$LAB_PY" "$FLOWS" udp-recv "$LAB_Y1" 7500 6 9
sizes=$LAB_BG_PID
wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 7500
# Each from a new endpoint, so each size is a first packet: 100 (control), 1200, 1472 (1500 MTU).
fl "$LAB_IN1" 2 udp-sized "$LAB_IN1_ADDR" 7501 "$LAB_Y1" 7500 100 3
fl "$LAB_IN1" 2 udp-sized "$LAB_IN1_ADDR" 7502 "$LAB_Y1" 7500 1200 3
fl "$LAB_IN1" 2 udp-sized "$LAB_IN1_ADDR" 7503 "$LAB_Y1" 7500 1472 3
wait "$sizes" 2>/dev/null
for n in 100 1200 1472; do
  check "3 datagrams of $n bytes, the first one included, arrived from a mapping ($(grep -c " $n\$" "$LAB_DIR/sizes.log"))" \
    test "$(grep " $n\$" "$LAB_DIR/sizes.log" | grep -c "^$LAB_E1:")" -eq 3
done
check "the 1200-byte first datagram made a mapping (in the map: $(dnat_of udp "$LAB_IN1_ADDR \\. 7502"))" \
  test -n "$(dnat_of udp "$LAB_IN1_ADDR \\. 7502")"
check "ping -s 56 from in1 (control)" lab_exec "$LAB_IN1" ping -c 2 -W 2 -q -s 56 "$LAB_Y1"
check "ping -s 1400 from in2 (a new echo identifier: its first request is 1428 bytes)" \
  lab_exec "$LAB_IN2" ping -c 2 -W 2 -q -s 1400 "$LAB_Y1"
stop_daemon

echo "== spoofed internal sources on the WAN create, refresh and remove nothing"
lab_conntrack_flush
lab_exec "$LAB_RT" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.wan0.rp_filter=0 # our rule, not rp_filter
start_daemon --nat-type full-cone || fail "daemon did not start"
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 7600 "$LAB_Y1" 7600)
udp_observe "$LAB_IN1" "$LAB_IN1_ADDR" 7600 4 100
obs=$LAB_BG_PID
maps0=$(map_elements)
# The counters that any state change would move, from one write of the stats file.
snap() { sleep 1.1; awk '$1 ~ /^(mappings|sessions|queued_in|queued_out|events_new)$/' "$STATS" | paste -sd' '; }
before=$(snap)
spoof0=$(awk '$1 == "nft_spoof_drops" { print $2 }' "$STATS")
ct0=$(lab_exec "$LAB_RT" conntrack -L 2>/dev/null | grep -c "src=10\.0\.0\.[0-9]* dst=$LAB_E1 ")
# From the outside, with 10.0.0.x sources, at in1's mapping, at a free port, a SYN, an echo:
# 4 x 10 packets. Under full cone, without the guard, they were taken for hairpin traffic.
lab_exec "$LAB_INET" "$LAB_PY" - "$LAB_E1" "${x#*:}" <<'PY'
import sys
from scapy.all import IP, UDP, TCP, ICMP, send, conf
conf.verb = 0
e1, xp = sys.argv[1], int(sys.argv[2])
pkts = [IP(src="10.0.0.2", dst=e1) / UDP(sport=7600, dport=xp) / b"spoof",
        IP(src="10.0.0.9", dst=e1) / UDP(sport=4444, dport=xp) / b"spoof",
        IP(src="10.0.0.3", dst=e1) / TCP(sport=4445, dport=xp, flags="S"),
        IP(src="10.0.0.3", dst=e1) / UDP(sport=4446, dport=25001) / b"spoof"]
send(pkts * 10, inter=0.01)
PY
seen=$(udp_seen "$obs")
maps1=$(map_elements)
after=$(snap)
spoof1=$(awk '$1 == "nft_spoof_drops" { print $2 }' "$STATS")
ct1=$(lab_exec "$LAB_RT" conntrack -L 2>/dev/null | grep -c "src=10\.0\.0\.[0-9]* dst=$LAB_E1 ")
check "in1 received none of them (${seen:-nothing})" test -z "$seen"
check "the maps did not change" test "$maps0" = "$maps1"
check "mappings, sessions, queued_in, queued_out, events_new unchanged ($before -> $after)" test "$before" = "$after"
check "no conntrack entry from an internal source to E1 ($ct0 -> $ct1)" test "$ct0" -eq 0 -a "$ct1" -eq 0
check "the kernel rule counted the 40 drops ($spoof0 -> $spoof1)" test $((spoof1 - spoof0)) -ge 40
# Control: a real LAN packet does create a mapping.
y=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 7601 "$LAB_Y1" 7600)
check "control: a datagram from in1 itself creates a mapping ($y; mappings $(stat mappings))" \
  test -n "$y" -a -n "$(dnat_of udp "$LAB_IN1_ADDR \\. 7601")"
stop_daemon

echo "== a second instance (another pid file) changes nothing of the running one's"
lab_conntrack_flush
start_daemon --nat-type port-restricted-cone || fail "daemon did not start"
m1=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 7700 "$LAB_Y1" 7700)
second() { lab_exec "$LAB_RT" timeout 10 "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --external-ip "$LAB_E1" \
  --ports 20000-29999 --foreground --pid-file "$LAB_DIR/second.pid" --control-socket "$LAB_DIR/second.sock" "$@" 2>&1; }
has() { grep -q -- "$1" <<<"$2"; }
for engine in conntrack queue tun; do
  out=$(second --engine $engine); rc=$?
  check "a second instance (--engine $engine) exits non-zero ($rc)" test $rc -ne 0
  check "... naming the first one: $out" has "another conenatd (pid $DAEMON)" "$out"
done
# Another table name passes the instance lock, but the queues are the first one's.
out=$(second --table other); rc=$?
check "with another table the queues are taken: exit $rc" test $rc -ne 0
check "... it says so: $out" has "NFQUEUE 0: bound by another process" "$out"
check "... and it installed nothing (tables: $(lab_exec "$LAB_RT" nft list tables | paste -sd' '))" \
  test "$(lab_exec "$LAB_RT" nft list tables)" = "table ip conenatd"
check "the first instance still runs" lab_alive "$DAEMON"
m2=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 7700 "$LAB_Y2" 7700)
check "its mapping still holds, EIM ($m1 = $m2)" test -n "$m1" -a "$m1" = "$m2"
m3=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" 7701 "$LAB_Y1" 7700)
check "control: it still makes new mappings ($m3, in its map: $(dnat_of udp "$LAB_IN2_ADDR \\. 7701"))" \
  test -n "$m3" -a -n "$(dnat_of udp "$LAB_IN2_ADDR \\. 7701")"
stop_daemon

echo "== two starts racing on one pid file while its owner stops: exactly one runs"
# B opens the pid file while A holds it and (strace: 3 s delay) locks it only after A has
# unlinked it and C has created and locked a new one. B and C run in two network namespaces,
# so only the pid file stands between them.
RACE=${LAB_PREFIX}race
ip netns add "$RACE" && echo "$RACE" >>"$LAB_DIR/namespaces"
ip -n "$RACE" link add wan0 type veth peer name wanx && ip -n "$RACE" addr add 192.0.2.1/24 dev wan0
ip -n "$RACE" link set wanx up && ip -n "$RACE" link set wan0 up
lab_conntrack_flush
start_daemon --nat-type full-cone || fail "daemon did not start"
a=$DAEMON
PIDF=$LAB_DIR/conenatd.pid
lab_bg "$LAB_RT" raceB strace -o /dev/null -e trace=flock -e inject=flock:delay_enter=3000000 \
  "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --external-ip "$LAB_E1" --foreground --pid-file "$PIDF" --control-socket "$LAB_DIR/race.sock"
tracer=$LAB_BG_PID
wait_for 50 0.05 pgrep -P "$tracer"
b=$(pgrep -P "$tracer")
sleep 0.3 # B has opened the pid file and waits before its flock
daemon_stop
lab_bg "$RACE" raceC "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --external-ip 192.0.2.1 --foreground --pid-file "$PIDF" --control-socket "$LAB_DIR/raceC.sock"
c=$LAB_BG_PID
sleep 7 # B's flock has run (and a second one, after a retry)
nb=0; lab_alive "${b:-0}" && nb=1
nc=0; lab_alive "$c" && nc=1
check "exactly one of B ($b: $nb) and C ($c: $nc) runs" test $((nb + nc)) -eq 1
check "the other one said 'already running' ($(cat "$LAB_DIR/raceB.log" "$LAB_DIR/raceC.log" | grep -o 'already running[^,]*' | head -1))" \
  bash -c "cat $LAB_DIR/raceB.log $LAB_DIR/raceC.log | grep -q 'already running'"
check "the pid file names the one that runs ($(cat "$PIDF" 2>/dev/null))" \
  bash -c "p=\$(cat $PIDF); [ \$p = $c -a $nc = 1 ] || [ \$p = ${b:-0} -a $nb = 1 ]"
[ -n "$b" ] && lab_kill "$b" 5
lab_kill "$c" 5
lab_kill "$tracer" 2

echo "== SYN floods from outside: the LAN's own connections unaffected, the excess counted"
lab_conntrack_flush
start_daemon --nat-type full-cone || fail "daemon did not start"
lab_bg "$LAB_INET" serve80 timeout 60 "$LAB_PY" "$FLOWS" tcp-serve "$LAB_Y1" 80 55
wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 80
x=$(tcp_mapped "$LAB_IN1" "$LAB_IN1_ADDR" 7800)
check "in1:7800 has a full-cone TCP mapping ($x)" test -n "$x"
lim0=$(stat drop_inbound_limit)
# 1: one outside host, a new source port per SYN (hping3 counts its source port up), 3000 SYNs.
lab_bg "$LAB_INET" flood1 timeout 10 hping3 -q -S -a "$LAB_Y2" -p "${x#*:}" -c 3000 -i u1000 "${x%:*}"
flood=$LAB_BG_PID
r=$(fl "$LAB_IN2" 40 tcp-many "$LAB_IN2_ADDR" "$LAB_Y1" 80 100 40)
wait "$flood" 2>/dev/null
lim1=$(stat drop_inbound_limit)
check "during a flood from one host's ports: in2's 100 new connections: $r" test "$r" = "connected 100 of 100"
check "the flood's flows past the per-remote bound were counted (drop_inbound_limit $lim0 -> $lim1)" \
  test "${lim1:-0}" -gt "${lim0:-0}"
check "the table stayed consistent ($(stat table_consistency_errors) errors)" test "$(stat table_consistency_errors)" = 0
# 2: 2000 SYNs from random sources in 203.0.113.0/24, random ports (past the per-mapping bound).
cat >"$LAB_DIR/flood2.py" <<'PY'
import random, sys
from scapy.all import IP, TCP, send, conf
conf.verb = 0
rnd = random.Random(7)
pkts = [IP(src=f"203.0.113.{rnd.randrange(10, 250)}", dst=sys.argv[1]) /
        TCP(sport=rnd.randrange(1024, 65535), dport=int(sys.argv[2]), flags="S", seq=rnd.randrange(1 << 32))
        for _ in range(2000)]
print("sending", flush=True)
send(pkts, inter=0.001)
PY
lab_bg "$LAB_INET" flood2 timeout 30 "$LAB_PY" "$LAB_DIR/flood2.py" "${x%:*}" "${x#*:}"
flood=$LAB_BG_PID
wait_for 100 0.1 grep -q sending "$LAB_DIR/flood2.log"
r=$(fl "$LAB_IN2" 40 tcp-many "$LAB_IN2_ADDR" "$LAB_Y1" 80 100 40)
wait "$flood" 2>/dev/null
lim2=$(stat drop_inbound_limit)
check "during a flood from 240 outside addresses: in2's 100 new connections: $r" test "$r" = "connected 100 of 100"
check "the flood's flows past the per-mapping bound were counted (drop_inbound_limit $lim1 -> $lim2)" \
  test "${lim2:-0}" -gt "${lim1:-0}"
# 3: held SYNs (RFC 5382 REQ-4) from one host are bounded: 300 SYNs to a port nobody mapped.
h0=$(stat syn_holds); s0=$(stat drop_syn_hold_source)
timeout 10 ip netns exec "$LAB_INET" hping3 -q -S -a "$LAB_Y2" -p 45000 -c 300 -i u2000 "$LAB_E1" >/dev/null 2>&1
h1=$(stat syn_holds); s1=$(stat drop_syn_hold_source)
check "one host held at most 8 SYNs (syn_holds $h0 -> $h1), its others counted (drop_syn_hold_source $s0 -> $s1)" \
  test $((h1 - h0)) -le 8 -a "${s1:-0}" -gt "${s0:-0}"
r=$(fl "$LAB_INET" 2 tcp-connect "$LAB_Y1" 0 "$LAB_E1" 45001 1)
h2=$(stat syn_holds)
check "control: another host's unsolicited SYN is still held (syn_holds $h1 -> $h2, its connect: $r)" test $((h2 - h1)) -eq 1
stop_daemon

echo "== kill -9, restart: mappings rebuilt from conntrack, live flow unbroken"
lab_conntrack_flush
start_daemon --nat-type port-restricted-cone || fail "daemon did not start"
lab_bg "$LAB_INET" watch timeout 12 "$LAB_PY" "$FLOWS" udp-watch "$LAB_Y1" 9100 9
watch=$LAB_BG_PID
sleep 0.3
lab_bg "$LAB_IN1" stream timeout 12 "$LAB_PY" "$FLOWS" udp-stream "$LAB_IN1_ADDR" 7100 "$LAB_Y1" 9100 8 0.05
sleep 2
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null; DAEMON=
sleep 1
start_daemon --nat-type port-restricted-cone || fail "daemon did not restart"
wait "$watch" 2>/dev/null
seen=$(cat "$LAB_DIR/watch.log")
n_sources=$(grep -c . <<<"$seen")
n_packets=$(awk '{s += $2} END {print s + 0}' <<<"$seen")
check "the stream kept one external endpoint through kill -9 and restart ($seen)" test "$n_sources" -eq 1 -a "$n_packets" -ge 140
adopted=$(lab_exec "$LAB_RT" nft list map ip conenatd snat_udp | grep -c "$LAB_IN1_ADDR \. 7100 ")
check "the restarted daemon rebuilt the stream's mapping from conntrack" test "$adopted" -eq 1
b=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 7100 "$LAB_Y2" 9200)
check "the rebuilt mapping keeps EIM for a new peer (${seen%% *} vs $b)" test "$b" = "${seen%% *}"
stop_daemon

echo "== forced event overflow: lost events are recovered by a resync"
lab_conntrack_flush
start_daemon --nat-type port-restricted-cone --event-buffer 4096 || fail "daemon did not start"
# The flows that make the 3000 mappings give no NEW event (the queue thread enters them); 3000
# more flows of the same mappings to another port do, all at once (port-restricted: each is a
# permit; under full cone they would give none).
lab_exec "$LAB_IN2" "$LAB_PY" "$FLOWS" udp-flows "$LAB_IN2_ADDR" 40000 3000 "$LAB_Y2" 9300 1
lab_exec "$LAB_IN2" "$LAB_PY" "$FLOWS" udp-flows "$LAB_IN2_ADDR" 40000 3000 "$LAB_Y2" 9301 1
sleep 2
lost=$(stat events_lost)
resyncs=$(stat resyncs)
in_map=$(lab_exec "$LAB_RT" nft list map ip conenatd snat_udp | grep -o "$LAB_IN2_ADDR \. [0-9]*" | wc -l)
in_ct=$(lab_exec "$LAB_RT" conntrack -L -p udp -s "$LAB_IN2_ADDR" 2>/dev/null | grep -c "dport=930[01]")
sessions=$(stat sessions)
check "events were lost ($lost) and resynced ($resyncs resyncs)" test "${lost:-0}" -gt 0 -a "${resyncs:-0}" -gt 1
check "every flow has its mapping ($in_map in the map, $in_ct in conntrack)" test "$in_map" -eq 3000 -a "$in_ct" -eq 6000
check "every flow is tracked after the resync ($sessions sessions)" test "${sessions:-0}" -ge 6000
stop_daemon
check "after SIGTERM no table and no queue binding remain" no_kernel_state

checks_done conntrack_engine
