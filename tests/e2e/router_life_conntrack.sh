#!/usr/bin/env bash
# Issue 10's router life (tests/e2e/router_life.sh) with the conntrack engine.
exec bash "$(dirname "$0")/router_life.sh" conntrack
