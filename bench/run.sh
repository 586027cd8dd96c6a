#!/usr/bin/env bash
# Run one benchmark scenario: sink + collector (pinned to one core) + loadgen (pinned to the
# other), then print items/s, CPU seconds per million items, peak RSS and delivered vs sent.
#
#   bench/run.sh SCENARIO            # a name from bench/scenarios/ (without .yaml)
#
# Environment:
#   BENCH_BIN       directory holding ferrotel, loadgen and sink (default: target/release;
#                   copy them elsewhere when others may rebuild the target directory)
#   COLLECTOR_BIN   the collector to measure (default: $BENCH_BIN/ferrotel)
#   COLLECTOR_ARGS  its arguments; @CONFIG@ is replaced by the scenario's config path
#                   (default: --config @CONFIG@)
#   LOAD_SECONDS    seconds of load (default 20)
#   LOADGEN_ARGS    extra loadgen flags, appended to the scenario's own
#   SINK_ARGS       extra sink flags (e.g. --no-dedup: count only, to take load off its core)
#   FILELOG_LINES   lines for the filelog-docker scenarios (default 1000000)
#   IDLE_SECONDS    how long the idle scenario waits before reading RSS (default 10)
#   CEILING         1: after the collector, measure the ceiling in the same run: `tcpcopy`
#                   relays the same load's TCP bytes to the sink on the collector's core
#                   (scenarios with one delivery only; default 1)
#   COLLECTOR_CPU   core for the collector (default 1); LOAD_CPU for loadgen + sink (default 0)
#   BENCH_CACHE     where generated input is kept (default /tmp/ferrotel-bench-cache)
#   BENCH_OUT       directory for the raw results (default: a new directory under /tmp)
#
# Needs: taskset, curl, jq. Build first: cargo build --release -p ferrotel -p bench
# Ports (loopback): collector 14317/14318 (+ 18888 own metrics), sink 24317/24318.
set -euo pipefail

SCENARIO=${1:?usage: bench/run.sh SCENARIO (one of: $(cd "$(dirname "$0")/scenarios" && ls *.yaml | sed 's/\.yaml$//' | tr '\n' ' '))}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RELEASE=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
CONFIG=$HERE/scenarios/$SCENARIO.yaml
[[ -f $CONFIG ]] || { echo "no scenario $CONFIG" >&2; exit 2; }
for tool in taskset curl jq; do
  command -v $tool >/dev/null || { echo "run.sh needs $tool" >&2; exit 2; }
done

COLLECTOR_BIN=${COLLECTOR_BIN:-$RELEASE/ferrotel}
COLLECTOR_ARGS=${COLLECTOR_ARGS:---config @CONFIG@}
LOADGEN=$RELEASE/loadgen
SINK=$RELEASE/sink
TCPCOPY=$RELEASE/tcpcopy
IDLE_SECONDS=${IDLE_SECONDS:-10}
CEILING=${CEILING:-1}
LOAD_SECONDS=${LOAD_SECONDS:-20}
FILELOG_LINES=${FILELOG_LINES:-1000000}
COLLECTOR_CPU=${COLLECTOR_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
BENCH_CACHE=${BENCH_CACHE:-/tmp/ferrotel-bench-cache}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/ferrotel-bench.XXXXXX)}
mkdir -p "$OUT"
for b in "$COLLECTOR_BIN" "$LOADGEN" "$SINK"; do
  [[ -x $b ]] || { echo "missing $b (cargo build --release -p ferrotel -p bench)" >&2; exit 2; }
done

meta() { sed -n "s/^# bench: $1=//p" "$CONFIG" | head -1; }
KIND=$(meta kind)
DELIVERIES=$(meta deliveries)
# the share of the items the pipeline hands on, as N/D (a filter drops the rest); 1/1 if unset
KEEP=$(meta keep); KEEP=${KEEP:-1/1}; KEEP_N=${KEEP%/*}; KEEP_D=${KEEP#*/}
SCENARIO_LOADGEN=$(meta loadgen)

SINK_PID=""
COLLECTOR_PID=""
COPY_PID=""
cleanup() {
  # Only the processes this script started, by pid.
  [[ -n $COLLECTOR_PID ]] && kill -KILL "$COLLECTOR_PID" 2>/dev/null || true
  [[ -n $SINK_PID ]] && kill -KILL "$SINK_PID" 2>/dev/null || true
  [[ -n $COPY_PID ]] && kill -KILL "$COPY_PID" 2>/dev/null || true
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now_ms() { date +%s%3N; }
CLK_TCK=$(getconf CLK_TCK)
cpu_s() { # utime + stime of a pid, in seconds
  local rest
  rest=$(sed 's/^.*) //' "/proc/$1/stat")
  awk -v t="$CLK_TCK" '{ printf "%.3f", ($12 + $13) / t }' <<<"$rest"
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
stats() { curl -sf "http://127.0.0.1:24318/stats"; }
stat_items() { # accepted items of one signal (or all), without spawning jq
  local json key=${1:-}
  json=$(stats) || { echo 0; return; }
  if [[ -n $key ]]; then
    [[ $json =~ \"$key\":\{\"items\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
  else
    [[ $json =~ \},\"items\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
  fi
}
busy_s() { # CPU seconds the whole machine spent busy since boot
  awk -v t="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / t }' /proc/stat
}

# This script and its helpers (curl, jq, sleep) run on the load core, not the collector's.
taskset -cp "$LOAD_CPU" $$ >/dev/null

for p in 14317 14318 18888 24317 24318; do
  if port_open $p; then echo "port $p is in use; stop whatever listens there first" >&2; exit 2; fi
done

# --- sink (on the load core) ---------------------------------------------------------------
SINK_MAX=$((LOAD_SECONDS + 600))
# shellcheck disable=SC2086
taskset -c "$LOAD_CPU" "$SINK" --grpc 127.0.0.1:24317 --http 127.0.0.1:24318 \
  --max-time "${SINK_MAX}s" ${SINK_ARGS:-} >"$OUT/sink-final.json" 2>"$OUT/sink.log" &
SINK_PID=$!
for _ in $(seq 1 200); do stats >/dev/null 2>&1 && break; sleep 0.05; done
stats >/dev/null || { echo "sink did not start: $(cat "$OUT/sink.log")" >&2; exit 1; }

# --- input for filelog ---------------------------------------------------------------------
if [[ $KIND == filelog ]]; then
  # `# bench: docker-body=json`: the lines' `log` is a JSON object (default: structlog pairs)
  DOCKER_BODY=$(meta docker-body)
  DOCKER_BODY=${DOCKER_BODY:-structlog}
  if [[ $DOCKER_BODY == structlog ]]; then
    export BENCH_DATA=$BENCH_CACHE/docker-$FILELOG_LINES
  else
    export BENCH_DATA=$BENCH_CACHE/docker-$DOCKER_BODY-$FILELOG_LINES
  fi
  if [[ ! -f $BENCH_DATA/.complete ]]; then
    rm -rf "$BENCH_DATA"
    echo "generating $FILELOG_LINES Docker json-file lines ($DOCKER_BODY) in $BENCH_DATA ..." >&2
    "$LOADGEN" docker-logs --dir "$BENCH_DATA" --lines "$FILELOG_LINES" --body "$DOCKER_BODY" >/dev/null
    touch "$BENCH_DATA/.complete"
  fi
  cat "$BENCH_DATA"/containers/*/*-json.log >/dev/null # warm the page cache
fi

# --- collector (on its own core) -----------------------------------------------------------
ARGS=${COLLECTOR_ARGS//@CONFIG@/$CONFIG}
START_MS=$(now_ms)
# shellcheck disable=SC2086
taskset -c "$COLLECTOR_CPU" "$COLLECTOR_BIN" $ARGS >"$OUT/collector.log" 2>&1 &
COLLECTOR_PID=$!
READY_PORT=14317
[[ $KIND == filelog ]] && READY_PORT=18888
[[ $SCENARIO == otlp-http-passthrough ]] && READY_PORT=14318
READY_MS=""
for _ in $(seq 1 2000); do
  if port_open $READY_PORT; then READY_MS=$(( $(now_ms) - START_MS )); break; fi
  kill -0 $COLLECTOR_PID 2>/dev/null || break
  sleep 0.005
done
if [[ -z $READY_MS ]]; then
  echo "collector did not open port $READY_PORT; its log:" >&2; tail -20 "$OUT/collector.log" >&2; exit 1
fi

CPU0=$(cpu_s $COLLECTOR_PID)
BUSY0=$(busy_s)
SINK_CPU0=$(cpu_s $SINK_PID)
SENT=0; ACKED=0; REFUSED=0; FAILED=0; ELAPSED=0; RATE=0; LOAD_CPU_S=0; LOAD_START_MS=0
IDLE_RSS_KB=""
case $KIND in
  load)
    LOAD_START_MS=$(now_ms)
    TIMEFORMAT='%U %S'
    # shellcheck disable=SC2086
    { time taskset -c "$LOAD_CPU" "$LOADGEN" $SCENARIO_LOADGEN --duration "${LOAD_SECONDS}s" \
        --json ${LOADGEN_ARGS:-} >"$OUT/loadgen.json" 2>"$OUT/loadgen.log" ; } 2>"$OUT/loadgen.time"
    SENT=$(jq .items.sent "$OUT/loadgen.json")
    ACKED=$(jq .items.acknowledged "$OUT/loadgen.json")
    REFUSED=$(jq .items.refused "$OUT/loadgen.json")
    FAILED=$(jq .items.failed "$OUT/loadgen.json")
    ELAPSED=$(jq .elapsed_s "$OUT/loadgen.json")
    RATE=$(jq .rate "$OUT/loadgen.json")
    LOAD_CPU_S=$(awk '{ print $1 + $2 }' "$OUT/loadgen.time")
    if (( DELIVERIES > 0 )); then
      # Wait for the pipeline to hand everything on (batch timeout, queues), up to 30 s.
      want=$((ACKED * DELIVERIES * KEEP_N / KEEP_D)); last=-1; still=0
      for _ in $(seq 1 300); do
        got=$(stat_items)
        (( got >= want )) && break
        if (( got == last )); then still=$((still + 1)); (( still >= 30 )) && break; else still=0; fi
        last=$got; sleep 0.1
      done
    fi
    ;;
  filelog)
    SENT=$FILELOG_LINES
    last=-1; still=0
    for _ in $(seq 1 1200); do # at most 300 s
      got=$(stat_items logs)
      (( got >= FILELOG_LINES )) && break
      if (( got == last )); then still=$((still + 1)); (( still >= 80 )) && break; else still=0; fi
      last=$got; sleep 0.25
    done
    ACKED=$got
    LOAD_START_MS=$START_MS
    ;;
  idle)
    sleep "$IDLE_SECONDS"
    IDLE_RSS_KB=$(status_kb $COLLECTOR_PID VmRSS)
    ;;
esac
CPU1=$(cpu_s $COLLECTOR_PID)
BUSY1=$(busy_s)
HWM_KB=$(status_kb $COLLECTOR_PID VmHWM)
RSS_KB=$(status_kb $COLLECTOR_PID VmRSS)
SINK_CPU_S=$(awk -v a="$SINK_CPU0" -v b="$(cpu_s $SINK_PID)" 'BEGIN { printf "%.2f", b - a }')
stats >"$OUT/sink-at-measure.json"

# --- stop: the collector drains, then the sink ---------------------------------------------
STOP_MS=$(now_ms)
kill -TERM $COLLECTOR_PID
COLLECTOR_RC=""
for _ in $(seq 1 400); do
  if ! kill -0 $COLLECTOR_PID 2>/dev/null; then break; fi
  sleep 0.1
done
if kill -0 $COLLECTOR_PID 2>/dev/null; then
  echo "collector still running 40 s after SIGTERM; killing it" >&2
  kill -KILL $COLLECTOR_PID
fi
wait $COLLECTOR_PID && COLLECTOR_RC=0 || COLLECTOR_RC=$?
COLLECTOR_PID=""
STOP_TOOK_MS=$(( $(now_ms) - STOP_MS ))
stats >"$OUT/sink-after-stop.json"

# --- ceiling: the same load through a plain TCP relay on the collector's core -------------------
CEIL_LINE=""
# `# bench: ceiling=no`: a raw copy does not apply (the collector sends on another encoding)
if [[ $CEILING == 1 && $KIND == load && $(meta ceiling) != no ]] && (( DELIVERIES == 1 )) \
  && [[ -x $TCPCOPY ]]; then
  curl -sf -X POST http://127.0.0.1:24318/reset >/dev/null
  taskset -c "$COLLECTOR_CPU" "$TCPCOPY" --listen "127.0.0.1:$READY_PORT" \
    --to "127.0.0.1:$((READY_PORT + 10000))" --max-time "$((LOAD_SECONDS + 120))s" \
    >"$OUT/tcpcopy.log" 2>&1 &
  COPY_PID=$!
  for _ in $(seq 1 400); do port_open "$READY_PORT" && break; sleep 0.005; done
  COPY_CPU0=$(cpu_s $COPY_PID)
  COPY_START_MS=$(now_ms)
  # shellcheck disable=SC2086
  taskset -c "$LOAD_CPU" "$LOADGEN" $SCENARIO_LOADGEN --duration "${LOAD_SECONDS}s" \
    --json ${LOADGEN_ARGS:-} >"$OUT/ceiling-loadgen.json" 2>"$OUT/ceiling-loadgen.log" || true
  COPY_CPU=$(awk -v a="$COPY_CPU0" -v b="$(cpu_s $COPY_PID)" 'BEGIN { printf "%.2f", b - a }')
  kill -KILL $COPY_PID 2>/dev/null || true
  wait $COPY_PID 2>/dev/null || true
  COPY_PID=""
  stats >"$OUT/ceiling-sink.json"
  COPY_ITEMS=$(jq .items "$OUT/ceiling-sink.json")
  COPY_MS=$(( $(jq '[.traces.last_ms, .logs.last_ms, .metrics.last_ms] | max' "$OUT/ceiling-sink.json") - COPY_START_MS ))
  COPY_PER_S=$(awk -v n="$COPY_ITEMS" -v ms="$COPY_MS" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')
  COPY_PER_M=$(awk -v c="$COPY_CPU" -v n="$COPY_ITEMS" 'BEGIN { if (n > 0) printf "%.2f", c * 1e6 / n; else printf "-" }')
  CEIL_LINE="raw TCP copy:    $COPY_PER_S items/s, $COPY_PER_M CPU s per million items ($COPY_ITEMS of $(jq .items.acknowledged "$OUT/ceiling-loadgen.json") acknowledged delivered; tcpcopy on cpu $COLLECTOR_CPU)"
fi
curl -sf -X POST http://127.0.0.1:24318/shutdown >/dev/null || true
wait $SINK_PID || true
SINK_PID=""

# --- figures ---------------------------------------------------------------------------------
S=$OUT/sink-at-measure.json
F=$OUT/sink-after-stop.json
DELIVERED=$(jq .items "$S")
DELIVERED_FINAL=$(jq .items "$F")
DUPS=$(jq '.traces.duplicates + .logs.duplicates' "$F")
LAST_MS=$(jq '[.traces.last_ms, .logs.last_ms, .metrics.last_ms] | max' "$S")
CPU=$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.2f", b - a }')
case $KIND in
  load)
    if (( DELIVERIES > 0 )); then
      # the items received: what arrived, counted back through the share the pipeline keeps
      ITEMS=$(( DELIVERED * KEEP_D / (DELIVERIES * KEEP_N) ))
      SPAN_MS=$(( LAST_MS - LOAD_START_MS ))
      PER_S=$(awk -v n="$ITEMS" -v ms="$SPAN_MS" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')
    else
      ITEMS=$ACKED
      PER_S=$(awk -v r="$RATE" 'BEGIN { printf "%.0f", r }')
    fi ;;
  filelog)
    ITEMS=$DELIVERED
    SPAN_MS=$(( LAST_MS - START_MS ))
    PER_S=$(awk -v n="$ITEMS" -v ms="$SPAN_MS" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }') ;;
  idle)
    ITEMS=0; PER_S=0 ;;
esac
CPU_PER_M=$(awk -v c="$CPU" -v n="$ITEMS" 'BEGIN { if (n > 0) printf "%.2f", c * 1e6 / n; else printf "-" }')
HWM_MB=$(awk -v k="$HWM_KB" 'BEGIN { printf "%.1f", k / 1024 }')

{
  echo "scenario:        $SCENARIO ($KIND)"
  echo "collector:       $COLLECTOR_BIN $ARGS (cpu $COLLECTOR_CPU), ready in ${READY_MS} ms"
  if [[ $KIND == load ]]; then
    echo "loadgen:         $SCENARIO_LOADGEN --duration ${LOAD_SECONDS}s ${LOADGEN_ARGS:-} (cpu $LOAD_CPU)"
    echo "sent:            $SENT items in ${ELAPSED} s; acknowledged $ACKED, refused $REFUSED, failed $FAILED"
    echo "latency ms:      $(jq -r '.latency_ms | "p50 \(.p50) p90 \(.p90) p99 \(.p99) max \(.max)"' "$OUT/loadgen.json")"
    [[ $(jq '.errors | length' "$OUT/loadgen.json") -gt 0 ]] && echo "loadgen errors:  $(jq -c .errors "$OUT/loadgen.json")"
  fi
  if [[ $KIND == filelog ]]; then
    echo "input:           $FILELOG_LINES lines in $BENCH_DATA"
  fi
  echo "items/s:         $PER_S"
  echo "collector CPU:   ${CPU} s  → ${CPU_PER_M} CPU s per million items"
  echo "peak RSS:        ${HWM_MB} MB (VmHWM); RSS at the end of load $(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }') MB"
  [[ -n $IDLE_RSS_KB ]] && echo "idle RSS:        $(awk -v k="$IDLE_RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }') MB after ${IDLE_SECONDS} s"
  # idle memory depends on the start-up layout (build.rs): how many of src/startup.order's
  # names this binary has (a list gone stale places few of them)
  if [[ -n $IDLE_RSS_KB ]] && command -v nm >/dev/null 2>&1; then
    symbols=$(nm "$COLLECTOR_BIN" 2>/dev/null | awk 'NF >= 2 { print $NF }' | sort -u || true)
    if [[ -n $symbols ]]; then
      echo "start-up layout: $(grep -v '^#' "$HERE/../src/startup.order" | sort -u | comm -12 - <(echo "$symbols") | wc -l) of src/startup.order's $(grep -vc '^#' "$HERE/../src/startup.order") names are in this binary"
    fi
  fi
  if (( DELIVERIES > 0 )); then
    echo "delivered:       $DELIVERED at measurement, $DELIVERED_FINAL after stop (expected $DELIVERIES x $KEEP of $( [[ $KIND == load ]] && echo "$ACKED acknowledged" || echo "$SENT lines" )), duplicates $DUPS"
    [[ $(jq '.branches | length' "$F") -gt 0 ]] && echo "per branch:      $(jq -c .branches "$F")"
    echo "sink requests:   $(jq .requests "$F") by encoding $(jq -c .encodings "$F"); refused $(jq .refused_requests "$F"), invalid $(jq .invalid_requests "$F")"
  fi
  echo "load side CPU:   loadgen ${LOAD_CPU_S} s, sink ${SINK_CPU_S} s (cpu $LOAD_CPU)"
  echo "machine:         busy $(awk -v a="$BUSY0" -v b="$BUSY1" 'BEGIN { printf "%.2f", b - a }') CPU s during the measurement, of which other processes $(awk -v a="$BUSY0" -v b="$BUSY1" -v c="$CPU" -v l="$LOAD_CPU_S" -v k="$SINK_CPU_S" 'BEGIN { o = b - a - c - l - k; printf "%.2f", o < 0 ? 0 : o }') s"
  echo "stop:            exit code $COLLECTOR_RC after ${STOP_TOOK_MS} ms"
  if [[ -n $CEIL_LINE ]]; then
    echo "$CEIL_LINE"
    echo "collector share: $(awk -v a="$PER_S" -v b="$COPY_PER_S" 'BEGIN { if (b > 0) printf "%.1f %% of the raw TCP copy rate", a * 100 / b; else printf "-" }')"
  fi
  echo "raw results:     $OUT"
  echo
  if (( DELIVERIES > 0 )); then
    EXPECT=$(( DELIVERIES * $( [[ $KIND == load ]] && echo "$ACKED" || echo "$SENT") * KEEP_N / KEEP_D ))
    DELIV="$DELIVERED_FINAL / $EXPECT"
  elif [[ $KIND == load ]]; then
    DELIV="(nop) $ACKED acked / $SENT sent"
  else
    DELIV="-"
  fi
  echo "| $SCENARIO | $PER_S | $CPU_PER_M | $HWM_MB | $DELIV |"
} | tee "$OUT/summary.txt"
