# shellcheck shell=bash
# conenatctl against the real daemon, for one engine (tests/e2e/ctl_{conntrack,queue,tun}.sh set
# CTL_ENGINE and source this). LAN hosts send real flows to outside peers; then every command:
# the mappings listed are exactly the ones the peers saw (the source address:port they
# observed), filters pick the right rows, every --json output validates against
# doc/conenatctl.schema.json (python3-jsonschema), reload applies / refuses, and the errors —
# no daemon (exit 3), a non-root user (exit 4), a bad filter (exit 2, checked before
# connecting), garbage on the socket — each next to its positive control.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/e2e/lib.sh
e2e_require_root socat setpriv ping ss "$LAB_PY"
if ! "$LAB_PY" -c 'import jsonschema' 2>/dev/null; then
  echo "skipped: python3-jsonschema is missing (scripts/deps.sh test installs it)"
  exit 77
fi
source tests/e2e/daemon_lib.sh

CTL=$BUILD/conenatctl
JSONTOOL=tests/e2e/ctl_json.py
[ -x "$CTL" ] || { echo "FAIL: $CTL not built"; exit 1; }
SOCK=$LAB_DIR/conenatd.sock   # daemon_lib's daemon_start passes it as --control-socket
CONF=$LAB_DIR/ctl.conf
chmod 0711 "$LAB_DIR"          # others may reach the socket's file: its own mode must refuse them
WORKERS=()
[ "$CTL_ENGINE" = conntrack ] || WORKERS=(--queues 2)

ctl() { "$CTL" --socket "$SOCK" "$@"; }
# ctl_rc WANT_RC PATTERN args...: the exit status, and PATTERN in its stderr+stdout
ctl_rc() {
  local want=$1 pattern=$2 out rc; shift 2
  out=$("$CTL" "$@" 2>&1); rc=$?
  [ "$rc" -eq "$want" ] && grep -q -- "$pattern" <<<"$out" && return 0
  echo "   (exit $rc, want $want; output: $(head -c 300 <<<"$out"))"
  return 1
}
json() { "$LAB_PY" "$JSONTOOL" "$@"; }
# valid KIND args...: the command's --json output validates as KIND
valid() { local kind=$1 out; shift; out=$(ctl "$@" --json) && json validate "$kind" <<<"$out"; }
conf() { printf '%s\n' "nat-type = $1" "forward = udp:25001=$LAB_IN2_ADDR:25001" >"$CONF"; }
start() { daemon_start --engine "$CTL_ENGINE" --config "$CONF" "${WORKERS[@]}"; }

echo "== $CTL_ENGINE: no daemon yet"
conf port-restricted-cone
check "no daemon: exit 3, says it is not running" ctl_rc 3 "not running" --socket "$SOCK" status
check "a bad filter is exit 2 before connecting (no daemon needed)" \
  ctl_rc 2 "--internal" --socket "$SOCK" mappings --internal 10.0.0.300
start || { fail "daemon did not start: $(tail -5 "$LAB_DIR/conenatd.log")"; checks_done "ctl_$CTL_ENGINE"; }
check "... the same status with the daemon up: exit 0" ctl_rc 0 "engine" --socket "$SOCK" status
mode=$(command stat -c '%a %u' "$SOCK")
check "the socket is 0600, root's ($mode)" test "$mode" = "600 0"

echo "== flows from the LAN, as the outside peers see them"
declare -A SEEN
for f in "$LAB_IN1 $LAB_IN1_ADDR 5001 $LAB_Y1 7001" "$LAB_IN1 $LAB_IN1_ADDR 5002 $LAB_Y1 7002" \
         "$LAB_IN2 $LAB_IN2_ADDR 5003 $LAB_Y2 7003"; do
  read -r ns src sport peer pport <<<"$f"
  seen=$(udp_mapped_port "$ns" "$src" "$sport" "$peer" "$pport")
  check "$src:$sport -> $peer:$pport: the peer saw ${seen:-nothing}" test -n "$seen"
  SEEN[$src:$sport]=$seen
done
tcp_listen "$LAB_INET" "$LAB_Y1" 8001 10 || fail "tcp listener"
check "a TCP connection from in1 to Y1:8001" test "$(tcp_connect "$LAB_IN1" "$LAB_Y1" 8001 3)" = connected
check "an ICMP echo from in1 to Y1" eval 'lab_exec "$LAB_IN1" ping -c1 -W2 "$LAB_Y1" >/dev/null'

want_udp=$(for k in "${!SEEN[@]}"; do echo "udp $k ${SEEN[$k]}"; done | sort)
listed() { ctl mappings "$@" --json | json pairs | sort; }
udp_rows=$(listed --proto udp | grep -v '^forward')
check "the UDP mappings listed are exactly the peers' view: $(tr '\n' ';' <<<"$udp_rows")" test "$udp_rows" = "$want_udp"
check "the forward is listed as one" grep -q "^forward udp $LAB_IN2_ADDR:25001 $LAB_E1:25001\$" <<<"$(listed --proto udp)"
check "a TCP mapping of in1" grep -q "^tcp $LAB_IN1_ADDR:" <<<"$(listed --proto tcp)"
check "an ICMP mapping of in1" grep -q "^icmp $LAB_IN1_ADDR:" <<<"$(listed --proto icmp)"
text=$(ctl mappings)
check "the text table shows each peer-seen endpoint" eval \
  'for k in "${!SEEN[@]}"; do grep -q -- "${SEEN[$k]}" <<<"$text" || exit 1; done'

echo "== filters"
rows=$(listed --internal "$LAB_IN1_ADDR")
check "--internal $LAB_IN1_ADDR: only in1's rows ($(wc -l <<<"$rows"))" \
  eval '! grep -v "^[a-z]* $LAB_IN1_ADDR:" <<<"$rows" && test "$(grep -c "^udp" <<<"$rows")" -eq 2'
check "--internal $LAB_IN1_ADDR:5001: exactly its mapping" \
  test "$(listed --internal "$LAB_IN1_ADDR:5001")" = "udp $LAB_IN1_ADDR:5001 ${SEEN[$LAB_IN1_ADDR:5001]}"
check "--external ${SEEN[$LAB_IN2_ADDR:5003]}: exactly in2's mapping" \
  test "$(listed --external "${SEEN[$LAB_IN2_ADDR:5003]}")" = "udp $LAB_IN2_ADDR:5003 ${SEEN[$LAB_IN2_ADDR:5003]}"
check "--proto tcp: no UDP row" eval '! listed --proto tcp | grep -q "udp"'
check "--internal 10.9.9.9 (nobody): no row, exit 0" test -z "$(listed --internal 10.9.9.9)"
check "bad filter --internal 10.0.0.300: exit 2 naming it" ctl_rc 2 "--internal" --socket "$SOCK" mappings --internal 10.0.0.300
check "bad filter --external 1.2.3.4:99999: exit 2" ctl_rc 2 "--external" --socket "$SOCK" mappings --external 1.2.3.4:99999
check "bad filter --proto sctp: exit 2" ctl_rc 2 "--proto" --socket "$SOCK" sessions --proto sctp
check "unknown command: exit 2" ctl_rc 2 "unknown command" --socket "$SOCK" mapings
check "status takes no filter: exit 2" ctl_rc 2 "does not take --proto" --socket "$SOCK" status --proto udp

echo "== sessions"
srows=$(ctl sessions --internal "$LAB_IN1_ADDR:5001" --json | json remotes)
check "in1:5001's permit for $LAB_Y1:7001 (port-restricted-cone): $srows" \
  grep -q "^udp $LAB_IN1_ADDR:5001 $LAB_Y1:7001 permit\$" <<<"$srows"
check "--proto tcp sessions: only TCP" eval '! ctl sessions --proto tcp --json | json remotes | grep -qv "^tcp "'

echo "== JSON against doc/conenatctl.schema.json"
for c in "status status" "mappings mappings" "mappings mappings --proto udp" "sessions sessions" \
         "forwards forwards" "stats stats"; do
  read -r kind args <<<"$c"
  # shellcheck disable=SC2086
  check "$kind --json ($args) validates" valid "$kind" $args
done
bad_doc=$(ctl mappings --json | sed 's/"port":\([0-9]*\)/"port":"\1"/')
check "... and a document that breaks it (ports as strings) does not (negative control)" \
  eval '! json validate mappings <<<"$bad_doc" >/dev/null'
check "status: engine $CTL_ENGINE, port-restricted-cone" \
  test "$(ctl status --json | json get engine) $(ctl status --json | json get nat.udp.type)" = "$CTL_ENGINE port-restricted-cone"
check "status: the external address $LAB_E1" test "$(ctl status --json | json get external_addresses)" = "$LAB_E1"
[ "$CTL_ENGINE" = conntrack ] || check "status: 2 tables (one per worker)" test "$(ctl status --json | json get tables)" = 2

echo "== stats, forwards"
check "stats lists the mappings counter" eval 'ctl stats | grep -q "^mappings "'
prom=$(ctl stats --prometheus 2>&1); rc=$?
check "stats --prometheus: the exposition (exit $rc), with the mappings gauge" eval \
  '[ $rc -eq 0 ] && grep -q "^# TYPE conenatd_" <<<"$prom" && grep -q "^conenatd_mappings" <<<"$prom"'
check "forwards: the configured forward" eval 'ctl forwards | grep -q "udp:25001=$LAB_IN2_ADDR:25001"'

echo "== reload"
conf symmetric
check "reload: applied, naming nat-type" ctl_rc 0 "applied: .*nat-type" --socket "$SOCK" reload
check "... status says symmetric" test "$(ctl status --json | json get nat.udp.type)" = symmetric
check "... and the old mapping keeps its external endpoint" \
  test "$(listed --internal "$LAB_IN1_ADDR:5001")" = "udp $LAB_IN1_ADDR:5001 ${SEEN[$LAB_IN1_ADDR:5001]}"
check "reload again: unchanged (--json validates)" eval 'out=$(ctl reload --json) && json validate reload <<<"$out" && grep -q unchanged <<<"$out"'
conf bogus
check "a broken config: refused (exit 1), naming file, line and key" ctl_rc 1 "refused.*ctl.conf:1: nat-type" --socket "$SOCK" reload
check "... the running config stays symmetric" test "$(ctl status --json | json get nat.udp.type)" = symmetric
conf port-restricted-cone
check "back to port-restricted-cone: applied" ctl_rc 0 "applied" --socket "$SOCK" reload

echo "== the socket: permissions, garbage, a second daemon"
check "a non-root user: exit 4, permission denied" \
  eval 'out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$SOCK" status 2>&1); rc=$?; [ $rc -eq 4 ] && grep -q "permission denied" <<<"$out" || { echo "   ($rc: $out)"; false; }'
check "... root, the same command: exit 0" ctl_rc 0 "engine" --socket "$SOCK" status
sock_say() { printf '%s\n' "$1" | timeout 10 socat -t 5 - "UNIX-CONNECT:$SOCK"; }
check "an unknown request on the socket: error: naming it" eval 'sock_say "bogus --x" | grep -q "^error: unknown command .bogus."'
check "a request longer than 1024 bytes: error: naming the limit" eval 'sock_say "$(head -c 3000 /dev/zero | tr "\0" a)" | grep -q "^error: request longer than 1024"'
check "an empty connection, then a silent one, are dropped" eval 'timeout 10 socat -u /dev/null "UNIX-CONNECT:$SOCK"; true'
check "... and the daemon answers the next request (ok)" eval 'sock_say status | head -1 | grep -qx ok'
# In another namespace (its own instance lock, no table of ours in sight): only the socket collides.
out=$(lab_exec "$LAB_IN2" timeout 10 "$BIN" --engine "$CTL_ENGINE" --external-if eth0 --internal-net 10.9.0.0/24 \
  --external-ip "$LAB_IN2_ADDR" --foreground --pid-file "$LAB_DIR/second.pid" --control-socket "$SOCK" 2>&1); rc=$?
check "a second daemon on the live socket: refused (exit $rc) naming it" eval \
  '[ $rc -ne 0 ] && grep -q "another conenatd answers" <<<"$out" || { echo "   ($out)"; false; }'
check "... the first one still answers" ctl_rc 0 "engine" --socket "$SOCK" status

echo "== stale socket, exit"
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null; DAEMON=
check "after kill -9 the socket file stays: exit 3, nobody answers" ctl_rc 3 "nobody answers" --socket "$SOCK" status
start || fail "a restart over the stale socket"
check "... a restart replaces it: exit 0" ctl_rc 0 "engine" --socket "$SOCK" status
daemon_stop
check "a stopped daemon removes its socket" test ! -e "$SOCK"
checks_done "ctl_$CTL_ENGINE"
