#!/usr/bin/env bash
# The prometheus receiver at scale: TARGETS loopback targets (bench `promtargets`, default
# 1,000) of about SERIES series each (default 1,000), scraped every INTERVAL (default 15s)
# into the nop exporter, by Ferrotel and then by PEER (default: the Go collector the compat
# oracle builds, which has the prometheus receiver) with the same config, one after the
# other in one run. The collector runs on COLLECTOR_CPU (default 1), the targets on LOAD_CPU
# (default 0). Prints, per collector: CPU seconds and percent of one core over DURATION
# seconds (default 120) after a WARMUP (default 20 s), peak RSS, and the data points it
# reported accepted per second (from its own /metrics). EXPORTER=otlp sends to the bench
# `sink` (on LOAD_CPU) through `batch` and an `otlp` exporter instead, as a gateway would.
#
#   cargo build --release -p ferrotel -p bench
#   bench/prometheus-scrape.sh
#   TARGETS=100 SERIES=500 DURATION=60 bench/prometheus-scrape.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-target/release}
targets=${TARGETS:-1000}
series=${SERIES:-1000}
interval=${INTERVAL:-15s}
duration=${DURATION:-120}
warmup=${WARMUP:-20}
base=${BASE_PORT:-30000}
collector_cpu=${COLLECTOR_CPU:-1}
load_cpu=${LOAD_CPU:-0}
peer=${PEER:-$(ls -td "$HOME"/.cache/ferrotel-compat/*/otelcol-oracle 2>/dev/null | head -1)}
dir=$(mktemp -d /tmp/ferrotel-promscrape.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT

taskset -c "$load_cpu" "$bin/promtargets" --targets "$targets" --series "$series" --base-port "$base" 2> "$dir/targets.log" &
up=
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$((base + targets - 1))/metrics" > /dev/null && { up=1; break; }
  sleep 0.1
done
if [[ -z "$up" ]]; then
  # without targets every scrape fails and only the report series are counted
  echo "the targets did not answer (is $bin/promtargets built?); their log:" >&2
  tail -5 "$dir/targets.log" >&2
  exit 1
fi

metrics_port=$((base - 1))
exporter=${EXPORTER:-nop}
if [[ "$exporter" == otlp ]]; then
  sink_port=$((base - 2))
  taskset -c "$load_cpu" "$bin/sink" --grpc "127.0.0.1:$sink_port" --http "127.0.0.1:$((base - 3))" --no-dedup --threads 1 > "$dir/sink.log" 2>&1 &
fi
{
  echo "receivers:"
  echo "  prometheus:"
  echo "    config:"
  echo "      scrape_configs:"
  echo "        - job_name: bench"
  echo "          scrape_interval: $interval"
  echo "          static_configs:"
  echo "            - targets:"
  for ((t = 0; t < targets; t++)); do echo "                - 127.0.0.1:$((base + t))"; done
  echo "exporters:"
  if [[ "$exporter" == otlp ]]; then
    echo "  otlp: {endpoint: 127.0.0.1:$sink_port, tls: {insecure: true}, compression: none}"
    echo "processors:"
    echo "  batch:"
  else
    echo "  nop:"
  fi
  echo "service:"
  echo "  telemetry:"
  echo "    logs: {level: warn}"
  echo "    metrics:"
  echo "      readers:"
  echo "        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: $metrics_port}}}"
  echo "  pipelines:"
  if [[ "$exporter" == otlp ]]; then
    echo "    metrics: {receivers: [prometheus], processors: [batch], exporters: [otlp]}"
  else
    echo "    metrics: {receivers: [prometheus], exporters: [nop]}"
  fi
} > "$dir/config.yaml"

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
accepted() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" |
    awk '/^otelcol_receiver_accepted_metric_points(_total)?[{ ]/ { s += $NF } END { printf "%d", s }'
}

measure() { # name binary
  local name=$1 exe=$2
  taskset -c "$collector_cpu" "$exe" --config "$dir/config.yaml" > "$dir/$name.log" 2>&1 &
  local pid=$!
  sleep "$warmup"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$name: did not run; its log:"; tail -5 "$dir/$name.log"; return
  fi
  local t0 a0 t1 a1
  t0=$(cpu_ticks "$pid"); a0=$(accepted)
  sleep "$duration"
  t1=$(cpu_ticks "$pid"); a1=$(accepted)
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk -v n="$name" -v t="$((t1 - t0))" -v hz="$ticks" -v d="$duration" -v r="$rss" -v a="$((a1 - a0))" 'BEGIN {
    printf "%-10s CPU %6.2f s (%5.1f %% of a core)  peak RSS %5.1f MiB  accepted %9.0f points/s\n",
      n, t / hz, 100 * t / hz / d, r / 1024, a / d }'
}

echo "prometheus receiver: $targets targets x ~$series series every $interval into $exporter, ${duration}s measured after ${warmup}s; $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) CPUs"
measure ferrotel "$bin/ferrotel"
if [[ -n "$peer" && -x "$peer" ]]; then
  measure go "$peer"
else
  echo "go: no peer binary (PEER, or run compat/build.sh)"
fi
