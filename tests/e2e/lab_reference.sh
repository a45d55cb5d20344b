#!/usr/bin/env bash
# Tests that both classifiers tell the four NAT types apart, against nft emulations of each type
# (lab_reference_nat_on): full cone = EIM+EIF, restricted = EIM+ADF, port-restricted = EIM+APDF,
# symmetric = APDM(+APDF). A classifier that cannot do this here cannot judge the daemon.
# Exit 0 pass, 77 skipped (not root / tools missing), anything else fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
e2e_require_root "${LAB_TOOLS[@]}"

lab_trap
lab_up
lab_start_stun

declare -A want_nd=(
  [full-cone]="mapping=endpoint-independent filtering=endpoint-independent"
  [restricted-cone]="mapping=endpoint-independent filtering=address-dependent"
  [port-restricted-cone]="mapping=endpoint-independent filtering=address-and-port-dependent"
  [symmetric]="mapping=address-and-port-dependent filtering=address-and-port-dependent"
)
fails=0
for t in full-cone restricted-cone port-restricted-cone symmetric; do
  lab_reference_nat_on "$t"
  nd=$(classify_natdiscovery "$LAB_IN1")
  st=$(classify_stun "$LAB_IN1")
  lab_reference_nat_off
  if [ "$nd" = "${want_nd[$t]}" ] && [ "$st" = "$t" ]; then
    echo "ok   $t: $nd stun=$st"
  else
    echo "FAIL $t: got '$nd' stun=$st; expected '${want_nd[$t]}' stun=$t"
    fails=$((fails + 1))
  fi
done
[ $fails -eq 0 ] || { echo "lab_reference: $fails type(s) misclassified"; exit 1; }
echo "lab_reference: all four types classified"
