#!/usr/bin/env bash
# The queue engine in the router's life (software_services_lib.sh): the router's own UDP and TCP
# services on pool ports answered at once, conenatd's forwards from two outside hosts, a guest
# prefix added by a reload (SIGHUP) while a mapping made before keeps its external endpoint.
#
#   in1 10.0.0.2, 10.0.1.2 (guest) ─┐
#                                   ├─ lan0 [router: conenatd --engine queue] wan0 E1 ── inet (Y1, Y2)
#   in2 10.0.0.3 ───────────────────┘
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/daemon_lib.sh
ENGINE=queue
source tests/e2e/software_engine_lib.sh
source tests/e2e/software_services_lib.sh

services_checks
checks_done queue_services
