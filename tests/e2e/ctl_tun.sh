#!/usr/bin/env bash
# conenatctl (every command, JSON schema, errors) against the tun engine: tests/e2e/ctl_lib.sh.
CTL_ENGINE=tun
source "$(dirname "$0")/ctl_lib.sh"
