#!/usr/bin/env bash
# Issue 12: two routers, one cone. keepalived (VRRP) and conntrackd (FTFW) for real, conenatd
# (conntrack engine) on both routers with examples/ha/'s configuration; router A fails (its LAN
# and WAN links go down, or its keepalived stops: argument FAILURE), B takes over, then A comes
# back and takes over again. Each time:
# traffic flows through the new primary, the UDP stream keeps its external endpoint, the TCP
# connection lives on, a NEW flow from the same internal endpoint to a NEW peer gets the same
# external endpoint (also for a mapping idle at the failover: port-secret's keyed port choice),
# and a new outside peer reaches it (full cone) or is refused
# (port-restricted cone; argument NAT_TYPE), each refusal beside its positive control; the
# permit of a synced flow works on B once its kernel flow is gone; both classifiers agree.
#
#   ns lan: host 10.0.0.2 ── br-lan ─┬─ lan0 A 10.0.0.252 ┐ sync0 10.255.0.1    VIPs (keepalived):
#           default via 10.0.0.1     │                     ├ sync link (VRRP,    10.0.0.1 on lan0
#                                    └─ lan0 B 10.0.0.253 ┘ conntrackd) .2      198.51.100.254 on wan0
#   ns inet: A1 198.51.100.1, A2 .2, ── br-wan ─┬─ wan0 A 198.51.100.252        (= conenatd's
#     R .9, Y1 203.0.113.5, Y2 .6               └─ wan0 B 198.51.100.251         external-ip)
#   (br-lan and br-wan: one switch namespace)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/e2e/lib.sh
source tests/e2e/check_lib.sh
pass() { echo "ok: $(date +%T.%N | cut -c1-12) $*"; } # timed: the logs of a failure line up
fail() { echo "FAIL: $(date +%T.%N | cut -c1-12) $*"; failures=$((failures + 1)); }
e2e_require_root nft conntrack "$LAB_PY" ss turnserver turnutils_natdiscovery stun stund
for t in keepalived conntrackd; do
  command -v "$t" >/dev/null || { echo "skipped: $t is missing (Debian package $t; scripts/deps.sh test installs it)"; exit 77; }
done
NAT_TYPE=${1:-full-cone}
# How router A fails: links (its LAN and WAN links go down: keepalived's FAULT; they come back
# for the fail back) or keepalived (it stops; started again for the fail back).
FAILURE=${2:-links}
case $NAT_TYPE/$FAILURE in
  full-cone/links | full-cone/keepalived | port-restricted-cone/links | port-restricted-cone/keepalived) ;;
  *) echo "usage: $0 [full-cone|port-restricted-cone [links|keepalived]]"; exit 2 ;;
esac
BUILD=${BUILD:-build}
BIN=$BUILD/conenatd
CTL=$BUILD/conenatctl
e2e_built "$BIN" "$CTL"
SRC=$(pwd)
EX=$SRC/examples/ha
TRAFFIC=$SRC/tests/e2e/ha_traffic.py
VIP=198.51.100.254
HOST=10.0.0.2
HOST_PORT=5000

# ---------------------------------------------------------------- the lab
P=cnha${BASHPID}x$RANDOM-
LAN=${P}lan SW=${P}sw RA=${P}ra RB=${P}rb
LAB_INET=${P}inet LAB_IN1=$LAN
LAB_DIR=$(mktemp -d "/tmp/conenat-ha.${P}XXXX")
export LAB_DIR LAB_INET LAB_IN1
: >"$LAB_DIR/pids"
lab_trap
# HA_KEEP_LOGS=DIR: every log of the run is copied there at the end (the lab's dir goes).
trap '[ -n "${HA_KEEP_LOGS:-}" ] && mkdir -p "$HA_KEEP_LOGS" && cp "$LAB_DIR"/*.log "$LAB_DIR"/*.conf "$HA_KEEP_LOGS"/ 2>/dev/null; lab_down' EXIT
lab_namespaces "$LAN" "$SW" "$RA" "$RB" "$LAB_INET" || { echo "FAIL: cannot create the namespaces"; exit 1; }
lab_exec "$SW" sh -c 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables' 2>/dev/null || true
for br in br-lan br-wan; do ip -n "$SW" link add "$br" type bridge; ip -n "$SW" link set "$br" up; done
ip -n "$LAN" link add eth0 type veth peer name p-lan netns "$SW"
ip -n "$LAB_INET" link add eth0 type veth peer name p-inet netns "$SW"
ip -n "$RA" link add lan0 type veth peer name p-ra-lan netns "$SW"
ip -n "$RA" link add wan0 type veth peer name p-ra-wan netns "$SW"
ip -n "$RB" link add lan0 type veth peer name p-rb-lan netns "$SW"
ip -n "$RB" link add wan0 type veth peer name p-rb-wan netns "$SW"
ip -n "$RA" link add sync0 type veth peer name sync0 netns "$RB"
for p in p-lan p-ra-lan p-rb-lan; do ip -n "$SW" link set "$p" master br-lan up; done
for p in p-inet p-ra-wan p-rb-wan; do ip -n "$SW" link set "$p" master br-wan up; done
router() { # NS LAN_ADDR WAN_ADDR SYNC_ADDR
  ip -n "$1" addr add "$2/24" dev lan0
  ip -n "$1" addr add "$3/24" dev wan0
  ip -n "$1" addr add "$4/24" dev sync0
  local l; for l in lan0 wan0 sync0; do ip -n "$1" link set "$l" up; done
  ip -n "$1" route add default via "$LAB_R" dev wan0
  lab_exec "$1" sysctl -qw net.ipv4.ip_forward=1
  # What each router forwards of the host's UDP stream: which one carries it.
  lab_exec "$1" nft -f - <<EOF
table ip hatest {
  chain carried {
    type filter hook forward priority 0;
    ip saddr $HOST udp sport $HOST_PORT counter
  }
}
EOF
}
router "$RA" 10.0.0.252 198.51.100.252 10.255.0.1
router "$RB" 10.0.0.253 198.51.100.251 10.255.0.2
ip -n "$LAN" addr add "$HOST/24" dev eth0
ip -n "$LAN" link set eth0 up
ip -n "$LAN" route add default via 10.0.0.1
for a in "$LAB_A1/24" "$LAB_A2/24" "$LAB_R/24" "$LAB_Y1/32" "$LAB_Y2/32"; do ip -n "$LAB_INET" addr add "$a" dev eth0; done
ip -n "$LAB_INET" link set eth0 up
if ! wait_for 50 0.1 lab_exec "$RA" ping -c1 -W1 10.255.0.2 || ! wait_for 50 0.1 lab_exec "$RB" ping -c1 -W1 "$LAB_R" ||
   ! wait_for 50 0.1 lab_exec "$LAN" ping -c1 -W1 10.0.0.253; then
  echo "FAIL: the lab's links did not come up"; exit 1
fi

# ---------------------------------------------------------------- the HA pair, from examples/ha/
# Router A's file: the "# B: ..." notes dropped; router B's: each such line replaced by its note.
conf_of() { # ROLE FILE
  if [ "$1" = a ]; then sed -E 's/[[:space:]]*# B: .*$//' "$2"; else sed -E 's/^([[:space:]]*)[^#]*# B: (.*)$/\1\2/' "$2"; fi
}
declare -A NS=([a]=$RA [b]=$RB) KEEPALIVED # every PID is in the lab's list too (lab_down ends them)
for r in a b; do
  { conf_of "$r" "$EX/conntrackd.conf" |
      sed -e "s#/var/lock/conntrackd.lock#$LAB_DIR/ctd-$r.lock#" -e "s#/var/run/conntrackd.ctl#$LAB_DIR/ctd-$r.ctl#" \
          -e "s#Syslog on#Syslog off\n\tLogFile $LAB_DIR/ctd-$r.file.log#"; } >"$LAB_DIR/ctd-$r.conf"
  conf_of "$r" "$EX/keepalived.conf" |
    sed -E "s#\"/etc/conenatd/conenat-ha-notify.sh ([a-z]+)\"#\"$EX/conenat-ha-notify.sh \1 $LAB_DIR/ctd-$r.conf $LAB_DIR/notify-$r.log\"#" \
    >"$LAB_DIR/keepalived-$r.conf"
  sed -e "s/^nat-type = .*/nat-type = $NAT_TYPE/" "$EX/conenatd.conf" >"$LAB_DIR/conenatd-$r.conf"
  : >"$LAB_DIR/notify-$r.log"
done

start_conenatd() {
  lab_bg "${NS[$1]}" "conenatd-$1" "$BIN" --config "$LAB_DIR/conenatd-$1.conf" --foreground --log-level debug \
    --pid-file "$LAB_DIR/conenatd-$1.pid" --control-socket "$LAB_DIR/conenatd-$1.sock" --stats-file "$LAB_DIR/stats-$1"
  wait_for 100 0.1 test -s "$LAB_DIR/stats-$1"
}
start_conntrackd() {
  lab_bg "${NS[$1]}" "conntrackd-$1" conntrackd -C "$LAB_DIR/ctd-$1.conf"
  wait_for 100 0.1 test -S "$LAB_DIR/ctd-$1.ctl"
}
start_keepalived() {
  lab_bg "${NS[$1]}" "keepalived-$1" keepalived --vrrp --dont-fork --log-console --log-detail \
    --use-file "$LAB_DIR/keepalived-$1.conf" --pid "$LAB_DIR/keepalived-$1.pid" --vrrp_pid "$LAB_DIR/vrrp-$1.pid"
  KEEPALIVED[$1]=$LAB_BG_PID
}
has_vip() { lab_exec "${NS[$1]}" ip -4 -o addr show dev wan0 | grep -q " $VIP/"; }
# notified ROLE STATE N: the notify script finished STATE at least N times on ROLE
notified() { [ "$(grep -c "^.* $2 done$" "$LAB_DIR/notify-$1.log")" -ge "$3" ]; }
ctl() { local r=$1; shift; "$CTL" --socket "$LAB_DIR/conenatd-$r.sock" "$@"; }
counter() { lab_exec "${NS[$1]}" nft list chain ip hatest carried | grep -o 'packets [0-9]*' | awk '{ print $2 }'; }
role_of() { ctl "$1" status | awk '$1 == "role" { print $2 }'; }
# The daemon's counter NAME on ROLE (its stats file, written every second).
stat_of() { awk -v k="$2" '$1 == k { print $2 }' "$LAB_DIR/stats-$1"; }
ctd_ext() { lab_exec "${NS[$1]}" conntrackd -C "$LAB_DIR/ctd-$1.conf" -e 2>/dev/null; }
show_logs() {
  local f
  for f in notify-a notify-b keepalived-a keepalived-b conntrackd-a conntrackd-b conenatd-a conenatd-b host peer1 chat; do
    [ -f "$LAB_DIR/$f.log" ] && { echo "--- $f.log (tail)"; tail -n 15 "$LAB_DIR/$f.log"; }
  done
}

for r in a b; do
  start_conenatd "$r" || { echo "FAIL: conenatd on router $r did not start"; show_logs; exit 1; }
  start_conntrackd "$r" || { echo "FAIL: conntrackd on router $r did not start"; show_logs; exit 1; }
done
start_keepalived a
if ! wait_for 150 0.1 has_vip a || ! wait_for 150 0.1 notified a primary 1; then
  echo "FAIL: router A did not become primary"; show_logs; exit 1
fi
start_keepalived b
if ! wait_for 150 0.1 notified b backup 1; then echo "FAIL: router B did not become backup"; show_logs; exit 1; fi
check "router A primary, B backup: the VIP on A only" eval '! has_vip b'
check "conenatctl status: A active, B standby" wait_for 50 0.1 eval '[ "$(role_of a) $(role_of b)" = "active standby" ]'
if "$LAB_PY" -c 'import jsonschema' 2>/dev/null; then
  check "conenatctl status --json (role) validates" eval \
    'ctl b status --json | tee "$LAB_DIR/status-b.json" | "$LAB_PY" tests/e2e/ctl_json.py validate status && grep -q "\"role\": *\"standby\"" "$LAB_DIR/status-b.json"'
fi

# ---------------------------------------------------------------- traffic through A
RUN_S=170 # bounds every traffic process
CTLD=$LAB_DIR/hostctl
mkdir -p "$CTLD"
echo "$LAB_Y1 7000" >"$CTLD/peers"
lab_bg "$LAB_INET" peer1 "$LAB_PY" "$TRAFFIC" peer "$LAB_Y1" 7000 "$RUN_S"
lab_bg "$LAB_INET" tcpecho "$LAB_PY" "$TRAFFIC" tcp-echo "$LAB_Y1" 8000 "$RUN_S"
wait_for 50 0.1 lab_udp_listening "$LAB_INET" "$LAB_Y1" 7000
wait_for 50 0.1 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 8000
lab_bg "$LAN" host "$LAB_PY" "$TRAFFIC" host "$HOST" "$HOST_PORT" "$RUN_S" 0.2 "$CTLD"
lab_bg "$LAN" chat "$LAB_PY" "$TRAFFIC" tcp-chat "$LAB_Y1" 8000 "$RUN_S" 0.3

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
wait_for 100 0.1 test -s "$LAB_DIR/peer1.log"
E=$(head -n 1 "$LAB_DIR/peer1.log" | awk '{ print $2 }')
check "the stream leaves through the VIP: external endpoint '$E'" test "${E%:*}" = "$VIP"
oks() { grep -c '^ok ' "$LAB_DIR/chat.log"; }
check "the TCP connection is up through A" wait_for 100 0.1 eval '[ "$(oks)" -ge 3 ]'

# A new outside peer -> E: it reaches the host (full cone), or is refused (port-restricted);
# PEER_SRC must never have been sent to. Retried: one datagram may meet an ARP miss.
reaches_host() { # SRC SPORT
  local i
  for ((i = 0; i < 10; i++)); do
    lab_exec "$LAB_INET" "$LAB_PY" "$TRAFFIC" poke "$1" "$2" "${E%:*}" "${E#*:}"
    sleep 0.3
    grep -q "^from $1:$2 poke\$" "$LAB_DIR/host.log" && return 0
  done
  return 1
}
inbound_check() { # WHEN SRC SPORT CONTROL_SRC CONTROL_SPORT
  if [ "$NAT_TYPE" = full-cone ]; then
    check "$1: a new outside peer $2:$3 reaches the host through $E (full cone)" reaches_host "$2" "$3"
  else
    check "$1: a new outside peer $2:$3 is refused (port-restricted)" eval "! reaches_host $2 $3"
    # Positive control, sent after it: a peer the host sends to, from its own address and port.
    check "$1: control: $4:$5, which the host sends to, gets through" reaches_host "$4" "$5"
  fi
}
inbound_check "on A" "$LAB_Y1" 7100 "$LAB_Y1" 7000

# B's conntrackd holds both flows (its external cache) before A fails.
# A short flow to Y2:7050 beside the stream: its permit is the one checked after the failover.
echo "$LAB_Y2 7050" >>"$CTLD/peers"
sent_7050() { lab_exec "$RA" conntrack -L -p udp --orig-port-src "$HOST_PORT" --orig-port-dst 7050 2>/dev/null | grep -q .; }
wait_for 50 0.1 sent_7050
sed -i '/ 7050$/d' "$CTLD/peers"
# An unanswered flow of a new mapping (its first packet went through A's queue): conntrackd
# hears of it from its NEW event alone.
udp_send "$LAN" "$HOST" 5002 "$LAB_Y2" 7060
synced() {
  local c; c=$(ctd_ext b)
  grep -q "sport=$HOST_PORT dport=7000" <<<"$c" && grep -q "dport=8000" <<<"$c" &&
    grep -q "sport=$HOST_PORT dport=7050" <<<"$c" && grep -q "sport=5002 dport=7060" <<<"$c"
}
check "B's conntrackd has the flows (the stream, TCP, to Y2:7050, the unanswered one of a new mapping)" wait_for 100 0.1 synced

# An idle mapping (port-secret, RFC 6056 3.3.3): $HOST:$IDLE_PORT sends once through A, then its
# flow is deleted on A (conntrackd syncs the DESTROY): A keeps the mapping, B hears of nothing.
# The pool (ports 20000-29999) holds no port of the host, so its external port is a keyed choice,
# which B makes alike after the takeover (after_takeover: idle_comes_back).
IDLE_PORT=5010
mapped_of() { ctl "$1" mappings 2>/dev/null | awk -v i="$HOST:$IDLE_PORT" '$2 == i { print $3 }'; }
idle_synced() { ctd_ext b | grep -q "sport=$IDLE_PORT dport=7080"; }
udp_send "$LAN" "$HOST" "$IDLE_PORT" "$LAB_Y2" 7080
wait_for 50 0.1 eval '[ -n "$(mapped_of a)" ]'
K=$(mapped_of a)
check "idle: A maps $HOST:$IDLE_PORT to '$K', a drawn port of the VIP" eval '[ "${K%:*}" = "$VIP" ] && [ "${K#*:}" != "$IDLE_PORT" ]'
check "idle: B's conntrackd has its flow" wait_for 100 0.1 idle_synced
lab_exec "$RA" conntrack -D -p udp --orig-port-src "$IDLE_PORT" --orig-port-dst 7080 >/dev/null 2>&1
# The control in the same look: B's cache still holds the stream's flow.
check "idle: its flow deleted on A, and from B's conntrackd (the DESTROY synced; the stream's flow stays)" \
  wait_for 100 0.1 eval '! idle_synced && ctd_ext b | grep -q "sport=$HOST_PORT dport=7000"'
check "idle: A still holds the mapping, idle" eval '[ "$(mapped_of a)" = "$K" ]'
# idle_comes_back: on the new primary B, the idle mapping is not there (the control: nothing
# carried it); a new flow from its internal endpoint to a new peer gets the same $K back.
idle_comes_back() {
  check "failover: B has no mapping of the idle $HOST:$IDLE_PORT (conntrackd carried none)" eval '[ -z "$(mapped_of b)" ]'
  local i got=""
  for ((i = 0; i < 10; i++)); do # one datagram may meet an ARP miss
    udp_send "$LAN" "$HOST" "$IDLE_PORT" "$LAB_Y2" 7081
    wait_for 10 0.1 eval '[ -n "$(mapped_of b)" ]' && break
  done
  got=$(mapped_of b)
  check "failover: the idle $HOST:$IDLE_PORT comes back on B with the same $K (port-secret; got '$got')" test "$got" = "$K"
}

# before_takeover ROLE: where the stream's log and ROLE's counter stand before the primary fails
before_takeover() { N0=$(lines "$LAB_DIR/peer1.log") B0=$(counter "$1"); }
# after_takeover ROLE FROM N WHEN NEW_PEER_PORT POKE_SRC POKE_PORT: the checks after ROLE took over
after_takeover() {
  local r=$1 from=$2 n=$3 when=$4 np=$5 ps=$6 pp=$7 n0=$N0 b0=$B0
  check "$when: ${r^^} primary (the VIP and the commit)" wait_for 300 0.1 eval "has_vip $r && notified $r primary $n"
  check "$when: conenatctl status: ${r^^} active, ${from^^} standby" \
    wait_for 50 0.1 eval "[ \"\$(role_of $r) \$(role_of $from)\" = 'active standby' ]"
  check "$when: the stream flows through ${r^^}" wait_for 100 0.1 eval "[ \$(counter $r) -ge $((b0 + 10)) ]"
  # From here on the stream and the connection go through the new primary.
  local n1 c1 other
  n1=$(lines "$LAB_DIR/peer1.log") c1=$(oks)
  check "$when: the stream reaches its peer through ${r^^}" wait_for 100 0.1 eval "[ \$(lines $LAB_DIR/peer1.log) -ge $((n1 + 5)) ]"
  other=$(tail -n +"$((n0 + 1))" "$LAB_DIR/peer1.log" | awk -v e="$E" '$2 != e' | sort | uniq -c)
  check "$when: the UDP stream kept its external endpoint $E${other:+ (also seen: $other)}" test -z "$other"
  check "$when: the TCP connection survived: echoes through ${r^^}" wait_for 150 0.1 eval "[ \$(oks) -ge $((c1 + 3)) ]"
  check "$when: no TCP error" eval "! grep -q '^error' $LAB_DIR/chat.log"
  # A NEW flow from the same internal endpoint to a NEW peer.
  lab_bg "$LAB_INET" "peer-$np" "$LAB_PY" "$TRAFFIC" peer "$LAB_Y2" "$np" 60
  wait_for 50 0.1 lab_udp_listening "$LAB_INET" "$LAB_Y2" "$np"
  echo "$LAB_Y2 $np" >>"$CTLD/peers"
  wait_for 50 0.1 test -s "$LAB_DIR/peer-$np.log"
  local seen
  seen=$(head -n 1 "$LAB_DIR/peer-$np.log" | awk '{ print $2 }')
  check "$when: a new flow to a new peer $LAB_Y2:$np leaves from the same $E (got '$seen')" test "$seen" = "$E"
  inbound_check "$when" "$ps" "$pp" "$LAB_Y2" "$np"
  local maps
  maps=$(ctl "$r" mappings 2>&1 | grep -c "$HOST:$HOST_PORT")
  check "$when: ${r^^} holds one mapping of $HOST:$HOST_PORT (got $maps)" test "$maps" = 1
  # New mappings wait while the takeover's grace runs (a classifier's first request would be
  # dropped): conenatctl status says when it is over.
  check "$when: ${r^^}'s takeover is over (conenatctl status)" \
    wait_for 300 0.1 eval "ctl $r status | grep -q '^role' && ! ctl $r status | grep -q 'taking over'"
  [ "$r" = b ] && idle_comes_back # before the classifiers make mappings of their own on B
  check_classifiers "$NAT_TYPE" "$when"
}

# ---------------------------------------------------------------- A fails: B takes over
before_takeover b
echo "== router A fails ($FAILURE)"
if [ "$FAILURE" = links ]; then
  ip -n "$RA" link set lan0 down
  ip -n "$RA" link set wan0 down
else
  lab_kill "${KEEPALIVED[a]}" 10
fi
after_takeover b a 1 "failover" 7001 "$LAB_A2" 7200
# The permit of a synced flow came back with it: once its kernel flow is gone (deleted here),
# its peer's datagrams open a new flow through the permit alone (port-restricted: the dnat
# queue asks B's table); another port of that peer is refused under port-restricted.
check "failover: B adopted the mapping of the unanswered flow of $HOST:5002" eval "ctl b mappings | grep -qE '$HOST:5002( |$)'"
lab_exec "$RB" conntrack -D -p udp --orig-port-src "$HOST_PORT" --orig-port-dst 7050 >/dev/null 2>&1
check "failover: the synced flow to $LAB_Y2:7050 deleted on B" eval "! lab_exec $RB conntrack -L -p udp --orig-port-dst 7050 2>/dev/null | grep -q ."
if [ "$NAT_TYPE" = full-cone ]; then
  check "failover: $LAB_Y2:7050 reaches the host (full cone)" reaches_host "$LAB_Y2" 7050
else
  check "failover: $LAB_Y2:7051, another port of the synced flow's peer, is refused" eval "! reaches_host $LAB_Y2 7051"
  check "failover: $LAB_Y2:7050 reaches the host through the synced flow's permit on B" reaches_host "$LAB_Y2" 7050
fi

# ---------------------------------------------------------------- A comes back: fail back
before_takeover a
echo "== router A comes back ($FAILURE)"
if [ "$FAILURE" = links ]; then
  ip -n "$RA" link set lan0 up
  ip -n "$RA" link set wan0 up
  # Down took the default route with it; a router's network setup puts it back.
  ip -n "$RA" route replace default via "$LAB_R" dev wan0
else
  start_keepalived a
fi
after_takeover a b 2 "fail back" 7002 "$LAB_A1" 7300

for r in a b; do
  echo "router ${r^^}: takeover_drops $(stat_of $r takeover_drops), sync_replaced $(stat_of $r sync_replaced)"
done
touch "$CTLD/stop"
[ "$failures" -gt 0 ] && show_logs
checks_done_ha() {
  if [ "$failures" -gt 0 ]; then echo "ha_failover $NAT_TYPE: $failures failure(s)"; exit 1; fi
  echo "ha_failover $NAT_TYPE: all checks passed"
  exit 0
}
checks_done_ha
