# shellcheck shell=bash
# shellcheck disable=SC2034  # RL_* variables are this library's interface to router_life.sh
# The lab of tests/e2e/router_life.sh (sourced after daemon_lib.sh, which brought lib.sh's lab
# up): that lab plus a guest network, IPv6, a WAN that can be renumbered and recreated, the
# daemon run from a config file, and the record of which internal endpoint used which external one.
#
#   in1  10.0.0.2   2001:db8:a::2 ─ sw ─ lan0   10.0.0.1  2001:db8:a::1 ┐
#   guest 10.1.0.2 ──────────────────── guest0 10.1.0.1                 ├ router: conenatd --config
#                                       wan0   $RL_EXT (198.51.100.254) ┘  (E2 removed: one address)
#                                              2001:db8:b::254
#   inet: the outside peers Y1 203.0.113.5 / Y2 .6 and A1 198.51.100.1 / A2 .2, R .9 (the router's
#         next hop), 2001:db8:b::1 (IPv6 peer); recreated with wan0 (a veth pair).
#
#   rl_up                    the additions above (after lab_up)
#   rl_wan_create ADDR       wan0 and inet's eth0 created again, every address and route re-added
#   rl_write_config          $RL_CONF_FILE from RL_CONF[...] (engine, nat-type, ports) + fixed keys
#   rl_daemon_start / rl_daemon_ensure   start with the config file / start unless running
#   rl_log_mark, rl_new_log  remember the log's length / print the lines written since
#   rl_wait_log ERE [S]      wait (at most S seconds, default 10) for a new log line matching ERE
#   rl_reload ERE            SIGHUP, then wait for a new log line matching ERE
#   fresh                    sets FRESH to an internal port never used before in this run
#   rl_map NS SRC SPORT PEER PPORT   the external endpoint PEER:PPORT saw SRC:SPORT as (recorded)
#   rl_seen INTERNAL EXTERNAL        record one observation (epoch, internal, external)
#   rl_reach PEER EXT_ENDPOINT NS ADDR PORT   sets REACH to "yes" if a datagram from PEER (a
#                            fresh source port) to EXT_ENDPOINT reached NS's ADDR:PORT, else "no"
#                            (not in $(...): the fresh port must outlive the call)
#   rl_record_check          fails if one external endpoint served two internal ones in one epoch

RL_GUEST_GW=10.1.0.1
RL_GUEST_ADDR=10.1.0.2
RL_GUEST_NET=10.1.0.0/24
RL_V6_LAN_GW=2001:db8:a::1
RL_V6_IN1=2001:db8:a::2
RL_V6_LAN=2001:db8:a::/64
RL_V6_WAN_RT=2001:db8:b::254
RL_V6_PEER=2001:db8:b::1
RL_EXT=$LAB_E1
RL_CONF_FILE=$LAB_DIR/conenatd.conf
RL_LOG=$LAB_DIR/conenatd.0.log
RL_RECORD=$LAB_DIR/endpoints
RL_EPOCH=0
FRESH=21000
: >"$RL_RECORD"

fresh() { FRESH=$((FRESH + 1)); }

rl_v6_on() {
  local ns=$1
  lab_exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
}

# The inet side of wan0 and wan0 itself, with every address and route (lab_up's, minus E2).
rl_wan_create() {
  local addr=$1 a
  ip -n "$LAB_RT" link add wan0 type veth peer name eth0 netns "$LAB_INET" || return 1
  for a in "$LAB_A1/24" "$LAB_A2/24" "$LAB_R/24" "$LAB_Y1/32" "$LAB_Y2/32"; do
    ip -n "$LAB_INET" addr add "$a" dev eth0
  done
  ip -n "$LAB_INET" -6 addr add "$RL_V6_PEER/64" dev eth0 nodad
  ip -n "$LAB_INET" link set eth0 up
  ip -n "$LAB_RT" addr add "$addr/24" dev wan0
  ip -n "$LAB_RT" -6 addr add "$RL_V6_WAN_RT/64" dev wan0 nodad
  ip -n "$LAB_RT" link set wan0 up
  ip -n "$LAB_RT" route replace default via "$LAB_R" dev wan0
  ip -n "$LAB_RT" -6 route replace default via "$RL_V6_PEER" dev wan0
  ip -n "$LAB_INET" -6 route replace "$RL_V6_LAN" via "$RL_V6_WAN_RT" dev eth0
  wait_for 50 0.1 lab_exec "$LAB_RT" ping -c1 -W1 "$LAB_A1"
}

rl_up() {
  local ns
  ip -n "$LAB_RT" addr del "$LAB_E2/24" dev wan0 || return 1
  for ns in "$LAB_RT" "$LAB_IN1" "$LAB_INET"; do rl_v6_on "$ns"; done
  lab_exec "$LAB_RT" sysctl -qw net.ipv6.conf.all.forwarding=1
  # NDP through the switch without waiting for MLD snooping to learn the groups.
  ip -n "$LAB_SW" link set br0 type bridge mcast_snooping 0
  ip -n "$LAB_RT" -6 addr add "$RL_V6_LAN_GW/64" dev lan0 nodad
  ip -n "$LAB_IN1" -6 addr add "$RL_V6_IN1/64" dev eth0 nodad
  ip -n "$LAB_IN1" -6 route add default via "$RL_V6_LAN_GW" dev eth0
  ip -n "$LAB_RT" -6 addr add "$RL_V6_WAN_RT/64" dev wan0 nodad
  ip -n "$LAB_INET" -6 addr add "$RL_V6_PEER/64" dev eth0 nodad
  ip -n "$LAB_RT" -6 route add default via "$RL_V6_PEER" dev wan0
  ip -n "$LAB_INET" -6 route add "$RL_V6_LAN" via "$RL_V6_WAN_RT" dev eth0

  RL_GUEST=${LAB_PREFIX}guest
  ip netns add "$RL_GUEST" || return 1
  echo "$RL_GUEST" >>"$LAB_DIR/namespaces"
  ip -n "$RL_GUEST" link set lo up
  lab_exec "$RL_GUEST" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$LAB_RT" link add guest0 type veth peer name eth0 netns "$RL_GUEST"
  ip -n "$LAB_RT" addr add "$RL_GUEST_GW/24" dev guest0
  ip -n "$RL_GUEST" addr add "$RL_GUEST_ADDR/24" dev eth0
  ip -n "$LAB_RT" link set guest0 up
  ip -n "$RL_GUEST" link set eth0 up
  ip -n "$RL_GUEST" route add default via "$RL_GUEST_GW"
  wait_for 50 0.1 lab_exec "$RL_GUEST" ping -c1 -W1 "$RL_GUEST_GW" &&
    wait_for 50 0.1 lab_exec "$LAB_IN1" ping -6 -c1 -W1 "$RL_V6_PEER"
}

# The config file: RL_CONF holds what the sections change; the rest is fixed. Forwards inside
# the pool (25001 UDP, 25002 TCP) to in1; both prefixes NATed.
declare -A RL_CONF
rl_conf_base() { RL_CONF=([engine]=$ENGINE [nat-type]=full-cone [ports]=20000-29999); }
rl_write_config() {
  cat >"$RL_CONF_FILE.new" <<EOF
# router_life.sh: the daemon's config (re-read on SIGHUP)
engine = ${RL_CONF[engine]}
external-if = wan0
internal-net = $LAB_INTERNAL_NET
internal-net = $RL_GUEST_NET
nat-type = ${RL_CONF[nat-type]}
ports = ${RL_CONF[ports]}
forward = udp:25001=$LAB_IN1_ADDR:25001
forward = tcp:25002=$LAB_IN1_ADDR:25002
udp-timeout = 300
log-level = debug
EOF
  mv "$RL_CONF_FILE.new" "$RL_CONF_FILE"   # the daemon never reads half a file
}

DAEMON=
rl_daemon_start() {
  rl_write_config
  rm -f "$STATS"
  RL_EPOCH=$((RL_EPOCH + 1))
  RL_LOG=$LAB_DIR/conenatd.$RL_EPOCH.log   # one log per daemon: a restart keeps the last one's
  lab_bg "$LAB_RT" "conenatd.$RL_EPOCH" "$BIN" --config "$RL_CONF_FILE" --foreground \
    --pid-file "$LAB_DIR/conenatd.pid" --control-socket "$LAB_DIR/conenatd.sock" --stats-file "$STATS"
  DAEMON=$LAB_BG_PID
  wait_for 100 0.1 test -s "$STATS"
}
# With the base config, unless a daemon runs already.
rl_daemon_ensure() {
  [ -n "$DAEMON" ] && lab_alive "$DAEMON" && return 0
  [ -n "$DAEMON" ] && fail "the daemon (pid $DAEMON) had exited; restarting it: $(tail -n 3 "$RL_LOG" | paste -sd'|')"
  rl_conf_base
  rl_daemon_start || { fail "daemon did not start: $(tail -n 5 "$RL_LOG" | paste -sd'|')"; return 1; }
}

RL_MARK=0
rl_log_mark() { RL_MARK=$(wc -l <"$RL_LOG"); }
rl_new_log() { tail -n +$((RL_MARK + 1)) "$RL_LOG"; }
rl_new_log_has() { rl_new_log | grep -qiE "$1"; }
rl_wait_log() { wait_for $((${2:-10} * 10)) 0.1 rl_new_log_has "$1"; }
rl_reload() {
  rl_log_mark
  kill -HUP "$DAEMON"
  rl_wait_log "$1"
}

rl_seen() { echo "$RL_EPOCH $1 $2" >>"$RL_RECORD"; }
rl_map() {
  local ns=$1 src=$2 sport=$3 peer=$4 pport=$5 ext
  ext=$(udp_mapped_port "$ns" "$src" "$sport" "$peer" "$pport")
  [ -n "$ext" ] && rl_seen "$src:$sport" "$ext"
  echo "$ext"
}

# Port numbers for the peers' fresh source ports (never reused: no old conntrack entry applies).
PEER_PORT=40000
rl_reach() {
  local peer=$1 ext=$2 ns=$3 addr=$4 port=$5 pid
  PEER_PORT=$((PEER_PORT + 1))
  REACH=no
  udp_observe "$ns" "$addr" "$port" 2 1 || return 0
  pid=$LAB_BG_PID
  udp_send "$LAB_INET" "$peer" "$PEER_PORT" "${ext%:*}" "${ext#*:}" reach >/dev/null 2>&1 || true
  if udp_seen "$pid" | grep -q "^$peer:"; then REACH=yes; fi
}

rl_record_check() {
  awk '{ k = $1 " " $3
         if ((k in m) && m[k] != $2) { printf "epoch %s: %s served %s and %s\n", $1, $3, m[k], $2; bad = 1 }
         else m[k] = $2 }
       END { exit bad }' "$RL_RECORD"
}
