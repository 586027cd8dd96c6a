#!/usr/bin/env bash
# Runs every fuzz target with cargo fuzz (libFuzzer, nightly Rust) for SECONDS each, starting
# from the seed corpus tests/corpus.rs builds from real inputs.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 10 s each, every target
#   fuzz/run.sh --build                   only build the targets
#
# FUZZ_JOBS targets run at once (default: the number of cores). The targets are built in
# target/fuzz, apart from the stable builds, so that a build here never waits for cargo's
# lock on target/ (nor the other way round).
#
# FUZZ_PROFILE=dev builds without optimization of Ferrotel's own crates (several times faster
# to build, slower to run: what CI uses for its short runs); the default is cargo fuzz's
# release build, for long runs.
#
# A crash stops the run with exit 1 and leaves its input under fuzz/artifacts/<target>/; fix
# the bug, then copy that input to fuzz/regressions/<target>/ so the README's test command
# replays it forever (fuzz/tests/corpus.rs). See fuzz/README.md for long runs.
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=0
if [[ "${1:-}" == --build ]]; then
  build_only=1
  shift
fi
secs=${1:-10}
shift || true
targets=("$@")
if (( ${#targets[@]} == 0 )); then
  targets=(zipkin_v2 zipkin_v1 loki_push jaeger_api_v2 jaeger_thrift otlp_wire otlp_json decompress prometheus_text docker_log_line stanza_expr time_layout filelog_split config_yaml ottl_statement kubelet_summary kube_watch kubernetes_sd syslog basic_auth)
fi

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz/run.sh: cargo fuzz needs a nightly toolchain (rustup toolchain install nightly --profile minimal)" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz/run.sh: installing cargo-fuzz from crates.io" >&2
  cargo install --locked cargo-fuzz >&2
fi

# -s none: Ferrotel forbids unsafe code, and without AddressSanitizer the build and the runs
# are several times faster; fuzz/README.md shows the sanitizer run for long sessions
profile=()
if [[ "${FUZZ_PROFILE:-release}" == dev ]]; then
  profile=(--dev)
fi
fuzz_target_dir="$PWD/target/fuzz"
build_log=$(mktemp)
if ! cargo +nightly fuzz build -s none "${profile[@]}" --features libfuzzer \
    --target-dir "$fuzz_target_dir" >"$build_log" 2>&1; then
  tail -n 40 "$build_log" >&2
  exit 1
fi
rm -f "$build_log"
if (( build_only )); then
  exit 0
fi

corpus="$PWD/target/fuzz-corpus"
FERROTEL_FUZZ_CORPUS="$corpus" cargo test -q -p ferrotel-fuzz --test corpus every_target_has_seeds >/dev/null

# the targets run FUZZ_JOBS at a time (default: one per core; each fuzzer is one thread)
jobs=${FUZZ_JOBS:-$(nproc)}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

run_target() {
  local t=$1 start log runs
  mkdir -p "$corpus/$t"
  start=$(date +%s)
  log="$results/$t.log"
  if ! cargo +nightly fuzz run -s none "${profile[@]}" --features libfuzzer \
      --target-dir "$fuzz_target_dir" "$t" "$corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $t crashed (input under fuzz/artifacts/$t/)" >&2
    return 1
  fi
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  echo "fuzz: $t ok, ${runs:-?} inputs in $(( $(date +%s) - start )) s, corpus $(ls "$corpus/$t" | wc -l) files"
}

failed=0
running=0
for t in "${targets[@]}"; do
  if (( running >= jobs )); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  (( failed )) && break
  run_target "$t" &
  running=$((running + 1))
done
while (( running > 0 )); do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
