# shellcheck shell=bash
# Shared by the software engines' e2e scripts (queue_engine.sh, tun_engine.sh; sourced after
# lib.sh and daemon_lib.sh): a second hop behind a 1280-byte MTU link, and the checks the issue
# asks of every engine and NAT type.
#   far_up          the namespace "far" ($FAR_ADDR) behind the internet namespace (mtu 1280)
#   type_checks T   with a daemon of type T running: both classifiers, no port overloading, a
#                   TTL-limited probe answered by the outside hop, traceroute, fragmentation-needed from the
#                   outside reaching the LAN host (path MTU learned), TCP simultaneous open,
#                   hairpinning (filtered under symmetric)
#   probe_behaviour P   "mapping=... filtering=..." seen from in1's port P with our own probes
#   round_trips TAG a round trip from each LAN host to Y1: sets p1/p2 (ports Y1 saw), r1/r2
#   qf NS ARGS      a queue_flows.py probe in NS;  ping_ok NS ADDR

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

port=11000 # below 33280: worker 0's slice when two workers share 1024-65535 (port preservation)
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
