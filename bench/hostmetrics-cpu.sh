#!/usr/bin/env bash
# CPU cost of the hostmetrics receiver: Ferrotel (or COLLECTOR_BIN, e.g. Go's otelcol with the
# same config) runs every scraper at COLLECTION_INTERVAL (default 10s) into the nop
# exporter, optionally with PROCESSES extra idle processes (`sleep`) for the process
# scraper to read; the collector's user+system CPU time over DURATION seconds (default 60)
# is read from /proc/<pid>/stat and printed as CPU seconds and percent of one core.
#
#   cargo build --release -p ferrotel
#   bench/hostmetrics-cpu.sh                      # every scraper, 10 s interval
#   PROCESSES=500 SCRAPERS=process bench/hostmetrics-cpu.sh
set -euo pipefail
bin=${COLLECTOR_BIN:-target/release/ferrotel}
interval=${COLLECTION_INTERVAL:-10s}
duration=${DURATION:-60}
extra=${PROCESSES:-0}
scrapers=${SCRAPERS:-cpu disk filesystem load memory network paging processes process system}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
{
  echo "receivers:"
  echo "  hostmetrics:"
  echo "    collection_interval: $interval"
  echo "    scrapers:"
  for s in $scrapers; do
    if [[ $s == process ]]; then
      echo "      process: {mute_process_exe_error: true, mute_process_io_error: true, mute_process_user_error: true}"
    else
      echo "      $s:"
    fi
  done
  echo "exporters: {nop: {}}"
  echo "service:"
  echo "  telemetry: {metrics: {level: none}}"
  echo "  pipelines: {metrics: {receivers: [hostmetrics], exporters: [nop]}}"
} > "$dir/config.yaml"
for ((i = 0; i < extra; i++)); do sleep $((duration + 30)) & done
"$bin" --config "$dir/config.yaml" > "$dir/log" 2>&1 &
pid=$!
sleep 3
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
before=$(cpu)
sleep "$duration"
after=$(cpu)
kill "$pid"
awk -v b="$before" -v a="$after" -v t="$ticks" -v d="$duration" -v p="$(ls /proc | grep -c '^[0-9]')" \
  'BEGIN { s = (a - b) / t; printf "cpu_seconds=%.2f cpu_percent_of_one_core=%.3f over %ds, %d processes on the host\n", s, 100 * s / d, d, p }'
