#!/usr/bin/env bash
# The conntrack engine when the kernel's conntrack table is full (issue 10), in the lab of
# tests/e2e/lib.sh: the router's own datagrams to every port of five outside addresses fill its
# namespace's table up to nf_conntrack_max (a global limit, read-only in a namespace, so it is
# reached rather than lowered); the daemon counts it (conntrack_full), logs it once, and its
# mapping table stays consistent; after `conntrack -F` the counter stops rising. Control: the
# same counter is 0 before the table fills.
#
# Heavy for an e2e test (about nf_conntrack_max entries, ~300 B each, for under a minute); the
# entries are the namespace's own and go with it.
#
# Root only; exit 77 (skip) otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh

max=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo 0)
if [ "$max" -le 0 ] || [ "$max" -gt 400000 ]; then
  echo "skipped: nf_conntrack_max is $max: too many entries to fill in a test"
  exit 77
fi
# Unreplied UDP entries live 30 s by default: long enough for the checks below, whatever the load.
lab_exec "$LAB_RT" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=120

lab_conntrack_flush
daemon_start --engine conntrack --nat-type full-cone || fail "daemon did not start"
check "control: conntrack_full is 0 while the table has room ($(stat conntrack_full))" test "$(stat conntrack_full)" = 0

echo "== the router's own datagrams fill its conntrack table ($max entries)"
lab_exec "$LAB_RT" timeout 120 "$LAB_PY" - "$max" "$LAB_Y1" "$LAB_Y2" "$LAB_A1" "$LAB_A2" "$LAB_R" <<'EOF'
import socket, sys
want = int(sys.argv[1]) + 1000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
sent = 0
for dst in sys.argv[2:]:
    for port in range(1, 65536):
        if sent >= want:
            sys.exit(0)
        try:
            s.sendto(b"x", (dst, port))
            sent += 1
        except (BlockingIOError, OSError):
            pass
EOF
count=$(lab_exec "$LAB_RT" cat /proc/sys/net/netfilter/nf_conntrack_count)
# At the limit the kernel makes room for a new flow by evicting an unreplied entry (early_drop),
# so the count may stay just under it: either shows the limit was reached.
evicted=0
for h in $(lab_exec "$LAB_RT" awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "early_drop") c = i; next }
                               c { print $c }' /proc/net/stat/nf_conntrack); do
  evicted=$((evicted + 16#$h))
done
check "the namespace's table reached its limit ($count of $max, $evicted entries evicted for room)" \
  test "$count" -ge "$max" -o "${evicted:-0}" -gt 0
wait_for 30 1 bash -c "[ \"\$(awk '\$1 == \"conntrack_full\" { print \$2 }' $STATS)\" -gt 0 ]"
full=$(stat conntrack_full)
check "the daemon counted the full table (conntrack_full $full)" test "${full:-0}" -gt 0
check "and logged it once" test "$(grep -c 'conntrack table full' "$LAB_DIR/conenatd.log")" -eq 1
x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" 5000 "$LAB_Y1" 7000)
check "a LAN flow meanwhile (the kernel evicts an unreplied entry for it): '$x'" test "${x%:*}" = "$LAB_E1"

lab_conntrack_flush
sleep 2.2 # two of the daemon's one-second looks at the table
f1=$(stat conntrack_full)
f2=$(stat conntrack_full)
check "after conntrack -F the counter stops rising ($f1 -> $f2)" test "$f1" = "$f2"
check "the mapping table stayed consistent (table_consistency_errors $(stat table_consistency_errors))" \
  test "$(stat table_consistency_errors)" = 0
daemon_stop

checks_done conntrack_full
