#!/bin/sh
# keepalived's notify script for a conenatd pair (examples/ha/, README "Two routers (HA)"):
# conntrackd's primary-backup steps. conenatd itself needs none: it adopts the flows that the
# commit puts into the kernel (conntrack NEW events) and programs their mappings.
#
#   conenat-ha-notify.sh primary|backup|fault [CONNTRACKD_CONF [LOG_FILE]]
#
# primary: commit the peer's flows (external cache) into the kernel, flush both caches, fill the
#          internal cache from the kernel again and send it all to the peer (bulk).
# backup:  shorten the timers of the kernel's flows (they pass through the peer now; their
#          entries here would be zombies) and ask the peer for its flows.
# fault:   shorten the timers.
conf=${2:-/etc/conntrackd/conntrackd.conf}
log=${3:-}
ctd=${CONNTRACKD:-conntrackd}

say() {
    if [ -n "$log" ]; then echo "$(date +%T.%N) $*" >>"$log"; else logger -t conenat-ha "$*"; fi
}

run() {
    if "$ctd" -C "$conf" "$@" >/dev/null 2>&1; then say "conntrackd $*: ok"
    else say "ERROR: conntrackd $* failed"; fi
}

case "$1" in
    primary)
        run -c # the commit returns when the kernel has every entry
        run -f
        run -R
        run -B
        ;;
    backup)
        run -t
        run -n
        ;;
    fault)
        run -t
        ;;
    *)
        echo "usage: $0 primary|backup|fault [CONNTRACKD_CONF [LOG_FILE]]" >&2
        exit 1
        ;;
esac
say "$1 done"
exit 0
