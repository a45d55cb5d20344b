# shellcheck shell=bash
# shellcheck disable=SC2034  # LAB_* variables are this library's interface to its callers
# End-to-end lab for conenatd: network namespaces joined by veth pairs, sourced by every
# tests/e2e/*.sh script, scripts/demo.sh and bench/e2e/bench.sh. Needs root.
#
#   ns $LAB_IN1  eth0 10.0.0.2 ─┐      ns $LAB_SW: bridge br0        ns $LAB_RT (the router, DUT)
#   (also 10.0.0.12, for        ├──── (a plain L2 switch) ───── lan0 10.0.0.1
#    two-address tests)         │                                 wan0 198.51.100.254 = E1
#   ns $LAB_IN2  eth0 10.0.0.3 ─┘                                      198.51.100.253 = E2 (secondary)
#                                                                 default via R 198.51.100.9
#                                                                   │
#                                                                 eth0 (veth peer of wan0)
#   ns $LAB_INET, "the internet", one namespace with every outside address on eth0:
#     A1 198.51.100.1, A2 198.51.100.2  STUN: coturn (RFC 5780) on 3478 + 3479, or stund (RFC 3489)
#     R  198.51.100.9                   on-path next hop of the router (inject ICMP errors from it)
#     Y1 203.0.113.5,  Y2 203.0.113.6   plain peers: bind to one of them to send from it
#
# The router starts with no firewall rule: plug any NAT into $LAB_RT (lab_masquerade_on for the
# kernel baseline, or `lab_bg "$LAB_RT" name build/conenatd ... --foreground`).
# Only the namespaces created here are touched; never the root namespace's links, routes or rules.
#
# API (every function returns non-zero on failure; long waits are bounded):
#   e2e_require_root [tool...]      exit 77 "skipped: ..." unless root with ip netns and the tools
#                                   ("${LAB_TOOLS[@]}": everything the lab itself needs)
#   lab_up / lab_down / lab_trap    create / destroy (idempotent) / destroy on EXIT, INT, TERM
#   lab_namespaces NS...            create namespaces lab_down removes (lo up, IPv6 off)
#   lab_exec NS cmd...              run a command inside a namespace
#   lab_bg NS NAME cmd...           start a background process in NS, log $LAB_DIR/NAME.log; sets
#                                   LAB_BG_PID (not printed: a PID started inside $(...) would be
#                                   orphaned, and never reaped by this shell)
#   lab_kill PID [timeout_s]        SIGTERM (then SIGKILL) one PID that the lab started; waits for it
#   wait_for TRIES DELAY_S cmd...   retry a command until it succeeds (bounded)
#   lab_masquerade_on / _off        plain iptables MASQUERADE on wan0 in the router (baseline)
#   lab_conntrack_flush             forget every conntrack entry of the router
#   lab_capture NS IFACE NAME [filter...]  tcpdump to $LAB_DIR/NAME.pcap; sets LAB_BG_PID
#   lab_reference_nat_on TYPE [HOST] / _off   nft emulation of a NAT type for one host (UDP only):
#                                   a known answer for the classifiers while the daemon is not there
#   lab_start_stun / lab_start_stund   coturn (RFC 5780) / stund (RFC 3489) on A1+A2, ports 3478+3479;
#                                   set LAB_STUN_PID / LAB_STUND_PID (one at a time: same ports)
#   classify_natdiscovery NS [LOCAL_ADDR]  prints "mapping=... filtering=..."
#   classify_stun NS [LOCAL_ADDR]          prints "full-cone" | "restricted-cone" | "port-restricted-cone"
#                                          | "symmetric" | "unknown(<what stun said>)"
#   check_classifiers TYPE [WHEN]          both classifiers from $LAB_IN1 report TYPE (the caller's check)
#   udp_observe NS ADDR PORT SECONDS [N]   background UDP listener; sets LAB_BG_PID; see udp_seen
#   udp_seen PID                           prints the "src_ip:src_port" lines the listener saw
#   udp_send NS SRC_ADDR SRC_PORT DST_ADDR DST_PORT [PAYLOAD]   one datagram from a fixed source
#   udp_mapped_port NS SRC_ADDR SRC_PORT PEER_ADDR PEER_PORT   send one datagram, print the
#                                          "ip:port" the peer saw (the NAT's mapping), or nothing
#   tcp_listen NS ADDR PORT SECONDS       background TCP listener that accepts once; sets LAB_BG_PID
#   tcp_connect NS DST_ADDR DST_PORT [TIMEOUT_S] [SRC_ADDR]  prints connected | refused | timeout
#                                          | unreachable

# Fixed addresses of the lab (RFC 5737 documentation ranges outside, 10.x inside).
LAB_LAN_GW=10.0.0.1
LAB_IN1_ADDR=10.0.0.2
LAB_IN1_ADDR2=10.0.0.12
LAB_IN2_ADDR=10.0.0.3
LAB_INTERNAL_NET=10.0.0.0/24
LAB_E1=198.51.100.254
LAB_E2=198.51.100.253
LAB_A1=198.51.100.1
LAB_A2=198.51.100.2
LAB_R=198.51.100.9
LAB_Y1=203.0.113.5
LAB_Y2=203.0.113.6
LAB_STUN_P1=3478
LAB_STUN_P2=3479
export LAB_LAN_GW LAB_IN1_ADDR LAB_IN1_ADDR2 LAB_IN2_ADDR LAB_INTERNAL_NET LAB_E1 LAB_E2 \
       LAB_A1 LAB_A2 LAB_R LAB_Y1 LAB_Y2 LAB_STUN_P1 LAB_STUN_P2

# scapy is installed for Debian's python, not for a pyenv one that may come first on PATH.
LAB_PY=/usr/bin/python3
LAB_HELPER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/labtool.py"
export LAB_PY LAB_HELPER

# What lab_up, the probes and the classifiers run. Scripts pass it to e2e_require_root.
LAB_TOOLS=(iptables nft conntrack turnserver turnutils_natdiscovery stun socat timeout ping ss "$LAB_PY")

lab_log() { echo "lab: $*" >&2; }

# Exit 77 (skipped) with the reason unless root, with ip netns and every TOOL given
# (for the whole lab: e2e_require_root "${LAB_TOOLS[@]}").
e2e_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root (network namespaces, veth and netfilter; running as uid $(id -u))"
    exit 77
  fi
  if [ ! -e /proc/self/ns/net ] || ! ip netns list >/dev/null 2>&1; then
    echo "skipped: needs root with 'ip netns' (iproute2 and a kernel with network namespaces)"
    exit 77
  fi
  local t missing=()
  for t in ip "$@"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "skipped: needs root and the lab tools (missing: ${missing[*]}; scripts/deps.sh test installs them)"
    exit 77
  fi
}

lab_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Retry "$@" up to TRIES times, DELAY seconds apart. Bounded by construction.
wait_for() {
  local tries=$1 delay=$2 i; shift 2
  for ((i = 0; i < tries; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep "$delay"
  done
  return 1
}

# lab_namespaces NS...: creates each namespace (recorded in $LAB_DIR/namespaces, which lab_down
# removes), with lo up and IPv6 off.
lab_namespaces() {
  local ns
  for ns in "$@"; do
    ip netns add "$ns" || { lab_log "cannot create namespace $ns"; return 1; }
    echo "$ns" >>"$LAB_DIR/namespaces"
    ip -n "$ns" link set lo up
    # No IPv6: keeps captures and the daemon's view free of DAD / router solicitations.
    lab_exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
}

# Names are unique per run (this shell's PID + random; never inherited, since LAB_PREFIX is
# exported to children that may build their own lab), so parallel runs and leftovers of a
# crashed run never collide. Leftovers are easy to spot: `ip netns list | grep ^cnl`.
lab_up() {
  LAB_PREFIX=cnl${BASHPID}x$RANDOM-
  LAB_RT=${LAB_PREFIX}rt LAB_SW=${LAB_PREFIX}sw LAB_IN1=${LAB_PREFIX}in1 LAB_IN2=${LAB_PREFIX}in2
  LAB_INET=${LAB_PREFIX}inet
  LAB_DIR=$(mktemp -d "/tmp/conenat-lab.${LAB_PREFIX}XXXX")
  : >"$LAB_DIR/pids"
  export LAB_PREFIX LAB_RT LAB_SW LAB_IN1 LAB_IN2 LAB_INET LAB_DIR
  lab_namespaces "$LAB_RT" "$LAB_SW" "$LAB_IN1" "$LAB_IN2" "$LAB_INET" || return 1

  # Every veth is created directly inside its namespaces: nothing ever appears in the root one.
  ip -n "$LAB_SW" link add br0 type bridge
  # br_netfilter is built in: keep bridged frames away from iptables in the switch.
  lab_exec "$LAB_SW" sh -c 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables' 2>/dev/null || true
  ip -n "$LAB_RT" link add lan0 type veth peer name p-rt netns "$LAB_SW"
  ip -n "$LAB_IN1" link add eth0 type veth peer name p-in1 netns "$LAB_SW"
  ip -n "$LAB_IN2" link add eth0 type veth peer name p-in2 netns "$LAB_SW"
  local p
  for p in p-rt p-in1 p-in2; do
    ip -n "$LAB_SW" link set "$p" master br0 up
  done
  ip -n "$LAB_SW" link set br0 up

  ip -n "$LAB_RT" link add wan0 type veth peer name eth0 netns "$LAB_INET"

  ip -n "$LAB_RT" addr add "$LAB_LAN_GW/24" dev lan0
  ip -n "$LAB_RT" addr add "$LAB_E1/24" dev wan0
  ip -n "$LAB_RT" addr add "$LAB_E2/24" dev wan0   # secondary: MASQUERADE keeps choosing E1
  ip -n "$LAB_RT" link set lan0 up
  ip -n "$LAB_RT" link set wan0 up
  ip -n "$LAB_RT" route add default via "$LAB_R" dev wan0
  lab_exec "$LAB_RT" sysctl -qw net.ipv4.ip_forward=1

  ip -n "$LAB_IN1" addr add "$LAB_IN1_ADDR/24" dev eth0
  ip -n "$LAB_IN1" addr add "$LAB_IN1_ADDR2/24" dev eth0
  ip -n "$LAB_IN2" addr add "$LAB_IN2_ADDR/24" dev eth0
  for ns in "$LAB_IN1" "$LAB_IN2"; do
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$LAB_LAN_GW"
  done

  local a
  for a in "$LAB_A1/24" "$LAB_A2/24" "$LAB_R/24" "$LAB_Y1/32" "$LAB_Y2/32"; do
    ip -n "$LAB_INET" addr add "$a" dev eth0
  done
  ip -n "$LAB_INET" link set eth0 up
  # Return traffic goes to E1/E2 only (on-link); the inside is unreachable without NAT, as it should be.

  # Wait for the links (veth carrier is immediate, but the bridge ports go through forwarding
  # state; STP is off, so this is quick).
  if ! wait_for 50 0.1 lab_exec "$LAB_IN1" ping -c1 -W1 "$LAB_LAN_GW" ||
     ! wait_for 50 0.1 lab_exec "$LAB_IN2" ping -c1 -W1 "$LAB_LAN_GW" ||
     ! wait_for 50 0.1 lab_exec "$LAB_RT" ping -c1 -W1 "$LAB_A1"; then
    lab_log "links did not come up"
    return 1
  fi
  lab_log "up: prefix $LAB_PREFIX, router $LAB_RT, dir $LAB_DIR"
}

# Start "$@" in namespace NS in the background, output to $LAB_DIR/NAME.log. Sets LAB_BG_PID,
# the command's own PID (ip netns exec execs it), and records it for lab_down.
lab_bg() {
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
  LAB_BG_PID=$!
  echo "$LAB_BG_PID" >>"$LAB_DIR/pids"
}

# True while PID runs (a zombie child of ours counts as gone).
lab_alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# SIGTERM one PID started by the lab, SIGKILL after TIMEOUT seconds. Returns once it is gone.
lab_kill() {
  local pid=$1 timeout_s=${2:-5} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout_s * 10; i++)); do
    lab_alive "$pid" || break
    sleep 0.1
  done
  lab_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true   # reaps our own child; harmless otherwise
  return 0
}

# Idempotent: safe to call from several traps, twice, or before lab_up ran.
lab_down() {
  # Runs from traps, often under set -e: nothing here may abort the cleanup half way.
  local -
  set +e
  [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] || return 0
  local pid ns
  if [ -f "$LAB_DIR/pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done <"$LAB_DIR/pids"
    sleep 0.2
    while read -r pid; do
      [ -n "$pid" ] && lab_kill "$pid" 2
    done <"$LAB_DIR/pids"
  fi
  if [ -f "$LAB_DIR/namespaces" ]; then
    while read -r ns; do
      [ -n "$ns" ] || continue
      # Anything still inside was started by this run (a child of a recorded PID, e.g. a socat
      # fork): end it by PID so the namespace really goes away.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null
      done
      ip netns del "$ns" 2>/dev/null
    done <"$LAB_DIR/namespaces"
  fi
  rm -rf "${LAB_DIR:?}"
  LAB_DIR=
}

# Install lab_down on EXIT, and make INT / TERM exit (running the EXIT trap once).
lab_trap() {
  trap 'lab_down' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# ---------------------------------------------------------------- baseline NAT in the router

lab_masquerade_on() {
  lab_exec "$LAB_RT" iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
}

lab_masquerade_off() {
  lab_exec "$LAB_RT" iptables -t nat -D POSTROUTING -o wan0 -j MASQUERADE 2>/dev/null || true
  lab_conntrack_flush
}

# tcpdump on IFACE in NS into $LAB_DIR/NAME.pcap (e.g. lan0 and wan0 of $LAB_RT: the two sides
# of the DUT). Sets LAB_BG_PID; returns once tcpdump listens. Stop it with lab_kill to flush.
# --immediate-mode: otherwise packets wait up to 1 s in the capture ring and a prompt SIGTERM
# loses them.
lab_capture() {
  local ns=$1 ifc=$2 name=$3; shift 3
  lab_bg "$ns" "tcpdump.$name" tcpdump -i "$ifc" -n -U --immediate-mode -s 256 -w "$LAB_DIR/$name.pcap" "$@"
  wait_for 50 0.1 grep -q "listening on" "$LAB_DIR/tcpdump.$name.log"
}

lab_conntrack_flush() {
  lab_exec "$LAB_RT" conntrack -F >/dev/null 2>&1 || true
}

# Reference NATs emulated with nft, to prove the classifiers tell the four types apart before the
# daemon exists. UDP only, and for one inside host (in1 by default): inbound UDP to E1 goes to that
# host with the port unchanged. Not cone NATs under port collisions (see kernel-facts.md): only
# a known answer for the classifiers. Table "ip labref"; TYPE is one of the four --nat-type names.
lab_reference_nat_on() {
  local type=$1 host=${2:-$LAB_IN1_ADDR} post pre="" filt=""
  post="oifname \"wan0\" masquerade"
  case "$type" in
    full-cone) ;;
    restricted-cone)
      # ADF: inbound new flows only from a remote address this mapping has sent to.
      filt="set seen { type ipv4_addr . inet_service; flags timeout; timeout 120s; }
            chain out { type filter hook postrouting priority srcnat + 10; oifname \"wan0\" meta l4proto udp update @seen { ip daddr . udp sport }; }
            chain in { type filter hook prerouting priority dstnat - 10; iifname \"wan0\" ct state new meta l4proto udp ip saddr . udp dport != @seen drop; }" ;;
    port-restricted-cone)
      filt="set seen { type ipv4_addr . inet_service . inet_service; flags timeout; timeout 120s; }
            chain out { type filter hook postrouting priority srcnat + 10; oifname \"wan0\" meta l4proto udp update @seen { ip daddr . udp dport . udp sport }; }
            chain in { type filter hook prerouting priority dstnat - 10; iifname \"wan0\" ct state new meta l4proto udp ip saddr . udp sport . udp dport != @seen drop; }" ;;
    symmetric)
      # A fresh random port per flow (APDM); conntrack alone then filters APDF.
      post="oifname \"wan0\" masquerade random,fully-random" ;;
    *) lab_log "unknown reference NAT type: $type"; return 1 ;;
  esac
  [ "$type" = symmetric ] || pre="iifname \"wan0\" ip daddr $LAB_E1 meta l4proto udp dnat to $host"
  lab_exec "$LAB_RT" nft -f - <<EOF_NFT
table ip labref {
  chain pre { type nat hook prerouting priority dstnat; $pre; }
  chain post { type nat hook postrouting priority srcnat; $post; }
  $filt
}
EOF_NFT
}

lab_reference_nat_off() {
  lab_exec "$LAB_RT" nft delete table ip labref 2>/dev/null || true
  lab_conntrack_flush
}

# ---------------------------------------------------------------- STUN servers in "the internet"

# coturn as an RFC 5780 server: two listeners of one family turn NAT behaviour discovery on.
# --pidfile / --log-file point into the lab dir (the defaults are /var/run and /var/log);
# -n: no config file. Sets LAB_STUN_PID.
lab_start_stun() {
  lab_bg "$LAB_INET" turnserver turnserver -n --no-cli --no-tls --no-dtls --no-auth \
          -L "$LAB_A1" -L "$LAB_A2" --listening-port "$LAB_STUN_P1" --alt-listening-port "$LAB_STUN_P2" \
          --pidfile "$LAB_DIR/turnserver.pid" --log-file "$LAB_DIR/turnserver-file.log" --simple-log \
          --no-software-attribute
  LAB_STUN_PID=$LAB_BG_PID
  # Ready once its last listener (A2:3479) is bound.
  if ! wait_for 50 0.1 lab_udp_listening "$LAB_INET" "$LAB_A2" "$LAB_STUN_P2"; then
    lab_log "turnserver did not start; log:"; tail -n 20 "$LAB_DIR/turnserver.log" >&2
    return 1
  fi
}

# stund (RFC 3489) on A1/A2 with ports 3478/3479. Not both at once with coturn: same ports.
lab_start_stund() {
  command -v stund >/dev/null || { lab_log "stund missing (Debian package stun-server)"; return 1; }
  lab_bg "$LAB_INET" stund stund -h "$LAB_A1" -a "$LAB_A2" -p "$LAB_STUN_P1" -o "$LAB_STUN_P2"
  LAB_STUND_PID=$LAB_BG_PID
  if ! wait_for 50 0.1 lab_udp_listening "$LAB_INET" "$LAB_A2" "$LAB_STUN_P2"; then
    lab_log "stund did not start; log:"; tail -n 20 "$LAB_DIR/stund.log" >&2
    return 1
  fi
}

lab_udp_listening() {
  local ns=$1 addr=$2 port=$3
  lab_exec "$ns" ss -Hlun "src $addr:$port" | grep -q .
}

# ---------------------------------------------------------------- classifiers

# turnutils_natdiscovery from a LAN host: prints "mapping=<...> filtering=<...>" with
# endpoint-independent | address-dependent | address-and-port-dependent | unknown.
# Mapping and filtering run as two separate invocations, each from its own fresh local port:
# RFC 5780 §4.4 wants no earlier traffic to A2/P2 from the port under a filtering test,
# and the mapping test sends exactly that. Raw output is kept in $LAB_DIR/natdiscovery.*.log.
classify_natdiscovery() {
  local ns=$1 local_addr=${2:-} mapping filtering
  local -a lopt=()
  [ -n "$local_addr" ] && lopt=(-L "$local_addr")
  local tag=$ns.$RANDOM
  timeout 30 ip netns exec "$ns" turnutils_natdiscovery -m "${lopt[@]}" "$LAB_A1" \
    >"$LAB_DIR/natdiscovery.$tag.m.log" 2>&1 || true
  timeout 30 ip netns exec "$ns" turnutils_natdiscovery -f "${lopt[@]}" "$LAB_A1" \
    >"$LAB_DIR/natdiscovery.$tag.f.log" 2>&1 || true
  mapping=$(natdiscovery_verdict Mapping <"$LAB_DIR/natdiscovery.$tag.m.log")
  filtering=$(natdiscovery_verdict Filtering <"$LAB_DIR/natdiscovery.$tag.f.log")
  echo "mapping=$mapping filtering=$filtering"
}

# Reads turnutils_natdiscovery output on stdin; KIND is Mapping or Filtering.
natdiscovery_verdict() {
  local kind=$1 line
  line=$(grep -i "$kind" | grep -iE 'independent|dependent' | tail -n 1)
  case "$line" in
    *"Endpoint Independent"*|*"endpoint independent"*) echo endpoint-independent ;;
    *"Address and Port Dependent"*|*"address and port dependent"*) echo address-and-port-dependent ;;
    *"Address Dependent"*|*"address dependent"*) echo address-dependent ;;
    *) echo unknown ;;
  esac
}

# The RFC 3489 `stun` client (stun-client 0.97) from a LAN host against A1:3478. Either server
# works: coturn answers its CHANGE-REQUESTs from A2 / port 3479 (checked: "Open" from the router
# itself), and so does stund (lab_start_stund). The client picks a random local port per run.
classify_stun() {
  local ns=$1 local_addr=${2:-} out
  local -a iopt=()
  [ -n "$local_addr" ] && iopt=(-i "$local_addr")
  out=$(timeout 30 ip netns exec "$ns" stun "$LAB_A1" "${iopt[@]}" 2>&1 || true)
  echo "$out" >"$LAB_DIR/stun.$ns.$RANDOM.log"
  stun_verdict "$out"
}

# The client's verdict is its "Primary: ..." line, e.g. "Independent Mapping, Port Dependent
# Filter, preserves ports, no hairpin" (RFC 4787 wording) or "Open", "Blocked", "Firewall".
stun_verdict() {
  local line
  line=$(echo "$1" | grep -E '^Primary:' | tail -n 1)
  [ -n "$line" ] || line=$(echo "$1" | grep -v '^STUN client' | grep . | tail -n 1)
  case "$line" in
    *"Independent Mapping, Independent Filter"*|*"Full Cone"*|*"full cone"*) echo full-cone ;;
    *"Independent Mapping, Port Dependent Filter"*|*"Port Restricted"*) echo port-restricted-cone ;;
    *"Independent Mapping, Address Dependent Filter"*|*"Restricted Cone"*) echo restricted-cone ;;
    *"Dependent Mapping"*|*"Symmetric"*|*"symmetric"*) echo symmetric ;;
    *) echo "unknown(${line:-no answer})" ;;
  esac
}

# The verdicts of classify_natdiscovery for each NAT type.
declare -gA WANT_ND=(
  [full-cone]="mapping=endpoint-independent filtering=endpoint-independent"
  [restricted-cone]="mapping=endpoint-independent filtering=address-dependent"
  [port-restricted-cone]="mapping=endpoint-independent filtering=address-and-port-dependent"
  [symmetric]="mapping=address-and-port-dependent filtering=address-and-port-dependent")

# Both classifiers from $LAB_IN1 report TYPE's mapping and filtering (coturn, then stund, each
# started and stopped here); WHEN prefixes the check lines. Needs the caller's `check`.
check_classifiers() {
  local t=$1 w=${2:-$1} nd st
  lab_start_stun >/dev/null
  nd=$(classify_natdiscovery "$LAB_IN1")
  check "$w: natdiscovery says '$nd'" test "$nd" = "${WANT_ND[$t]}"
  lab_kill "$LAB_STUN_PID"
  lab_start_stund >/dev/null
  st=$(classify_stun "$LAB_IN1")
  check "$w: stun says '$st'" test "$st" = "$t"
  lab_kill "$LAB_STUND_PID"
}

# ---------------------------------------------------------------- UDP / TCP probes

# Listen on ADDR:PORT in NS for SECONDS (or until N datagrams arrived); the source of each
# datagram is logged as "ip:port". Sets LAB_BG_PID; udp_seen LAB_BG_PID prints what it saw.
udp_observe() {
  local ns=$1 addr=$2 port=$3 secs=$4 n=${5:-1000} name
  name=udp_observe.$addr.$port.$RANDOM
  lab_bg "$ns" "$name" "$LAB_PY" "$LAB_HELPER" udp-observe "$addr" "$port" "$secs" "$n"
  echo "$LAB_DIR/$name.log" >"$LAB_DIR/observer.$LAB_BG_PID"
  wait_for 50 0.05 lab_udp_listening "$ns" "$addr" "$port"
}

# Wait for the listener (it stops by itself after SECONDS or N datagrams), print its "ip:port" lines.
udp_seen() {
  local pid=$1 i
  for ((i = 0; i < 600; i++)); do   # the listener's own SECONDS bound it; this bounds us
    lab_alive "$pid" || break
    sleep 0.05
  done
  wait "$pid" 2>/dev/null || true
  grep -E '^[0-9.]+:[0-9]+$' "$(cat "$LAB_DIR/observer.$pid")" 2>/dev/null || true
}

udp_send() {
  local ns=$1 src=$2 sport=$3 dst=$4 dport=$5 payload=${6:-probe}
  lab_exec "$ns" "$LAB_PY" "$LAB_HELPER" udp-send "$src" "$sport" "$dst" "$dport" "$payload"
}

# The NAT mapping of SRC_ADDR:SRC_PORT towards PEER: the peer listens, one datagram is sent,
# the source the peer saw is printed ("" if nothing arrived within 2 s).
udp_mapped_port() {
  local ns=$1 src=$2 sport=$3 peer=$4 pport=$5
  udp_observe "$LAB_INET" "$peer" "$pport" 2 1 || return 1
  udp_send "$ns" "$src" "$sport" "$peer" "$pport" || true
  udp_seen "$LAB_BG_PID" | head -n 1
}

# Accept one TCP connection on ADDR:PORT in NS within SECONDS. Sets LAB_BG_PID.
tcp_listen() {
  local ns=$1 addr=$2 port=$3 secs=$4
  lab_bg "$ns" "tcp_listen.$addr.$port" timeout "$secs" socat -u \
    "TCP-LISTEN:$port,bind=$addr,reuseaddr" /dev/null
  wait_for 50 0.05 lab_tcp_listening "$ns" "$addr" "$port"
}

lab_tcp_listening() {
  local ns=$1 addr=$2 port=$3
  lab_exec "$ns" ss -Hltn "src $addr:$port" | grep -q .
}

# Connect from NS to DST:PORT. Prints connected | refused | timeout | unreachable.
tcp_connect() {
  local ns=$1 dst=$2 port=$3 t=${4:-2} src=${5:-}
  lab_exec "$ns" "$LAB_PY" "$LAB_HELPER" tcp-connect "$dst" "$port" "$t" "$src"
}

# Run directly (e.g. by a loop over tests/e2e/*.sh) instead of sourced: not a test.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "skipped: tests/e2e/lib.sh is the lab library; source it from a test"
  exit 77
fi
