#!/usr/bin/env bash
# conenatd under the sandbox of systemd/conenatd.service, built from the unit file itself by
# tests/e2e/tools/unit_sandbox.sh (PID 1 is not systemd here): read-only system, private /run with the
# RuntimeDirectory writable, /proc/sys read-only but /proc/sys/net, a /dev with /dev/net/tun,
# only CAP_NET_ADMIN + CAP_NET_RAW, no new privileges. Each engine: READY=1 on the notify socket,
# a real UDP flow translated, the credentials and mounts the daemon really has, STOPPING=1 and
# its rules removed at SIGTERM. Controls: the same sandbox without /proc/sys/net writable stops
# the tun engine (it sets its device's sysctls), and a write outside the unit's writable paths fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
e2e_require_root setpriv unshare nsenter

UNIT=systemd/conenatd.service
CONF=$LAB_DIR/sandbox.conf
NOTES=$LAB_DIR/notify.said
SOCK="@conenatd-sandbox-$LAB_PREFIX"
LISTENER=

listen() {
  rm -f "$NOTES" "$NOTES.listening"
  lab_bg "$LAB_RT" notify "$LAB_PY" tests/e2e/notify_listen.py "$SOCK" "$NOTES" 300
  LISTENER=$LAB_BG_PID
  wait_for 100 0.05 test -e "$NOTES.listening"
}
unlisten() { [ -n "$LISTENER" ] && lab_kill "$LISTENER"; LISTENER=; }
heard() { grep -q -- "$1" "$NOTES" 2>/dev/null; }
# sandboxed ENGINE [unit_sandbox options]: the daemon as the unit starts it; sets DAEMON.
sandboxed() {
  local engine=$1; shift
  printf '%s\n' "engine = $engine" "external-if = wan0" "internal-net = $LAB_INTERNAL_NET" \
    "external-ip = $LAB_E1" "log-level = info" >"$CONF"
  lab_bg "$LAB_RT" "sandbox-$engine" env NOTIFY_SOCKET="$SOCK" BUILD="$BUILD" \
    tests/e2e/tools/unit_sandbox.sh "$UNIT" "$CONF" "$@"
  DAEMON=$LAB_BG_PID
}
nat_works() {
  local m
  m=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" "$1" "$LAB_A1" 5000)
  [[ $m == "$LAB_E1:"* ]]
}
status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
in_ns() { nsenter -t "$DAEMON" -m -- "$@"; }
no_table() { [ -z "$(lab_exec "$LAB_RT" nft list tables 2>/dev/null | grep -w conenatd)" ]; }

# CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW: bits 12 and 13.
WANT_CAPS=0000000000003000
port=42000
for engine in conntrack queue tun; do
  listen
  sandboxed "$engine"
  check "$engine sandboxed: READY=1" wait_for 300 0.1 heard "READY=1"
  if ! heard "READY=1"; then sed 's/^/    /' "$LAB_DIR/sandbox-$engine.log" | tail -20; fi
  port=$((port + 1))
  check "$engine sandboxed: the NAT works (a UDP flow mapped to E1)" nat_works "$port"
  check "$engine sandboxed: runs the unit's ExecStart (--foreground --config)" \
    grep -q -- "--foreground --config /run/.unit-sandbox-etc/conenatd.conf" <(tr '\0' ' ' <"/proc/$DAEMON/cmdline")
  check "$engine sandboxed: bounding set is CAP_NET_ADMIN + CAP_NET_RAW only" \
    test "$(status_field "$DAEMON" CapBnd)" = $WANT_CAPS
  check "$engine sandboxed: effective capabilities the same" test "$(status_field "$DAEMON" CapEff)" = $WANT_CAPS
  check "$engine sandboxed: no new privileges" test "$(status_field "$DAEMON" NoNewPrivs)" = 1
  check "$engine sandboxed: its pid file in the RuntimeDirectory" \
    test "$(in_ns cat /run/conenatd/conenatd.pid 2>/dev/null)" = "$DAEMON"
  check "$engine sandboxed: the RuntimeDirectory is writable (the control)" in_ns touch /run/conenatd/probe
  check "$engine sandboxed: /etc is read-only" bash -c "! nsenter -t $DAEMON -m -- touch /etc/conenatd-probe 2>/dev/null"
  check "$engine sandboxed: /run outside its directory is read-only" \
    bash -c "! nsenter -t $DAEMON -m -- touch /run/probe 2>/dev/null"
  check "$engine sandboxed: /proc/sys is read-only outside net/" \
    bash -c "! nsenter -t $DAEMON -m -- sh -c 'echo 0 > /proc/sys/kernel/printk_ratelimit' 2>/dev/null"
  check "$engine sandboxed: /dev holds the pseudo devices and tun only" \
    test "$(in_ns ls /dev | tr '\n' ' ')" = "full net null random urandom zero "
  daemon_stop
  check "$engine sandboxed: STOPPING=1 at SIGTERM" heard "STOPPING=1"
  check "$engine sandboxed: its rules removed at stop" no_table
  unlisten
done

# The control: without ReadWritePaths=/proc/sys/net the tun engine cannot set its device's
# sysctls and does not start (so the unit's exception is needed, and the sandbox is real).
listen
sandboxed tun --without-rw /proc/sys/net
check "control: tun without /proc/sys/net writable exits" wait_for 300 0.1 bash -c "! kill -0 $DAEMON 2>/dev/null"
wait "$DAEMON" 2>/dev/null; rc=$?
check "control: ... with status $rc (not 0)" test "$rc" -ne 0
check "control: ... saying why (a sysctl under /proc/sys/net)" grep -q "/proc/sys/net/ipv4/conf/" "$LAB_DIR/sandbox-tun.log"
check "control: ... and never said READY=1" bash -c "! grep -q READY=1 '$NOTES'"
check "control: ... leaving no rules" no_table
DAEMON=
unlisten

# ---------------------------------------------------------------- the system call filter
# Not built by unit_sandbox.sh (seccomp): every system call each engine makes (strace -f -C over
# start, a flow, a reload, stop) must be in what the unit's SystemCallFilter= lines allow
# (syscall_filter.py asks systemd-analyze), and every socket family it opens in its
# RestrictAddressFamilies=. The control: a call the filter takes away (setuid, in
# ~@privileged) is reported by the same comparison.
if command -v strace >/dev/null && command -v systemd-analyze >/dev/null; then
  "$LAB_PY" tests/e2e/syscall_filter.py "$UNIT" >"$LAB_DIR/allowed" || fail "syscall_filter.py"
  outside() { comm -23 <(sort -u "$1") "$LAB_DIR/allowed" | tr '\n' ' '; }
  families=" $(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT") "
  port=42900
  for engine in conntrack queue tun; do
    rm -f "$STATS"
    lab_bg "$LAB_RT" "strace-$engine" strace -f -C -o "$LAB_DIR/strace.$engine" -- "$BIN" --engine "$engine" \
      --external-if wan0 --internal-net "$LAB_INTERNAL_NET" --external-ip "$LAB_E1" --foreground \
      --pid-file "$LAB_DIR/conenatd.pid" --stats-file "$STATS"
    tracer=$LAB_BG_PID
    wait_for 300 0.1 test -s "$STATS"
    port=$((port + 1))
    check "$engine traced: the NAT works" nat_works "$port"
    traced=$(cat "$LAB_DIR/conenatd.pid")
    kill -HUP "$traced"
    sleep 1.5 # a round of the main loop after the reload
    kill -TERM "$traced"
    wait_for 300 0.1 bash -c "! kill -0 $tracer 2>/dev/null"
    awk '/^------/ { n++; next } n == 1 { print $NF }' "$LAB_DIR/strace.$engine" >"$LAB_DIR/calls.$engine"
    check "$engine: strace saw its system calls ($(wc -l <"$LAB_DIR/calls.$engine"))" \
      test "$(wc -l <"$LAB_DIR/calls.$engine")" -gt 20
    bad=$(outside "$LAB_DIR/calls.$engine")
    check "$engine: every system call it made is allowed by SystemCallFilter=${bad:+ (not: $bad)}" test -z "$bad"
    used=$(grep -oE 'socket\(AF_[A-Z0-9]+' "$LAB_DIR/strace.$engine" | cut -d'(' -f2 | sort -u | tr '\n' ' ')
    bad=$(for f in $used; do [[ $families == *" $f "* ]] || echo -n "$f "; done)
    check "$engine: the socket families it opened ($used) are in RestrictAddressFamilies=${bad:+ (not: $bad)}" \
      test -n "$used" -a -z "$bad"
  done
  { cat "$LAB_DIR/calls.conntrack"; echo setuid; } >"$LAB_DIR/calls.control"
  check "control: a setuid call would be reported" test "$(outside "$LAB_DIR/calls.control")" = "setuid "
else
  echo "note: strace or systemd-analyze missing: the system call filter is not compared"
  [ "${CI:-}" = true ] && fail "strace / systemd-analyze missing under CI"
fi

checks_done systemd_sandbox
