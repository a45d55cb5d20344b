#!/usr/bin/env bash
# The Prometheus exposition (--metrics-file), in the lab of tests/e2e/lib.sh: the real daemon of
# each engine with real flows; Prometheus' own `promtool check metrics` passes on the file; the
# real node_exporter (textfile collector, started here in the router's namespace on its
# loopback) serves the values, and they are the daemon's: the mapping gauge counts the flows the
# test made, as the stats file does. The file follows a reload (metrics-file in the config).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/lib.sh
NODE_EXPORTER=prometheus-node-exporter
e2e_require_root promtool "$NODE_EXPORTER"
source tests/e2e/daemon_lib.sh

TEXTFILES=$LAB_DIR/textfile # node_exporter's directory: it reads *.prom only
mkdir -p "$TEXTFILES"
PROM=$TEXTFILES/conenatd.prom
NE_URL=http://127.0.0.1:9100/metrics # the router namespace's own loopback: nothing outside it

# The value of sample NAME (labels included, as written) in Prometheus text on stdin.
sample() { awk -v k="$1" '$1 == k { print $2; exit }'; }
# node_exporter's page, scraped from inside the router's namespace.
scrape() {
  lab_exec "$LAB_RT" "$LAB_PY" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$NE_URL"
}
# Waits until the daemon has written the file again (its mtime changes), at most ~5 s.
next_write() {
  local m0
  m0=$(command stat -c %y "$1" 2>/dev/null)
  wait_for 50 0.1 bash -c "[ \"\$(stat -c %y '$1' 2>/dev/null)\" != '$m0' ]"
}

echo "== node_exporter with only its textfile collector, on the router's loopback"
lab_bg "$LAB_RT" node_exporter "$NODE_EXPORTER" --web.listen-address=127.0.0.1:9100 \
  --collector.disable-defaults --collector.textfile --collector.textfile.directory="$TEXTFILES"
NE_PID=$LAB_BG_PID
wait_for 100 0.1 scrape >/dev/null || fail "node_exporter does not answer: $(cat "$LAB_DIR/node_exporter.log")"

echo "== controls: promtool and node_exporter refuse broken files"
good='# HELP conenatd_x_total a\n# TYPE conenatd_x_total counter\nconenatd_x_total 1\n'
printf '%b' "$good" >"$LAB_DIR/good.prom"
printf '%b%b' "$good" "$good" >"$LAB_DIR/twice.prom"
printf '# HELP conenatd_x a\n# TYPE conenatd_x counter\nconenatd_x 1\n' >"$LAB_DIR/untotal.prom"
check "promtool check metrics passes a good file" bash -c "promtool check metrics <'$LAB_DIR/good.prom' >/dev/null 2>&1"
check "... fails on a name given twice" bash -c "! promtool check metrics <'$LAB_DIR/twice.prom' >/dev/null 2>&1"
check "... fails on a counter without _total" bash -c "! promtool check metrics <'$LAB_DIR/untotal.prom' >/dev/null 2>&1"
printf 'conenatd_x{broken 1\n' >"$TEXTFILES/broken.prom" # not parseable at all
check "node_exporter reports the broken file (node_textfile_scrape_error 1)" \
  test "$(scrape | sample node_textfile_scrape_error)" = 1
rm -f "$TEXTFILES/broken.prom"
check "... and no error without it (node_textfile_scrape_error 0)" test "$(scrape | sample node_textfile_scrape_error)" = 0

engine_checks() {
  local engine=$1 flows=6 i x m0 m1 prom seen st ne
  echo "== $engine engine: $flows UDP flows, then the file checked and scraped"
  lab_conntrack_flush
  daemon_start --engine "$engine" --nat-type full-cone --metrics-file "$PROM" || { fail "$engine: daemon did not start"; return; }
  wait_for 50 0.1 test -s "$PROM" || fail "$engine: no metrics file"
  m0=$(sample conenatd_mappings <"$PROM")
  seen=0
  for ((i = 0; i < flows; i++)); do
    x=$(udp_mapped_port "$LAB_IN1" "$LAB_IN1_ADDR" $((5400 + i)) "$LAB_Y1" 7400)
    [ -n "$x" ] && seen=$((seen + 1))
  done
  check "$engine: every flow crossed the NAT ($seen of $flows)" test "$seen" -eq "$flows"
  next_write "$PROM"; next_write "$PROM"
  prom=$(cat "$PROM")
  check "$engine: promtool check metrics passes ($(promtool check metrics <"$PROM" 2>&1 | head -3))" \
    bash -c "promtool check metrics <'$PROM' >/dev/null 2>&1"
  check "$engine: no name twice (# TYPE lines: $(grep -c '^# TYPE' <<<"$prom"))" \
    test -z "$(grep '^# TYPE' <<<"$prom" | awk '{print $3}' | sort | uniq -d)"
  m1=$(sample conenatd_mappings <<<"$prom")
  check "$engine: conenatd_mappings grew by the $flows flows (${m0:-?} -> ${m1:-?})" test "$((m1 - m0))" -eq "$flows"
  st=$(awk '$1 == "mappings" { print $2 }' "$STATS")
  check "$engine: the stats file agrees (mappings $st = $m1)" test "$st" = "$m1"
  check "$engine: conenatd_mappings_created_total counts them" \
    test "$(sample conenatd_mappings_created_total <<<"$prom")" -ge "$flows"
  check "$engine: packets translated out counted" \
    test "$(sample 'conenatd_packets_translated_total{direction="out"}' <<<"$prom")" -ge "$flows"
  check "$engine: no statistic without its description" bash -c "! grep -q 'no description yet' '$PROM'"
  if [ "$engine" = conntrack ]; then
    local c inf
    c=$(sample conenatd_first_packet_latency_seconds_count <<<"$prom")
    inf=$(sample 'conenatd_first_packet_latency_seconds_bucket{le="+Inf"}' <<<"$prom")
    check "$engine: the first-packet histogram counted the batches ($c = +Inf bucket $inf, >= 1)" \
      test "${c:-0}" -ge 1 -a "$c" = "$inf"
    check "$engine: its _sum is in seconds (below its count x 10 s)" \
      "$LAB_PY" -c "import sys; s=float(sys.argv[1]); sys.exit(not (0 < s < 10 * int(sys.argv[2])))" \
      "$(sample conenatd_first_packet_latency_seconds_sum <<<"$prom")" "$c"
  fi
  # node_exporter serves the same file: the gauge it shows is the flows' count.
  next_write "$PROM"
  ne=$(scrape)
  check "$engine: node_exporter read the file without error" test "$(sample node_textfile_scrape_error <<<"$ne")" = 0
  check "$engine: node_exporter serves conenatd_mappings = $m1" test "$(sample conenatd_mappings <<<"$ne")" = "$m1"
  check "$engine: node_exporter serves the # HELP text" grep -q '^# HELP conenatd_mappings Mappings now in the table' <<<"$ne"
  daemon_stop
}

engine_checks conntrack
engine_checks queue
engine_checks tun

echo "== reload: metrics-file from the config file moves on SIGHUP"
CONF=$LAB_DIR/conenatd.conf
echo "metrics-file = $PROM" >"$CONF"
daemon_start --config "$CONF" --nat-type full-cone || fail "daemon did not start"
wait_for 50 0.1 test -s "$PROM" || fail "no metrics file from the config"
echo "metrics-file = $TEXTFILES/moved.prom" >"$CONF"
kill -HUP "$DAEMON"
wait_for 50 0.1 test -s "$TEXTFILES/moved.prom"
check "after SIGHUP the daemon writes the new file" test -s "$TEXTFILES/moved.prom"
check "... which passes promtool too" bash -c "promtool check metrics <'$TEXTFILES/moved.prom' >/dev/null 2>&1"
rm -f "$PROM"
sleep 1.5
check "... and no longer the old one" test ! -e "$PROM"
daemon_stop
lab_kill "$NE_PID"

checks_done metrics
