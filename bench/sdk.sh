#!/usr/bin/env bash
# The real OpenTelemetry Python SDK (BatchSpanProcessor defaults: queue 2048, batch 512, one
# export thread) creating spans as fast as it can for SDK_SECONDS, exporting over OTLP gRPC
# to Ferrotel: once through the embedded default config (otlp → batch → debug), once through
# the same pipeline without batch (bench/sdk/no-batch.yaml). Prints, side by side, what the
# SDK itself saw: spans created, spans it dropped ("Queue full"), exports, export p50/p99/max.
#
#   bench/sdk.sh            # needs target/release/ferrotel and the test venv (target/py-venv)
#
# Environment: SDK_SECONDS (default 5), COLLECTOR_CPU (1), LOAD_CPU (0).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}/ferrotel
PY=$ROOT/target/py-venv/bin/python
SDK_SECONDS=${SDK_SECONDS:-5}
COLLECTOR_CPU=${COLLECTOR_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
[[ -x $BIN ]] || { echo "missing $BIN (cargo build --release)" >&2; exit 2; }
if [[ ! -x $PY ]]; then
  python3 -m venv "$ROOT/target/py-venv"
  "$ROOT/target/py-venv/bin/pip" install -q -r "$ROOT/tests/e2e/python/requirements.txt"
fi
PID=""
trap '[[ -n $PID ]] && kill -KILL $PID 2>/dev/null || true' EXIT

run() { # name, collector args...
  local name=$1; shift
  taskset -c "$COLLECTOR_CPU" "$BIN" "$@" >/dev/null 2>/tmp/ferrotel-sdk-bench.log &
  PID=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/4317) 2>/dev/null && break; sleep 0.1; done
  local report
  report=$(taskset -c "$LOAD_CPU" "$PY" "$ROOT/tests/e2e/python/sdk_spans.py" \
    --endpoint 127.0.0.1:4317 --seconds "$SDK_SECONDS")
  kill -TERM $PID; wait $PID 2>/dev/null || true; PID=""
  jq -r --arg n "$name" '[$n, .created, .dropped, (100 * .dropped / .created | floor | tostring) + "%", .exports, .export_failures, .export_p50_ms, .export_p99_ms, .export_max_ms] | @tsv' <<<"$report"
}

printf 'pipeline\tcreated\tdropped\tdropped%%\texports\tfailed\tp50 ms\tp99 ms\tmax ms\n'
run "default config (otlp → batch → debug)"
run "no batch (otlp → debug)" --config "$HERE/sdk/no-batch.yaml"
