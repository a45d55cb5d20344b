# shellcheck shell=bash
# Shared by the software engines' e2e scripts (queue_engine.sh, tun_engine.sh; sourced after
# lib.sh and daemon_lib.sh): a second hop behind a 1280-byte MTU link, and the checks the issue
# asks of every engine and NAT type.
#   far_up          the namespace "far" ($FAR_ADDR) behind the internet namespace (mtu 1280)
#   type_checks T   with a daemon of type T running: both classifiers, no port overloading, a
#                   TTL-limited probe answered by the outside hop, traceroute, fragmentation-needed from the
#                   outside reaching the LAN host (path MTU learned), TCP simultaneous open,
#                   hairpinning (filtered under symmetric)
#   every_type      the four named types, type_checks each, then nothing left after SIGTERM
#   held_syn_start / held_syn_check, bulk_tcp_checks, fragment_echo_check, tcp_hairpin_check,
#   router_own_traffic_check, router_pmtu_check (with a full-cone daemon, 2 workers);
#   first_packet_checks (issue 8: 1200-byte and MTU-sized first datagrams, ping -s 1400, a UDP GSO
#                   first packet; with the full-cone daemon); hostile_checks (a daemon of its own:
#                   spoof_check, flood_checks, blind_rst_check)
#   combination_checks, port_set_checks, quota_check (daemons of their own); bad NAME ARGS
#   probe_behaviour P   "mapping=... filtering=..." seen from in1's port P with our own probes
#   round_trips TAG a round trip from each LAN host to Y1: sets p1/p2 (ports Y1 saw), r1/r2
#   qf NS ARGS      a queue_flows.py probe in NS;  ping_ok NS ADDR

# The script sets ENGINE (queue | tun) and defines no_kernel_state (true when nothing of the
# daemon is left in the router) before it calls any of these.
start_daemon() { daemon_start --engine "$ENGINE" "$@"; }
stop_daemon() { daemon_stop; }

QF=tests/e2e/queue_flows.py
FAR_ADDR=192.0.2.2
ping_ok() { lab_exec "$1" ping -c 1 -W 2 -q "$2" >/dev/null; }
# Runs a queue_flows.py command in NS, prints its output.
qf() { local ns=$1; shift; lab_exec "$ns" timeout 15 "$LAB_PY" "$QF" "$@"; }

far_up() {
  FAR=${LAB_PREFIX}far
  ip netns add "$FAR" && echo "$FAR" >>"$LAB_DIR/namespaces"
  ip -n "$FAR" link set lo up
  ip -n "$LAB_INET" link add far0 type veth peer name eth0 netns "$FAR"
  ip -n "$LAB_INET" addr add 192.0.2.1/24 dev far0
  ip -n "$FAR" addr add "$FAR_ADDR/24" dev eth0
  ip -n "$LAB_INET" link set far0 up mtu 1280
  ip -n "$FAR" link set eth0 up mtu 1280
  ip -n "$FAR" route add default via 192.0.2.1
  lab_exec "$LAB_INET" sysctl -qw net.ipv4.ip_forward=1
}

port=11000 # in worker 0's slice when two workers share the default pool (port preservation)
type_checks() {
  local T=$1 a1 a2 ttl hops pmtu route peer mine x observer y reply seen
  check_classifiers "$T"

  # UDP-3: one source port on two hosts, never one external endpoint.
  port=$((port + 10))
  a1=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" $port "$LAB_A1" 7000)
  a2=$(udp_mapped_port "$LAB_IN2" "$LAB_IN2_ADDR" $port "$LAB_A1" 7000)
  check "$T: two hosts on port $port get distinct external endpoints ($a1, $a2)" test -n "$a1" -a -n "$a2" -a "$a1" != "$a2"

  # RFC 5508: a Time Exceeded from the hop behind the router comes back to the sender's socket.
  ttl=$(qf "$LAB_IN1" ttl-probe "$LAB_IN1_ADDR" $FAR_ADDR 33434 2)
  check "$T: TTL 2 probe: '$ttl' from the outside hop" test "$ttl" = "icmp type=11 code=0 from=$LAB_A1"

  # ICMP-10: traceroute (UDP probes) shows the router once, then the outside hops' Time Exceeded
  # messages translated back to in1.
  hops=$(lab_exec "$LAB_IN1" timeout 20 traceroute -n -q 1 -w 2 -m 4 "$FAR_ADDR" | awk 'NR > 1 { print $2 }' | paste -sd' ')
  check "$T: traceroute through the NAT: $hops" test "$hops" = "$LAB_LAN_GW $LAB_A1 $FAR_ADDR"

  # Path MTU discovery through the NAT: the 1280-byte link answers a 1400-byte DF datagram.
  lab_exec "$LAB_IN1" ip route flush cache
  pmtu=$(qf "$LAB_IN1" pmtu-probe "$LAB_IN1_ADDR" $FAR_ADDR 9999 1400)
  check "$T: fragmentation needed reaches in1: '$pmtu'" test "$pmtu" = "frag-needed mtu=1280 from=$LAB_A1"
  route=$(lab_exec "$LAB_IN1" ip route get $FAR_ADDR)
  check "$T: in1 learned the path MTU ($(echo $route | grep -o 'mtu [0-9]*'))" grep -q "mtu 1280" <<<"$route"

  # RFC 5382 REQ-4: both ends connect at once (Y1's first SYN is held until in1's goes out).
  port=$((port + 1))
  lab_bg "$LAB_INET" "simopen$port" timeout 12 "$LAB_PY" "$QF" simopen "$LAB_Y1" $((port + 1)) "$LAB_E1" $port 10
  peer=$LAB_BG_PID
  sleep 0.5
  mine=$(qf "$LAB_IN1" simopen "$LAB_IN1_ADDR" $port "$LAB_Y1" $((port + 1)) 10)
  wait "$peer" 2>/dev/null
  check "$T: TCP simultaneous open (in1: $mine, Y1: $(cat "$LAB_DIR/simopen$port.log"))" \
    test "$mine" = connected -a "$(cat "$LAB_DIR/simopen$port.log")" = connected

  # Hairpinning (RFC 4787 REQ-9): in1 knows its external endpoint x; in2 answers on its own
  # external endpoint y, having first sent to x (which opens its filter for x, cone types).
  port=$((port + 2))
  x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" $port "$LAB_A1" 7000)
  udp_observe "$LAB_INET" "$LAB_A1" 7001 3 1
  observer=$LAB_BG_PID
  lab_bg "$LAB_IN2" "pong$port" timeout 6 "$LAB_PY" "$QF" udp-pong "$LAB_IN2_ADDR" $((port + 1)) 5 "$LAB_A1:7001" "$x"
  y=$(udp_seen "$observer" | head -n 1)
  reply=$(qf "$LAB_IN1" udp-ping "$LAB_IN1_ADDR" $port "${y%:*}" "${y#*:}")
  if [ "$T" = symmetric ]; then
    # APDM gives in1 a new mapping towards y: y's filter has never seen it.
    check "$T: a hairpinned datagram from an unknown mapping is filtered ($reply)" test "$reply" = none
  else
    seen=$(grep -c "^from $x\$" "$LAB_DIR/pong$port.log")
    check "$T: hairpin: in2 saw in1's external endpoint $x, in1 got the reply from $y ($reply)" \
      test "$seen" -ge 1 -a "$reply" = "reply from $y"
  fi

}

# RFC 4787 behaviour seen from in1's port P with our own probes (quicker than the classifiers):
# mapping from the external endpoints towards A1:7000, A1:7001 and A2:7000; filtering from
# which of A1:7002 and A2:7000 reach a mapping made towards A1:7000 (A1:7000 itself must).
probe_behaviour() {
  local p=$1 e1 e2 e3 m mapping filtering log
  e1=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A1" 7000)
  e2=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A1" 7001)
  e3=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A2" 7000)
  if [ -z "$e1" ]; then mapping=none
  elif [ "$e1" = "$e2" ] && [ "$e1" = "$e3" ]; then mapping=endpoint-independent
  elif [ "$e1" = "$e2" ]; then mapping=address-dependent
  else mapping=address-and-port-dependent; fi
  udp_observe "$LAB_INET" "$LAB_A1" 7000 2 1
  local observer=$LAB_BG_PID
  lab_bg "$LAB_IN1" "filter$p" timeout 4 "$LAB_PY" "$QF" udp-pong "$LAB_IN1_ADDR" $((p + 1)) 3 "$LAB_A1:7000"
  m=$(udp_seen "$observer" | head -n 1)
  udp_send "$LAB_INET" "$LAB_A1" 7002 "${m%:*}" "${m#*:}"
  udp_send "$LAB_INET" "$LAB_A2" 7000 "${m%:*}" "${m#*:}"
  udp_send "$LAB_INET" "$LAB_A1" 7000 "${m%:*}" "${m#*:}"
  wait_for 20 0.1 grep -q "from $LAB_A1:7000" "$LAB_DIR/filter$p.log"
  sleep 0.2
  log=$(cat "$LAB_DIR/filter$p.log")
  if ! grep -q "from $LAB_A1:7000" <<<"$log"; then filtering=none
  elif grep -q "from $LAB_A2:7000" <<<"$log"; then filtering=endpoint-independent
  elif grep -q "from $LAB_A1:7002" <<<"$log"; then filtering=address-dependent
  else filtering=address-and-port-dependent; fi
  echo "mapping=$mapping filtering=$filtering"
}

# A round trip from each LAN host to a pong on Y1: the port Y1 saw, and whether the reply came back.
round_trips() {
  local tag=$1 pong
  lab_bg "$LAB_INET" "pong$tag" timeout 5 "$LAB_PY" "$QF" udp-pong "$LAB_Y1" 7200 4
  pong=$LAB_BG_PID
  wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 7200
  r1=$(qf "$LAB_IN1" udp-ping "$LAB_IN1_ADDR" 7300 "$LAB_Y1" 7200)
  r2=$(qf "$LAB_IN2" udp-ping "$LAB_IN2_ADDR" 7300 "$LAB_Y1" 7200)
  lab_kill "$pong" 1
  p1=$(grep -o "from $LAB_E1:[0-9]*" "$LAB_DIR/pong$tag.log" | sed -n 1p | cut -d: -f2)
  p2=$(grep -o "from $LAB_E1:[0-9]*" "$LAB_DIR/pong$tag.log" | sed -n 2p | cut -d: -f2)
}

# Every named type (one worker for two of them, two for the others): type_checks, then after
# SIGTERM nothing of the daemon remains.
every_type() {
  local T Q
  declare -A queues=([full-cone]=1 [restricted-cone]=2 [port-restricted-cone]=1 [symmetric]=2)
  for T in full-cone restricted-cone port-restricted-cone symmetric; do
    Q=${queues[$T]}
    echo "== $T, $Q worker(s)"
    start_daemon --nat-type "$T" --queues "$Q" || { fail "$T: daemon did not start: $(tail -5 "$LAB_DIR/conenatd.log")"; continue; }
    type_checks "$T"
    stop_daemon
    check "$T: after SIGTERM nothing of the daemon remains" no_kernel_state
  done
}

# ---- checks run once per engine, with a daemon of type full-cone (two workers) running ----

# RFC 5382 REQ-4: an unsolicited SYN to a port nobody mapped is held at least 6 s, then answered
# with ICMP port unreachable (its connect() fails as refused). The probe times its own connect()
# (monotonic clock): the daemon's hold starts when the SYN arrives, after connect() began, so
# "refused after >= 6.00 s" proves a hold of at least 6 s. Starts it; held_syn_check judges.
held_syn_start() {
  lab_bg "$LAB_INET" held timeout 12 "$LAB_PY" "$QF" tcp-connect-timed "$LAB_E1" 30000 10 "$LAB_Y2"
  held=$LAB_BG_PID
}
held_syn_check() {
  local r t
  wait "$held" 2>/dev/null
  r=$(cat "$LAB_DIR/held.log"); t=${r#refused after }; t=${t% s}
  check "an unsolicited SYN was held at least 6 s, then refused with ICMP 3/3 ($r)" \
    eval '[[ "$r" == "refused after "* ]] && awk -v t="$t" "BEGIN { exit !(t >= 6.0) }"'
}

# 50 MB each way over TCP intact, through GSO super-packets with partial checksums: TSO (and
# GSO) on in1's veth, so that in1's kernel hands the router 64 KB super-packets.
bulk_tcp_checks() {
  local dir peer mine gso partial tso
  lab_exec "$LAB_IN1" ethtool -K eth0 tso on gso on
  tso=$(lab_exec "$LAB_IN1" ethtool -k eth0 | grep -E '^(tcp-segmentation-offload|generic-segmentation-offload):' | paste -sd' ')
  check "in1's veth segments in the NIC: $tso" eval '[ "$tso" = "tcp-segmentation-offload: on generic-segmentation-offload: on" ]'
  for dir in upload download; do
    if [ $dir = upload ]; then
      lab_bg "$LAB_INET" $dir timeout 15 "$LAB_PY" "$QF" tcp-sink "$LAB_Y1" 5001 12
    else
      lab_bg "$LAB_INET" $dir timeout 15 "$LAB_PY" "$QF" tcp-give "$LAB_Y1" 5001 50000000 12
    fi
    peer=$LAB_BG_PID
    wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 5001
    if [ $dir = upload ]; then mine=$(qf "$LAB_IN1" tcp-source "$LAB_Y1" 5001 50000000)
    else mine=$(qf "$LAB_IN1" tcp-fetch "$LAB_Y1" 5001 12); fi
    wait "$peer" 2>/dev/null
    # "sent N sha256 H" on one side, "received N sha256 H" on the other
    check "50 MB $dir arrives intact (${mine#* }; $(cut -d' ' -f2- "$LAB_DIR/$dir.log"))" \
      test -n "${mine#* }" -a "${mine#* }" = "$(cut -d' ' -f2- "$LAB_DIR/$dir.log")"
  done
  gso=$(stat gso_packets); partial=$(stat partial_checksums)
  check "offloaded packets went through ($gso GSO packets, $partial partial checksums settled)" test "${gso:-0}" -gt 0 -a "${partial:-0}" -gt 0
}

# A 4 KB datagram sent fragmented goes out and its echo comes back ($1: what reassembled it).
fragment_echo_check() {
  local frag
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
  check "a fragmented 4 KB datagram goes out and comes back${1:-}: $frag" test "$frag" = "echo 4096 intact"
}

# TCP hairpin: in2 keeps a TCP mapping open (it connected out from port 6300 and listens on it).
tcp_hairpin_check() {
  local punch ext r
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
}

router_own_traffic_check() {
  local own
  lab_bg "$LAB_INET" own timeout 5 socat -u TCP-LISTEN:81,bind="$LAB_Y1",reuseaddr /dev/null
  wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 81
  own=$(lab_exec "$LAB_RT" bash -c "echo router | timeout 3 socat -u - TCP:$LAB_Y1:81 && echo ok")
  check "the router's own TCP connection and ping are untouched" test "$own" = ok -a "$(ping_ok "$LAB_RT" "$LAB_Y1" && echo ok)" = ok
}

# The router's own fragmentation-needed about an inbound packet (the LAN link is the narrow
# one now) quotes the translated packet: it goes out through the NAT, restored.
router_pmtu_check() {
  local x pmtu
  x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6400 "$LAB_Y1" 6401)
  lab_exec "$LAB_RT" ip link set lan0 mtu 1280
  pmtu=$(qf "$LAB_INET" pmtu-probe "$LAB_Y1" "${x%:*}" "${x#*:}" 1400)
  lab_exec "$LAB_RT" ip link set lan0 mtu 1500
  check "the router's fragmentation needed for an inbound packet reaches the sender: '$pmtu'" \
    test "$pmtu" = "frag-needed mtu=1280 from=$LAB_E1"
}

# ---- issue 8: first packets of any size, and a hostile outside ----

OA=tests/e2e/outside_attacks.py
# Every counter at once, after the daemon's next write: snap NAME, then snap_at NAME COUNTER.
snap() { sleep 1.1; cp "$STATS" "$LAB_DIR/snap.$1"; }
snap_at() { awk -v k="$2" '$1 == k { print $2 + 0 }' "$LAB_DIR/snap.$1"; }
# What a packet that reaches the translator and makes, refreshes or removes state moves: the
# state counters and gauges, and translations (drops are left out: a late packet of a flow of
# an earlier daemon, e.g. a FIN retransmitted, may be dropped at any time).
STATE_RE='^(translated_|hairpinned|icmp_errors_translated|mappings|sessions|syn_held|syn_released|held_now)'
core_state() { awk -v re="$STATE_RE" '$1 ~ re' "$LAB_DIR/snap.$1"; }
core_moved() { diff <(core_state "$1") <(core_state "$2") | awk '/^>/ { printf "%s%s %s", sep, $2, $3; sep = ", " }'; }
# Packets the rule set dropped as spoofed: an internal source arriving on the WAN.
spoof_drops() {
  lab_exec "$LAB_RT" nft list table ip conenatd |
    sed -n 's/.*iifname "wan0" ip saddr 10.0.0.0\/24 ip daddr @external counter packets \([0-9]*\) bytes [0-9]* drop.*/\1/p'
}

# First packets of any size are mapped (issue 8): a 1200-byte first datagram (a QUIC Initial,
# RFC 9000 §14.1), an MTU-sized one (1500 bytes, DF), ping -s 1400 and an MTU-sized ping, and
# a UDP GSO super-packet as a flow's first packet (8 segments of one sendmsg).
first_packet_checks() {
  local r seen gsosink
  lab_bg "$LAB_INET" bigecho timeout 8 "$LAB_PY" "$QF" udp-echo "$LAB_Y1" 5020 7
  wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 5020
  for size in 1200 1472; do
    r=$(qf "$LAB_IN1" udp-size "$LAB_IN1_ADDR" $((4000 + size)) "$LAB_Y1" 5020 "$size")
    seen=$(grep -o "from $LAB_E1:[0-9]* len $size\$" "$LAB_DIR/bigecho.log" | head -n 1)
    check "a first datagram of $size bytes (IP $((size + 28)), DF) is mapped ($seen) and its echo comes back: $r" \
      test -n "$seen" -a "$r" = "echo $size intact"
  done
  check "ping -s 1400 through the NAT" lab_exec "$LAB_IN1" ping -c 1 -W 2 -q -s 1400 "$LAB_Y1"
  check "ping -M do -s 1472 (1500 bytes, DF) through the NAT" lab_exec "$LAB_IN1" ping -c 1 -W 2 -q -M do -s 1472 "$LAB_Y1"
  lab_bg "$LAB_INET" gso timeout 5 "$LAB_PY" "$QF" udp-sink "$LAB_Y1" 5003 3 8
  gsosink=$LAB_BG_PID
  wait_for 50 0.05 lab_udp_listening "$LAB_INET" "$LAB_Y1" 5003
  qf "$LAB_IN1" udp-gso "$LAB_IN1_ADDR" 5003 "$LAB_Y1" 5003 1200 8
  wait "$gsosink" 2>/dev/null
  check "UDP GSO as a flow's first packet: 8 segments of one sendmsg arrive intact ($(cat "$LAB_DIR/gso.log"))" \
    test "$(cat "$LAB_DIR/gso.log")" = "datagrams 8 sizes 1200,1200,1200,1200,1200,1200,1200,1200 intact yes"
}

# Spoofed internal sources on the WAN never create, refresh or remove state: packets from
# 10.0.0.x arriving on the WAN at a live UDP and a live TCP mapping, at an unmapped port, and
# an ICMP error quoting the UDP mapping. Nothing of the core moves, in1 receives none of them,
# the rule set counts them; positive controls: the genuine peer still reaches in1, and a
# genuine LAN packet makes a new mapping.
spoof_check() {
  local x t sent seen drops moved pids=()
  x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 6600 "$LAB_Y1" 6601)
  lab_bg "$LAB_INET" spoofsrv timeout 62 "$LAB_PY" "$FLOWS" tcp-serve "$LAB_Y1" 6602 60
  pids+=("$LAB_BG_PID")
  wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 6602
  lab_bg "$LAB_IN1" spoofcli timeout 62 "$LAB_PY" "$OA" echo-client "$LAB_IN1_ADDR" 6603 "$LAB_Y1" 6602 60
  pids+=("$LAB_BG_PID")
  wait_for 50 0.1 grep -q "accepted $LAB_E1" "$LAB_DIR/spoofsrv.log"
  t=$(grep -o "accepted $LAB_E1:[0-9]*" "$LAB_DIR/spoofsrv.log" | head -n 1 | cut -d: -f2)
  # Lifetimes far beyond the check (a loaded machine is slow): the sink ends at the genuine
  # peer's datagram, the TCP pair at the end of the check.
  lab_bg "$LAB_IN1" spoofsink timeout 62 "$LAB_PY" "$QF" udp-sources "$LAB_IN1_ADDR" 6600 60 "$LAB_Y1"
  wait_for 50 0.05 lab_udp_listening "$LAB_IN1" "$LAB_IN1_ADDR" 6600
  drops=$(spoof_drops)
  snap spoof0
  sent=$(lab_exec "$LAB_INET" "$LAB_PY" "$OA" spoof "$LAB_E1" "${x#*:}" "${t:-0}" "$LAB_Y1")
  snap spoof1
  moved=$(core_moved spoof0 spoof1)
  check "spoofed internal sources on the WAN ($sent at $x, tcp $t, an unmapped port): no state made, refreshed or removed (moved: ${moved:-nothing}; mappings $(snap_at spoof1 mappings), sessions $(snap_at spoof1 sessions))" \
    test -n "$x" -a -n "$t" -a -z "$moved" -a "$(snap_at spoof1 mappings)" -gt 0
  check "the spoofed packets were dropped and counted by the rule set (${drops:-?} -> $(spoof_drops))" \
    test "$(spoof_drops)" -ge $((${drops:-0} + ${sent#sent })) 2>/dev/null
  udp_send "$LAB_INET" "$LAB_Y1" 6601 "${x%:*}" "${x#*:}"
  udp_send "$LAB_IN2" "$LAB_IN2_ADDR" 6604 "$LAB_Y1" 6601
  snap spoof2
  # The stats file trails the workers by up to a publish period plus its own second: look again.
  for _ in 1 2 3; do
    [ "$(snap_at spoof2 mappings_created)" -gt "$(snap_at spoof1 mappings_created)" ] && break
    snap spoof2
  done
  wait_for 200 0.1 grep -q "^$LAB_Y1 " "$LAB_DIR/spoofsink.log"
  seen=$(paste -sd' ' "$LAB_DIR/spoofsink.log")
  check "in1 received none of them, but the genuine peer's datagram ($seen)" test "$seen" = "$LAB_Y1 1"
  check "positive control: a genuine LAN packet makes a mapping (mappings_created $(snap_at spoof1 mappings_created) -> $(snap_at spoof2 mappings_created))" \
    test "$(snap_at spoof2 mappings_created)" -gt "$(snap_at spoof1 mappings_created)"
  check "the TCP connection the spoofed RST aimed at is still up" eval '! grep -q -e reset -e closed "$LAB_DIR/spoofcli.log"'
  for p in "${pids[@]}"; do lab_kill "$p" 2; done
}

# Bounded from outside (issue 8, RFC 6888 REQ-4 spirit): one outside host floods SYNs (source
# port changing every packet, bounded in count and time) at in1's full-cone TCP mapping while
# in2 opens 100 new TCP connections: all 100 connect, and the flood's excess is dropped and
# counted (drop_inbound_limit). Then a SYN flood at ports nobody mapped (held SYNs, RFC 5382
# REQ-4; the ports climb from 18000, across both workers' slices of the default pool) while in1 and Y1 open a
# connection simultaneously: it completes, and the SYNs held at once in all workers together stay
# within the per-source bound (--held-syns-per-source, 8; Y1's own SYN may add one) instead of
# filling the store (256).
flood_checks() {
  local t many peer mine held flood
  lab_bg "$LAB_INET" floodsrv timeout 20 "$LAB_PY" "$FLOWS" tcp-serve "$LAB_Y1" 6700 19
  wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 6700
  lab_bg "$LAB_IN1" floodcli timeout 20 "$LAB_PY" "$OA" echo-client "$LAB_IN1_ADDR" 6701 "$LAB_Y1" 6700 19
  wait_for 50 0.1 grep -q "accepted $LAB_E1" "$LAB_DIR/floodsrv.log"
  t=$(grep -o "accepted $LAB_E1:[0-9]*" "$LAB_DIR/floodsrv.log" | head -n 1 | cut -d: -f2)
  snap flood0
  lab_bg "$LAB_INET" flood timeout 10 hping3 -q -S -p "${t:-1}" -s 20000 -c 6000 -i u500 "$LAB_E1"
  many=$(lab_exec "$LAB_IN2" timeout 25 "$LAB_PY" "$QF" tcp-many "$LAB_IN2_ADDR" "$LAB_Y1" 6700 100 20)
  wait "$LAB_BG_PID" 2>/dev/null
  snap flood1
  check "a SYN flood at in1's mapping $LAB_E1:$t (hping3, 6000 SYNs): in2's 100 new connections all connect ($many)" \
    test "$many" = "connected 100 of 100"
  check "the flood's excess is dropped and counted (drop_inbound_limit $(snap_at flood0 drop_inbound_limit) -> $(snap_at flood1 drop_inbound_limit), sessions $(snap_at flood1 sessions))" \
    test "$(snap_at flood1 drop_inbound_limit)" -gt "$(snap_at flood0 drop_inbound_limit)"

  snap hold0
  lab_bg "$LAB_INET" holdflood timeout 10 hping3 -q -S -p ++18000 -s 30000 -c 3000 -i u1000 "$LAB_E1"
  flood=$LAB_BG_PID
  sleep 0.5
  port=$((port + 2))
  lab_bg "$LAB_INET" simflood timeout 12 "$LAB_PY" "$QF" simopen "$LAB_Y1" $((port + 1)) "$LAB_E1" $port 10
  peer=$LAB_BG_PID
  sleep 0.5
  mine=$(qf "$LAB_IN1" simopen "$LAB_IN1_ADDR" $port "$LAB_Y1" $((port + 1)) 10)
  wait "$peer" 2>/dev/null
  snap hold1
  held=$(snap_at hold1 held_now)
  check "during a SYN flood at unmapped ports, TCP simultaneous open completes (in1: $mine, Y1: $(cat "$LAB_DIR/simflood.log"))" \
    test "$mine" = connected -a "$(cat "$LAB_DIR/simflood.log")" = connected
  check "the held SYNs stay bounded per source ($held held now; drop_syn_hold_source $(snap_at hold0 drop_syn_hold_source) -> $(snap_at hold1 drop_syn_hold_source))" \
    test "${held:-999}" -le 9 -a "$(snap_at hold1 drop_syn_hold_source)" -gt "$(snap_at hold0 drop_syn_hold_source)"
  lab_kill "$flood" 1
}

# Blind RST (issue 8, RFC 5961 §3, RFC 7857 §2.2): with a 2 s transitory timeout, an idle
# established connection gets 256 RSTs with its 4-tuple and sequence numbers spread over the
# 32-bit space (none in in1's window): 4 s later data still flows both ways, and the core
# counted them out of window. Positive control: one RST at exactly the expected sequence number
# resets in1's end, and the NAT forgets the connection (4 s later Y1's data gets no answer at
# all: no session to carry in1's RST back).
blind_rst_check() {
  local mode sport=6800 r c before
  for mode in blind inwindow; do
    sport=$((sport + 2))
    snap rst0
    lab_bg "$LAB_INET" "rst$mode" timeout 20 "$LAB_PY" "$OA" rst-peer "$LAB_Y1" $sport "$mode" 4 18
    wait_for 50 0.05 lab_tcp_listening "$LAB_INET" "$LAB_Y1" $sport
    lab_bg "$LAB_IN1" "rstcli$mode" timeout 20 "$LAB_PY" "$OA" echo-client "$LAB_IN1_ADDR" $((sport + 1)) "$LAB_Y1" $sport 18
    wait_for 150 0.1 grep -q "^after" "$LAB_DIR/rst$mode.log"
    snap rst1
    r=$(paste -sd' ' "$LAB_DIR/rst$mode.log"); c=$(paste -sd' ' "$LAB_DIR/rstcli$mode.log")
    if [ $mode = blind ]; then
      check "an idle connection survives 256 blind RSTs and 4 s idle with a 2 s transitory timeout ($r; in1: $c; rst_out_of_window $(snap_at rst0 rst_out_of_window) -> $(snap_at rst1 rst_out_of_window))" \
        test "$r" = "echo ok rsts 256 after echo ok" -a "$(snap_at rst1 rst_out_of_window)" -gt "$(snap_at rst0 rst_out_of_window)"
    else
      check "positive control: an in-window RST resets in1 and the NAT drops the connection ($r; in1: $c)" \
        test "$r" = "echo ok rsts 1 after echo none" -a "$c" = "connected reset"
    fi
  done
}

# ---- daemons of their own ----

hostile_checks() {
  echo "== a hostile outside: spoofed internal sources, SYN floods, blind RSTs (full-cone, 2 workers, 2 s transitory timeout)"
  start_daemon --nat-type full-cone --queues 2 --tcp-transitory-timeout 2 || fail "daemon did not start"
  spoof_check
  flood_checks
  blind_rst_check
  stop_daemon
}



combination_checks() {
  local combo seen
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
}

port_set_checks() {
  echo "== port sets split between two workers: MAP-E (RFC 7597), per-host blocks (RFC 7422)"
  start_daemon --nat-type port-restricted-cone --queues 2 --map-e psid=0x34,psid-len=8,offset=4 || fail "daemon did not start"
  round_trips mape
  # offset 4, PSID length 8: port bits A(4) | PSID(8) | j(4), A != 0
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
}

quota_check() {
  local refused
  echo "== a per-host limit: the refused flow's sender gets ICMP 3/13 (RFC 5508 REQ-8)"
  start_daemon --nat-type full-cone --per-host-limit 1 || fail "daemon did not start"
  udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5050 "$LAB_A1" 7000 >/dev/null
  refused=$(qf "$LAB_IN1" ttl-probe "$LAB_IN1_ADDR" "$LAB_A1" 7000 64)
  check "a second mapping for in1 is refused: '$refused'" test "$refused" = "icmp type=3 code=13 from=$LAB_E1"
  stop_daemon
}

# A bad option of engine $ENGINE: exit status 2, a message naming it, nothing installed.
nothing_installed() {
  ! lab_exec "$LAB_RT" nft list table ip conenatd >/dev/null 2>&1 && ! lab_exec "$LAB_RT" ip link show conenat0 >/dev/null 2>&1
}
bad() {
  local name=$1 out rc; shift
  out=$(lab_exec "$LAB_RT" "$BIN" --engine "$ENGINE" --external-if wan0 --internal-net 10.0.0.0/24 --foreground \
          --pid-file "$LAB_DIR/bad.pid" --control-socket "$LAB_DIR/bad.sock" "$@" 2>&1); rc=$?
  check "bad input exits 2 naming $name: $*" eval 'test $rc -eq 2 -a -n "$(grep -- "$name" <<<"$out")" && nothing_installed'
}
