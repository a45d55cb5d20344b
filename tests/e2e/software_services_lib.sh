# shellcheck shell=bash
# Shared by queue_services.sh and tun_services.sh (sourced after daemon_lib.sh, with ENGINE set):
# the router's life as a software engine sees it, with a daemon read from a config file
# (reloaded by SIGHUP) and pool 20000-29999.
#   own_sockets_check   the router's own UDP and TCP services on pool ports answer at once;
#                       negative controls: pool ports without a socket stay the NAT's
#   forward_check       conenatd's forwards (UDP, TCP) reach in1 from two outside hosts
#   guest_check         a guest prefix (10.0.1.0/24 on in1) is not NATed before it is configured,
#                       NATed after a reload adds it; a mapping made before the reload keeps its
#                       external endpoint, and new mappings follow the new NAT type
#   heal_check          the table deleted by someone else comes back by itself (rules_reinstalled),
#                       a mapping made before keeps its external endpoint

SVC_CONF=
GUEST=10.0.1.2

# Writes the config file: NAT type $1, then the internal prefixes $2...
svc_conf() {
  local type=$1 net; shift
  {
    echo "engine = $ENGINE"
    echo "nat-type = $type"
    echo "external-if = wan0"
    echo "external-ip = $LAB_E1"
    echo "ports = 20000-29999"
    for net in "$@"; do echo "internal-net = $net"; done
    echo "forward = udp:25010=$LAB_IN1_ADDR:5010"
    echo "forward = tcp:25011=$LAB_IN1_ADDR:5011"
    echo "log-level = debug"
  } >"$SVC_CONF"
}

svc_start() {
  SVC_CONF=$LAB_DIR/conenatd.conf
  svc_conf "$@"
  rm -f "$STATS"
  lab_bg "$LAB_RT" conenatd "$BIN" --config "$SVC_CONF" --foreground --pid-file "$LAB_DIR/conenatd.pid" --control-socket "$LAB_DIR/conenatd.sock" \
    --stats-file "$STATS"
  DAEMON=$LAB_BG_PID
  wait_for 100 0.1 test -s "$STATS"
}

# Rewrites the config and sends SIGHUP; waits for the daemon's "reloaded" line.
svc_reload() {
  local before
  before=$(grep -c "reloaded" "$LAB_DIR/conenatd.log")
  svc_conf "$@"
  kill -HUP "$(cat "$LAB_DIR/conenatd.pid")"
  wait_for 100 0.1 eval '[ "$(grep -c reloaded "$LAB_DIR/conenatd.log")" -gt "$before" ]'
}

own_sockets_check() {
  local r n t
  lab_bg "$LAB_RT" ownudp timeout 30 "$LAB_PY" "$LAB_HELPER" udp-echo "$LAB_E1" 25001 28
  wait_for 50 0.05 lab_udp_listening "$LAB_RT" "$LAB_E1" 25001
  lab_bg "$LAB_RT" owntcp timeout 30 socat -u "TCP-LISTEN:25003,bind=$LAB_E1,reuseaddr,fork" /dev/null
  wait_for 50 0.05 lab_tcp_listening "$LAB_RT" "$LAB_E1" 25003
  r=$(qf "$LAB_INET" udp-ping "$LAB_Y1" 7400 "$LAB_E1" 25001)
  check "the router's own UDP service on pool port 25001 answers: $r" test "$r" = "reply from $LAB_E1:25001"
  n=$(qf "$LAB_INET" udp-ping "$LAB_Y1" 7401 "$LAB_E1" 25002)
  check "negative control: pool port 25002 without a socket is the NAT's, unanswered: $n" test "$n" = none
  # The NAT holds an unsolicited SYN 6 s (RFC 5382 REQ-4): a 4 s connect tells the two apart.
  t=$(tcp_connect "$LAB_INET" "$LAB_E1" 25003 4 "$LAB_Y1")
  check "the router's own TCP listener on pool port 25003 accepts at once: $t" test "$t" = connected
  t=$(tcp_connect "$LAB_INET" "$LAB_E1" 25004 4 "$LAB_Y1")
  check "negative control: a SYN to pool port 25004 without a listener is held by the NAT: $t" test "$t" = timeout
}

forward_check() {
  local peer r t
  lab_bg "$LAB_IN1" fwdudp timeout 30 "$LAB_PY" "$LAB_HELPER" udp-echo "$LAB_IN1_ADDR" 5010 28
  wait_for 50 0.05 lab_udp_listening "$LAB_IN1" "$LAB_IN1_ADDR" 5010
  lab_bg "$LAB_IN1" fwdtcp timeout 30 socat -u "TCP-LISTEN:5011,bind=$LAB_IN1_ADDR,reuseaddr,fork" /dev/null
  wait_for 50 0.05 lab_tcp_listening "$LAB_IN1" "$LAB_IN1_ADDR" 5011
  for peer in "$LAB_Y1" "$LAB_Y2"; do
    r=$(qf "$LAB_INET" udp-ping "$peer" 7410 "$LAB_E1" 25010)
    check "forward udp:25010 reaches in1's 5010 from $peer: $r" test "$r" = "reply from $LAB_E1:25010"
    t=$(tcp_connect "$LAB_INET" "$LAB_E1" 25011 4 "$peer")
    check "forward tcp:25011 reaches in1's 5011 from $peer: $t" test "$t" = connected
  done
}

guest_check() {
  local g keep again seen a b
  lab_exec "$LAB_RT" ip addr add 10.0.1.1/24 dev lan0
  lab_exec "$LAB_IN1" ip addr add "$GUEST/24" dev eth0
  g=$(udp_mapped_port "$LAB_IN1" "$GUEST" 5020 "$LAB_Y1" 7420)
  check "negative control: the guest prefix is not configured yet, its datagram leaves untranslated ($g)" \
    test "$g" = "$GUEST:5020"
  keep=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5030 "$LAB_Y1" 7430)
  svc_reload symmetric 10.0.0.0/24 10.0.1.0/24 || fail "no reload line in the log"
  g=$(udp_mapped_port "$LAB_IN1" "$GUEST" 5021 "$LAB_Y1" 7421)
  check "after the reload the guest prefix is NATed ($g)" eval '[ "${g%:*}" = "$LAB_E1" ]'
  again=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5030 "$LAB_Y1" 7430)
  check "a mapping made before the reload keeps its external endpoint ($keep, then $again)" \
    test -n "$keep" -a "$keep" = "$again"
  # Full-cone before: the old mapping stays endpoint-independent; a new one is symmetric (APDM).
  seen=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5030 "$LAB_Y2" 7431)
  check "the old mapping keeps its behaviour towards another peer ($seen)" test "$seen" = "$keep"
  a=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5040 "$LAB_Y1" 7440)
  b=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5040 "$LAB_Y2" 7441)
  check "a new mapping follows the new type, symmetric: $a then $b" test -n "$a" -a -n "$b" -a "$a" != "$b"
}

heal_check() {
  local x y n
  x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5050 "$LAB_Y1" 7450)
  lab_exec "$LAB_RT" nft delete table ip conenatd
  wait_for 100 0.1 lab_exec "$LAB_RT" nft list table ip conenatd
  y=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5050 "$LAB_Y1" 7450)
  n=$(stat rules_reinstalled)
  check "the table deleted by another process is reinstalled (rules_reinstalled ${n:-?}); the mapping keeps $x ($y)" \
    test -n "$x" -a "$x" = "$y" -a "${n:-0}" -ge 1
}

services_checks() {
  echo "== $ENGINE engine: the router's own sockets, forwards, a guest prefix added by a reload"
  svc_start full-cone 10.0.0.0/24 || { fail "daemon did not start: $(tail -5 "$LAB_DIR/conenatd.log")"; return; }
  own_sockets_check
  forward_check
  guest_check
  heal_check
  stop_daemon
}
