#!/usr/bin/env bash
# Overload: OTLP at 10x the pipeline's sustainable rate for a bounded time, against a
# collector with a memory budget and a memory_limiter, then the sustainable rate again.
# Checks and prints: the sustainable rate is served without refusals; under overload the
# clients get UNAVAILABLE/RESOURCE_EXHAUSTED (never a hang, a reset or another status), the
# peak RSS stays under memory_limiter's limit; how long until a 1 s slice at the sustainable
# rate is served without a refusal again (recovery time). Loopback only; bounded in time.
#
#   bench/overload.sh                      # 60 s of overload (release binaries)
#   OVERLOAD_SECONDS=10 BIN_DIR=target/debug bench/overload.sh
#   (BASELINE_SECONDS: the sustainable-rate phase before, default 10)
#
# The sustainable rate is set by the sink: it answers each export after SINK_DELAY, and the
# exporter sends CONSUMERS requests of BATCH spans at a time, so the pipeline can deliver
# CONSUMERS * BATCH / SINK_DELAY spans per second.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/target/release}
case "$BIN_DIR" in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac
OVERLOAD_SECONDS=${OVERLOAD_SECONDS:-60}
BASELINE_SECONDS=${BASELINE_SECONDS:-10}
SINK_DELAY_MS=${SINK_DELAY_MS:-200}
BATCH=${BATCH:-500}
CONSUMERS=${CONSUMERS:-2}
MEMORY_BUDGET=${MEMORY_BUDGET:-64MiB}
LIMIT_MIB=${LIMIT_MIB:-256}
SUSTAINABLE=${SUSTAINABLE:-$((CONSUMERS * BATCH * 1000 / SINK_DELAY_MS))}
OVERLOAD=$((SUSTAINABLE * 10))
COLLECTOR_CPU=${COLLECTOR_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

for b in ferrotel loadgen sink; do
  [ -x "$BIN_DIR/$b" ] || { echo "missing $BIN_DIR/$b (cargo build --release -p ferrotel -p bench)" >&2; exit 2; }
done

OUT=$(mktemp -d /tmp/ferrotel-overload.XXXXXX)
SINK_GRPC=127.0.0.1:25317
SINK_HTTP=127.0.0.1:25318
OTLP=127.0.0.1:25417
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

taskset -c "$LOAD_CPU" "$BIN_DIR/sink" --grpc $SINK_GRPC --http $SINK_HTTP --no-dedup \
  --delay "${SINK_DELAY_MS}ms" --max-time 30m >"$OUT/sink.log" 2>&1 &
PIDS+=($!)

cat >"$OUT/config.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc: {endpoint: $OTLP}
processors:
  memory_limiter: {check_interval: 1s, limit_mib: $LIMIT_MIB, spike_limit_mib: $((LIMIT_MIB / 5))}
exporters:
  otlp:
    endpoint: $SINK_GRPC
    tls: {insecure: true}
    sending_queue:
      num_consumers: $CONSUMERS
      sizer: items
      queue_size: $((BATCH * CONSUMERS * 4))
      batch: {min_size: $BATCH, max_size: $BATCH, flush_timeout: 100ms}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter], exporters: [otlp]}
EOF

taskset -c "$COLLECTOR_CPU" "$BIN_DIR/ferrotel" --config "$OUT/config.yaml" \
  --memory-budget "$MEMORY_BUDGET" >"$OUT/collector.log" 2>&1 &
COLLECTOR=$!
PIDS+=($COLLECTOR)
for _ in $(seq 100); do
  grep -q "Everything is ready" "$OUT/collector.log" && break
  sleep 0.1
done
grep -q "Everything is ready" "$OUT/collector.log" || { cat "$OUT/collector.log"; exit 1; }

load() { # rate seconds name [extra loadgen args]
  local rate=$1 secs=$2 name=$3
  shift 3
  taskset -c "$LOAD_CPU" "$BIN_DIR/loadgen" --endpoint "http://$OTLP" --rate "$rate" \
    --duration "${secs}s" --timeout 10s --json "$@" >"$OUT/$name.json"
}
field() { jq -r "$2" "$OUT/$1.json"; }

echo "sustainable rate: $SUSTAINABLE spans/s (sink delay ${SINK_DELAY_MS} ms, $CONSUMERS x $BATCH spans); overload: $OVERLOAD spans/s for ${OVERLOAD_SECONDS} s"
echo "memory budget $MEMORY_BUDGET, memory_limiter limit ${LIMIT_MIB} MiB; results in $OUT"

load "$SUSTAINABLE" "$BASELINE_SECONDS" baseline --connections 4
echo "baseline: sent $(field baseline .items.sent), acknowledged $(field baseline .items.acknowledged), refused $(field baseline .items.refused), failed $(field baseline .items.failed), rate $(field baseline '.rate|floor')/s"

load "$OVERLOAD" "$OVERLOAD_SECONDS" overload --connections 8 --streams 4
HWM_KB=$(awk '/VmHWM/ {print $2}' "/proc/$COLLECTOR/status")
echo "overload: sent $(field overload .items.sent), acknowledged $(field overload .items.acknowledged), refused $(field overload .items.refused), failed $(field overload .items.failed), acknowledged rate $(field overload '.rate|floor')/s"
echo "overload statuses: $(jq -c .errors "$OUT/overload.json")"
echo "latency ms: $(jq -c .latency_ms "$OUT/overload.json")"
echo "peak RSS: $((HWM_KB / 1024)) MiB (memory_limiter limit ${LIMIT_MIB} MiB)"

START=$(date +%s.%N)
RECOVERED=""
for i in $(seq 30); do
  load "$SUSTAINABLE" 1 "recovery-$i" --connections 4
  if [ "$(field "recovery-$i" .items.refused)" = 0 ] && [ "$(field "recovery-$i" .items.failed)" = 0 ]; then
    RECOVERED=$(awk -v now="$(date +%s.%N)" -v start="$START" 'BEGIN { printf "%.2f", now - start }')
    break
  fi
done
if [ -n "$RECOVERED" ]; then
  echo "recovery: a 1 s slice at the sustainable rate served without refusal ${RECOVERED} s after the overload ended"
else
  echo "recovery: not within 30 s"
fi

FAILED=$(field overload .items.failed)
if [ "$FAILED" != 0 ]; then
  echo "FAIL: $FAILED items failed without a refusal status"
  exit 1
fi
if [ $((HWM_KB / 1024)) -ge "$LIMIT_MIB" ]; then
  echo "FAIL: peak RSS over the memory_limiter limit"
  exit 1
fi
[ -n "$RECOVERED" ] || exit 1
echo "OK"
