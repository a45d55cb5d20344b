#!/usr/bin/env bash
# The systemd notify protocol as conenatd speaks it (sd_notify(3), written by us). PID 1 is not
# systemd here: tests/e2e/notify_listen.py binds the datagram socket systemd would, and the real
# daemon runs in the lab's router with NOTIFY_SOCKET pointing at it.
#   each engine: READY=1 (STATUS=running) once it runs, and the NAT works then (a real flow);
#     WATCHDOG=1 again and again under WATCHDOG_USEC; SIGHUP: RELOADING=1 + MONOTONIC_USEC (the
#     clock systemd reads), then READY=1 saying what was reloaded; a bad config: RELOADING=1, then
#     READY=1 saying it was refused (the old config runs on: the NAT still works); SIGTERM:
#     STOPPING=1, the last word.
#   an abstract socket ("@name"); no WATCHDOG_USEC (or one meant for another pid): no WATCHDOG=1
#   while the same daemon notifies the rest; a bad NOTIFY_SOCKET: logged, the daemon runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh

LISTEN=tests/e2e/notify_listen.py
CONF=$LAB_DIR/conenatd.conf
NOTES=$LAB_DIR/notify.said
LISTENER=

# write_conf ENGINE [extra lines...]: the daemon's config file (what systemctl reload re-reads).
write_conf() {
  local engine=$1; shift
  printf '%s\n' "engine = $engine" "external-if = wan0" "internal-net = $LAB_INTERNAL_NET" \
    "external-ip = $LAB_E1" "log-level = info" "$@" >"$CONF"
}

# listen SOCKET: systemd's side, in the router's namespace (an abstract name belongs to it).
listen() {
  rm -f "$NOTES" "$NOTES.listening"
  lab_bg "$LAB_RT" notify "$LAB_PY" "$LISTEN" "$1" "$NOTES" 300
  LISTENER=$LAB_BG_PID
  wait_for 100 0.05 test -e "$NOTES.listening"
}
unlisten() { [ -n "$LISTENER" ] && lab_kill "$LISTENER"; LISTENER=; }

# start_notified ENV...: the daemon as systemd starts it (--foreground), with ENV (NOTIFY_SOCKET=...).
start_notified() {
  rm -f "$STATS"
  lab_bg "$LAB_RT" conenatd env "$@" "$BIN" --config "$CONF" --foreground \
    --pid-file "$LAB_DIR/conenatd.pid" --control-socket "$LAB_DIR/conenatd.sock" --stats-file "$STATS"
  DAEMON=$LAB_BG_PID
}

# What systemd heard, watchdog pings left out: one "KEY=value|KEY=value" per message.
said() { awk '$2 != "WATCHDOG=1" { $1 = ""; sub(/^ /, ""); print }' "$NOTES"; }
count() { grep -c -- "$1" "$NOTES" 2>/dev/null || true; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }

# A UDP flow from in1 to A1: the NAT maps it to E1.
nat_works() {
  local port=$1 m
  m=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" "$port" "$LAB_A1" 5000)
  [[ $m == "$LAB_E1:"* ]]
}

# MONOTONIC_USEC of the RELOADING=1 message N: our CLOCK_MONOTONIC, sent before it was received
# and after the daemon started ($2: the receipt time of READY=1 at start).
monotonic_ok() {
  local n=$1 since=$2 rec usec at
  rec=$(grep "RELOADING=1" "$NOTES" | sed -n "${n}p")
  at=${rec%% *}
  usec=$(sed -n 's/.*MONOTONIC_USEC=\([0-9]*\).*/\1/p' <<<"$rec")
  [ -n "$usec" ] && [ "$usec" -le "$at" ] && [ "$usec" -ge "$since" ]
}

# ---------------------------------------------------------------- every engine, the whole life
port=41000
for engine in conntrack queue tun; do
  write_conf "$engine" "udp-timeout = 300"
  listen "$LAB_DIR/notify.sock"
  start_notified NOTIFY_SOCKET="$LAB_DIR/notify.sock" WATCHDOG_USEC=1000000
  check "$engine: READY=1 after start" wait_for 300 0.1 at_least "READY=1" 1
  check "$engine: the first word is READY=1 with STATUS=running" \
    test "$(said | head -n 1)" = "READY=1|STATUS=running"
  started=$(grep -m1 "READY=1" "$NOTES" | cut -d' ' -f1)
  port=$((port + 1))
  check "$engine: the NAT works once READY=1 was sent (a UDP flow mapped to E1)" nat_works "$port"
  # WATCHDOG_USEC=1 s: a ping every 0.5 s while the engine's threads go round.
  check "$engine: WATCHDOG=1 again and again" wait_for 300 0.1 at_least "WATCHDOG=1" 4

  # systemctl reload: a changed key applied.
  sed -i 's/^udp-timeout = 300$/udp-timeout = 400/' "$CONF"
  kill -HUP "$DAEMON"
  check "$engine: SIGHUP: RELOADING=1, then READY=1" wait_for 300 0.1 at_least "READY=1" 2
  check "$engine: RELOADING=1 carries MONOTONIC_USEC (our CLOCK_MONOTONIC)" monotonic_ok 1 "$started"
  check "$engine: READY=1 after the reload says what was applied" \
    test "$(said | sed -n 3p)" = "READY=1|STATUS=running; reloaded: udp-timeout"

  # A bad config: refused, the old one runs on, and systemd is told so.
  sed -i 's/^udp-timeout = 400$/udp-timeout = banana/' "$CONF"
  kill -HUP "$DAEMON"
  check "$engine: a refused reload: RELOADING=1, then READY=1" wait_for 300 0.1 at_least "READY=1" 3
  check "$engine: the second RELOADING=1 has its MONOTONIC_USEC" monotonic_ok 2 "$started"
  refusal=$(said | sed -n 5p)
  check "$engine: READY=1 after the refusal says so ('$refusal')" \
    grep -q "^READY=1|STATUS=running the previous configuration; reload refused.*udp-timeout" <<<"$refusal"
  port=$((port + 1))
  check "$engine: the NAT still works after the refused reload" nat_works "$port"
  pings=$(count "WATCHDOG=1")
  check "$engine: the pings go on after the reloads" wait_for 300 0.1 at_least "WATCHDOG=1" $((pings + 2))

  daemon_stop
  check "$engine: SIGTERM: STOPPING=1 is the last word" \
    test "$(tail -n 1 "$NOTES" | cut -d' ' -f2-)" = "STOPPING=1|STATUS=stopping: removing the rules"
  check "$engine: the whole conversation in order" \
    test "$(said | cut -d'|' -f1 | tr '\n' ' ')" = "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1 "
  unlisten
  grep -q "reload refused" "$LAB_DIR/conenatd.log" || fail "$engine: the refusal is not in the log"
done

# ---------------------------------------------------------------- a stuck engine thread
# Every thread but the main one stopped (ptrace): the main thread runs on but the engine's
# threads no longer go round their loops, so the pings stop (systemd would restart the
# daemon); let go, they resume. No --stats-file here: stats() may wait on a stopped thread.
write_conf conntrack
listen "$LAB_DIR/notify.sock"
lab_bg "$LAB_RT" conenatd env NOTIFY_SOCKET="$LAB_DIR/notify.sock" WATCHDOG_USEC=1000000 "$BIN" --config "$CONF" \
  --foreground --pid-file "$LAB_DIR/conenatd.pid" --control-socket "$LAB_DIR/conenatd.sock"
DAEMON=$LAB_BG_PID
check "stuck: READY=1, then pings" wait_for 300 0.1 at_least "WATCHDOG=1" 2
at_least "WATCHDOG=1" 2 || { sed 's/^/   | /' "$NOTES"; tail -n 20 "$LAB_DIR/conenatd.log" | sed 's/^/   log| /'; }
lab_bg "$LAB_RT" freeze "$LAB_PY" tests/e2e/freeze_threads.py "$DAEMON" 120 "$LAB_DIR/release"
FREEZER=$LAB_BG_PID
check "stuck: the engine's threads stopped" wait_for 300 0.1 grep -q "^frozen [1-9]" "$LAB_DIR/freeze.log"
check "stuck: the daemon sees it (logged once)" wait_for 300 0.1 grep -q "an engine thread is stuck" "$LAB_DIR/conenatd.log"
pings=$(count "WATCHDOG=1")
sleep 3 # six ping intervals
check "stuck: no WATCHDOG=1 while its threads are stuck ($pings, then $(count WATCHDOG=1))" \
  test "$(count "WATCHDOG=1")" -eq "$pings"
touch "$LAB_DIR/release"
check "stuck: its threads let go" wait_for 300 0.1 grep -q "^released" "$LAB_DIR/freeze.log"
check "stuck: the pings resume (the control)" wait_for 300 0.1 at_least "WATCHDOG=1" $((pings + 2))
lab_kill "$FREEZER"
daemon_stop
check "stuck: STOPPING=1 at the end" at_least "STOPPING=1" 1
check "stuck: logged once" test "$(grep -c "an engine thread is stuck" "$LAB_DIR/conenatd.log")" -eq 1
unlisten

# ---------------------------------------------------------------- no watchdog wanted
# An abstract socket, no WATCHDOG_USEC: READY=1 and STOPPING=1 (the positive control), never a
# ping. The daemon lives through several of its one-second rounds (three statistics writes).
stats_rounds() { # N: wait until the stats file has been rewritten N times
  local n=$1 seen=0 last="" now i
  for ((i = 0; i < 200 && seen < n; i++)); do
    now=$(stat -c %Y.%Z.%i "$STATS" 2>/dev/null) # a rename: a new inode each write
    [ -n "$now" ] && [ "$now" != "$last" ] && { [ -n "$last" ] && seen=$((seen + 1)); last=$now; }
    sleep 0.1
  done
  [ "$seen" -ge "$n" ]
}
unset -f stat 2>/dev/null # daemon_lib's stat() reads counters; stat(1) is meant here
write_conf conntrack
abstract="@conenatd-notify-$LAB_PREFIX"
listen "$abstract"
start_notified NOTIFY_SOCKET="$abstract"
check "abstract socket: READY=1" wait_for 300 0.1 at_least "READY=1" 1
check "no WATCHDOG_USEC: three rounds of the daemon's loop go by" stats_rounds 3
daemon_stop
check "abstract socket: STOPPING=1" at_least "STOPPING=1" 1
check "no WATCHDOG_USEC: no WATCHDOG=1 (READY=1 and STOPPING=1 did arrive)" test "$(count WATCHDOG=1)" -eq 0
unlisten

# WATCHDOG_PID names another process (systemd's word for "not you"): no pings either.
listen "$LAB_DIR/notify.sock"
start_notified NOTIFY_SOCKET="$LAB_DIR/notify.sock" WATCHDOG_USEC=1000000 WATCHDOG_PID=1
check "WATCHDOG_PID=1: READY=1" wait_for 300 0.1 at_least "READY=1" 1
check "WATCHDOG_PID=1: three rounds of the daemon's loop go by" stats_rounds 3
daemon_stop
check "WATCHDOG_PID=1: STOPPING=1" at_least "STOPPING=1" 1
check "WATCHDOG_PID=1 (not the daemon): no WATCHDOG=1" test "$(count WATCHDOG=1)" -eq 0
unlisten

# A NOTIFY_SOCKET that is no socket address: said in the log; the daemon runs all the same.
start_notified NOTIFY_SOCKET=relative/notify.sock
check "a bad NOTIFY_SOCKET: the daemon runs (statistics written)" wait_for 300 0.1 test -s "$STATS"
check "a bad NOTIFY_SOCKET: the NAT works" nat_works 41900
daemon_stop
check "a bad NOTIFY_SOCKET is named in the log" grep -q "NOTIFY_SOCKET 'relative/notify.sock'" "$LAB_DIR/conenatd.log"

checks_done systemd
