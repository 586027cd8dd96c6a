#!/bin/sh
# Build the Ferrotel image from a binary built outside Docker, without any registry:
#   ci/docker/build-image.sh [BINARY] [TAG]
# (defaults: target/release/ferrotel, ferrotel:dev). Stages the runtime files with
# stage-rootfs.sh into a temporary build context and builds Dockerfile.prebuilt.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$here/target/release/ferrotel}
tag=${2:-ferrotel:dev}
ctx=$(mktemp -d /tmp/ferrotel-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
"$here/ci/docker/stage-rootfs.sh" "$bin" "$ctx"
cp "$here/Dockerfile.prebuilt" "$ctx/Dockerfile"
revision=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
version=$(awk -F'"' '/^version = / { print $2; exit }' "$here/Cargo.toml")
docker build -q --build-arg VERSION="$version" --build-arg REVISION="$revision" -t "$tag" "$ctx" >/dev/null
docker image inspect "$tag" --format "$tag: {{.Size}} bytes ({{.Id}})"
