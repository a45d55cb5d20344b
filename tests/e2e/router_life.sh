#!/usr/bin/env bash
# Issue 10, "the router's life", for one engine: bash tests/e2e/router_life.sh conntrack|queue|tun
# (make test runs it through router_life_<engine>.sh). One daemon, started from a config file,
# lives through the sections in turn; each has traffic before and after its event, checks what a
# LAN host and an outside peer observe, then the daemon's log / stats:
#   1 SIGHUP: full-cone -> symmetric and a smaller pool (an existing mapping keeps its external
#     endpoint and behaviour, a new one follows the new type, one outside the new pool ends); a
#     broken config refused (file, line, key in the log; the old config runs on); a restart-only
#     key named and kept; back to the base config
#   2 wan0 renumbered: new flows and old internal endpoints leave with the new address
#   3 wan0 deleted and created again (as PPPoE does): NAT resumes, the daemon never exited
#   4 `nft flush ruleset`, then `nft delete table`: full-cone inbound to an existing mapping's
#     endpoint works again, the endpoint unchanged, the event logged
#   5 a UDP and a TCP service of the router inside the pool answer outside peers at once
#   6 a user's DNAT rule (followed as it comes and goes) and conenatd's own forwards inside the pool deliver UDP
#     and TCP both ways from two peers; their ports are never given to a mapping
#   7 the guest prefix (the second internal-net) is NATed
#   8 IPv6 (ping and TCP) crosses the router untouched
# ONLY="4 5" runs just those sections (each sets up what it needs). Throughout, the peers' view
# of every mapping is recorded: one external endpoint never serves two internal ones at once.
set -uo pipefail
cd "$(dirname "$0")/../.."
ENGINE=${1:-}
case $ENGINE in
  conntrack | queue | tun) ;;
  *) echo "usage: $0 conntrack|queue|tun   (ONLY=\"N ...\" for some sections)" >&2; exit 2 ;;
esac
source tests/e2e/lib.sh
e2e_require_root nft conntrack socat ping ss "$LAB_PY"
source tests/e2e/daemon_lib.sh
source tests/e2e/router_life_lib.sh
rl_up || { echo "FAIL: the router-life topology did not come up"; exit 1; }

# The daemon's last word on a SIGHUP ("reloaded: KEYS", "reload refused, ...", "reload:
# configuration unchanged"), and what it logs when its table comes back.
RELOAD_RE='reloaded|reload refused|configuration unchanged'
HEAL_RE='table|ruleset|reinstall'
RL_NEW_EXT=198.51.100.200

alive() { [ -n "$DAEMON" ] && lab_alive "$DAEMON"; }
stats_fresh() { local t; t=$(command stat -c %Y "$STATS" 2>/dev/null) || return 1; sleep 2.2; [ "$(command stat -c %Y "$STATS")" != "$t" ]; }
# The pool 20000-29999 without PORT.
pool_without() {
  local p=$1 r=()
  [ "$p" -gt 20000 ] && r+=("20000-$((p - 1))")
  [ "$p" -lt 29999 ] && r+=("$((p + 1))-29999")
  (IFS=,; echo "${r[*]}")
}
other_engine() { case $ENGINE in conntrack) echo queue ;; queue) echo tun ;; tun) echo queue ;; esac; }
# Two mappings of one new internal endpoint of in1, towards A1 then Y1: sets M1, M2, MP.
two_remotes() {
  fresh; MP=$FRESH
  M1=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$MP" "$LAB_A1" 7000)
  M2=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$MP" "$LAB_Y1" 7001)
}

# New flows from in1 (a fresh port each) to A1 until A1 sees ADDR, a few seconds at most (each
# try waits up to 2 s for the peer): sets NEW_FLOW to "ENDPOINT (try N)".
new_flow_leaves_as() {
  local addr=$1 a i
  for ((i = 1; i <= 10; i++)); do
    fresh
    a=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$FRESH" "$LAB_A1" 7000)
    [ "${a%:*}" = "$addr" ] && break
    sleep 0.5
  done
  NEW_FLOW="$a (try $i)"
}

section1() {
  local x1 xo po p1 a b line other
  echo "== 1: SIGHUP reload (full-cone -> symmetric, a smaller pool, a broken config, a restart-only key)"
  fresh; p1=$FRESH
  x1=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p1" "$LAB_A1" 7000)
  check "before: in1:$p1 -> A1 leaves as $x1" test "${x1%:*}" = "$RL_EXT"
  two_remotes
  check "before (full-cone, control of the symmetric check below): in1:$MP keeps one endpoint towards A1 and Y1 ($M1, $M2)" \
    test -n "$M1" -a "$M1" = "$M2"
  fresh; po=$FRESH
  xo=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$po" "$LAB_A1" 7000)
  check "before: in1:$po -> A1 leaves as $xo" test -n "$xo"
  [ -n "$xo" ] || return 0
  rl_reach "$LAB_Y2" "$xo" "$LAB_IN1" "$LAB_IN1_ADDR" "$po"
  check "before (control of the pool check): Y2, never contacted, reaches in1:$po through $xo (full-cone): $REACH" test "$REACH" = yes

  RL_CONF[nat-type]=symmetric RL_CONF[ports]=$(pool_without "${xo#*:}")
  rl_write_config
  rl_reload "$RELOAD_RE"
  check "SIGHUP with nat-type symmetric, ports ${RL_CONF[ports]}: applied ($(rl_new_log | grep -iE "$RELOAD_RE" | head -n 1))" \
    rl_new_log_has "reloaded"
  check "the daemon runs on after SIGHUP" alive
  a=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p1" "$LAB_A1" 7000)
  check "after: in1:$p1's flow to A1 still leaves as $x1 (peer saw $a)" test -n "$x1" -a "$a" = "$x1"
  b=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p1" "$LAB_Y1" 7001)
  check "after: in1:$p1's mapping keeps its endpoint-independent mapping: Y1 sees $x1 too ($b)" test "$b" = "$x1"
  rl_reach "$LAB_Y2" "$x1" "$LAB_IN1" "$LAB_IN1_ADDR" "$p1"
  check "after: Y2 still reaches in1:$p1 through $x1 (the mapping keeps its full-cone filtering; control of the next check): $REACH" \
    test "$REACH" = yes
  rl_reach "$LAB_Y2" "$xo" "$LAB_IN1" "$LAB_IN1_ADDR" "$po"
  check "after: $xo, outside the new pool, no longer reaches in1:$po (Y2 tried): $REACH" test "$REACH" = no
  a=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$po" "$LAB_A1" 7000)
  check "after: in1:$po's next datagram to A1 leaves from a new endpoint ($a, was $xo)" test -n "$a" -a "$a" != "$xo"
  two_remotes
  check "after: a new internal endpoint in1:$MP follows symmetric: $M1 towards A1, $M2 towards Y1" \
    test -n "$M1" -a -n "$M2" -a "$M1" != "$M2"
  check "after: its ports are in the new pool (not ${xo#*:})" test "${M1#*:}" != "${xo#*:}" -a "${M2#*:}" != "${xo#*:}"

  # A broken value: refused with file, line and key; the old (symmetric) config runs on.
  RL_CONF[nat-type]=bogus-cone
  rl_write_config
  line=$(grep -n '^nat-type' "$RL_CONF_FILE" | cut -d: -f1)
  rl_reload "$RELOAD_RE"
  a=$(rl_new_log | grep -F "$RL_CONF_FILE" | grep -F nat-type | grep -E "(:|line )$line([^0-9]|$)" | head -n 1)
  check "a broken config (nat-type = bogus-cone, line $line) is refused with file, line and key: '$a'" test -n "$a"
  check "the daemon runs on after the broken config" alive
  b=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p1" "$LAB_A1" 7000)
  check "after the broken config: in1:$p1 still leaves as $x1 ($b)" test -n "$b" -a "$b" = "$x1"
  two_remotes
  check "after the broken config: the old config (symmetric) still applies to a new endpoint ($M1, $M2)" \
    test -n "$M1" -a -n "$M2" -a "$M1" != "$M2"

  # A restart-only key: named in one line, the running engine kept, the rest applied.
  other=$(other_engine)
  RL_CONF[nat-type]=symmetric RL_CONF[engine]=$other
  rl_write_config
  rl_reload "$RELOAD_RE"
  a=$(rl_new_log | grep -iE "engine" | grep -icE "restart")
  check "engine = $other (restart-only) is named in one log line: $(rl_new_log | grep -i engine | paste -sd'|')" test "$a" -eq 1
  check "the daemon runs on after the restart-only change" alive
  two_remotes
  check "after the restart-only change: still NATed by the running engine, symmetric ($M1, $M2)" \
    test -n "$M1" -a -n "$M2" -a "$M1" != "$M2" -a "${M1%:*}" = "$RL_EXT"

  # Back to the base config for the sections that follow.
  rl_conf_base
  rl_write_config
  rl_reload "$RELOAD_RE"
  check "SIGHUP back to full-cone and the whole pool: applied ($(rl_new_log | grep -iE "$RELOAD_RE" | head -n 1))" \
    rl_new_log_has "reloaded"
  RL_EPOCH=$((RL_EPOCH + 1))   # the ended mappings' ports are in the pool again
  two_remotes
  check "after the reload back: a new endpoint is endpoint-independent again ($M1, $M2)" test -n "$M1" -a "$M1" = "$M2"
  check "the stats file is still written" stats_fresh
}

section2() {
  local p before a i
  echo "== 2: wan0 renumbered ($RL_EXT -> $RL_NEW_EXT)"
  fresh; p=$FRESH
  before=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A1" 7000)
  check "before (control): in1:$p -> A1 leaves as $before, on $RL_EXT" test "${before%:*}" = "$RL_EXT"
  rl_log_mark
  ip -n "$LAB_RT" addr del "$RL_EXT/24" dev wan0
  ip -n "$LAB_RT" addr add "$RL_NEW_EXT/24" dev wan0
  ip -n "$LAB_RT" route replace default via "$LAB_R" dev wan0
  RL_EPOCH=$((RL_EPOCH + 1))
  new_flow_leaves_as "$RL_NEW_EXT"
  check "after: a new flow leaves with the new address ($NEW_FLOW)" test "${NEW_FLOW%%:*}" = "$RL_NEW_EXT"
  for ((i = 1; i <= 10; i++)); do
    a=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A1" 7000)
    [ "${a%:*}" = "$RL_NEW_EXT" ] && break
    sleep 0.5
  done
  check "after: in1:$p's mapping on the old address is gone: it leaves as $a (was $before)" test "${a%:*}" = "$RL_NEW_EXT"
  check "the daemon logged the new address: $(rl_new_log | grep -F "$RL_NEW_EXT" | head -n 1)" rl_new_log_has "${RL_NEW_EXT//./\\.}"
  check "the daemon runs on" alive
  RL_EXT=$RL_NEW_EXT
}

section3() {
  local a i
  echo "== 3: wan0 deleted and created again (PPPoE)"
  fresh
  a=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$FRESH" "$LAB_A1" 7000)
  check "before (control): a new flow leaves as $a" test "${a%:*}" = "$RL_EXT"
  rl_log_mark
  ip -n "$LAB_RT" link del wan0
  sleep 1  # the WAN is away for a while
  check "the daemon runs on without wan0" alive
  rl_wan_create "$RL_EXT" || fail "wan0 could not be created again"
  RL_EPOCH=$((RL_EPOCH + 1))
  new_flow_leaves_as "$RL_EXT"
  check "after: NAT resumes, a new flow leaves as $NEW_FLOW" test "${NEW_FLOW%%:*}" = "$RL_EXT"
  two_remotes
  check "after: still endpoint-independent ($M1, $M2)" test -n "$M1" -a "$M1" = "$M2"
  check "the daemon never exited" alive
  check "the stats file is still written" stats_fresh
}

# $1: the event's name; $2...: the command run in the router.
heal_check() {
  local what=$1 p x a i tables; shift
  fresh; p=$FRESH
  x=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A1" 7000)
  check "before $what: in1:$p leaves as $x" test "${x%:*}" = "$RL_EXT"
  [ -n "$x" ] || return 0
  rl_reach "$LAB_Y2" "$x" "$LAB_IN1" "$LAB_IN1_ADDR" "$p"
  check "before $what (control): Y2, never contacted, reaches in1:$p through $x: $REACH" test "$REACH" = yes
  tables=$(lab_exec "$LAB_RT" nft list tables | sort | paste -sd' ')
  rl_log_mark
  lab_exec "$LAB_RT" "$@"
  for ((i = 1; i <= 10; i++)); do  # each try from a fresh port of Y2: no old conntrack entry helps
    rl_reach "$LAB_Y2" "$x" "$LAB_IN1" "$LAB_IN1_ADDR" "$p"
    [ "$REACH" = yes ] && break
    sleep 0.5
  done
  check "after $what: Y2 reaches in1:$p through $x again (try $i)" test "$REACH" = yes
  a=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$p" "$LAB_A1" 7000)
  check "after $what: in1:$p still leaves as $x ($a)" test "$a" = "$x"
  two_remotes
  check "after $what: a new endpoint is endpoint-independent ($M1, $M2)" test -n "$M1" -a "$M1" = "$M2"
  check "after $what: the tables are back ($(lab_exec "$LAB_RT" nft list tables | sort | paste -sd' '))" \
    test "$(lab_exec "$LAB_RT" nft list tables | sort | paste -sd' ')" = "$tables"
  check "after $what: the daemon logged it ($(rl_new_log | grep -iE "$HEAL_RE" | head -n 1))" rl_new_log_has "$HEAL_RE"
  check "after $what: the daemon runs on" alive
}

section4() {
  echo "== 4: the rule set flushed, the table deleted"
  heal_check "nft flush ruleset" nft flush ruleset
  heal_check "nft delete table ip conenatd" nft delete table ip conenatd
}

section5() {
  local r
  echo "== 5: the router's own services inside the pool (UDP 23001, TCP 23002) and outside it (TCP 8022)"
  lab_bg "$LAB_RT" rl_udp_echo "$LAB_PY" "$LAB_HELPER" udp-echo "$RL_EXT" 23001 30
  local echo_pid=$LAB_BG_PID
  lab_bg "$LAB_RT" rl_tcp_serve "$LAB_PY" "$FLOWS" tcp-serve "$RL_EXT" 23002 30
  local serve_pid=$LAB_BG_PID
  lab_bg "$LAB_RT" rl_tcp_serve_out "$LAB_PY" "$FLOWS" tcp-serve "$RL_EXT" 8022 30
  local out_pid=$LAB_BG_PID
  wait_for 50 0.1 lab_udp_listening "$LAB_RT" "$RL_EXT" 23001
  wait_for 50 0.1 lab_tcp_listening "$LAB_RT" "$RL_EXT" 23002
  wait_for 50 0.1 lab_tcp_listening "$LAB_RT" "$RL_EXT" 8022
  r=$(fl "$LAB_INET" 2 udp-exchange "$LAB_A1" 0 "$RL_EXT" 23001 1 | paste -sd' ')
  check "A1's datagrams to the router's UDP service $RL_EXT:23001 are answered by it: '$r'" test "$r" = "from $RL_EXT:23001"
  r=$(fl "$LAB_INET" 3 tcp-connect "$LAB_A1" 0 "$RL_EXT" 8022 3 | cut -d' ' -f1)
  check "(control) A1 connects to the router's TCP service outside the pool, $RL_EXT:8022, within 3 s: $r" test "$r" = connected
  r=$(fl "$LAB_INET" 3 tcp-connect "$LAB_A1" 0 "$RL_EXT" 23002 3 | cut -d' ' -f1)
  check "A1 connects to the router's TCP service inside the pool, $RL_EXT:23002, within 3 s (a 6 s hold could not): $r" \
    test "$r" = connected
  r=$(fl "$LAB_INET" 3 tcp-connect "$LAB_Y1" 0 "$RL_EXT" 23002 3 | cut -d' ' -f1)
  check "Y1 too: $r" test "$r" = connected
  r=$(fl "$LAB_INET" 3 tcp-connect "$LAB_A1" 0 "$RL_EXT" 23004 3 | cut -d' ' -f1)
  check "(control) a pool port with no socket and no mapping, $RL_EXT:23004, does not connect: $r" test "$r" != connected
  lab_kill "$echo_pid" 2; lab_kill "$serve_pid" 2; lab_kill "$out_pid" 2
}

# fl NS SECS ARGS: flows.py in NS, bounded.
fl() { local ns=$1 secs=$2; shift 2; lab_exec "$ns" timeout $((secs + 5)) "$LAB_PY" "$FLOWS" "$@"; }

# The user's own port forward, in a table of their own (as /etc/nftables.conf or fw4 writes it):
# UDP and TCP 25000, inside the pool, to in1:25000.
user_dnat_up() {
  lab_exec "$LAB_RT" nft -f - <<EOF
table ip user {
  chain pre {
    type nat hook prerouting priority -100;
    iifname "wan0" udp dport 25000 dnat to $LAB_IN1_ADDR:25000
    iifname "wan0" tcp dport 25000 dnat to $LAB_IN1_ADDR:25000
  }
}
EOF
}

# The user's DNAT (25000) and conenatd's own forwards (UDP 25001, TCP 25002) from two outside
# hosts, UDP answered by in1 (the answer must come back from the forwarded endpoint) and TCP
# connected; 25003 (in the pool, not forwarded, in1 listening) is the control.
section6() {
  local r port peer out pids=()
  echo "== 6: port forwards inside the pool: the user's own DNAT (25000), conenatd's (udp 25001, tcp 25002)"
  # The daemon reads the ruleset's DNAT ports at start, on reload and when another table changes.
  rl_log_mark
  user_dnat_up
  check "the user's table is in place" sh -c "ip netns exec '$LAB_RT' nft list table ip user >/dev/null"
  rl_wait_log "DNAT rules take port 25000: kept out of the pool"
  check "the daemon sees the user's DNAT rule (no reload) and keeps its port out of the pool: $(rl_new_log | grep -E 'DNAT' | head -n 1)" \
    rl_new_log_has "DNAT rules take port 25000: kept out of the pool"
  rl_reload "$RELOAD_RE"
  check "a reload reads the same ports: $(rl_new_log | grep -E "$RELOAD_RE" | head -n 1)" rl_new_log_has "configuration unchanged"
  for port in 25000 25001 25003; do
    lab_bg "$LAB_IN1" "rl_fwd_udp$port" "$LAB_PY" "$LAB_HELPER" udp-echo "$LAB_IN1_ADDR" "$port" 30
    pids+=("$LAB_BG_PID")
    wait_for 50 0.1 lab_udp_listening "$LAB_IN1" "$LAB_IN1_ADDR" "$port"
  done
  for port in 25000 25002 25003; do
    lab_bg "$LAB_IN1" "rl_fwd_tcp$port" "$LAB_PY" "$FLOWS" tcp-serve "$LAB_IN1_ADDR" "$port" 30
    pids+=("$LAB_BG_PID")
    wait_for 50 0.1 lab_tcp_listening "$LAB_IN1" "$LAB_IN1_ADDR" "$port"
  done
  for peer in "$LAB_A1" "$LAB_Y1"; do
    for port in 25000 25001; do
      r=$(fl "$LAB_INET" 2 udp-exchange "$peer" 0 "$RL_EXT" "$port" 1 | paste -sd' ')
      check "UDP from $peer to $RL_EXT:$port: in1:$port answers from it: '$r'" test "$r" = "from $RL_EXT:$port"
    done
    r=$(fl "$LAB_INET" 2 udp-exchange "$peer" 0 "$RL_EXT" 25003 1 | paste -sd' ')
    check "(control) UDP from $peer to $RL_EXT:25003, not forwarded: no answer: '$r'" test -z "$r"
    for port in 25000 25002; do
      r=$(fl "$LAB_INET" 3 tcp-connect "$peer" 0 "$RL_EXT" "$port" 3 | cut -d' ' -f1)
      check "TCP from $peer to $RL_EXT:$port connects to in1:$port: $r" test "$r" = connected
    done
    r=$(fl "$LAB_INET" 3 tcp-connect "$peer" 0 "$RL_EXT" 25003 3 | cut -d' ' -f1)
    check "(control) TCP from $peer to $RL_EXT:25003, not forwarded, does not connect: $r" test "$r" != connected
  done
  for pid in "${pids[@]}"; do lab_kill "$pid" 2; done
  # Reserved ports: in2:25000 and in2:25001 first (port preservation would give them those
  # ports) get others; in1:25001 leaves as EXT:25001 (conenatd's forward is a mapping both ways).
  out=$(rl_map "$LAB_IN2" "$LAB_IN2_ADDR" 25000 "$LAB_Y1" 7001)
  check "in2:25000 is NATed ($out) but not to the user's DNAT port" test -n "$out" -a "$out" != "$RL_EXT:25000"
  out=$(rl_map "$LAB_IN2" "$LAB_IN2_ADDR" 25001 "$LAB_Y1" 7001)
  check "in2:25001 is NATed ($out) but not to the forward's port" test -n "$out" -a "$out" != "$RL_EXT:25001"
  out=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" 25001 "$LAB_Y1" 7001)
  check "in1:25001 (the UDP forward's target) leaves as $RL_EXT:25001 ($out)" test "$out" = "$RL_EXT:25001"
  rl_log_mark
  lab_exec "$LAB_RT" nft delete table ip user
  rl_wait_log "DNAT rules changed"
  check "the user's table gone, the port is back in the pool: $(rl_new_log | grep -E 'DNAT' | head -n 1)" \
    rl_new_log_has "DNAT rules changed: the pool is now 20000-29999"
}

section7() {
  local a r
  echo "== 7: the guest prefix $RL_GUEST_NET is NATed"
  fresh
  a=$(rl_map "$RL_GUEST" "$RL_GUEST_ADDR" "$FRESH" "$LAB_A1" 7000)
  check "UDP from guest:$FRESH reaches A1 from the external address ($a)" test "${a%:*}" = "$RL_EXT"
  fresh
  r=$(rl_map "$LAB_IN1" "$LAB_IN1_ADDR" "$FRESH" "$LAB_A1" 7000)
  check "(control) and from in1:$FRESH ($r), another endpoint" test "${r%:*}" = "$RL_EXT" -a "$r" != "$a"
  lab_bg "$LAB_INET" rl_guest_tcp "$LAB_PY" "$FLOWS" tcp-serve "$LAB_Y1" 8080 10
  local pid=$LAB_BG_PID
  wait_for 50 0.1 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 8080
  fresh
  r=$(fl "$RL_GUEST" 3 tcp-connect "$RL_GUEST_ADDR" "$FRESH" "$LAB_Y1" 8080 3 | cut -d' ' -f1)
  # The client returns once the handshake is done; the server may not have run accept() yet.
  [ "$r" != connected ] || wait_for 30 0.1 grep -q accepted "$LAB_DIR/rl_guest_tcp.log"
  lab_kill "$pid" 2
  a=$(grep -o 'accepted .*' "$LAB_DIR/rl_guest_tcp.log" | head -n 1 | cut -d' ' -f2)
  [ -n "$a" ] && rl_seen "$RL_GUEST_ADDR:$FRESH/tcp" "$a/tcp"
  check "TCP from guest to Y1: $r, Y1 saw $a" test "$r" = connected -a "${a%:*}" = "$RL_EXT"
}

section8() {
  local r pid
  echo "== 8: IPv6 crosses the router untouched while the engine runs"
  r=$(lab_exec "$LAB_IN1" ping -6 -c 2 -W 2 -q "$RL_V6_PEER" | grep -o '[0-9]* received')
  check "ping -6 from in1 to $RL_V6_PEER: $r" test "$r" = "2 received"
  # shellcheck disable=SC2016  # socat's shell expands it
  lab_bg "$LAB_INET" rl_v6_tcp socat -T 5 "TCP6-LISTEN:8081,bind=[$RL_V6_PEER],reuseaddr" 'SYSTEM:echo peer=$SOCAT_PEERADDR'
  pid=$LAB_BG_PID
  wait_for 50 0.1 sh -c "ip netns exec '$LAB_INET' ss -Hltn 'sport = :8081' | grep -q ."
  r=$(lab_exec "$LAB_IN1" timeout 8 socat -T 5 - "TCP6:[$RL_V6_PEER]:8081,connect-timeout=3" </dev/null 2>&1)
  lab_kill "$pid" 2
  # socat writes the address in full: compare it in its short form.
  r=$("$LAB_PY" -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1].removeprefix("peer=").strip("[]")))' "$r" 2>&1)
  check "TCP over IPv6 from in1 to [$RL_V6_PEER]:8081: the peer saw in1's own address $r" test "$r" = "$RL_V6_IN1"
}

echo "router life, engine $ENGINE: lab $LAB_PREFIX ($LAB_DIR)"
sections=${ONLY:-1 2 3 4 5 6 7 8}
for s in $sections; do
  rl_daemon_ensure || break
  before=$failures
  "section$s"
  if [ "$failures" -gt "$before" ] && alive; then
    # What failed may have left the daemon in any state: the next section starts afresh.
    echo "(section $s failed: the daemon restarts with the base config)"
    daemon_stop
    rl_conf_base
    rl_daemon_start || fail "daemon did not start again: $(tail -n 5 "$RL_LOG" | paste -sd'|')"
  fi
done
check "the daemon runs at the end (pid $DAEMON)" alive
bad=$(rl_record_check)
check "no external endpoint served two internal endpoints at once ($(wc -l <"$RL_RECORD") observations${bad:+; $bad})" test -z "$bad"
if [ "$failures" -gt 0 ]; then
  echo "-- the last daemon's log ($RL_LOG), its end:"; tail -n 25 "$RL_LOG"
fi
daemon_stop
checks_done "router life ($ENGINE)"
