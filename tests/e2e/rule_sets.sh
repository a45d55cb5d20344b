#!/usr/bin/env bash
# --print-rules is what gets installed: for each engine (and a few option variants: filtering
# types, mapping behaviours, port ranges, workers, mark) conenatd starts in a namespace of its
# own, the kernel's table (`nft list table ip conenatd`) is dumped and compared with
# `conenatd --print-rules` for the same options; a difference is shown as a diff. The printed
# tables must also load with `nft -f` and list as printed (the text is real nft): the conntrack
# engine's --print-rules where this kernel has the nft queue statement, and everywhere the
# --print-rules-without-queues of the conntrack and (one worker) queue engines. (The queue
# engine's --print-rules cannot load: its port and host maps are looked up by keys of several
# types, e.g. th dport and the raw quoted port, which nft's language cannot declare.) Then every
# generated example (examples/nftables-*.nft with an "# options:" line, `make examples`) must
# equal --print-rules for the options its header names, and the iptables script that queues
# for it must use the queue numbers and addresses of the same options.
#
#   [ns: wan0 (198.51.100.254/24) -- wan0p ; lan0 (10.0.0.1/24) -- lan0p]   conenatd --engine E
#
# Root only (namespaces, nftables); exit 77 (skip) otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/lib.sh
source tests/e2e/check_lib.sh
e2e_daemon_ready ip nft

DAEMON=
e2e_cleanup() { [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null; }
e2e_scratch_ns cnrules wan0 lan0

# The runtime-dependent part of a listed table: counter values (print-rules shows a fresh
# table's zeros). nft's own warnings (e.g. about xt targets) go to stderr and are not compared.
normalize() { sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/'; }
# --print-rules without its leading comment lines.
rules_only() { grep -v '^#'; }

BASE=(--external-if wan0 --internal-net 10.0.0.0/24 --external-ip 198.51.100.254)

# compare NAME OPTIONS...: install with OPTIONS, dump, compare with --print-rules.
compare() {
  local name=$1; shift
  local printed=$TMP/printed listed=$TMP/listed i
  if ! ip netns exec "$NS" "$BIN" "${BASE[@]}" "$@" --print-rules 2>"$TMP/print.err" | rules_only >"$printed"; then
    fail "$name: --print-rules failed: $(cat "$TMP/print.err")"
    return
  fi
  ip netns exec "$NS" "$BIN" "${BASE[@]}" "$@" --foreground --pid-file "$TMP/pid" --control-socket "$TMP/pid.sock" --stats-file "$TMP/stats" \
    >"$TMP/daemon.log" 2>&1 &
  DAEMON=$!
  # Up once the stats file is written (after the rules are in).
  if ! wait_for 100 0.1 test -s "$TMP/stats"; then
    fail "$name: conenatd did not start: $(tail -n 3 "$TMP/daemon.log")"
  else
    ip netns exec "$NS" nft list table ip conenatd 2>/dev/null | normalize >"$listed"
    if diff -u --label "conenatd --print-rules" --label "nft list table ip conenatd" "$printed" "$listed"; then
      pass "$name: --print-rules is the installed table"
    else
      fail "$name: --print-rules differs from the installed table (diff above)"
    fi
  fi
  kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; DAEMON=
  rm -f "$TMP/stats"
  for ((i = 0; i < 50; i++)); do [ -z "$(ip netns exec "$NS" nft list tables)" ] && break; sleep 0.1; done
  [ -z "$(ip netns exec "$NS" nft list tables)" ] || fail "$name: the table outlived the daemon"
}

# Whether this kernel takes the nft queue statement (CONFIG_NFT_QUEUE): probed in the namespace.
if printf 'table ip cnprobe {\n\tchain c {\n\t\tqueue num 0 bypass\n\t}\n}\n' |
  ip netns exec "$NS" nft -f - >/dev/null 2>&1; then
  NATIVE_QUEUE=1; ip netns exec "$NS" nft delete table ip cnprobe
else NATIVE_QUEUE=0; fi

# loads NAME PRINT OPTIONS...: the PRINT (--print-rules or --print-rules-without-queues)
# output loads with nft -f and lists as printed.
loads() {
  local name=$1 print=$2; shift 2
  local text=$TMP/load.nft
  ip netns exec "$NS" "$BIN" "${BASE[@]}" "$@" "$print" 2>/dev/null | rules_only >"$text"
  if ! ip netns exec "$NS" nft -f "$text" 2>"$TMP/load.err"; then
    fail "$name: nft -f refuses $print: $(head -n 3 "$TMP/load.err")"
    return
  fi
  ip netns exec "$NS" nft list table ip conenatd | normalize >"$TMP/load.listed"
  ip netns exec "$NS" nft delete table ip conenatd
  if diff -u --label "conenatd $print" --label "nft -f; nft list" "$text" "$TMP/load.listed"; then
    pass "$name: nft -f loads $print and lists it unchanged"
  else
    fail "$name: nft lists the loaded $print differently (diff above)"
  fi
}

compare "conntrack (port-restricted cone)" --engine conntrack --nat-type port-restricted-cone
compare "conntrack (full cone, ports 20000-29999)" --engine conntrack --nat-type full-cone --ports 20000-29999
compare "conntrack (symmetric, two port ranges)" --engine conntrack --nat-type symmetric --ports 1024-2047,4096-65535
compare "conntrack (three internal prefixes, two forwards)" --engine conntrack --internal-net 10.1.0.0/24 \
  --internal-net 10.0.1.0/24 --forward udp:51820=10.0.0.10:51820 --forward tcp:2222=10.1.0.5:22
compare "queue (port-restricted cone)" --engine queue --nat-type port-restricted-cone
compare "queue (3 workers, fail-open, ports 20000-29999)" --engine queue --queues 3 --fail-open --ports 20000-29999
compare "tun (port-restricted cone)" --engine tun --nat-type port-restricted-cone
compare "tun (full cone, mark 0x4, ports 20000-29999)" --engine tun --nat-type full-cone --mark 0x4 --ports 20000-29999

for print in --print-rules-without-queues $([ $NATIVE_QUEUE = 1 ] && echo --print-rules); do
  loads "conntrack (port-restricted cone)" $print --engine conntrack --nat-type port-restricted-cone
  loads "conntrack (symmetric, two port ranges)" $print --engine conntrack --nat-type symmetric --ports 1024-2047,4096-65535
  loads "conntrack (full cone, ports 20000-29999)" $print --engine conntrack --nat-type full-cone --ports 20000-29999
  loads "conntrack (three internal prefixes, two forwards)" $print --engine conntrack --internal-net 10.1.0.0/24 \
    --internal-net 10.0.1.0/24 --forward udp:51820=10.0.0.10:51820 --forward tcp:2222=10.1.0.5:22
done
loads "queue (port-restricted cone)" --print-rules-without-queues --engine queue --nat-type port-restricted-cone
loads "queue (ports 1024-2047,4096-65535)" --print-rules-without-queues --engine queue --ports 1024-2047,4096-65535
[ $NATIVE_QUEUE = 1 ] || echo "note: no nft queue statement here: --print-rules itself was not loaded"

# Generated examples: the header up to its "# options:" line, then --print-rules output.
for f in examples/nftables-*.nft; do
  opts=$(sed -n 's/^# options: //p' "$f")
  [ -n "$opts" ] || continue
  # shellcheck disable=SC2086 # the options are words
  { sed '/^# options:/q' "$f"; ip netns exec "$NS" "$BIN" $opts --print-rules 2>"$TMP/print.err"; } >"$TMP/example" ||
    fail "$f: conenatd $opts --print-rules failed: $(cat "$TMP/print.err")"
  if diff -u --label "$f" --label "$f (make examples)" "$f" "$TMP/example"; then
    pass "$f is --print-rules $opts"
  else
    fail "$f drifted from --print-rules (diff above; run make examples)"
  fi
  # The iptables script that queues what this table leaves (the header names it): its queue
  # numbers are the table's own (--print-rules with its queue statements), its LAN and
  # external address the options'.
  script=examples/$(grep -o 'iptables-[a-z]*\.sh' "$f" | head -n 1)
  [ -f "$script" ] || continue
  # shellcheck disable=SC2086
  want=$(ip netns exec "$NS" "$BIN" ${opts/--print-rules-without-queues/} --print-rules 2>/dev/null |
    grep -o 'queue num [0-9][0-9]*' | awk '{ print $3 }' | sort -un | paste -sd' ')
  have=$(grep -o 'queue-num [0-9][0-9]*' "$script" | awk '{ print $2 }' | sort -un | paste -sd' ')
  lan=$(sed -n 's/^LAN=//p' "$script") ext=$(sed -n 's/^EXT=//p' "$script")
  if [ -n "$want" ] && [ "$want" = "$have" ] && [[ " $opts " == *" --internal-net $lan "* ]] &&
    [[ " $opts " == *" --external-ip $ext "* ]]; then
    pass "$script queues to $have, as the table of $f would ($lan, $ext)"
  else
    fail "$script: queues '$have' (the table: '$want'), LAN $lan, EXT $ext against the options of $f"
  fi
done

if [ $failures -gt 0 ]; then echo "rule_sets: $failures failure(s)"; exit 1; fi
echo "rule_sets: every engine installs what --print-rules prints; the generated examples match"
