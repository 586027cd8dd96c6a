"""The resourcedetection processor's `docker` detector against the real Docker engine (called
by ci/docker/run.sh).

Runs the Ferrotel image as a container with the engine's socket mounted (its group added, as
a user would), a `hostmetrics` receiver feeding `resourcedetection` with the `docker`
detector, and the `file` exporter writing into a mounted directory. Checks that the items
carry the engine's host name and OS type (as `docker info` gives them) and the container's
own name and image (enabled in the config: Go's defaults leave them off). Then the same
without the socket: the start fails with an error naming it.
Prints `N passed, N failed`; exits non-zero on a failure. Bounded: about 20 s.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from checks import Checks, attrs

CONFIG = """
receivers:
  hostmetrics:
    collection_interval: 1s
    scrapers:
      memory: {}
processors:
  resourcedetection:
    detectors: [docker]
    timeout: 2s
    docker:
      resource_attributes:
        container.name: {enabled: true}
        container.image.name: {enabled: true}
exporters:
  file:
    path: /out/metrics.jsonl
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [hostmetrics]
      processors: [resourcedetection]
      exporters: [file]
"""


def resource(out_path):
    try:
        lines = open(out_path).read().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        if not line.strip():
            continue
        for rm in json.loads(line).get("resourceMetrics", []):
            return attrs(rm.get("resource", {}).get("attributes"))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True, help="the Ferrotel image")
    args = ap.parse_args()

    checks = Checks()
    check = checks.check

    info = json.loads(subprocess.run(["docker", "info", "--format", "{{json .}}"],
                                     check=True, capture_output=True, text=True).stdout)
    sock_gid = str(os.stat("/var/run/docker.sock").st_gid)
    tmp = tempfile.mkdtemp(prefix="ferrotel-docker-detector.")
    os.chmod(tmp, 0o777)
    with open(os.path.join(tmp, "config.yaml"), "w") as f:
        f.write(CONFIG)
    os.chmod(os.path.join(tmp, "config.yaml"), 0o644)
    name = f"ferrotel-detector-{os.getpid()}"
    try:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--group-add", sock_gid,
             "-v", "/var/run/docker.sock:/var/run/docker.sock",
             "-v", f"{tmp}:/out", args.image, "--config=/out/config.yaml"],
            check=True, capture_output=True)
        res = None
        deadline = time.time() + 15
        while time.time() < deadline and res is None:
            time.sleep(1)
            res = resource(os.path.join(tmp, "metrics.jsonl"))
        res = res or {}
        check(res.get("host.name") == info.get("Name"),
              "host.name is the engine's name", f"{res} vs {info.get('Name')}")
        check(res.get("os.type") == info.get("OSType"), "os.type is the engine's OS type",
              f"{res}")
        check(res.get("container.name") == f"/{name}", "container.name is this container's",
              f"{res}")
        check(res.get("container.image.name") == args.image,
              "container.image.name is the image it runs", f"{res}")
    finally:
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    if checks.failed:
        print((logs.stdout + logs.stderr)[-2000:])

    # no socket: the detector's error names it and the collector does not start
    down = subprocess.run(
        ["docker", "run", "--rm", "-v", f"{tmp}:/out", args.image, "--config=/out/config.yaml"],
        capture_output=True, text=True, timeout=60)
    text = down.stdout + down.stderr
    check(down.returncode != 0 and "docker.sock" in text,
          "without the engine the start fails with an error naming the socket",
          f"exit {down.returncode}: {text[-1500:]}")
    shutil.rmtree(tmp, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
