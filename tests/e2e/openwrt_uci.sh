#!/usr/bin/env bash
# The OpenWrt package's UCI translation (openwrt/conenatd/files/conenatd-uci2conf), run by
# busybox sh + busybox awk (what OpenWrt has) and by dash + the system awk (POSIX): sample UCI
# files give the golden daemon configs of tests/e2e/openwrt/, each accepted by the real
# `conenatd --config FILE --print-rules`; bad files are refused with the line and the option
# named, nothing on stdout. Also: every UCI option is a key `conenatd --help` knows and every
# config key has its UCI option; the restart-only keys are the daemon's (needs_restart); the
# init script's start / reload / refusals (procd's and netifd's shell API recorded: neither runs
# here); the init and hotplug scripts parse (sh -n).
#
#   one private namespace with a veth wan0 (conenatd checks the WAN interface): no lab
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/lib.sh
source tests/e2e/check_lib.sh
e2e_daemon_ready busybox dash awk

FILES=openwrt/conenatd/files
U2C=$FILES/conenatd-uci2conf
GOLD=tests/e2e/openwrt
e2e_scratch_ns cnuci

# busybox's own sh and awk (and cat, for the error pipe): the applets, first on PATH.
mkdir "$TMP/bb"
for a in sh awk cat; do ln -s "$(command -v busybox)" "$TMP/bb/$a"; done
busybox_u2c() { PATH="$TMP/bb:$PATH" busybox sh "$U2C" "$@"; }
dash_u2c() { dash "$U2C" "$@"; }
SHELLS=(busybox_u2c dash_u2c)
PATH="$TMP/bb:$PATH" awk 'BEGIN { exit 0 }' </dev/null && [ "$(PATH="$TMP/bb:$PATH" command -v awk)" = "$TMP/bb/awk" ] ||
  { echo "FAIL: busybox awk is not first on PATH"; exit 1; }


# Golden files: NAME.uci (the shipped sample for "sample") -> NAME.conf, the same from both shells,
# and conenatd takes it without a word on stderr (but MAP-E's expected port-range warning).
for uci in "$GOLD"/*.uci sample; do
  name=$(basename "$uci" .uci)
  [ "$uci" = sample ] && uci=$FILES/conenatd.config
  for sh in "${SHELLS[@]}"; do
    if ! "$sh" --external-if wan0 "$uci" >"$TMP/$name.$sh.conf" 2>"$TMP/err"; then
      fail "$name ($sh): refused: $(cat "$TMP/err")"; continue
    fi
    if diff -u "$GOLD/$name.conf" "$TMP/$name.$sh.conf" >"$TMP/diff"; then pass "$name ($sh): golden config"
    else fail "$name ($sh): differs from $GOLD/$name.conf:"; cat "$TMP/diff"; fi
  done
  out=$(ip netns exec "$NS" "$BIN" --config "$GOLD/$name.conf" --print-rules 2>"$TMP/err")
  if [ $? -ne 0 ] || ! grep -q "^table ip " <<<"$out"; then fail "$name: conenatd refused $name.conf: $(cat "$TMP/err")"
  elif [ "$name" = mape ] && [ "$(grep -c . "$TMP/err")" = 1 ] && grep -q ip_local_port_range "$TMP/err"; then
    pass "$name: conenatd --config $name.conf --print-rules (MAP-E's ports span ip_local_port_range: warned)"
  elif [ -s "$TMP/err" ]; then fail "$name: conenatd warned about $name.conf: $(cat "$TMP/err")"
  else pass "$name: conenatd --config $name.conf --print-rules"; fi
done

# --get: what the init script and the hotplug script read.
for sh in "${SHELLS[@]}"; do
  [ "$("$sh" --get enabled "$FILES/conenatd.config")" = 0 ] || fail "$sh: the sample is not shipped disabled"
  [ "$("$sh" --get enabled "$GOLD/full.uci")" = 1 ] || fail "$sh: --get enabled of full.uci is not 1"
  [ "$("$sh" --get wan "$FILES/conenatd.config")" = wan ] || fail "$sh: --get wan of the sample is not 'wan'"
  [ -z "$("$sh" --get wan "$GOLD/device.uci")" ] || fail "$sh: --get wan of device.uci is not empty"
  [ "$("$sh" --get internal_net "$GOLD/full.uci" | tr '\n' ' ')" = "10.0.0.0/24 10.1.0.0/24 " ] ||
    fail "$sh: --get internal_net of full.uci: $("$sh" --get internal_net "$GOLD/full.uci")"
done
pass "--get enabled, wan and a list"

# bad WANT CONTENT...: the UCI file of these lines is refused (exit 1, nothing on stdout) with WANT.
n=0
bad() {
  local want=$1 sh out rc; shift
  n=$((n + 1))
  printf '%s\n' "$@" >"$TMP/bad$n.uci"
  for sh in "${SHELLS[@]}"; do
    out=$("$sh" --external-if wan0 "$TMP/bad$n.uci" 2>"$TMP/err"); rc=$?
    if [ $rc -ne 1 ]; then fail "bad$n ($sh): exit $rc (want 1) for: $* -> $(cat "$TMP/err")"
    elif [ -n "$out" ]; then fail "bad$n ($sh): printed a config: $out"
    elif ! grep -qF -- "$want" "$TMP/err"; then fail "bad$n ($sh): message does not say '$want': $(cat "$TMP/err")"
    fi
  done
}
S="config conenatd 'main'"
OK=("	option wan 'wan'" "	list internal_net '10.0.0.0/24'")
bad "bad1.uci:4: unknown option 'colour'" "$S" "${OK[@]}" "	option colour 'blue'"
bad "bad2.uci:2: option nat_type: expected one of full-cone, restricted-cone, port-restricted-cone, symmetric, got 'cone-ish'" \
  "$S" "	option nat_type 'cone-ish'" "${OK[@]}"
bad "option udp_timeout: expected a number in 120..86400, got '60'" "$S" "${OK[@]}" "	option udp_timeout 60"
bad "list internal_net: expected an IPv4 prefix" "$S" "	option wan wan" "	list internal_net '10.0.0/24'"
bad "list internal_net: expected an IPv4 prefix" "$S" "	option wan wan" "	list internal_net '10.0.0.300/24'"
bad "list external_ip: expected an IPv4 address, got '198.51.100'" "$S" "${OK[@]}" "	list external_ip 198.51.100"
bad "list nat_type: takes one value: use 'option nat_type'" "$S" "${OK[@]}" "	list nat_type full-cone"
bad "bad8.uci:5: option nat_type: given twice (first on line 4)" "$S" "${OK[@]}" "	option nat_type symmetric" "	option nat_type full-cone"
bad "bad9.uci:2: unterminated '" "$S" "	option nat_type 'full-cone" "${OK[@]}"
bad 'bad10.uci:2: unterminated "' "$S" '	option nat_type "full-cone' "${OK[@]}"
bad "unknown section type 'frobnicate'" "$S" "${OK[@]}" "config frobnicate 'x'"
bad "a second 'config conenatd' section" "$S" "${OK[@]}" "config conenatd 'other'"
bad "option pid_file: set by the init script" "$S" "${OK[@]}" "	option pid_file /tmp/x.pid"
bad "option foreground: set by the init script" "$S" "${OK[@]}" "	option foreground 1"
bad "list internal_net: required" "$S" "	option wan 'wan'"
bad "option wan: required" "$S" "	list internal_net '10.0.0.0/24'"
bad "option wan (line 2) and option external_if (line 4): set one of them" "$S" "${OK[@]}" "	option external_if eth1"
bad "option engine: no value" "$S" "${OK[@]}" "	option engine"
bad "option engine: more than one value" "$S" "${OK[@]}" "	option engine conntrack queue"
bad "option engine: outside a 'config conenatd' section" "	option engine conntrack" "$S" "${OK[@]}"
bad "expected config, option or list, got 'opton'" "$S" "${OK[@]}" "	opton engine conntrack"
bad "list forward: expected udp|tcp:PORT=ADDR[:PORT]" "$S" "${OK[@]}" "	list forward 'icmp:7=10.0.0.2'"
bad "option fail_open: expected 0 or 1, got 'maybe'" "$S" "${OK[@]}" "	option fail_open maybe"
bad "option external_if: expected an interface name" "$S" "	option external_if 'averyveryverylongname'" "	list internal_net 10.0.0.0/24"
bad "option ports: expected ports 1-65535" "$S" "${OK[@]}" "	option ports '30000-20000'"
bad "option mark: expected a number" "$S" "${OK[@]}" "	option mark 'bit20'"
bad "option nat_type: empty value" "$S" "${OK[@]}" "	option nat_type ''"
bad "a backslash ends the line" "$S" "${OK[@]}" "	option nat_type full-cone\\"
bad "no 'config conenatd' section" "# nothing but a comment"
bad "bad30.uci:3: option nat_type: expected one of" "$S" "${OK[0]}" "${OK[1]}; option nat_type 'fullcone'"
# `option wan` needs the device the init script resolves; without it, refused.
for sh in "${SHELLS[@]}"; do
  out=$("$sh" "$FILES/conenatd.config" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 1 ] && grep -q "option wan 'wan': its device is needed" <<<"$out" ||
    fail "$sh: the sample without --external-if: exit $rc: $out"
done
[ $failures -eq 0 ] && pass "$n bad UCI files refused, naming line and option, by busybox sh and dash"

# What the translation passes on, conenatd itself refuses (the init script's second check):
# --ports with --map-e; its message names the key and the line.
printf '%s\n' "$S" "${OK[@]}" "	option ports 20000-29999" "	option map_e 'psid=1,psid-len=8,offset=4'" >"$TMP/both.uci"
if dash_u2c --external-if wan0 "$TMP/both.uci" >"$TMP/both.conf" 2>"$TMP/err"; then
  out=$(ip netns exec "$NS" "$BIN" --config "$TMP/both.conf" --print-rules 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] && grep -q "both.conf:[0-9]*: map-e" <<<"$out" && pass "conenatd refuses ports + map_e: $out" ||
    fail "conenatd took ports + map_e: exit $rc: $out"
else
  fail "ports + map_e refused by the translation: $(cat "$TMP/err")"
fi

# Every UCI option is one of conenatd's keys; every key a config file may set has its option.
"$BIN" --help | grep -oE -- '--[a-z0-9-]+' | sed 's/^--//' | sort -u >"$TMP/help"
dash_u2c --keys >"$TMP/keys"
while read -r opt key; do
  grep -qx -- "$key" "$TMP/help" || fail "UCI option $opt: conenatd --help has no --$key"
done <"$TMP/keys"
NOT_UCI="help version config foreground pid-file print-rules print-rules-without-queues"
while read -r key; do
  case " $NOT_UCI " in *" $key "*) continue ;; esac
  awk -v k="$key" '$2 == k { found = 1 } END { exit !found }' "$TMP/keys" ||
    fail "conenatd --help has --$key, which /etc/config/conenatd cannot set: add it to $U2C's table"
done <"$TMP/help"
pass "UCI options and conenatd's keys match ($(wc -l <"$TMP/keys") options)"

# The restart-only keys are needs_restart()'s (src/daemon/options.cpp), less what the init script sets.
sed -n '/^bool needs_restart/,/^}/p' src/daemon/options.cpp | grep -oE '"[a-z-]+"' | tr -d '"' |
  grep -vxE 'foreground|pid-file|config' | sort >"$TMP/restart.daemon"
dash_u2c --restart-keys | sort >"$TMP/restart.uci"
if diff -u "$TMP/restart.daemon" "$TMP/restart.uci" >"$TMP/diff"; then pass "restart-only keys match needs_restart()"
else fail "restart-only keys differ from needs_restart():"; cat "$TMP/diff"; fi

# The init script's own logic (start, reload, refusals), run by busybox sh and dash in the
# namespace with the real translation and the real conenatd check; procd's and netifd's shell
# API (procd_*, start/stop, network_get_device, logger), which need procd and ubus, record their
# calls instead. Files: $H/config (UCI), $H/conenatd.conf (the daemon's), $H/calls.
H=$TMP/init
mkdir "$H"
cat >"$H/run.sh" <<'HARNESS'
H=$1; INIT=$2; TEST_U2C=$3; TEST_PROG=$4; shift 4
procd_open_instance() { echo "open" >>"$H/calls"; }
procd_set_param() { echo "param $*" >>"$H/calls"; }
procd_close_instance() { echo "close" >>"$H/calls"; }
procd_add_reload_trigger() { echo "trigger $*" >>"$H/calls"; }
network_get_device() { [ "$2" = wan ] && eval "$1=wan0"; }
logger() { echo "logger $*" >>"$H/calls"; }
start() { echo "start" >>"$H/calls"; start_service; }
stop() { echo "stop" >>"$H/calls"; stop_service; }
. "$INIT"
PROG=$TEST_PROG UCI2CONF=$TEST_U2C UCI_FILE=$H/config CONF=$H/conenatd.conf
"$@"
HARNESS
# init SHELL ACTION: runs the init script's ACTION (start_service, reload_service...); its exit status.
init() {
  : >"$H/calls"
  if [ "$1" = busybox ]; then
    ip netns exec "$NS" env PATH="$TMP/bb:$PATH" busybox sh "$H/run.sh" "$H" "$FILES/conenatd.init" "$U2C" "$BIN" "$2" 2>"$H/stderr"
  else
    ip netns exec "$NS" dash "$H/run.sh" "$H" "$FILES/conenatd.init" "$U2C" "$BIN" "$2" 2>"$H/stderr"
  fi
}
calls() { tr '\n' ';' <"$H/calls"; }
actions() { grep -xE 'start|stop' "$H/calls" | tr '\n' ' '; }
# uci [SED-EXPRESSION...]: $H/config is the shipped sample, enabled, edited by the expressions.
uci() {
  local e args=(-e "s/option enabled '0'/option enabled '1'/")
  for e in "$@"; do args+=(-e "$e"); done
  sed "${args[@]}" "$FILES/conenatd.config" >"$H/config"
}
for sh in busybox dash; do
  rm -f "$H/conenatd.conf"
  uci
  init $sh start_service; rc=$?
  want="open;param command $BIN --config $H/conenatd.conf --foreground --pid-file /var/run/conenatd.pid;param file $H/conenatd.conf;param reload_signal HUP;"
  if [ $rc -eq 0 ] && [[ "$(calls)" == "$want"* ]] && diff -q "$GOLD/sample.conf" "$H/conenatd.conf" >/dev/null; then
    pass "init ($sh): start writes the sample's config (WAN device from netifd) and one procd instance"
  else fail "init ($sh): start: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"; fi

  uci "s/option nat_type 'full-cone'/option nat_type 'symmetric'/"
  init $sh reload_service; rc=$?
  [ $rc -eq 0 ] && [ "$(actions)" = "start " ] && grep -q '^nat-type = symmetric' "$H/conenatd.conf" &&
    pass "init ($sh): a changed nat_type reloads (the instance's file changes: SIGHUP), no restart" ||
    fail "init ($sh): reload of nat_type: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"

  uci "s/option nat_type 'full-cone'/option nat_type 'symmetric'/" "s/option engine 'conntrack'/option engine 'queue'/"
  init $sh reload_service; rc=$?
  [ $rc -eq 0 ] && [ "$(actions)" = "stop start " ] && grep -q '^engine = queue' "$H/conenatd.conf" &&
    pass "init ($sh): a changed engine (restart-only) restarts" ||
    fail "init ($sh): reload of engine: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"

  cp "$H/conenatd.conf" "$H/good.conf"
  uci "s/option nat_type 'full-cone'/option nat_type 'cone-ish'/"
  init $sh reload_service; rc=$?
  [ $rc -ne 0 ] && ! grep -qxE 'start|stop|open' "$H/calls" && cmp -s "$H/good.conf" "$H/conenatd.conf" &&
    grep -q "option nat_type: expected one of" "$H/stderr" && grep -q "logger .*option nat_type" "$H/calls" &&
    pass "init ($sh): a bad nat_type is logged by name, the running config stays" ||
    fail "init ($sh): reload of a bad nat_type: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"

  uci "s/#option ports/option ports/" "s/#option map_e/option map_e/"
  init $sh reload_service; rc=$?
  [ $rc -ne 0 ] && ! grep -qxE 'start|stop|open' "$H/calls" && cmp -s "$H/good.conf" "$H/conenatd.conf" &&
    grep -q "refused by conenatd: .*map-e: cannot be combined with --ports" "$H/stderr" &&
    pass "init ($sh): ports + map_e refused by conenatd's own check, the running config stays" ||
    fail "init ($sh): reload of ports + map_e: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"

  init $sh start_service; rc=$?
  [ $rc -eq 0 ] && grep -q "^open" "$H/calls" && grep -q "keeping the running configuration" "$H/stderr" &&
    cmp -s "$H/good.conf" "$H/conenatd.conf" && pass "init ($sh): start with a bad config keeps the running one" ||
    fail "init ($sh): start with a bad config while running: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"

  rm -f "$H/conenatd.conf"
  init $sh start_service; rc=$?
  [ $rc -ne 0 ] && ! grep -q "^open" "$H/calls" && [ ! -e "$H/conenatd.conf" ] &&
    pass "init ($sh): start with a bad config and none running refuses" ||
    fail "init ($sh): start with a bad config, stopped: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"

  uci "s/option enabled '1'/option enabled '0'/"; cp "$H/good.conf" "$H/conenatd.conf"
  init $sh start_service; rc=$?
  [ $rc -eq 0 ] && ! grep -q "^open" "$H/calls" && [ ! -e "$H/conenatd.conf" ] &&
    pass "init ($sh): enabled 0 gives procd no instance (it stops a running one)" ||
    fail "init ($sh): enabled 0: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"

  uci "s/option wan 'wan'/option wan 'lan2'/"
  init $sh start_service; rc=$?
  [ $rc -ne 0 ] && ! grep -q "^open" "$H/calls" && grep -q "WAN network 'lan2' has no device yet" "$H/stderr" &&
    pass "init ($sh): a WAN network without a device waits for its ifup" ||
    fail "init ($sh): WAN without a device: exit $rc, calls $(calls), stderr $(cat "$H/stderr")"
done

# The init and hotplug scripts parse, in both shells.
for f in "$FILES/conenatd.init" "$FILES/conenatd.hotplug" "$U2C"; do
  for sh in "busybox sh" dash; do
    $sh -n "$f" 2>"$TMP/err" || fail "$sh -n $f: $(cat "$TMP/err")"
  done
done
pass "init, hotplug and translation scripts parse (busybox sh -n, dash -n)"

if [ $failures -gt 0 ]; then echo "openwrt_uci: $failures failure(s)"; exit 1; fi
echo "openwrt_uci: all checks passed"
