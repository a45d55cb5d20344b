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

# RFC 5382 REQ-4: an unsolicited SYN to a port nobody mapped is held 6 s, then answered with
# ICMP port unreachable (its connect() fails as refused). Starts it; held_syn_check judges.
held_syn_start() {
  lab_bg "$LAB_INET" held timeout 12 "$LAB_PY" tests/e2e/labtool.py tcp-connect "$LAB_E1" 40000 10 "$LAB_Y2"
  held=$LAB_BG_PID
  held_since=$SECONDS
}
held_syn_check() {
  wait "$held" 2>/dev/null
  check "an unsolicited SYN was held, then refused with ICMP 3/3 ($(cat "$LAB_DIR/held.log") after ~$((SECONDS - held_since)) s)" \
    test "$(cat "$LAB_DIR/held.log")" = refused -a $((SECONDS - held_since)) -ge 5
}

# 50 MB each way over TCP intact, through GSO super-packets with partial checksums.
bulk_tcp_checks() {
  local dir peer mine gso partial
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

# ---- daemons of their own ----

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
          --pid-file "$LAB_DIR/bad.pid" "$@" 2>&1); rc=$?
  check "bad input exits 2 naming $name: $*" eval 'test $rc -eq 2 -a -n "$(grep -- "$name" <<<"$out")" && nothing_installed'
}
