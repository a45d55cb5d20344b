#!/usr/bin/env bash
# Regenerates the netlink fuzz seeds (fuzz_netlink, fuzz_nfqueue, fuzz_rtnetlink, fuzz_nft_events) from the real
# kernel: in a network namespace of its own (removed on exit) with a veth pair, an address, a
# route, a policy rule, conntrack and an NFQUEUE rule, capture_netlink.py records what the
# kernel sends. Root only. Usage: tests/fuzz/capture_seeds.sh [OUT_DIR] (default tests/fuzz/seeds)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-tests/fuzz/seeds}
[ "$(id -u)" -eq 0 ] || { echo "capture_seeds.sh: needs root (network namespace)" >&2; exit 77; }
ns=fzcap-$$
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip link add fzveth0 type veth peer name fzveth1
in_ns ip link set fzveth1 up
in_ns ip link set fzveth0 up
in_ns ip addr add 198.51.100.7/24 dev fzveth0
in_ns ip route add 203.0.113.0/24 via 198.51.100.1 dev fzveth0
in_ns ip rule add pref 50 fwmark 0x100000/0x100000 lookup 100
in_ns nft add table ip fzcap
in_ns nft add chain ip fzcap out '{ type filter hook output priority 0; policy accept; }'
in_ns nft add rule ip fzcap out ct state new counter  # conntrack on in this namespace
# The xt NFQUEUE target: some kernels have no native nft queue statement (kernel-facts.md).
in_ns iptables -A OUTPUT -p udp --dport 9998 -j NFQUEUE --queue-num 7 --queue-bypass
in_ns python3 tests/fuzz/capture_netlink.py "$out" fzveth0
