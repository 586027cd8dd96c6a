#!/usr/bin/env bash
# One scenario's CPU per item against a baseline scenario's, in alternated pairs, for the
# targets stated as a ratio (issue 19: `otlp-transform` against `otlp-batch`). On a noisy
# machine a scenario's figure moves by more than a change between two sittings, so each
# pair is measured back to back (through bench/run-all.sh, each run starting once the
# machine is quiet), the order alternating from pair to pair, and the pairs' ratios are
# compared rather than two sittings' means.
#
#   bench/ratio.sh SCENARIO BASELINE      # e.g. otlp-transform otlp-batch
#
# Environment: PAIRS (default 5), and that of bench/run-all.sh and bench/run.sh (CEILING
# defaults to 0 here: the raw TCP copy is not part of the ratio).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if (( $# != 2 )); then
  echo "usage: bench/ratio.sh SCENARIO BASELINE" >&2
  exit 2
fi
A=$1
B=$2
PAIRS=${PAIRS:-5}
export CEILING=${CEILING:-0}

cpu_of() { # the CPU s per million items of run-all.sh's row for scenario $1
  awk -F'|' -v s="$1" '{ gsub(/ /, "", $2) } $2 == s { gsub(/ /, "", $4); print $4 }'
}

RATIOS=()
echo "| pair | $A | $B | ratio |"
echo "|---|---|---|---|"
for p in $(seq 1 "$PAIRS"); do
  if (( p % 2 )); then order=("$A" "$B"); else order=("$B" "$A"); fi
  rows=$(REPEAT=1 "$HERE/run-all.sh" "${order[@]}")
  a=$(cpu_of "$A" <<<"$rows")
  b=$(cpu_of "$B" <<<"$rows")
  if [[ -z "$a" || -z "$b" ]]; then
    echo "pair $p: a run gave no figure" >&2
    exit 1
  fi
  r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
  RATIOS+=("$r")
  echo "| $p (${order[0]} first) | $a | $b | $r |"
done
median=$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo
echo "median ratio over $PAIRS pairs: $median"
