#!/usr/bin/env bash
# Installs (as root) or names (as any other user) the Debian packages conenatd needs.
#   scripts/deps.sh build   packages to build the daemon and run the unit tests
#   scripts/deps.sh test    build + everything the end-to-end tests drive
#   scripts/deps.sh dev     test + fuzzing and sanitizer runtimes
#   scripts/deps.sh runtime only what the installed daemon needs to run (its shared libraries)
set -euo pipefail

build_pkgs=(g++ make pkg-config doctest-dev libmnl-dev libnetfilter-conntrack-dev
            libnetfilter-queue-dev libnftnl-dev libboost-program-options-dev)
test_pkgs=(iproute2 iptables nftables conntrack coturn stun-client stun-server socat iperf3 hping3
           tcpdump python3-scapy traceroute iputils-ping procps ethtool strace
           prometheus prometheus-node-exporter)
# The packages' tests: busybox runs the OpenWrt UCI translation; the .deb is built and linted.
test_pkgs+=(busybox debhelper dpkg-dev lintian fakeroot)
# make install's checks: the man pages' lint, the unit's systemd-analyze, `file` (stripped?).
test_pkgs+=(mandoc systemd file)
# conenatctl's tests validate its --json output against doc/conenatctl.schema.json.
test_pkgs+=(python3-jsonschema)
# The HA pair's failover (tests/e2e/ha_*.sh): VRRP and the conntrack state sync.
test_pkgs+=(keepalived conntrackd)
dev_pkgs=(clang-14 libfuzzer-14-dev libclang-rt-14-dev)
# The libraries conenatd links (ldd build/conenatd; Debian 12's names). No nft or iptables
# binary: it programs netfilter itself (libnftnl, libnetfilter_*).
runtime_pkgs=(libmnl0 libnfnetlink0 libnetfilter-conntrack3 libnetfilter-queue1 libnftnl11
              libboost-program-options1.74.0 libstdc++6)
# The test set's servers: started by the tests themselves, never enabled or left running.
servers=(coturn stun-server prometheus prometheus-node-exporter keepalived conntrackd)

case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  dev)   want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${dev_pkgs[@]}") ;;
  runtime) want=("${runtime_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|dev|runtime" >&2; exit 2 ;;
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
# Each server package this run installed: its systemd units disabled (offline too: systemctl
# only edits the wants/ links) and stopped when systemd runs, its init script's links disabled.
for p in "${missing[@]}"; do
  case " ${servers[*]} " in *" $p "*) ;; *) continue ;; esac
  for f in $(dpkg -L "$p" 2>/dev/null | grep -E '/systemd/system/[^/]+\.(service|socket|timer)$|^/etc/init\.d/'); do
    name=${f##*/}
    if [[ $f == /etc/init.d/* ]]; then
      update-rc.d "$name" disable >/dev/null 2>&1 || true
    elif command -v systemctl >/dev/null; then
      systemctl disable "$name" >/dev/null 2>&1 || true
      [ -d /run/systemd/system ] && { systemctl stop "$name" >/dev/null 2>&1 || true; }
    fi
  done
done
