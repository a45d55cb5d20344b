#!/usr/bin/env bash
# End-to-end benchmark in the lab of tests/e2e/lib.sh: plain kernel MASQUERADE against "the
# daemon", alternating the two in one run so that drift of this noisy 2-vCPU machine hits both.
# Per configuration and round, each on a fresh conntrack table:
#   setup latency  nat_probe latency: fresh-flow RTT minus the same flow's second RTT, in1 -> Y1
#   tcp            iperf3 -t 5, in1 -> Y1 (receiver's figure)
#   udp pps        nat_probe flood, one 5-tuple, 64-byte payloads, in1 -> Y2
#   new flows/s    nat_probe flood from in1's second address, every packet a new source port,
#                  i.e. a new internal endpoint and a new mapping (50 000, within the default
#                  1024-65535 pool); then "reuse": new 5-tuples from those same endpoints to
#                  other ports (new conntrack flows on existing mappings)
#   The flood tests count on the receiving side with an nft counter (no receiving process to be
#   the bottleneck); rate = received / the sender's sending time.
#
# usage: bench/e2e/bench.sh [--rounds N] [--conenatd TYPE]
#                           [--daemon-cmd CMD [--daemon-stop CMD] [--daemon-ready CMD]]
#   --conenatd TYPE   the daemon: ${CONENATD:-$BUILD/conenatd} --engine conntrack --nat-type TYPE
#                     --external-if wan0 ... $BENCH_DAEMON_ARGS (pid and stats files in the lab dir)
#   --daemon-cmd CMD  any shell snippet, run with bash -c in the router namespace in the
#                     background (use `exec` for a single long-running command: it gets SIGTERM);
#                     --daemon-stop runs in the router namespace before that SIGTERM;
#                     --daemon-ready is polled there (10 s at most) before measuring.
#   Neither: "the daemon" is MASQUERADE again (validates the harness: every ratio should be ~1).
# Environment: BENCH_ROUNDS (default 4), BENCH_DAEMON_CMD / _STOP / _READY, BENCH_DAEMON_ARGS
# (extra --conenatd arguments), BENCH_MAP_FLOWS (default 50000), CONENATD, BUILD, CXX.
# Ends with "e2e: tcp_ratio=... udp_pps_ratio=... new_flows_ratio=... setup_p50_us=...
# setup_p99_us=..." (ratios = daemon / MASQUERADE; setup figures are the daemon's).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh

rounds=${BENCH_ROUNDS:-4}
d_cmd=${BENCH_DAEMON_CMD:-} d_stop=${BENCH_DAEMON_STOP:-} d_ready=${BENCH_DAEMON_READY:-}
d_label=daemon conenatd_bin='' conenatd_type=''
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --conenatd)
      bin=${CONENATD:-${BUILD:-build}/conenatd}
      [ -x "$bin" ] || { echo "bench: $bin not found: build it first" >&2; exit 1; }
      conenatd_bin=$(realpath "$bin") conenatd_type=$2
      d_ready="nft list table ip conenatd"
      d_label="conenatd($2)"; shift ;;
    --daemon-cmd) d_cmd=$2; shift ;;
    --daemon-stop) d_stop=$2; shift ;;
    --daemon-ready) d_ready=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9]$ ]] || { echo "bench: --rounds must be 1..9" >&2; exit 2; }
# shellcheck disable=SC2016
if [ -n "$conenatd_bin" ]; then
  # Single quotes: LAB_DIR exists only after lab_up; bash -c expands it (lab_up exports it).
  # Pid and stats files in the lab dir, never /run: parallel runs must not share a lock.
  d_cmd="exec $conenatd_bin --engine conntrack --nat-type $conenatd_type --external-if wan0"
  d_cmd+=' --internal-net 10.0.0.0/24 --foreground --pid-file "$LAB_DIR/conenatd.pid"'
  d_cmd+=' --stats-file "$LAB_DIR/conenatd.stats" '"${BENCH_DAEMON_ARGS:-}"
elif [ -z "$d_cmd" ]; then
  # Until the daemon exists: the same MASQUERADE under the daemon's start/stop machinery.
  d_cmd="iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE"
  d_stop="iptables -t nat -D POSTROUTING -o wan0 -j MASQUERADE"
  d_ready="iptables -t nat -C POSTROUTING -o wan0 -j MASQUERADE"
  d_label="MASQUERADE-as-daemon"
fi
d_ready=${d_ready:-true}

e2e_require_root "${LAB_TOOLS[@]}" iperf3 "${CXX:-g++}"

# Sizes: bounded so one configuration takes ~12 s and the whole run stays well under 5 minutes.
TCP_SECONDS=5
PPS_SECONDS=3
MAP_FLOWS=${BENCH_MAP_FLOWS:-50000}   # new mappings: under the pool and MASQUERADE's 64512 per remote
REUSE_DPORTS=2                         # reuse test: MAP_FLOWS x this many new flows
FLOWS_SECONDS=5
PROBES=2000
PROBE_GAP_US=100

lab_trap
lab_up >/dev/null 2>&1 || { echo "bench: could not build the lab" >&2; exit 1; }
probe=$LAB_DIR/nat_probe
"${CXX:-g++}" -O2 -std=c++20 -o "$probe" bench/e2e/nat_probe.cpp

# Receivers in "the internet", alive for the whole run (their own lifetime is bounded too).
lab_bg "$LAB_INET" iperf3-server timeout 600 iperf3 -s -B "$LAB_Y1" -p 5201
lab_bg "$LAB_INET" echo-server "$probe" echo "$LAB_Y1" 7777 600
lab_exec "$LAB_INET" nft -f - <<EOF
table ip benchrx {
  counter rx { }
  # Counted and dropped before anything else: the receiver costs next to nothing.
  chain pre { type filter hook prerouting priority raw; ip daddr $LAB_Y2 udp dport 9000-9009 counter name rx drop; }
}
EOF
wait_for 50 0.1 lab_tcp_listening "$LAB_INET" "$LAB_Y1" 5201 || { echo "bench: iperf3 server did not start" >&2; exit 1; }
wait_for 50 0.1 lab_udp_listening "$LAB_INET" "$LAB_Y1" 7777 || { echo "bench: echo server did not start" >&2; exit 1; }

rx_count() {
  lab_exec "$LAB_INET" nft list counter ip benchrx rx | awk '/packets/ { print $2 }'
}
rx_reset() { lab_exec "$LAB_INET" nft reset counter ip benchrx rx >/dev/null; }

# ------------------------------------------------------------------ the two NATs

d_pid=
nat_start() {
  lab_conntrack_flush
  if [ "$1" = masq ]; then lab_masquerade_on; return; fi
  lab_bg "$LAB_RT" "daemon.$2" bash -c "$d_cmd"
  d_pid=$LAB_BG_PID
  local i
  for ((i = 0; i < 100; i++)); do
    if lab_exec "$LAB_RT" bash -c "$d_ready" >/dev/null 2>&1; then return 0; fi
    # A one-shot snippet (rules installed, then exit 0) is fine; a dead daemon is not.
    if ! lab_alive "$d_pid"; then
      wait "$d_pid" 2>/dev/null || { echo "bench: daemon exited; log:" >&2; tail -n 20 "$LAB_DIR/daemon.$2.log" >&2; return 1; }
    fi
    sleep 0.1
  done
  echo "bench: daemon not ready after 10 s; log:" >&2
  tail -n 20 "$LAB_DIR/daemon.$2.log" >&2
  return 1
}

nat_stop() {
  if [ "$1" = masq ]; then lab_masquerade_off; return; fi
  if [ -s "$LAB_DIR/conenatd.stats" ]; then   # the daemon's own view of the round
    echo "  daemon counters (non-zero): $(awk '$2 != 0 { printf "%s=%s ", $1, $2 }' "$LAB_DIR/conenatd.stats")"
    rm -f "$LAB_DIR/conenatd.stats"
  fi
  [ -z "$d_stop" ] || lab_exec "$LAB_RT" bash -c "$d_stop" || true
  lab_kill "$d_pid" 5
  # Whatever the snippet left running in the router was started by this run: end it by PID.
  local pid
  for pid in $(ip netns pids "$LAB_RT" 2>/dev/null); do lab_kill "$pid" 2; done
  if lab_exec "$LAB_RT" nft list table ip conenatd >/dev/null 2>&1; then
    echo "bench: warning: table ip conenatd left behind after stop" >&2
  fi
  lab_conntrack_flush
}

# ------------------------------------------------------------------ one measurement

# flood OUT KEY SRC SPORT0 NSPORTS DPORT0 NDPORTS COUNT SECONDS: nat_probe flood in1 -> Y2,
# 64-byte payloads; writes KEY=<received k/s> and KEY_loss_pct=<lost %> to OUT.
flood() {
  local out=$1 key=$2 s secs sent rx; shift 2
  rx_reset
  s=$(timeout $(($7 + 10)) ip netns exec "$LAB_IN1" "$probe" flood "$1" "$LAB_Y2" "$2" "$3" "$4" "$5" \
        "$6" "$7" 64) || s=""
  sleep 0.5   # a queueing NAT may still be delivering the tail
  rx=$(rx_count)
  secs=$(echo "$s" | sed -nE 's/.*seconds=([0-9.]+).*/\1/p')
  sent=$(echo "$s" | sed -nE 's/.*sent=([0-9]+).*/\1/p')
  echo "$key=$(awk -v r="${rx:-0}" -v t="${secs:-0}" 'BEGIN { printf "%.1f", (t > 0 ? r / t / 1e3 : 0) }')" >>"$out"
  echo "${key}_loss_pct=$(awk -v r="${rx:-0}" -v n="${sent:-0}" 'BEGIN { printf "%.2f", (n > 0 ? 100 * (n - r) / n : 100) }')" >>"$out"
}

# measure CONFIG ROUND: writes key=value lines to $LAB_DIR/res.CONFIG.ROUND
measure() {
  local out=$LAB_DIR/res.$1.$2 line
  : >"$out"
  # Latency first, on an empty conntrack table.
  line=$(timeout 60 ip netns exec "$LAB_IN1" "$probe" latency "$LAB_IN1_ADDR" "$LAB_Y1" 7777 \
           "$PROBES" "$PROBE_GAP_US" 20000) || line=""
  echo "$line" | tr ' ' '\n' | grep '=' >>"$out" || true

  local bps
  bps=$(timeout $((TCP_SECONDS + 15)) ip netns exec "$LAB_IN1" iperf3 -c "$LAB_Y1" -p 5201 \
          -t "$TCP_SECONDS" -J --connect-timeout 3000 2>/dev/null |
        "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])' \
        2>/dev/null) || bps=0
  echo "tcp_mbps=$(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1e6 }')" >>"$out"

  flood "$out" udp_kpps "$LAB_IN1_ADDR" 40000 1 9000 1 0 "$PPS_SECONDS"
  # From the second address: none of its endpoints has a mapping yet.
  flood "$out" flows_kps "$LAB_IN1_ADDR2" 1024 "$MAP_FLOWS" 9001 1 "$MAP_FLOWS" "$FLOWS_SECONDS"
  flood "$out" reuse_kps "$LAB_IN1_ADDR2" 1024 "$MAP_FLOWS" 9002 "$REUSE_DPORTS" \
    $((MAP_FLOWS * REUSE_DPORTS)) "$FLOWS_SECONDS"
  echo "  $(tr '\n' ' ' <"$out")"
}

# ------------------------------------------------------------------ run, alternating

echo "bench: e2e, MASQUERADE vs $d_label, $rounds round(s); lab $LAB_PREFIX"
start=$SECONDS
for ((r = 1; r <= rounds; r++)); do
  # ABBA order: a trend over the run does not favour one side.
  if ((r % 2)); then order=(masq daemon); else order=(daemon masq); fi
  for c in "${order[@]}"; do
    echo "round $r: $c"
    nat_start "$c" "$r" || { echo "bench: could not start $c" >&2; exit 1; }
    measure "$c" "$r"
    nat_stop "$c"
  done
done

# Median over rounds of one key for one config.
med() {
  local c=$1 k=$2
  cat "$LAB_DIR"/res."$c".* | sed -n "s/^$k=//p" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

fmt="%-34s %14s %14s %8s\n"
echo
# shellcheck disable=SC2059
printf "$fmt" "metric (median of $rounds)" "MASQUERADE" "$d_label" "ratio"
for row in "tcp_mbps:TCP throughput (Mbit/s)" "udp_kpps:UDP 64 B (kpps)" \
           "flows_kps:new flows+mappings (k/s)" "flows_kps_loss_pct:  loss (%)" \
           "reuse_kps:new flows, old mappings (k/s)" "reuse_kps_loss_pct:  loss (%)" \
           "setup_p50:setup p50 (us, fresh-est)" "setup_p99:setup p99 (us, fresh-est)" \
           "fresh_p50:fresh-flow RTT p50 (us)" "est_p50:established RTT p50 (us)" \
           "fresh_p99:fresh-flow RTT p99 (us)" "lost:lost latency probes"; do
  k=${row%%:*}; label=${row#*:}
  a=$(med masq "$k"); b=$(med daemon "$k")
  # shellcheck disable=SC2059
  printf "$fmt" "$label" "$a" "$b" "$(ratio "$b" "$a")"
done
echo "(run took $((SECONDS - start)) s)"
echo "e2e: tcp_ratio=$(ratio "$(med daemon tcp_mbps)" "$(med masq tcp_mbps)")" \
     "udp_pps_ratio=$(ratio "$(med daemon udp_kpps)" "$(med masq udp_kpps)")" \
     "new_flows_ratio=$(ratio "$(med daemon flows_kps)" "$(med masq flows_kps)")" \
     "setup_p50_us=$(med daemon setup_p50) setup_p99_us=$(med daemon setup_p99)" \
     "reuse_flows_ratio=$(ratio "$(med daemon reuse_kps)" "$(med masq reuse_kps)")" \
     "masq_setup_p50_us=$(med masq setup_p50) masq_setup_p99_us=$(med masq setup_p99)"
