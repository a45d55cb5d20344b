#!/usr/bin/env bash
# Bad input at start-up: every bad option, config key, address, range, prefix, interface or
# empty port set exits 2 with a message naming the option, and installs nothing. Also: the
# pid file lock refuses a second instance, and --print-rules prints the rule set.
#
#   one private namespace ("router": lo and a veth wan0 198.51.100.254): nothing else is needed
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
source tests/e2e/check_lib.sh
e2e_daemon_ready ip nft
e2e_scratch_ns cncli

# expect_bad "option the message must name" args...
expect_bad() {
  local name=$1; shift
  local out rc
  out=$(ip netns exec "$NS" "$BIN" --foreground --pid-file "$TMP/pid" --control-socket "$TMP/pid.sock" "$@" 2>&1); rc=$?
  if [ $rc -ne 2 ]; then fail "exit $rc (want 2) for: $* -> $out"; return; fi
  if ! grep -q -- "$name" <<<"$out"; then fail "message does not name $name for: $* -> $out"; fi
  if [ -n "$(ip netns exec "$NS" nft list tables 2>/dev/null)" ]; then fail "rules installed after: $*"; fi
}

ok=(--external-if wan0 --internal-net 10.0.0.0/24)
expect_bad --frobnicate "${ok[@]}" --frobnicate
expect_bad --nat-type "${ok[@]}" --nat-type cone-ish
expect_bad --mapping "${ok[@]}" --mapping sideways
expect_bad --filtering "${ok[@]}" --filtering none
expect_bad --external-if --internal-net 10.0.0.0/24
expect_bad --external-if --external-if nosuch0 --external-ip 198.51.100.254 --internal-net 10.0.0.0/24
expect_bad --internal-net --external-if wan0 --internal-net 10.0.0.1/24
expect_bad --internal-net --external-if wan0 --internal-net 10.0.0.0/40
expect_bad --internal-net --external-if wan0 --internal-net ten
expect_bad "10.0.0.0/24" --external-if wan0 --internal-net 10.0.0.0/24 --internal-net 10.0.0.128/25
expect_bad --forward "${ok[@]}" --forward udp:51820
expect_bad --forward "${ok[@]}" --forward icmp:7=10.0.0.2
expect_bad --forward "${ok[@]}" --forward udp:70000=10.0.0.2
expect_bad "outside every --internal-net" "${ok[@]}" --forward tcp:8080=10.9.0.2:80
expect_bad --forward "${ok[@]}" --forward udp:5000=10.0.0.2 --forward udp:5000=10.0.0.3
expect_bad --forward "${ok[@]}" --forward tcp:5000=10.0.0.2:80 --forward tcp:5001=10.0.0.2:80
expect_bad --forward "${ok[@]}" --external-ip 198.51.100.254 --forward udp:192.0.2.9:5000=10.0.0.2
expect_bad --port-block-size --external-if wan0 --internal-net 10.0.0.0/24 --internal-net 10.1.0.0/24 --port-block-size 64
expect_bad --external-ip "${ok[@]}" --external-ip 198.51.100.300
expect_bad --external-ip "${ok[@]}" --external-ip 10.0.0.5
expect_bad --ports "${ok[@]}" --ports 30000-20000
expect_bad --ports "${ok[@]}" --ports 0-10
expect_bad --ports "${ok[@]}" --ports 70000
expect_bad --udp-short-ports "${ok[@]}" --udp-short-timeout 10
expect_bad --udp-short-ports "${ok[@]}" --udp-short-timeout 10 --udp-short-ports 53,2000
expect_bad --udp-short-timeout "${ok[@]}" --udp-short-timeout 400 --udp-short-ports 53
expect_bad --inbound-per-remote "${ok[@]}" --inbound-per-remote 0
expect_bad --held-syns-per-source "${ok[@]}" --held-syns-per-source x
expect_bad --map-e "${ok[@]}" --map-e psid=300,psid-len=8,offset=4
expect_bad --map-e "${ok[@]}" --map-e psid=1,psid-len=8,offset=4 --ports 2000-3000
expect_bad --port-block-size "${ok[@]}" --ports 20000-20099 --port-block-size 200
expect_bad --port-secret "${ok[@]}" --port-secret short-secret
expect_bad --port-secret "${ok[@]}" --port-secret "$(printf 'x%.0s' {1..129})"
# A secret is never echoed in the message; the control: a good one starts (below).
out=$(ip netns exec "$NS" "$BIN" "${ok[@]}" --port-secret "sixteen chars with spaces" --print-rules 2>&1)
[ $? -eq 2 ] && grep -q -- "--port-secret: character 8 is not printable" <<<"$out" && ! grep -q "with spaces" <<<"$out" ||
  fail "a --port-secret with a space: not refused, or its value echoed: $out"
out=$(ip netns exec "$NS" "$BIN" "${ok[@]}" --port-secret 'k3yed-ports.HA!pair~0123' --print-rules 2>&1) ||
  fail "control: a good --port-secret refused: $out"
printf 'external-if = wan0\ninternal-net = 10.0.0.0/24\nport-secret = 0123456789\n' >"$TMP/bad6.conf"
expect_bad "bad6.conf:3: port-secret: expected 16..128" --config "$TMP/bad6.conf"
expect_bad --udp-timeout "${ok[@]}" --udp-timeout 60
expect_bad --log-level "${ok[@]}" --log-level loud
expect_bad --rules "${ok[@]}" --rules sometimes
expect_bad --mark "${ok[@]}" --mark 0x3
expect_bad --engine "${ok[@]}" --engine magic
printf 'nat-type = full-cone\nexternal-if = wan0\ninternal-net = 10.0.0.0/24\ncolour = blue\n' >"$TMP/bad.conf"
expect_bad "bad.conf:4: unknown key 'colour'" --config "$TMP/bad.conf"
printf 'external-if = wan0\ninternal-net = 10.0.0.0/24\n# a comment\n\nnat-type = cone-ish\n' >"$TMP/bad3.conf"
expect_bad "bad3.conf:5: nat-type" --config "$TMP/bad3.conf"
printf 'external-if = wan0\ninternal-net = 10.0.0.0/24\nnat-type = symmetric\nnat-type = full-cone\n' >"$TMP/bad4.conf"
expect_bad "bad4.conf:4: nat-type" --config "$TMP/bad4.conf"
printf 'external-if = wan0\ninternal-net 10.0.0.0/24\n' >"$TMP/bad5.conf"
expect_bad "bad5.conf:2: expected 'key = value'" --config "$TMP/bad5.conf"
printf 'external-if = wan0\ninternal-net = 10.0.0.0/24\nports = 40000-30000\n' >"$TMP/bad2.conf"
expect_bad "bad2.conf:3: ports" --config "$TMP/bad2.conf"
expect_bad --config --config "$TMP/missing.conf"

# --print-rules: the rule set, nothing installed.
out=$(ip netns exec "$NS" "$BIN" "${ok[@]}" --print-rules 2>&1) || fail "--print-rules failed: $out"
grep -q "table ip conenatd" <<<"$out" || fail "--print-rules printed no table: $out"
[ -z "$(ip netns exec "$NS" nft list tables)" ] || fail "--print-rules installed rules"

# The default pool leaves the router's own ephemeral ports (net.ipv4.ip_local_port_range, set
# here in the router's namespace) and the well-known ports alone: no warning about them.
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="40000 50999"
out=$(ip netns exec "$NS" "$BIN" "${ok[@]}" --print-rules 2>&1)
grep -q "1024-39999, 51000-65535" <<<"$out" || fail "default pool does not leave out 40000-50999: $out"
! grep -q "ip_local_port_range" <<<"$out" || fail "the default pool is warned about: $out"
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="32768 60999"

# The shipped example config loads without a single warning.
out=$(ip netns exec "$NS" "$BIN" --config examples/conenatd.conf --print-rules 2>&1 >/dev/null) ||
  fail "examples/conenatd.conf refused: $out"
[ -z "$out" ] || fail "examples/conenatd.conf warns: $out"

# A WAN interface that does not exist yet (PPPoE dialling) is waited for, not an error.
out=$(ip netns exec "$NS" "$BIN" --external-if ppp7 --internal-net 10.0.0.0/24 --print-rules 2>&1) ||
  fail "a missing WAN interface stopped --print-rules: $out"
grep -q "no interface 'ppp7' yet" <<<"$out" || fail "no word about the missing WAN interface: $out"

# A port set overlapping the router's own local port range is warned about.
out=$(ip netns exec "$NS" "$BIN" "${ok[@]}" --ports 32768-40000 --print-rules 2>&1)
grep -q "ip_local_port_range" <<<"$out" || fail "no warning about ip_local_port_range: $out"

# The pid file is locked: a second instance refuses, saying why.
ip netns exec "$NS" "$BIN" "${ok[@]}" --foreground --pid-file "$TMP/run.pid" --control-socket "$TMP/run.sock" --stats-file "$TMP/stats" 2>"$TMP/first.log" &
first=$!
wait_for 50 0.1 test -s "$TMP/run.pid" || fail "first instance wrote no pid file: $(cat "$TMP/first.log")"
out=$(ip netns exec "$NS" "$BIN" "${ok[@]}" --foreground --pid-file "$TMP/run.pid" --control-socket "$TMP/run.sock" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "already running" <<<"$out" || fail "second instance: exit $rc: $out"
# SIGUSR1/SIGUSR2 do not end it; SIGHUP with the same options changes nothing.
kill -USR1 "$first"; kill -USR2 "$first"; kill -HUP "$first"
wait_for 50 0.1 grep -q "configuration unchanged" "$TMP/first.log" || fail "SIGHUP: no reload logged: $(cat "$TMP/first.log")"
kill -0 "$first" 2>/dev/null || fail "SIGUSR1/SIGUSR2/SIGHUP ended the daemon: $(cat "$TMP/first.log")"
grep -q "signal 10 ignored" "$TMP/first.log" || fail "SIGUSR1 not logged as ignored: $(cat "$TMP/first.log")"
kill -TERM "$first"; wait "$first"; rc=$?
[ $rc -eq 0 ] || fail "first instance exited $rc on SIGTERM: $(cat "$TMP/first.log")"
[ -z "$(ip netns exec "$NS" nft list tables)" ] || fail "rules left after SIGTERM"
[ ! -e "$TMP/run.pid" ] || fail "pid file left after SIGTERM"

if [ $failures -gt 0 ]; then echo "daemon_cli: $failures failure(s)"; exit 1; fi
echo "daemon_cli: all bad inputs refused with exit 2 and nothing installed"
