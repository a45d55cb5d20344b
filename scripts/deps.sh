#!/usr/bin/env bash
# Installs (as root) or names (as any other user) the Debian packages conenatd needs.
#   scripts/deps.sh build   packages to build the daemon and run the unit tests
#   scripts/deps.sh test    build + everything the end-to-end tests drive
#   scripts/deps.sh dev     test + fuzzing and sanitizer runtimes
set -euo pipefail

build_pkgs=(g++ make pkg-config doctest-dev libmnl-dev libnetfilter-conntrack-dev
            libnetfilter-queue-dev libnftnl-dev libboost-program-options-dev)
test_pkgs=(iproute2 iptables nftables conntrack coturn stun-client stun-server socat iperf3 hping3
           tcpdump python3-scapy traceroute iputils-ping procps ethtool strace
           prometheus prometheus-node-exporter)
# The packages' tests: busybox runs the OpenWrt UCI translation; the .deb is built and linted.
test_pkgs+=(busybox debhelper dpkg-dev lintian fakeroot)
dev_pkgs=(clang-14 libfuzzer-14-dev libclang-rt-14-dev)

case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  dev)   want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${dev_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|dev" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "conenatd: missing Debian packages: ${missing[*]}" >&2
  echo "conenatd: install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "conenatd: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The test set brings servers (prometheus, node_exporter, coturn...) that the tests start
# themselves: the install must neither start them (a policy-rc.d refusing every start, ours only
# while apt runs) nor leave them enabled (systemd as PID 1: disabled right after).
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  own_policy=/usr/sbin/policy-rc.d
  trap 'rm -f "$own_policy"' EXIT
  printf '#!/bin/sh\n# conenatd scripts/deps.sh: no service starts while it installs test tools\nexit 101\n' >"$own_policy"
  chmod 755 "$own_policy"
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -d /run/systemd/system ]; then
  for unit in prometheus prometheus-node-exporter coturn stun-server; do
    systemctl list-unit-files "$unit.service" "$unit-*.timer" --no-legend 2>/dev/null | while read -r u _; do
      systemctl disable --now "$u" >/dev/null 2>&1 || true
    done
  done
fi
