#!/usr/bin/env bash
# Instructions, not seconds: runs the collector under `valgrind --tool=callgrind` on a fixed
# piece of work and prints what it executed, in total and per call of the functions that do
# the work. Instruction counts do not move with the machine's load, so a change of a few per
# cent, lost in the CPU-time noise of `run.sh` on a shared VM, shows here build against
# build. They are not time: a cache miss or a slow instruction counts as one. Use it to
# compare builds; measure speed with the other scripts, beside a peer.
#
#   bench/instructions.sh prometheus     # 10 targets x ~1,000 series every 3 s, 45 s
#   bench/instructions.sh filelog-json   # 50,000 Docker lines with JSON bodies (the
#                                        # operators of the filelog-docker-json scenario)
#   bench/instructions.sh filelog        # structlog key='value' bodies (filelog-docker's)
#
# BENCH_BIN (default target/release) holds `ferrotel`, `loadgen` and `promtargets`.
# Prints, for `prometheus`, the scrapes made and the instructions per scrape of the parse
# (`textparse::parse`), of the labelling around it (`scrape::process`, which includes the
# parse) and of the translation (`translate::build`), and the whole process's total per
# scrape; for `filelog*`, the instructions per line (the total less an idle run's).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-target/release}
what=${1:?usage: bench/instructions.sh prometheus|filelog-json|filelog}
command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 1; }
dir=$(mktemp -d /tmp/ferrotel-instr.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT

# run CONFIG SECONDS: the collector under callgrind, stopped with SIGINT (a clean shutdown,
# after which callgrind writes its counts)
run() {
  valgrind --tool=callgrind --callgrind-out-file="$dir/out" "$bin/ferrotel" --config "$1" > "$dir/log" 2>&1 &
  local pid=$!
  sleep "$2"
  kill -INT "$pid"
  wait "$pid" || true
  grep -o 'refs: *[0-9,]*' "$dir/log" | tr -d ', ' | cut -d: -f2
}

# per_call PATTERN...: calls and inclusive instructions of the functions whose names hold
# each pattern, summed over the call sites in the callgrind file
per_call() {
  python3 - "$dir/out" "$@" <<'PY'
import re, sys
names, calls, incl = {}, {}, {}
cfn = None
lines = open(sys.argv[1]).read().split("\n")
def ident(s):
    m = re.match(r"\((\d+)\)(?: (.*))?", s)
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return m.group(1)
i = 0
while i < len(lines):
    l = lines[i]
    if l.startswith("fn="):
        ident(l[3:])
    elif l.startswith("cfn="):
        cfn = ident(l[4:])
    elif l.startswith("calls="):
        cost = lines[i + 1].split()
        calls[cfn] = calls.get(cfn, 0) + int(l[6:].split()[0])
        incl[cfn] = incl.get(cfn, 0) + (int(cost[1]) if len(cost) > 1 else 0)
        i += 1
    i += 1
for pattern in sys.argv[2:]:
    found = [k for k, v in names.items() if v.endswith(pattern) and k in calls]
    n = sum(calls[k] for k in found)
    ir = sum(incl[k] for k in found)
    print(f"{pattern}: {n} calls, {ir // max(n, 1):,} instructions a call")
PY
}

# into_nop SIGNAL RECEIVER [PROCESSOR]: the rest of a config, RECEIVER's pipeline into nop
into_nop() {
  echo "exporters:"
  echo "  nop:"
  echo "service:"
  echo "  telemetry:"
  echo "    metrics:"
  echo "      level: none"
  echo "  pipelines:"
  echo "    $1:"
  echo "      receivers: [$2]"
  if [[ -n "${3:-}" ]]; then echo "      processors: [$3]"; fi
  echo "      exporters: [nop]"
}

case "$what" in
  prometheus)
    base=${BASE_PORT:-31000}
    "$bin/promtargets" --targets 10 --series 1000 --base-port "$base" > "$dir/targets.log" 2>&1 &
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$((base + 9))/metrics" > /dev/null && break
      sleep 0.1
    done
    {
      echo "receivers:"
      echo "  prometheus:"
      echo "    config:"
      echo "      scrape_configs:"
      echo "        - job_name: bench"
      echo "          scrape_interval: 3s"
      echo "          static_configs:"
      echo "            - targets:"
      for t in $(seq 0 9); do echo "                - 127.0.0.1:$((base + t))"; done
      into_nop metrics prometheus
    } > "$dir/config.yaml"
    total=$(run "$dir/config.yaml" "${SECONDS_RUN:-45}")
    per_call "textparse::parse" "scrape::process" "translate::build" | tee "$dir/calls"
    scrapes=$(grep '^textparse::parse:' "$dir/calls" | awk '{print $2}')
    echo "whole process: $total instructions, $((total / scrapes)) a scrape ($scrapes scrapes)"
    ;;
  filelog-json | filelog)
    body=structlog
    [[ "$what" == filelog-json ]] && body=json
    lines=${LINES:-50000}
    "$bin/loadgen" docker-logs --dir "$dir/data" --lines "$lines" --body "$body" > /dev/null
    mkdir -p "$dir/empty/containers"
    for root in data empty; do
      {
        echo "receivers:"
        echo "  filelog:"
        echo "    include: [\"$dir/$root/containers/*/*-json.log\"]"
        echo "    start_at: beginning"
        echo "    operators:"
        echo "      - type: container"
        echo "        format: docker"
        # the operators of the filelog-docker and filelog-docker-json scenarios
        if [[ "$body" == json ]]; then
          echo "      - type: json_parser"
          echo "      - type: severity_parser"
          echo "        parse_from: attributes.level"
        else
          echo "      - type: key_value_parser"
        fi
        echo "processors:"
        echo "  batch:"
        into_nop logs filelog batch
      } > "$dir/$root.yaml"
    done
    busy=$(run "$dir/data.yaml" "${SECONDS_RUN:-25}")
    idle=$(run "$dir/empty.yaml" "${SECONDS_RUN:-25}")
    echo "$lines lines: $busy instructions, $idle idle, $(((busy - idle) / lines)) a line"
    ;;
  *)
    echo "unknown work $what (prometheus, filelog-json or filelog)" >&2
    exit 1
    ;;
esac
