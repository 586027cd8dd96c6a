#!/usr/bin/env bash
# Run scenarios REPEAT times each (default 3), each run starting only once the machine has
# been quiet (under QUIET_PCT % busy, default 10, over 3 s; at most 10 minutes of waiting),
# and print every run's table row. The environment of bench/run.sh applies.
#
#   bench/run-all.sh [SCENARIO...]     # default: every scenario
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPEAT=${REPEAT:-3}
QUIET_PCT=${QUIET_PCT:-10}
if (( $# )); then SCENARIOS=("$@"); else
  mapfile -t SCENARIOS < <(cd "$HERE/scenarios" && ls *.yaml | sed 's/\.yaml$//')
fi

busy_pct() { # percentage of all CPUs busy over 3 s
  local a b
  a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  sleep 3
  b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%d", busy * 100 / (busy + idle + 0.001) }'
}

ROWS=()
for s in "${SCENARIOS[@]}"; do
  for r in $(seq 1 "$REPEAT"); do
    waited=0
    while (( $(busy_pct) >= QUIET_PCT )); do
      waited=$((waited + 3))
      if (( waited >= 600 )); then echo "machine still busy after 10 minutes; running anyway" >&2; break; fi
    done
    echo "=== $s run $r/$REPEAT" >&2
    out=$("$HERE/run.sh" "$s")
    echo "$out" >&2
    ROWS+=("$(grep '^| ' <<<"$out" | tail -1)")
  done
done
echo
echo "| scenario | items/s | CPU s per million items | peak RSS MB | delivered / expected |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
