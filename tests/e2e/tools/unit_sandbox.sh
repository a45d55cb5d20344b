#!/usr/bin/env bash
# Runs a command under the sandbox that systemd/conenatd.service asks systemd for, as far as it
# can be built without systemd as PID 1; the settings are read from the unit file itself.
#   tests/e2e/tools/unit_sandbox.sh UNIT CONFIG [--without-rw PATH] -- [extra conenatd args...]
# Run as root inside the network namespace wanted; it unshares a mount namespace of its own and
# execs the unit's ExecStart (@SBINDIR@: $BUILD bound at /run/.unit-sandbox-sbin, @SYSCONFDIR@: a
# private dir holding CONFIG):
#   ProtectSystem=strict  every mount read-only but /dev, /proc, /sys (those below)
#   ProtectKernelTunables /proc/sys and /sys read-only; ReadWritePaths= mounts stay writable
#   ProtectHome=yes       empty read-only /home, /root, /run/user
#   PrivateTmp=yes        fresh /tmp, /var/tmp
#   RuntimeDirectory=     /run/<name>, writable (/run itself a private, read-only tmpfs)
#   DevicePolicy=closed + DeviceAllow=  a /dev with the pseudo devices and the allowed ones only
#   CapabilityBoundingSet=, AmbientCapabilities=, SecureBits=noroot*, NoNewPrivileges=  setpriv
#   UMask=, Environment=  as given
# Not built here (seccomp, cgroup BPF): SystemCallFilter=, RestrictAddressFamilies=,
# MemoryDenyWriteExecute=, RestrictNamespaces= (systemd-analyze rates them: tests/e2e/install.sh).
# --without-rw PATH: leave PATH out of ReadWritePaths= (a negative control).
set -euo pipefail
unit=$1 config=$2; shift 2
without=
if [ "${1:-}" = --without-rw ]; then without=$2; shift 2; fi
[ "${1:-}" = -- ] && shift
BUILD=${BUILD:-build}
sbindir=$(cd "$BUILD" && pwd)

# The unit's value of KEY (the last assignment wins; an empty one resets, as systemd does).
get() { awk -v k="$1" -F= '$1 == k { v = substr($0, length(k) + 2) } END { print v }' "$unit"; }
yes_() { case $(get "$1") in yes | true | on | 1 | strict | full) return 0 ;; esac; return 1; }
[ "$(get ProtectSystem)" = strict ] || { echo "unit_sandbox: ProtectSystem=strict expected" >&2; exit 2; }

if [ -z "${UNIT_SANDBOX_INSIDE:-}" ]; then
  export UNIT_SANDBOX_INSIDE=1 BUILD
  exec unshare -m --propagation private "$0" "$unit" "$config" ${without:+--without-rw "$without"} -- "$@"
fi

# ---- inside the private mount namespace (still all capabilities)
extra=("$@")
or_default() { local v; v=$(get "$1"); echo "${v:-$2}"; }
rw_paths=()
for p in $(get ReadWritePaths); do [ "$p" = "$without" ] || rw_paths+=("$p"); done
runtime=$(get RuntimeDirectory)
etc=/run/.unit-sandbox-etc

mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p "/run/$runtime" "$etc"
# The build directory stays in sight at a path of its own (a tree cloned under /tmp would
# vanish under PrivateTmp=, where an installed /usr/sbin never does).
mkdir -p /run/.unit-sandbox-sbin
mount --bind "$sbindir" /run/.unit-sandbox-sbin
sbindir=/run/.unit-sandbox-sbin
chmod "$(or_default RuntimeDirectoryMode 0755)" "/run/$runtime"
cp "$config" "$etc/conenatd.conf"

if [ "$(get DevicePolicy)" = closed ]; then
  mount -t tmpfs -o mode=0755 tmpfs /dev
  # "closed": the standard pseudo devices (systemd.resource-control(5)), then DeviceAllow=.
  for d in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9"; do
    read -r name major minor <<<"$d"
    mknod -m 0666 "/dev/$name" c "$major" "$minor"
  done
  for d in $(get DeviceAllow | awk '{ print $1 }'); do
    case $d in /dev/net/tun) mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200 ;;
      *) echo "unit_sandbox: DeviceAllow=$d not known here" >&2; exit 2 ;; esac
  done
fi
if yes_ PrivateTmp; then mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /var/tmp; fi
if yes_ ProtectHome; then
  for h in /home /root; do [ -d "$h" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$h"; done
fi

# ProtectSystem=strict: every mount read-only, except the API file systems and what is written.
keep_rw=" /run/$runtime /tmp /var/tmp "
for m in $(awk '{ print $5 }' /proc/self/mountinfo | sort -u); do
  case $m in /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;; esac
  case "$keep_rw" in *" $m "*) continue ;; esac
  [ -e "$m" ] || continue # under a mount made here (/run's old submounts): out of sight
  mount -o remount,bind,ro "$m" 2>/dev/null || mount -o remount,ro "$m"
done
mount --bind "/run/$runtime" "/run/$runtime" # its own mount, writable under the read-only /run
mount -o remount,bind,rw "/run/$runtime"
if yes_ ProtectKernelTunables; then
  mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
  mount -o remount,bind,ro /sys 2>/dev/null || mount -o remount,ro /sys
fi
for p in "${rw_paths[@]}"; do mount --bind "$p" "$p" && mount -o remount,bind,rw "$p"; done

# The process: ExecStart with the paths substituted, the unit's environment and credentials.
read -r -a cmd <<<"$(get ExecStart | sed -e "s|@SBINDIR@|$sbindir|g" -e "s|@SYSCONFDIR@|$etc|g")"
caps=$(get CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
ambient=$(get AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
priv=(setpriv --bounding-set "-all,+$caps")
[ -n "$ambient" ] && priv+=(--inh-caps "-all,+$ambient" --ambient-caps "-all,+$ambient")
case $(get SecureBits) in *noroot-locked*) priv+=(--securebits +noroot,+noroot_locked) ;; esac
yes_ NoNewPrivileges && priv+=(--no-new-privs)
umask "$(or_default UMask 0022)"
envs=(); for e in $(get Environment); do envs+=("$e"); done
exec env "${envs[@]}" "${priv[@]}" -- "${cmd[@]}" "${extra[@]}"
