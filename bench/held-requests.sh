#!/usr/bin/env bash
# Memory held by requests waiting in `batch`: a collector whose batch holds everything
# (send_batch_size 1000000, timeout 60s, exporter nop) receives COUNT items in requests of
# PER items from loadgen; prints the RSS before and after, and the bytes loadgen sent.
# The growth over the data shows what each held request costs beyond its bytes (a slice of
# a larger receive buffer kept alive, bookkeeping). Loopback only; bounded by COUNT.
#
#   bench/held-requests.sh [grpc|http-proto] [PER] [COUNT]     # default: grpc 1 20000
#   BIN_DIR=/tmp/bb25 bench/held-requests.sh http-proto 10 100000
#
# Ports: 14317 (gRPC), 14318 (HTTP), 18888 (own metrics).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/target/release}
PROTO=${1:-grpc}
PER=${2:-1}
COUNT=${3:-20000}
work=$(mktemp -d /tmp/ferrotel-held.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/config.yaml" <<'YAML'
receivers:
  otlp:
    protocols:
      grpc: {endpoint: 127.0.0.1:14317}
      http: {endpoint: 127.0.0.1:14318}
processors:
  batch: {send_batch_size: 1000000, timeout: 60s}
exporters:
  nop: {}
service:
  telemetry:
    logs: {level: warn}
    metrics:
      readers:
        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: 18888}}}
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [nop]}
YAML

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
"$BIN_DIR/ferrotel" --config "$work/config.yaml" >"$work/collector.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/14317) 2>/dev/null && break
  sleep 0.1
done
sleep 0.5
before=$(rss_kb "$pid")
endpoint=http://127.0.0.1:14317
[[ $PROTO == grpc ]] || endpoint=http://127.0.0.1:14318
"$BIN_DIR/loadgen" --protocol "$PROTO" --endpoint "$endpoint" --items-per-request "$PER" \
  --count "$COUNT" --connections 4 --streams 8 --json >"$work/load.json"
sleep 1
after=$(rss_kb "$pid")
jq -r --arg b "$before" --arg a "$after" '
  "\(.protocol), \(.requests.acknowledged) requests of \(.items_per_request) items acknowledged, " +
  "\(.bytes_per_request) bytes each, \(.bytes_per_request * .requests.acknowledged / 1e5 | round / 10) MB held; " +
  "RSS \($b) kB -> \($a) kB, growth \((($a|tonumber) - ($b|tonumber)) / 100 | round / 10) MB"' "$work/load.json"
