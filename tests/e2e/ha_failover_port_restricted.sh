#!/usr/bin/env bash
# Issue 12's HA failover (tests/e2e/ha_failover.sh) with a port-restricted cone on both routers,
# router A failing by its keepalived stopping (ha_failover.sh's own run: its links going down):
# after each takeover a new outside peer is refused, a peer the host sends to gets through.
exec bash "$(dirname "$0")/ha_failover.sh" port-restricted-cone keepalived
