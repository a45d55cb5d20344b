#!/usr/bin/env bash
# conenatctl (every command, JSON schema, errors) against the conntrack engine: tests/e2e/ctl_lib.sh.
CTL_ENGINE=conntrack
source "$(dirname "$0")/ctl_lib.sh"
