#!/usr/bin/env bash
# The Docker suite: the image built and run by a real Docker engine, and the seeds' Docker
# logs scenario end to end (ci/docker/scenario.py). Called by .ci/run; runs alone too:
#   ci/docker/run.sh
# Installs Debian's docker.io, docker-compose and busybox-static when missing, starts dockerd
# when no engine answers, takes the binary (FERROTEL_BIN, or the dev build), builds the
# Ferrotel image (Dockerfile.prebuilt: no registry needed) and a busybox image on scratch,
# then runs the scenario and the docker_stats receiver, the prometheus receiver's
# docker_sd_configs and the docker detector against the engine (ci/docker/docker_stats.py,
# docker_sd.py, docker_detector.py). Exits non-zero on any failure; prints the scenario's
# counts and `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

echo "== docker: engine"
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing+=(busybox-static)
if (( ${#missing[@]} )); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /tmp/dockerd.log)"
  (dockerd >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "FAIL: the Docker engine did not start; last lines of /tmp/dockerd.log:" >&2
    tail -20 /tmp/dockerd.log >&2 || true
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'
docker-compose version --short

# The binary: FERROTEL_BIN when set (.ci/run passes the one its test command built), else the
# dev build. The suite checks behaviour, and a release build here took 8.5-13 min of CI's
# 45 on 2 cores (2026-12-03) for a binary whose code only differs in optimization (the dev
# build also checks overflow and debug assertions); the image a user builds (Dockerfile) is
# a release build with fat LTO.
if [[ -n ${FERROTEL_BIN:-} ]]; then
  bin=$FERROTEL_BIN
  echo "== docker: the binary $bin"
else
  echo "== docker: the binary (cargo build --bin ferrotel)"
  cargo build --locked --bin ferrotel
  bin=${CARGO_TARGET_DIR:-$root/target}/debug/ferrotel
fi

echo "== docker: images"
ci/docker/build-image.sh "$bin" ferrotel:scenario
ctx=$(mktemp -d /tmp/ferrotel-busybox.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
cp ci/docker/busybox/Dockerfile "$ctx/"
cp -L /bin/busybox "$ctx/busybox"
docker build -q -t ferrotel-busybox:scenario "$ctx" >/dev/null
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(ferrotel|ferrotel-busybox):scenario '

echo "== docker: the image runs as the README says"
# the binary, its libraries and the default config work in the image; --version and validate
docker run --rm ferrotel:scenario --version
docker run --rm ferrotel:scenario validate --config=/etc/otelcol/config.yaml

logs=$(mktemp -d /tmp/ferrotel-docker-suite.XXXXXX)
set +e
echo "== docker: the seeds' scenario"
python3 ci/docker/scenario.py --image ferrotel:scenario --busybox ferrotel-busybox:scenario | tee "$logs/scenario"
scenario_status=${PIPESTATUS[0]}
echo "== docker: the docker_stats receiver against the engine"
python3 ci/docker/docker_stats.py --ferrotel "$bin" --busybox ferrotel-busybox:scenario | tee "$logs/docker_stats"
stats_status=${PIPESTATUS[0]}
echo "== docker: the prometheus receiver's docker_sd_configs against the engine"
python3 ci/docker/docker_sd.py --ferrotel "$bin" --busybox ferrotel-busybox:scenario | tee "$logs/docker_sd"
sd_status=${PIPESTATUS[0]}
echo "== docker: the resourcedetection processor's docker detector in a container"
python3 ci/docker/docker_detector.py --image ferrotel:scenario | tee "$logs/docker_detector"
detector_status=${PIPESTATUS[0]}
set -e
# one count over both (.ci/run reads the last `N passed, N failed` line)
awk '/^[0-9]+ passed, [0-9]+ failed/ { p[FILENAME] = $1; f[FILENAME] = $3 }
     END { for (k in p) { tp += p[k]; tf += f[k] } printf "%d passed, %d failed\n", tp, tf }' \
  "$logs/scenario" "$logs/docker_stats" "$logs/docker_sd" "$logs/docker_detector"
rm -rf "$logs"
(( scenario_status == 0 && stats_status == 0 && sd_status == 0 && detector_status == 0 ))
