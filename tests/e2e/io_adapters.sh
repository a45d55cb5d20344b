#!/usr/bin/env bash
# Runs the kernel adapter tests ($BUILD/io_tests: nftables, conntrack, nfqueue) as root in
# three private network namespaces; nothing touches the host's own namespace.
#
#   client ns (cnPID-c)          router ns (cnPID-r): io_tests runs here          server ns (cnPID-s)
#  +--------------------+       +-----------------------------------------+       +----------------------+
#  | lan0 10.0.0.2/24   |       | lan0 10.0.0.1/24     wan0 192.0.2.1/24  |       | wan0 192.0.2.2/24    |
#  |      10.0.0.3/24   |-veth--|   external (NAT) 203.0.113.1/32 on wan0 |-veth--| lo   198.51.100.2/32 |
#  | default via .1     |       |   198.51.100.0/24 via 192.0.2.2         |       | default via 192.0.2.1|
#  +--------------------+       |   ip_forward=1, rp_filter=0             |       +----------------------+
#                               +-----------------------------------------+
#
# Usage: BUILD=build tests/e2e/io_adapters.sh [doctest options]
# Exit status: the test binary's; 77 (skipped) when not root or without `ip netns`.
set -euo pipefail

BUILD=${BUILD:-build}
BIN="$BUILD/io_tests"

if [ "$(id -u)" -ne 0 ]; then
    echo "io_adapters: skipped: needs root (creates network namespaces, programs netfilter)" >&2
    exit 77
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
    echo "io_adapters: skipped: 'ip netns' is not available" >&2
    exit 77
fi
if [ ! -x "$BIN" ]; then
    echo "io_adapters: $BIN not built (make BUILD=$BUILD $BIN)" >&2
    exit 1
fi

P="cn$$"            # unique per run: parallel runs do not collide
C="$P-c" R="$P-r" S="$P-s"

cleanup() {
    for ns in "$C" "$R" "$S"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

for ns in "$C" "$R" "$S"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done

# Each veth pair is created inside its namespaces directly: no interface ever appears in
# the namespace this script runs in.
ip -n "$C" link add lan0 type veth peer name lan0 netns "$R"
ip -n "$R" link add wan0 type veth peer name wan0 netns "$S"

ip -n "$C" addr add 10.0.0.2/24 dev lan0
ip -n "$C" addr add 10.0.0.3/24 dev lan0
ip -n "$C" link set lan0 up
ip -n "$C" route add default via 10.0.0.1

ip -n "$R" addr add 10.0.0.1/24 dev lan0
ip -n "$R" addr add 192.0.2.1/24 dev wan0
ip -n "$R" addr add 203.0.113.1/32 dev wan0
ip -n "$R" link set lan0 up
ip -n "$R" link set wan0 up
ip -n "$R" route add 198.51.100.0/24 via 192.0.2.2
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$R" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

ip -n "$S" addr add 192.0.2.2/24 dev wan0
ip -n "$S" addr add 198.51.100.2/32 dev lo
ip -n "$S" link set wan0 up
ip -n "$S" route add default via 192.0.2.1

status=0
ip netns exec "$R" env CONENAT_IO_NETNS=1 CN_NS_CLIENT="$C" CN_NS_SERVER="$S" \
    timeout 600 "$BIN" "$@" || status=$?
exit "$status"
