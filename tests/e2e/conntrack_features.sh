#!/usr/bin/env bash
# More of the conntrack engine, in the lab of tests/e2e/lib.sh (see its diagram): hairpinning
# with external source endpoints; an unsolicited inbound first packet delivered under filtering;
# MAP-E port sets; a mapping x filtering combination beyond the named types; --rules manual with
# the rule sets of examples/; coexistence with another conntrack listener and the rest of the
# firewall; spoofed internal sources dropped by the example rules; a held SYN refused after
# >= 6 s; ICMP 3/13 for a host over its limit; the daemon
# detaching from the terminal.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
ENGINE=conntrack
source tests/e2e/software_engine_lib.sh # start_daemon, stop_daemon and the checks shared below

echo "== hairpinning (UDP-9): in1 reaches in2 through its external endpoint, seen as in1's external one"
lab_conntrack_flush
start_daemon --nat-type full-cone --ports 20000-29999 || fail "daemon did not start"
x2=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" 6000 "$LAB_A1" 7000)
x1=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_A1" 7000)
udp_observe "$LAB_IN2" "$LAB_IN2_ADDR" 6000 3 1
obs=$LAB_BG_PID
udp_send "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "${x2%%:*}" "${x2##*:}"
seen=$(udp_seen "$obs" | head -1)
check "in2 got in1's datagram from in1's external endpoint ($seen = $x1)" test -n "$seen" -a "$seen" = "$x1"
# RFC 6888 §4 (CGN-log): one line per mapping: protocol, subscriber, external address and port.
check "the mapping of in1:5000 is logged once" \
  test "$(grep -c "mapping created: udp $LAB_IN1_ADDR:5000 -> $x1\$" "$LAB_DIR/conenatd.log")" -eq 1

echo "== coexistence: another conntrack -E listener still gets events; conntrack -L shows the flows"
# in1:5000's mapping exists (above): a new flow from outside through it (full cone) gives NEW.
lab_bg "$LAB_RT" ctevents timeout 4 conntrack -E -e NEW -p udp
sleep 0.5
udp_send "$LAB_INET" "$LAB_Y1" 7100 "${x1%%:*}" "${x1##*:}"
sleep 1
check "conntrack -E saw the new flow" grep -q "sport=7100 dport=${x1##*:}" "$LAB_DIR/ctevents.log"
check "conntrack -L lists it, translated" bash -c "ip netns exec $LAB_RT conntrack -L -p udp 2>/dev/null | grep 'dport=7100' | grep -q 'dst=$LAB_E1'"
stop_daemon

echo "== unsolicited inbound first packet under restricted cone (ADF): delivered, queued once"
lab_conntrack_flush
start_daemon --nat-type restricted-cone || fail "daemon did not start"
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5200 "$LAB_Y1" 7200)
q0=$(stat queued_in)
udp_observe "$LAB_IN1" "$LAB_IN1_ADDR" 5200 3 5
obs=$LAB_BG_PID
lab_exec "$LAB_INET" "$LAB_PY" "$FLOWS" udp-flows "$LAB_Y1" 7300 1 "${x%%:*}" "${x##*:}" 5 0.05
got=$(udp_seen "$obs" | grep -c "$LAB_Y1:7300")
q1=$(stat queued_in)
check "all 5 datagrams from Y1's other port arrived, first included ($got)" test "$got" -eq 5
check "its first packet went through the daemon (queued_in $q0 -> $q1)" test $((q1 - q0)) -ge 1
# How many of the 5 were queued depends on scheduling (one may overtake the first verdict);
# that none of 5 more is, once the flow exists, does not.
udp_observe "$LAB_IN1" "$LAB_IN1_ADDR" 5200 3 5
obs=$LAB_BG_PID
lab_exec "$LAB_INET" "$LAB_PY" "$FLOWS" udp-flows "$LAB_Y1" 7300 1 "${x%%:*}" "${x##*:}" 5 0.05
got=$(udp_seen "$obs" | grep -c "$LAB_Y1:7300")
q2=$(stat queued_in)
check "5 more arrived ($got), none of them queued (queued_in $q1 -> $q2)" test "$got" -eq 5 -a "$q2" -eq "$q1"
udp_observe "$LAB_IN1" "$LAB_IN1_ADDR" 5200 2 1
obs=$LAB_BG_PID
udp_send "$LAB_INET" "$LAB_Y2" 7300 "${x%%:*}" "${x##*:}"
check "a datagram from Y2 (never contacted) is filtered (the same path let Y1's in above)" test -z "$(udp_seen "$obs")"
stop_daemon

echo "== MAP-E port set (RFC 7597): v6 plus a=4 k=8 PSID 44, every external port in the set"
lab_conntrack_flush
start_daemon --nat-type full-cone --map-e psid=44,psid-len=8,offset=4 || fail "daemon did not start"
lab_bg "$LAB_INET" mapewatch timeout 6 "$LAB_PY" "$FLOWS" udp-watch "$LAB_Y1" 7400 4
w=$LAB_BG_PID
sleep 0.3
lab_exec "$LAB_IN1" "$LAB_PY" "$FLOWS" udp-flows "$LAB_IN1_ADDR" 30000 60 "$LAB_Y1" 7400 1
wait "$w" 2>/dev/null
ports=$(awk '{split($1, a, ":"); print a[2]}' "$LAB_DIR/mapewatch.log")
n=$(grep -c . <<<"$ports")
bad=$(for p in $ports; do [ $(((p >> 4) & 255)) -eq 44 ] && [ $((p >> 12)) -ne 0 ] || echo "$p"; done)
check "60 flows, 60 external ports, all with PSID 44 and A != 0 ($n; outside: ${bad:-none})" test "$n" -eq 60 -a -z "$bad"
stop_daemon

echo "== address-dependent mapping + endpoint-independent filtering (one of the 9 combinations)"
lab_conntrack_flush
start_daemon --mapping address-dependent --filtering endpoint-independent || fail "daemon did not start"
lab_start_stun >/dev/null
nd=$(classify_natdiscovery "$LAB_IN1")
check "natdiscovery says '$nd'" test "$nd" = "mapping=address-dependent filtering=endpoint-independent"
lab_kill "$LAB_STUN_PID"
stop_daemon

echo "== --rules manual with examples/nftables-conntrack.nft + examples/iptables-conntrack.sh"
lab_conntrack_flush
lab_exec "$LAB_RT" iptables -A FORWARD -p udp --dport 9 -j DROP # the router's own firewall
lab_exec "$LAB_RT" nft -f examples/nftables-conntrack.nft
lab_exec "$LAB_RT" sh examples/iptables-conntrack.sh
start_daemon --rules manual --nat-type port-restricted-cone --ports 20000-29999 || fail "daemon did not start"
lab_start_stun >/dev/null
nd=$(classify_natdiscovery "$LAB_IN1")
check "with the example rules natdiscovery says '$nd'" test "$nd" = "mapping=endpoint-independent filtering=address-and-port-dependent"
lab_kill "$LAB_STUN_PID"
# The example rules drop spoofed internal sources arriving on the WAN too (the classifier above
# proved the inbound path live): no mapping, nothing queued, the drops counted.
sleep 1.1
before=$(awk '$1 ~ /^(mappings|queued_in|queued_out)$/' "$STATS" | paste -sd' ')
lab_exec "$LAB_INET" "$LAB_PY" - "$LAB_E1" <<'PY'
import sys
from scapy.all import IP, UDP, send, conf
conf.verb = 0
send([IP(src="10.0.0.9", dst=sys.argv[1]) / UDP(sport=4444 + i, dport=20000 + i) / b"spoof" for i in range(10)], inter=0.01)
PY
sleep 1.1
after=$(awk '$1 ~ /^(mappings|queued_in|queued_out)$/' "$STATS" | paste -sd' ')
drops=$(( $(awk '$1 == "nft_spoof_drops" { print $2 }' "$STATS") + \
  $(lab_exec "$LAB_RT" iptables -t raw -L PREROUTING -v -x -n | awk '$3 == "DROP" { s += $1 } END { print s + 0 }') ))
check "example rules: 10 spoofed datagrams changed nothing ($before -> $after)" test "$before" = "$after"
check "example rules: their drops were counted ($drops)" test "$drops" -ge 10
stop_daemon
check "--rules manual leaves the user's table in place" lab_exec "$LAB_RT" nft list table ip conenatd
check "the router's own firewall rule is untouched" bash -c "ip netns exec $LAB_RT iptables -S FORWARD | grep -q 'dport 9 -j DROP'"
lab_exec "$LAB_RT" nft delete table ip conenatd
lab_exec "$LAB_RT" iptables -t nat -F
lab_exec "$LAB_RT" iptables -t raw -F

echo "== an unsolicited SYN held 6 s, then refused with ICMP 3/3 (RFC 5382 REQ-4)"
lab_conntrack_flush
start_daemon --nat-type full-cone || fail "daemon did not start"
# Measured by the client itself (monotonic clock, ms): at least 6 s between its SYN and the refusal.
r=$(lab_exec "$LAB_INET" timeout 15 "$LAB_PY" "$FLOWS" tcp-connect "$LAB_Y2" 0 "$LAB_E1" 20000 10)
check "an unsolicited SYN was held, then refused with ICMP 3/3 after >= 6 s ($r s)" \
  awk -v r="$r" 'BEGIN { split(r, a, " "); exit !(a[1] == "refused" && a[2] >= 6.0) }'
expired=$(stat syn_hold_expired | head -1)
check "... the daemon counted it held and expired (syn_hold_expired $expired)" test "${expired:-0}" -ge 1
stop_daemon
lab_conntrack_flush
quota_check

echo "== detaching: without --foreground the daemon forks, the parent exits 0 once it is up"
lab_exec "$LAB_RT" "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --external-ip "$LAB_E1" \
  --pid-file "$LAB_DIR/bg.pid" --control-socket "$LAB_DIR/bg.sock" --stats-file "$STATS"
rc=$?
pid=$(cat "$LAB_DIR/bg.pid" 2>/dev/null)
check "the parent exited 0 ($rc) and the daemon (pid $pid) runs with its table" \
  bash -c "[ $rc -eq 0 ] && kill -0 ${pid:-0} && ip netns exec $LAB_RT nft list table ip conenatd >/dev/null"
[ -n "$pid" ] && kill -TERM "$pid"
# (Reparented to this container's init, it may linger as a zombie: judge by its table and pid file.)
check "SIGTERM stopped it and removed its table and pid file" \
  wait_for 50 0.1 bash -c "! ip netns exec $LAB_RT nft list table ip conenatd 2>/dev/null && [ ! -e $LAB_DIR/bg.pid ]"

checks_done conntrack_features
