#!/usr/bin/env bash
# Builds the Go OpenTelemetry Collector described by compat/builder-config.yaml, once.
#
# The binary lands in ${FERROTEL_ORACLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferrotel-compat}/
# <hash of the manifest>/otelcol-oracle, with the builder (ocb) of the same release installed
# beside it. When that binary exists the script does nothing but print its path. The last
# line on stdout is always the binary's path; progress goes to stderr.
#
# Needs Go (the manifest's modules want go >= 1.26; with an older Go and GOTOOLCHAIN=auto the
# go command fetches a newer toolchain through the module proxy) and the Go module proxy.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
manifest="$here/builder-config.yaml"
cache_root=${FERROTEL_ORACLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferrotel-compat}

# the builder's version is the release every component of the manifest is pinned to
builder_version=v$(awk '/^dist:/ { d = 1 } d && /^  version:/ { print $2; exit }' "$manifest")
hash=$( (cat "$manifest"; echo "builder $builder_version") | sha256sum | cut -c1-16)
dir="$cache_root/$hash"
bin="$dir/otelcol-oracle"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "compat/build.sh: the Go toolchain is needed to build the Go collector oracle (https://go.dev/dl/, go >= 1.26)" >&2
  exit 127
fi

mkdir -p "$dir"
# one build at a time per manifest (concurrent test binaries, CI and a developer)
if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.lock"
  flock 9
  if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
  fi
fi

start=$(date +%s)
echo "compat/build.sh: building the Go collector oracle into $dir ($(go version))" >&2

if [[ ! -x "$dir/bin/builder" ]]; then
  echo "compat/build.sh: installing the builder go.opentelemetry.io/collector/cmd/builder@$builder_version" >&2
  GOBIN="$dir/bin" nice -n 10 go install "go.opentelemetry.io/collector/cmd/builder@$builder_version" >&2
fi

rm -rf "$dir/work"
mkdir -p "$dir/work"
cp "$manifest" "$dir/work/builder-config.yaml"
(
  cd "$dir/work"
  # -e: `go mod tidy` passes over imports it cannot resolve instead of failing; the only one
  # is a test-only import of fileexporter (see the manifest). The go command applies a GOFLAGS
  # flag only to the commands that know it (here: tidy), and the build itself still fails on
  # any import it really needs.
  GOFLAGS="${GOFLAGS:+$GOFLAGS }-e" nice -n 10 "$dir/bin/builder" --config builder-config.yaml >&2
)
cp "$dir/work/otelcol-oracle/otelcol-oracle" "$bin.tmp"
mv "$bin.tmp" "$bin"
# the generated sources are small; the Go module and build caches hold the rest
echo "compat/build.sh: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
