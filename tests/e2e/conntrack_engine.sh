#!/usr/bin/env bash
# The conntrack engine against the real kernel, in the lab of tests/e2e/lib.sh:
#
#   in1 10.0.0.2 ─┐                                   ┌─ S: coturn / stund on A1 198.51.100.1, A2 .2
#                 ├─ lan0 10.0.0.1 [router: conenatd] wan0 198.51.100.254 ── inet ─┤
#   in2 10.0.0.3 ─┘                                   └─ peers Y1 203.0.113.5, Y2 203.0.113.6
#
# For each NAT type: both classifiers report the configured mapping and filtering; two LAN
# hosts on one source port get distinct external ports and keep EIM; TCP from an outside peer
# reaches a mapping under full cone and not under port-restricted cone; ping works; only first
# packets reach the daemon; SIGTERM leaves no kernel state. Then: kill -9 and restart rebuilds
# the mappings from conntrack without breaking a live flow; a forced event overflow recovers.
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

  # TCP: in1 connects out from one port and listens on it; a peer it never met connects in.
  port=$((port + 1))
  lab_bg "$LAB_INET" "serve$port" timeout 8 "$LAB_PY" "$FLOWS" tcp-serve "$LAB_Y1" 80 8
  wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 80
  lab_bg "$LAB_IN1" "punch$port" timeout 8 "$LAB_PY" "$FLOWS" tcp-punch "$LAB_IN1_ADDR" $port "$LAB_Y1" 80 6
  punch=$LAB_BG_PID
  wait_for 50 0.1 grep -q "outbound" "$LAB_DIR/punch$port.log"
  ext=$(lab_exec "$LAB_RT" nft list map ip conenatd dnat_tcp | grep -o "$LAB_E1 \. [0-9]* : $LAB_IN1_ADDR \. $port" | awk '{print $3}' | head -1)
  r=$(tcp_connect "$LAB_INET" "$LAB_E1" "${ext:-$port}" 3 "$LAB_Y2")
  if [ "$T" = full-cone ]; then
    check "$T: an unseen peer's TCP connection reaches in1 (E1:$ext): $r" test "$r" = connected
  elif [ "$T" = port-restricted-cone ]; then
    check "$T: an unseen peer's TCP connection is refused silently (E1:$ext): $r" test "$r" = timeout
  fi
  lab_kill "$punch" 2

  check "$T: ping from in1 to Y1" ping_ok

  # Only first packets reach userspace: 40 new endpoints x 5 datagrams, all delivered, 40 queued.
  q0=$(stat queued_out)
  lab_bg "$LAB_INET" "count$port" timeout 15 "$LAB_PY" "$FLOWS" udp-count "$LAB_Y2" 9000 12
  counter=$LAB_BG_PID
  sleep 0.3
  lab_exec "$LAB_IN2" "$LAB_PY" "$FLOWS" udp-flows "$LAB_IN2_ADDR" $((30000 + port)) 40 "$LAB_Y2" 9000 5 0.05
  wait "$counter" 2>/dev/null
  got=$(cat "$LAB_DIR/count$port.log")
  q1=$(stat queued_out)
  check "$T: every datagram delivered, first ones included ($got)" test "$got" = "datagrams 200 sources 40 firsts 40"
  check "$T: only the 40 first packets were queued (queued_out $q0 -> $q1)" test $((q1 - q0)) -eq 40

  stop_daemon
  check "$T: after SIGTERM no table and no queue binding remain" no_kernel_state
done

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
start_daemon --nat-type full-cone --event-buffer 4096 || fail "daemon did not start"
lab_exec "$LAB_IN2" "$LAB_PY" "$FLOWS" udp-flows "$LAB_IN2_ADDR" 40000 3000 "$LAB_Y2" 9300 1
sleep 2
lost=$(stat events_lost)
resyncs=$(stat resyncs)
in_map=$(lab_exec "$LAB_RT" nft list map ip conenatd snat_udp | grep -o "$LAB_IN2_ADDR \. [0-9]*" | wc -l)
in_ct=$(lab_exec "$LAB_RT" conntrack -L -p udp -s "$LAB_IN2_ADDR" 2>/dev/null | grep -c "dport=9300")
sessions=$(stat sessions)
check "events were lost ($lost) and resynced ($resyncs resyncs)" test "${lost:-0}" -gt 0 -a "${resyncs:-0}" -gt 1
check "every flow has its mapping ($in_map in the map, $in_ct in conntrack)" test "$in_map" -eq 3000 -a "$in_ct" -eq 3000
check "every flow is tracked after the resync ($sessions sessions)" test "${sessions:-0}" -ge 3000
stop_daemon
check "after SIGTERM no table and no queue binding remain" no_kernel_state

checks_done conntrack_engine
