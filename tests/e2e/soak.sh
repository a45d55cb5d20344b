#!/usr/bin/env bash
# Churn soak, for each engine in turn (SOAK_ENGINES, default "conntrack queue tun"), SOAK_SECONDS
# of traffic each (default 60, about 70 s per engine in all; `make soak SOAK_SECONDS=N` for
# longer; below 30 the conntrack engine may not yet have removed a mapping), in the lab of
# tests/e2e/lib.sh with two more LAN hosts:
#
#   in1 10.0.0.2 ─┐                                               ┌─ Y1 203.0.113.5: the sink (UDP echo
#   in2 10.0.0.3 ─┤                                               │   601,602,6003,6004, TCP echo 7001-7004,
#   in3 10.0.0.4 ─┼─ lan0 [router: conenatd --engine E] wan0 E1 ─ inet  ping)
#   in4 10.0.0.5 ─┘                                               └─ A2 198.51.100.2: the unsolicited
#                                                                     peer (UDP and SYNs at E1)
#
# Every host runs short UDP, TCP and ICMP echo flows (tests/e2e/soak.py) from source ports (echo
# identifiers) that all hosts share, with idle gaps around the short TCP, ICMP and UDP timeouts
# (transitory 3 s, established 4 s, ICMP 3 s, UDP to the well-known sink ports 601-602 3 s with
# RFC 4787 REQ-5a's --udp-short-timeout, to 6003-6004 the RFC's 120 s; the kernel's conntrack
# timeouts in the router as short, for the conntrack engine), so that mappings expire and their
# external ports go to other hosts, generation after generation, through the engines' real
# schedule (lazy sweeps); meanwhile A2 sends unsolicited datagrams and SYNs at the external ports
# in use and at random ones. Checked per engine:
#   - no external endpoint was used by two internal endpoints at once (what the sink saw);
#   - every flow that should pass did (all UDP and echo flows; TCP flows never idle near the
#     timeout);
#   - the churn happened: TCP and UDP flows idled past their timeouts, mappings were removed by the daemon,
#     hosts contended for one source port at once (how often an external endpoint changed owner
#     after an expiry is reported);
#   - the filter: under full cone the unsolicited datagrams reached the LAN hosts, under port-
#     restricted cone none did;
#   - the daemon is still running, its RSS stayed bounded (VmRSS sampled every second);
#   - the table's own consistency check ran (table_checks) and never failed
#     (table_consistency_errors 0, no "inconsistent" in the log).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh

SOAK_SECONDS=${SOAK_SECONDS:-60}
SOAK_ENGINES=${SOAK_ENGINES:-conntrack queue tun}
SOAK_PY=tests/e2e/soak.py
TCP_TRANS=3 TCP_EST=4 UDP_TIMEOUT=120 UDP_SHORT=3 ICMP_TIMEOUT=3
MARGIN=1.5  # seconds: the sink sees a packet at most this long after the daemon translated it
# UDP to the well-known ports has the short REQ-5a timer (--udp-short-ports): UDP expiry generations.
UDP_PORTS=601,602,6003,6004 UDP_SHORT_PORTS=601-602 TCP_PORTS=7001,7002,7003,7004
declare -A NAT_TYPE=([conntrack]=full-cone [queue]=full-cone [tun]=port-restricted-cone)
declare -A ENGINE_ARGS=([conntrack]="" [queue]="--queues 2" [tun]="--queues 2")

# A LAN host in its own namespace on the lab's switch (removed with the lab).
soak_host() {
  local name=$1 addr=$2 ns=${LAB_PREFIX}$1
  ip netns add "$ns" || return 1
  echo "$ns" >>"$LAB_DIR/namespaces"
  ip -n "$ns" link set lo up
  lab_exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link add eth0 type veth peer name "p-$name" netns "$LAB_SW"
  ip -n "$LAB_SW" link set "p-$name" master br0 up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$LAB_LAN_GW"
  wait_for 50 0.1 lab_exec "$ns" ping -c1 -W1 "$LAB_LAN_GW"
}
soak_host in3 10.0.0.4 && soak_host in4 10.0.0.5 || { echo "FAIL: the two extra LAN hosts"; exit 1; }
HOSTS=("$LAB_IN1:$LAB_IN1_ADDR" "$LAB_IN2:$LAB_IN2_ADDR" "${LAB_PREFIX}in3:10.0.0.4" "${LAB_PREFIX}in4:10.0.0.5")
# A host reconnects from a source port to the same server seconds after it closed (soak.py):
# let its own TIME_WAIT give way, as the NAT has to.
# Echo flows use ping sockets (their port is the echo identifier): root's group may open them.
for h in "${HOSTS[@]}"; do lab_exec "${h%%:*}" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ping_group_range="0 0"; done

# The kernel's own timeouts in the router, as short as the daemon's: under the conntrack engine
# a mapping lives while the kernel has a flow on it (the software engines bypass conntrack).
lab_exec "$LAB_RT" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=$TCP_EST \
  net.netfilter.nf_conntrack_tcp_timeout_close_wait=$TCP_TRANS net.netfilter.nf_conntrack_tcp_timeout_fin_wait=$TCP_TRANS \
  net.netfilter.nf_conntrack_tcp_timeout_last_ack=$TCP_TRANS net.netfilter.nf_conntrack_tcp_timeout_time_wait=$TCP_TRANS \
  net.netfilter.nf_conntrack_tcp_timeout_close=$TCP_TRANS net.netfilter.nf_conntrack_tcp_timeout_unacknowledged=$TCP_TRANS \
  net.netfilter.nf_conntrack_udp_timeout=$TCP_TRANS net.netfilter.nf_conntrack_udp_timeout_stream=$TCP_EST \
  net.netfilter.nf_conntrack_icmp_timeout=$ICMP_TIMEOUT

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null; }

soak_engine() {
  local engine=$1 type=${NAT_TYPE[$1]} i pid out sink rss=() clients=() outs=() judged rc t
  echo "== $engine engine, $type, $SOAK_SECONDS s: 4 hosts, UDP + TCP + ICMP echo churn, unsolicited UDP + SYNs from outside"
  # shellcheck disable=SC2086  # ENGINE_ARGS holds separate words
  daemon_start --engine "$engine" --nat-type "$type" ${ENGINE_ARGS[$engine]} --log-level info \
    --udp-timeout $UDP_TIMEOUT --tcp-transitory-timeout $TCP_TRANS --tcp-established-timeout $TCP_EST \
    --icmp-timeout $ICMP_TIMEOUT --udp-short-timeout $UDP_SHORT --udp-short-ports $UDP_SHORT_PORTS ||
    { fail "$engine: daemon did not start"; daemon_stop; return; }
  sink=$LAB_DIR/sink.$engine
  lab_bg "$LAB_INET" "soak-sink-$engine" "$LAB_PY" "$SOAK_PY" sink "$LAB_Y1" $UDP_PORTS $TCP_PORTS "$LAB_A2" "$LAB_E1" \
    $((SOAK_SECONDS + 40)) "$sink"
  pid=$LAB_BG_PID
  wait_for 50 0.1 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 7004 || fail "$engine: the sink did not start"
  for i in "${!HOSTS[@]}"; do
    out=$LAB_DIR/clients.$engine.$i
    lab_bg "${HOSTS[$i]%%:*}" "soak-clients-$engine-$i" "$LAB_PY" "$SOAK_PY" clients "${HOSTS[$i]#*:}" "$LAB_Y1" \
      $UDP_PORTS $TCP_PORTS "$SOAK_SECONDS" "$RANDOM" $TCP_EST $ICMP_TIMEOUT $UDP_SHORT "$out"
    clients+=("$LAB_BG_PID")
    outs+=("$out")
  done
  # VmRSS every second while the clients run (they end by themselves within SOAK_SECONDS + 40 s).
  for ((t = 0; t < SOAK_SECONDS + 60; t++)); do
    local running=0
    for i in "${clients[@]}"; do lab_alive "$i" && running=1; done
    [ $running = 1 ] || break
    rss+=("$(rss_kb "$DAEMON")")
    sleep 1
  done
  for i in "${clients[@]}"; do lab_kill "$i" 1; done
  lab_kill "$pid" 10 # the sink writes what it saw on SIGTERM too
  for i in "${!outs[@]}"; do
    [ -s "${outs[$i]}" ] || fail "$engine: host $i wrote no flows (log: $(tail -n 3 "$LAB_DIR/soak-clients-$engine-$i.log"))"
  done
  [ -f "$sink" ] || fail "$engine: the sink wrote nothing (log: $(tail -n 3 "$LAB_DIR/soak-sink-$engine.log"))"

  judged=$("$LAB_PY" "$SOAK_PY" judge "$sink" $UDP_TIMEOUT $UDP_SHORT $TCP_TRANS $ICMP_TIMEOUT $MARGIN "${outs[@]}" 2>&1); rc=$?
  while IFS= read -r line; do
    case $line in
      ok:*) pass "$engine: ${line#ok: }" ;;
      FAIL:*) fail "$engine: ${line#FAIL: }" ;;
      *) echo "$engine: $line" ;;
    esac
  done <<<"$judged"
  [ $rc -eq 0 ] || [[ $judged == *FAIL:* ]] || fail "$engine: judge failed: $judged"
  local unsolicited
  unsolicited=$(sed -n 's/^result: unsolicited_received=\([0-9]*\).*/\1/p' <<<"$judged")
  if [ "$type" = full-cone ]; then
    check "$engine: full cone lets the outside peer in: $unsolicited unsolicited datagrams reached LAN hosts ($(cat "$sink.peer" 2>/dev/null))" \
      test "${unsolicited:-0}" -gt 0
  else
    check "$engine: $type lets none of the outside peer's datagrams in ($unsolicited reached LAN hosts; sent $(cat "$sink.peer" 2>/dev/null))" \
      test "${unsolicited:-1}" -eq 0
  fi

  check "$engine: the daemon is still running" lab_alive "$DAEMON"
  # Bounded memory: the tables are preallocated; what the run touches by its middle is what it
  # holds at its end, give or take the allocator (25 % + 8 MB).
  local n=${#rss[@]} first=0 last=0
  for ((i = 0; i < n; i++)); do
    [ -n "${rss[$i]}" ] || continue
    if ((i < n / 2)); then ((rss[i] > first)) && first=${rss[$i]}; else ((rss[i] > last)) && last=${rss[$i]}; fi
  done
  check "$engine: RSS bounded: max $((first / 1024)) MB in the first half, $((last / 1024)) MB in the second ($n samples)" \
    test "$n" -ge 10 -a "$first" -gt 0 -a -n "${rss[n - 1]:-}" -a "$last" -le $((first + first / 4 + 8192))
  local checks errors removed
  checks=$(stat table_checks) errors=$(stat table_consistency_errors) removed=$(stat mappings_removed)
  check "$engine: the table's consistency check ran $checks times, $errors failed" \
    test "${checks:-0}" -gt 0 -a "${errors:-1}" -eq 0
  check "$engine: $removed mappings expired and were removed during the run" test "${removed:-0}" -gt 0
  if [ "$engine" = conntrack ] && [ "$type" = full-cone ]; then
    # Full cone: new flows on existing mappings carry no event, so every mapping that went was
    # released by a conntrack dump that showed no flow on it (events.cpp, check_release).
    check "conntrack: release checks ran ($(stat release_checks); $(stat release_kept) due mappings kept by a flow or traffic)" \
      test "$(stat release_checks)" -gt 0
  fi
  if grep -q "inconsistent" "$LAB_DIR/conenatd.log"; then
    fail "$engine: the log reports: $(grep -m1 inconsistent "$LAB_DIR/conenatd.log")"
  fi
  echo "$engine: stats: $(grep -E '^(mappings_created|mappings_removed|sessions_created|drop_[a-z_]*|syn_held|translated_in|translated_out|release_checks|release_kept) ' "$STATS" | awk '$2 != 0' | tr '\n' ' ')"
  daemon_stop
  mv "$LAB_DIR/conenatd.log" "$LAB_DIR/conenatd.$engine.log" 2>/dev/null
  lab_conntrack_flush
}

for engine in $SOAK_ENGINES; do
  soak_engine "$engine"
done
checks_done soak
