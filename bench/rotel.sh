#!/usr/bin/env bash
# Run a scenario with Rotel (the Rust OpenTelemetry collector, github.com/streamfold/rotel)
# as the collector: its command-line flags in place of the scenario's YAML, the rest of the
# run as bench/run.sh does it (same loadgen, sink, pinning and figures).
#
#   bench/rotel.sh SCENARIO
#
# Scenarios Rotel can run as written:
#   otlp-grpc-ingest             OTLP/gRPC in → batch → Rotel's `blackhole` exporter
#   otlp-grpc-passthrough-gzip   OTLP/gRPC in → batch → OTLP/gRPC out to the sink, gzip
# Rotel sends gzip whatever its compression flags say (`--otlp-exporter-compression none`
# and the per-signal flag were both tried: the sink still counted gzip requests), so the
# uncompressed pass-through scenarios have no Rotel figure. It has no `attributes`,
# `resource` or `transform` processor (its processors are Python scripts), so the processor
# scenarios have none either.
#
# Environment:
#   ROTEL_BIN      the rotel binary (default: the one in PyPI's `rotel` wheel, version
#                  $ROTEL_VERSION, fetched once into $BENCH_CACHE/rotel-$ROTEL_VERSION)
#   ROTEL_VERSION  that wheel's version (default 0.0.1a15, which holds rotel 0.0.1-alpha10)
#   and bench/run.sh's (BENCH_BIN, LOAD_SECONDS, CEILING, SINK_ARGS, ...).
set -euo pipefail

SCENARIO=${1:?usage: bench/rotel.sh otlp-grpc-ingest|otlp-grpc-passthrough-gzip}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROTEL_VERSION=${ROTEL_VERSION:-0.0.1a15}
BENCH_CACHE=${BENCH_CACHE:-/tmp/ferrotel-bench-cache}

if [[ -z ${ROTEL_BIN:-} ]]; then
  dir=$BENCH_CACHE/rotel-$ROTEL_VERSION
  ROTEL_BIN=$dir/rotel-agent
  if [[ ! -x $ROTEL_BIN ]]; then
    mkdir -p "$dir"
    python=python3
    [[ -x $ROOT/target/py-venv/bin/python ]] && python=$ROOT/target/py-venv/bin/python
    echo "fetching rotel $ROTEL_VERSION from PyPI into $dir ..." >&2
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_34_x86_64 -d "$dir" "rotel==$ROTEL_VERSION"
    "$python" - "$dir" <<'EOF'
import glob, os, sys, zipfile
d = sys.argv[1]
with zipfile.ZipFile(glob.glob(os.path.join(d, "rotel-*.whl"))[0]) as z:
    with z.open("rotel/rotel-agent") as src, open(os.path.join(d, "rotel-agent"), "wb") as out:
        out.write(src.read())
os.chmod(os.path.join(d, "rotel-agent"), 0o755)
EOF
  fi
fi

# the scenario's receiver endpoints (bench/run.sh's ports), Rotel's default batch (8192
# items or 200 ms, as the scenarios' `batch:`), its pid file out of the shared /tmp name
args="start --otlp-grpc-endpoint 127.0.0.1:14317 --otlp-http-endpoint 127.0.0.1:14318"
args+=" --pid-file ${BENCH_CACHE}/rotel.pid --log-file ${BENCH_CACHE}/rotel.log"
case $SCENARIO in
  otlp-grpc-ingest) args+=" --exporter blackhole" ;;
  otlp-grpc-passthrough-gzip)
    args+=" --exporter otlp --otlp-exporter-endpoint http://127.0.0.1:24317"
    args+=" --otlp-exporter-compression gzip" ;;
  *) echo "rotel.sh: no Rotel flags for scenario $SCENARIO" >&2; exit 2 ;;
esac
mkdir -p "$BENCH_CACHE"
COLLECTOR_BIN=$ROTEL_BIN COLLECTOR_ARGS=$args exec "$HERE/run.sh" "$SCENARIO"
