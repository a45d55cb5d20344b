#!/usr/bin/env bash
# Conntrack events only for what the NAT needs (issue 13), in the lab of tests/e2e/lib.sh (see
# its diagram). With the conntrack engine running, flows that are not the NAT's generate no
# conntrack event at all (its table's chains events / events_local: `ct event set 0x0`), seen by
# `conntrack -E` in the router and by the daemon's event counters:
#   - LAN to LAN: in1 10.0.0.2 -> in2 10.1.0.3 (a second --internal-net), routed by the router;
#   - routed, not NATed: in2's 10.2.0.3 (a prefix not given) -> Y1, out of wan0 untranslated;
#   - the router's own: in1 -> the router's LAN address (UDP and ping; input) and the router
#     from E1 -> Y1 (output);
#   - their deletion (`conntrack -D`) sends no DESTROY either.
# The NAT's flows keep their events, but for two kinds: a flow whose first packet made a new
# mapping (queued, sent round with the mark) has no NEW event: the queue thread entered it in
# the table itself (flows_begun); its updates and DESTROY stay. And under endpoint-independent
# filtering (full cone) a new flow on an existing mapping (not queued) has no event at all: the
# engine needs nothing of it (its mapping ends only after a dump shows no flow on it:
# conntrack_release.sh).
# Controls in the same run, with the same watcher: a NAT flow in1 -> Y1 is mapped (Y1 sees E1),
# counted in flows_begun, and deleted gives DESTROY; a NAT flow that Y1 answers keeps its update
# events; the same kinds of flows generate events once conenatd's table is gone (a user's table
# keeps conntrack on), so the watcher would have seen them; and under port-restricted filtering
# the second flow of a mapping (its permit) gives NEW and moves events_new.
#
# With --conntrack-events all (issue 12) the table has no events chains: the same flows give
# events (conntrackd on an HA pair syncs them all).
#
# Root only; exit 77 (skip) otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
e2e_require_root conntrack

lab_exec "$LAB_RT" ip addr add 10.1.0.1/24 dev lan0
lab_exec "$LAB_RT" ip addr add 10.2.0.1/24 dev lan0
lab_exec "$LAB_IN2" ip addr add 10.1.0.3/24 dev eth0
lab_exec "$LAB_IN2" ip addr add 10.2.0.3/24 dev eth0
# The user's firewall: conntrack stays on in the router when conenatd's table is gone.
lab_exec "$LAB_RT" nft add table ip userct
lab_exec "$LAB_RT" nft add chain ip userct seen '{ type filter hook forward priority 0; }'
lab_exec "$LAB_RT" nft add rule ip userct seen ct state new counter

# watch NAME: conntrack -E (NEW, UPDATE and DESTROY) in the router for at most 30 s, to $LAB_DIR/NAME.log;
# sets WATCH. Subscribed once a probe flow's event shows up (bounded).
watch_start() {
  lab_bg "$LAB_RT" "$1" timeout 30 conntrack -E -e NEW,UPDATE,DESTROY
  WATCH=$LAB_BG_PID WATCH_LOG=$LAB_DIR/$1.log
  sleep 0.5
}
watch_stop() { sleep 1; lab_kill "$WATCH"; }
# seen EVENT SPORT: the watcher logged EVENT (NEW / UPDATE / DESTROY) of the flow from source port SPORT.
seen() { grep -F "[$1]" "$WATCH_LOG" | grep -q "sport=$2 "; }
# seen_to EVENT SPORT DST: the same, of the flow to DST.
seen_to() { grep -F "[$1]" "$WATCH_LOG" | grep -q "dst=$3 sport=$2 "; }
# The router's ICMP echo flows from in1 (ping's id is random: any icmp line from in1 to the router).
seen_ping() { grep -F "[NEW]" "$WATCH_LOG" | grep -q "icmp .*src=$LAB_IN1_ADDR dst=$LAB_LAN_GW "; }
# events_new events_destroy events_ignored flows_begun, read together after the daemon's next write.
events() { stat events_new >/dev/null; awk '$1 ~ /^(events_(new|destroy|ignored)|flows_begun)$/ { v[$1] = $2 }
  END { print v["events_new"], v["events_destroy"], v["events_ignored"], v["flows_begun"] }' "$STATS"; }
# not_nat_flows BASE: one of each kind of flow that is not the NAT's, source ports BASE.. BASE+3.
not_nat_flows() {
  local b=$1
  udp_send "$LAB_IN1" "$LAB_IN1_ADDR" "$b" 10.1.0.3 7000        # LAN to LAN (routed)
  udp_send "$LAB_IN2" 10.2.0.3 $((b + 1)) "$LAB_Y1" 7000         # routed, not NATed
  udp_send "$LAB_IN1" "$LAB_IN1_ADDR" $((b + 2)) "$LAB_LAN_GW" 7000 # to the router (input)
  udp_send "$LAB_RT" "$LAB_E1" $((b + 3)) "$LAB_Y1" 7000          # from the router (output)
  lab_exec "$LAB_IN1" ping -c 1 -W 1 "$LAB_LAN_GW" >/dev/null 2>&1
}
delete_flow() { lab_exec "$LAB_RT" conntrack -D -p udp --orig-port-src "$1" >/dev/null 2>&1; }
KINDS=("LAN to LAN" "routed, not NATed" "to the router" "from the router")

echo "== with conenatd: flows that are not the NAT's generate no event; the NAT's flow does"
lab_conntrack_flush
daemon_start --engine conntrack --internal-net 10.1.0.0/24 --nat-type full-cone --resync-interval 3600 || fail "daemon did not start"
check "the table has the events chains" bash -c "ip netns exec $LAB_RT nft list table ip conenatd | grep -q 'chain events_local'"
before=$(events)
watch_start events_on
not_nat_flows 5100
sleep 0.5
lab_exec "$LAB_RT" conntrack -L >"$LAB_DIR/listed" 2>/dev/null
for i in 0 1 2 3; do delete_flow $((5100 + i)); done
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5200 "$LAB_Y1" 7200)
y=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5200 "$LAB_Y2" 7200)
delete_flow 5200
lab_bg "$LAB_INET" echo7201 timeout 10 "$LAB_PY" "$LAB_HELPER" udp-echo "$LAB_Y1" 7201 10
wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 7201
answered=$(lab_exec "$LAB_IN1" timeout 10 "$LAB_PY" "$FLOWS" udp-exchange "$LAB_IN1_ADDR" 5201 "$LAB_Y1" 7201 1)
watch_stop
after=$(events)
for i in 0 1 2 3; do
  check "${KINDS[$i]} (sport $((5100 + i))): the flow is in conntrack" grep -q "sport=$((5100 + i)) " "$LAB_DIR/listed"
  check "${KINDS[$i]} (sport $((5100 + i))): no event, not even DESTROY when deleted" \
    bash -c "! grep -q 'sport=$((5100 + i)) ' '$WATCH_LOG'"
done
check "ping to the router (answered): no event" bash -c "! grep -Eq 'icmp .*src=$LAB_IN1_ADDR dst=$LAB_LAN_GW ' '$WATCH_LOG'"
check "ping to the router: the flow is in conntrack" grep -Eq "icmp .*src=$LAB_IN1_ADDR dst=$LAB_LAN_GW " "$LAB_DIR/listed"
check "control: the NAT flow is mapped (Y1 sees $x from E1)" test "${x%%:*}" = "$LAB_E1"
check "the NAT flow that made the mapping gave no NEW (the queue thread entered it)" eval '! seen_to NEW 5200 "$LAB_Y1"'
check "the same mapping's flow to Y2 ($y, not queued) gave no event, not even DESTROY when deleted (full cone)" \
  eval 'test "$y" = "$x" && ! grep -q "dst=$LAB_Y2 sport=5200 " "$WATCH_LOG"'
check "control: the NAT flow, deleted, gave DESTROY" seen_to DESTROY 5200 "$LAB_Y1"
check "control: a NAT flow answered by Y1 ($answered)" test "$answered" = "from $LAB_Y1:7201"
check "the NAT's flows keep their other events: the answered one gave UPDATE" seen UPDATE 5201
read -r n0 d0 i0 b0 <<<"$before"
read -r n1 d1 i1 b1 <<<"$after"
# A resync (every --resync-interval, 1 h here) would count the dump's entries too.
check "events_new and events_destroy moved by the queued NAT flow's DESTROY only (new $n0 -> $n1, destroy $d0 -> $d1)" \
  test $((n1 - n0)) -eq 0 -a $((d1 - d0)) -eq 1
check "flows_begun moved by the two flows that made mappings ($b0 -> $b1)" test $((b1 - b0)) -eq 2
check "events_ignored did not move: no event of the other flows reached the daemon ($i0 -> $i1)" test "$i1" -eq "$i0"
daemon_stop

echo "== control: port-restricted cone: a second flow of a mapping (its permit) gives NEW"
lab_conntrack_flush
daemon_start --engine conntrack --nat-type port-restricted-cone --resync-interval 3600 || fail "daemon did not start"
before=$(events)
watch_start events_prc
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5250 "$LAB_Y1" 7250)
y=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5250 "$LAB_Y2" 7250)
watch_stop
after=$(events)
read -r n0 d0 i0 b0 <<<"$before"
read -r n1 d1 i1 b1 <<<"$after"
check "port-restricted: the flow to Y2 ($y) has the mapping ($x) and gave NEW" \
  eval 'test "$y" = "$x" && seen_to NEW 5250 "$LAB_Y2" && ! seen_to NEW 5250 "$LAB_Y1"'
check "port-restricted: events_new moved by it ($n0 -> $n1), flows_begun by the first ($b0 -> $b1)" \
  test $((n1 - n0)) -eq 1 -a $((b1 - b0)) -eq 1
daemon_stop

echo "== control: without conenatd's table the same kinds of flows generate events"
lab_conntrack_flush
check "conenatd's table is gone" bash -c "! ip netns exec $LAB_RT nft list table ip conenatd >/dev/null 2>&1"
watch_start events_off
not_nat_flows 5300
sleep 0.5
delete_flow 5300
watch_stop
for i in 0 1 2 3; do
  check "${KINDS[$i]} (sport $((5300 + i))): NEW event" seen NEW $((5300 + i))
done
check "ping to the router: NEW event" seen_ping
check "LAN to LAN, deleted: DESTROY event" seen DESTROY 5300

echo "== --conntrack-events all (issue 12: conntrackd syncs every flow): the same flows DO give events"
lab_conntrack_flush
# The router redirected in1 to in2 (same link) for 10.1.0.3 earlier: forget it, so the LAN to
# LAN flow crosses the router again.
lab_exec "$LAB_IN1" ip route flush cache
daemon_start --engine conntrack --internal-net 10.1.0.0/24 --nat-type full-cone --resync-interval 3600 \
  --conntrack-events all || fail "daemon did not start"
check "the table has no events chains" bash -c "! ip netns exec $LAB_RT nft list table ip conenatd | grep -q 'chain events'"
watch_start events_all
# The NAT flow first: once its NEW is logged the watcher is surely subscribed.
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5500 "$LAB_Y1" 7500)
wait_for 50 0.1 seen NEW 5500
not_nat_flows 5400
sleep 0.5
lab_exec "$LAB_RT" conntrack -L >"$LAB_DIR/listed_all" 2>/dev/null
watch_stop
for i in 0 1 2 3; do
  check "all: ${KINDS[$i]} (sport $((5400 + i))): the flow is in conntrack" grep -q "sport=$((5400 + i)) " "$LAB_DIR/listed_all"
  check "all: ${KINDS[$i]} (sport $((5400 + i))): NEW event" seen NEW $((5400 + i))
done
check "all: ping to the router: NEW event" seen_ping
check "all: the NAT flow is mapped (Y1 sees $x from E1) and gave NEW" eval 'test "${x%%:*}" = "$LAB_E1" && seen NEW 5500'
daemon_stop
out=$(lab_exec "$LAB_RT" "$BIN" --external-if wan0 --internal-net 10.0.0.0/24 --conntrack-events some --print-rules 2>&1)
rc=$?
check "--conntrack-events some: refused (exit $rc), named: $out" \
  eval '[ "$rc" -ne 0 ] && grep -q -- "--conntrack-events: expected nat or all" <<<"$out"'

checks_done conntrack_events
