#!/usr/bin/env bash
# `conenatctl check [--stun-server A1]` against the real daemon (conntrack engine):
#
#   in1 10.0.0.2 ── lan0 [rt: conenatd] wan0 ──────────────────────────── eth0 [inet: A1, A2 coturn]
#                                 (1), (3): wan0 198.51.100.254, a public address
#   in1 10.0.0.2 ── lan0 [rt: conenatd] wan0 100.64.0.2 ── lan0 [cgn: MASQUERADE] wan0 198.51.100.250 ── eth0 [inet]
#                                 (2): behind an upstream NAT (RFC 6598 address)
#
# (1) a public WAN address: every local finding OK, no upstream NAT, exit 0, "verdict: OK".
# (3) broken on purpose, each after the same check said OK: a masquerade in another table before
#     conenatd's chains (named, exit 1; gone again: OK); --rules manual with the example table and
#     iptables' NFQUEUE rules, then the outbound NFQUEUE rules deleted (named, exit 1, and new
#     flows really stop being translated).
# (2) behind a second router doing MASQUERADE: check names the upstream NAT, the address the
#     internet sees and its behaviour, which coturn's turnutils_natdiscovery run from the same
#     router (the positive control) measures the same.
# Bad usage: a malformed --stun-server (exit 2), an unanswering server (a PROBLEM, exit 1).
# The queue and tun engines, healthy: exit 0.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/daemon_lib.sh

CTL=$BUILD/conenatctl
[ -x "$CTL" ] || { echo "FAIL: $CTL not built"; exit 1; }
SOCK=$LAB_DIR/conenatd.sock
CGN_WAN=198.51.100.250
RT_WAN=100.64.0.2

# conenatctl in the router: prints its output (stderr too).
ctl() { lab_exec "$LAB_RT" timeout 60 "$CTL" --socket "$SOCK" "$@" 2>&1; }
# check ARGS...: runs `conenatctl check ARGS`, keeps the output in OUT and the exit status in RC.
run_check() {
  local tag=$1; shift
  OUT=$(ctl check "$@"); RC=$?
  echo "$OUT" >"$LAB_DIR/check.$tag.out"
  echo "-- conenatctl check $* ($tag): exit $RC"; echo "   | ${OUT//$'\n'/$'\n'   | }"
}
has() { grep -qF -- "$1" <<<"$OUT"; }
problems() { grep -c '^PROBLEM' <<<"$OUT"; }

start_conenatd() {
  rm -f "$STATS"
  lab_bg "$LAB_RT" conenatd "$BIN" --external-if wan0 --internal-net "$LAB_INTERNAL_NET" --foreground \
    --pid-file "$LAB_DIR/conenatd.pid" --stats-file "$STATS" --control-socket "$SOCK" "$@"
  DAEMON=$LAB_BG_PID
  wait_for 100 0.1 test -s "$STATS" && wait_for 50 0.1 test -S "$SOCK"
}

echo "== (1) a public WAN address: everything OK"
start_conenatd --nat-type full-cone || fail "daemon did not start"
lab_start_stun >/dev/null || fail "coturn did not start"
run_check public --stun-server "$LAB_A1"
check "exit 0 on a healthy router" test "$RC" = 0
check "no PROBLEM line" test "$(problems)" = 0
check "its table is found" has "OK      table ip conenatd: its 8 chains and 6 sets and maps are in place."
check "both queues fed and bound" bash -c "grep -q '^OK      NFQUEUE 0 (first packets of new outbound flows): fed by table ip conenatd chain snat_queue, bound' $LAB_DIR/check.public.out && grep -q '^OK      NFQUEUE 1 (first packets of new inbound flows)' $LAB_DIR/check.public.out"
check "forwarding on, WAN addressed" bash -c "grep -q '^OK      IPv4 forwarding is on' $LAB_DIR/check.public.out && grep -q '^OK      the WAN interface wan0 has $LAB_E1' $LAB_DIR/check.public.out"
check "no upstream NAT: the internet sees the WAN address itself" \
  has "OK      upstream: the internet sees this router's WAN address $LAB_E1 itself"
check "one-line verdict last" bash -c "tail -n 1 $LAB_DIR/check.public.out | grep -q '^verdict: OK'"
nd=$(classify_natdiscovery "$LAB_RT" "$LAB_E1")
check "positive control: natdiscovery from the router's WAN address sees no NAT ('$nd')" \
  test "$nd" = "mapping=endpoint-independent filtering=endpoint-independent"

echo "== (3a) a masquerade in another table before conenatd's chains"
lab_exec "$LAB_RT" nft -f - <<'NFT'
table inet shadow {
  chain post {
    type nat hook postrouting priority srcnat - 20;
    oifname "wan0" masquerade
  }
}
NFT
run_check shadow
check "exit 1" test "$RC" = 1
check "names the shadowing rule" has "PROBLEM table inet shadow chain post (postrouting priority 80, before conenatd's 98) has a masquerade rule"
check "the verdict says a problem was found" bash -c "tail -n 1 $LAB_DIR/check.shadow.out | grep -q '^verdict: PROBLEM'"
lab_exec "$LAB_RT" nft delete table inet shadow
run_check unshadowed
check "removed again: exit 0" test "$RC" = 0
daemon_stop

echo "== (3b) --rules manual: the example table + iptables' NFQUEUE rules, then the outbound ones deleted"
lab_conntrack_flush
lab_exec "$LAB_RT" nft -f examples/nftables-conntrack.nft
lab_exec "$LAB_RT" sh examples/iptables-conntrack.sh
start_conenatd --rules manual --nat-type port-restricted-cone --external-ip "$LAB_E1" --ports 20000-29999 ||
  fail "manual daemon did not start"
run_check manual
check "positive control: the same check says OK (exit 0)" test "$RC" = 0
check "iptables feeds NFQUEUE 0" has "NFQUEUE 0 (first packets of new outbound flows): fed by table ip nat chain POSTROUTING"
seen=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 40001 "$LAB_Y1" 7001)
check "positive control: a new flow is translated ($seen)" test "${seen%:*}" = "$LAB_E1"
while lab_exec "$LAB_RT" iptables -t nat -S POSTROUTING | grep -q -- '--queue-num 0'; do
  rule=$(lab_exec "$LAB_RT" iptables -t nat -S POSTROUTING | grep -m1 -- '--queue-num 0' | sed 's/^-A /-D /')
  # shellcheck disable=SC2086  # the rule's own words
  lab_exec "$LAB_RT" iptables -t nat $rule || break
done
run_check unqueued
check "exit 1" test "$RC" = 1
check "says what is missing" has "PROBLEM NFQUEUE 0 (first packets of new outbound flows): no rule sends packets to it"
check "exactly that one problem" test "$(problems)" = 1
seen=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 40002 "$LAB_Y1" 7002)
check "and it is true: a new flow is no longer translated ('$seen')" test -z "$seen"
daemon_stop
lab_exec "$LAB_RT" nft delete table ip conenatd
lab_exec "$LAB_RT" iptables -t nat -F
lab_exec "$LAB_RT" iptables -t raw -F

echo "== bad usage and an unanswering server"
start_conenatd --nat-type full-cone || fail "daemon did not start"
run_check badserver --stun-server "$LAB_A1:99999"
check "a malformed --stun-server: exit 2" test "$RC" = 2
check "the error names it" has "99999"
run_check silent --stun-server "$LAB_Y1:3478"
check "no STUN answer: exit 1" test "$RC" = 1
check "says the server did not answer" has "PROBLEM STUN server $LAB_Y1:3478: no answer"
daemon_stop
lab_kill "$LAB_STUN_PID"

echo "== the software engines: healthy is OK too"
for engine in queue tun; do
  start_conenatd --engine "$engine" --nat-type full-cone || fail "$engine daemon did not start"
  run_check "$engine"
  check "$engine engine: exit 0" test "$RC" = 0
  check "$engine engine: its table is found" has "OK      table ip conenatd: its"
  [ "$engine" = queue ] && check "queue engine: its worker's queue fed and bound" \
    has "OK      NFQUEUE 0 (traffic of worker 0, both directions): fed by table ip conenatd chain in0, table ip conenatd chain out0, bound"
  daemon_stop
done

echo "== (2) behind an upstream NAT: a second router doing MASQUERADE"
# The internet's end of the router's WAN link moves into a new namespace, the upstream NAT;
# the internet gets a new link to it and its addresses back.
CGN=${LAB_PREFIX}cgn
ip netns add "$CGN" && echo "$CGN" >>"$LAB_DIR/namespaces"
ip -n "$CGN" link set lo up
ip -n "$LAB_INET" link set eth0 netns "$CGN"
ip -n "$CGN" link set eth0 name lan0
ip -n "$CGN" addr add 100.64.0.1/24 dev lan0
ip -n "$CGN" link set lan0 up
ip -n "$CGN" link add wan0 type veth peer name eth0 netns "$LAB_INET"
ip -n "$CGN" addr add "$CGN_WAN/24" dev wan0
ip -n "$CGN" link set wan0 up
ip -n "$CGN" route add default via "$LAB_R"
lab_exec "$CGN" sysctl -qw net.ipv4.ip_forward=1
lab_exec "$CGN" iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
for a in "$LAB_A1/24" "$LAB_A2/24" "$LAB_R/24" "$LAB_Y1/32" "$LAB_Y2/32"; do
  ip -n "$LAB_INET" addr add "$a" dev eth0
done
ip -n "$LAB_INET" link set eth0 up
ip -n "$LAB_RT" addr flush dev wan0
ip -n "$LAB_RT" addr add "$RT_WAN/24" dev wan0
ip -n "$LAB_RT" route replace default via 100.64.0.1 dev wan0
wait_for 50 0.1 lab_exec "$LAB_RT" ping -c1 -W1 "$LAB_A1" || fail "the router cannot reach the internet through the upstream NAT"
lab_start_stun >/dev/null || fail "coturn did not start"
start_conenatd --nat-type full-cone || fail "daemon did not start behind the upstream NAT"
nd=$(classify_natdiscovery "$LAB_RT" "$RT_WAN")
check "positive control: natdiscovery from the router sees Linux MASQUERADE ('$nd')" \
  test "$nd" = "mapping=endpoint-independent filtering=address-and-port-dependent"
run_check upstream --stun-server "$LAB_A1:$LAB_STUN_P1"
check "exit 1" test "$RC" = 1
check "names the upstream NAT and the address the internet sees" \
  has "PROBLEM upstream NAT: the internet sees $CGN_WAN, not this router's WAN address $RT_WAN (100.64.0.2 is in 100.64.0.0/10"
mine=$(grep -o 'Its behaviour: [a-z-]* mapping[a-z ]*, [a-z-]* filtering' "$LAB_DIR/check.upstream.out" |
       sed -E 's/Its behaviour: ([a-z-]*) mapping[a-z ]*, ([a-z-]*) filtering/mapping=\1 filtering=\2/')
check "its behaviour as natdiscovery measured it ('$mine')" test "$mine" = "$nd"
check "port preservation named" has "endpoint-independent mapping with port preservation, address-and-port-dependent filtering"
check "the local findings stay OK: the upstream NAT is the one problem" test "$(problems)" = 1
check "says no setting here can help" has "No setting on this router can give the LAN an open NAT through it"
daemon_stop

checks_done ctl_check
