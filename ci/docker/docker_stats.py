"""The docker_stats receiver against the real Docker engine (called by ci/docker/run.sh).

Starts a busybox container that burns CPU and holds memory, with a label and an env var;
runs Ferrotel on the host with the `docker_stats` receiver on the engine's Unix socket and the
`file` exporter; reads the OTLP/JSON lines it wrote and checks: the busy container's
`container.cpu.usage.total` grows between two collections, `container.memory.usage.total` is
above zero, the label and the env var arrive as the configured attributes, and an excluded
image is not reported. Prints `N passed, N failed`; exits non-zero on a failure. Bounded:
about 20 s.
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
  docker_stats:
    endpoint: unix:///var/run/docker.sock
    collection_interval: 1s
    container_labels_to_metric_labels:
      ferrotel.test: test_label
    env_vars_to_metric_labels:
      FERROTEL_TEST_ENV: test_env
    excluded_images: [{excluded}]
exporters:
  file:
    path: {out}
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [docker_stats]
      exporters: [file]
"""



def points(out_path, container_id):
    """(cpu usage values in order, memory usage values, resource attributes) of one container."""
    cpu, mem, res = [], [], {}
    try:
        lines = open(out_path).read().splitlines()
    except FileNotFoundError:
        return cpu, mem, res
    for line in lines:
        if not line.strip():
            continue
        req = json.loads(line)
        for rm in req.get("resourceMetrics", []):
            ra = attrs(rm.get("resource", {}).get("attributes"))
            if ra.get("container.id") != container_id:
                continue
            res = ra
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    data = m.get("sum") or m.get("gauge") or {}
                    for p in data.get("dataPoints", []):
                        v = float(p.get("asInt", p.get("asDouble", 0)))
                        if m["name"] == "container.cpu.usage.total":
                            cpu.append(v)
                        elif m["name"] == "container.memory.usage.total":
                            mem.append(v)
    return cpu, mem, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferrotel", required=True, help="the ferrotel binary")
    ap.add_argument("--busybox", required=True, help="the busybox image")
    args = ap.parse_args()

    checks = Checks()
    check = checks.check

    name = f"ferrotel-stats-{os.getpid()}"
    busy = subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "--label", "ferrotel.test=busy",
         "-e", "FERROTEL_TEST_ENV=from-env", args.busybox,
         "dd if=/dev/zero of=/dev/null bs=1M & sleep 60"],
        check=True, capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="ferrotel-docker-stats.")
    out = os.path.join(tmp, "metrics.jsonl")
    cfg = os.path.join(tmp, "config.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(out=out, excluded="nothing-excluded:latest"))
    proc = subprocess.Popen([args.ferrotel, "--config", cfg],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
    try:
        cpu, mem, res = [], [], {}
        deadline = time.time() + 15
        while time.time() < deadline:
            time.sleep(1)
            cpu, mem, res = points(out, busy)
            if len(cpu) >= 3 and mem:
                break
        check(len(cpu) >= 3, "the busy container is reported every collection", f"cpu points {cpu}")
        check(len(cpu) >= 2 and cpu[-1] > cpu[0], "its CPU usage grows", f"{cpu}")
        check(bool(mem) and mem[-1] > 0, "its memory usage is above zero", f"{mem}")
        check(res.get("container.name") == name, "container.name is the container's name",
              f"{res}")
        check(res.get("test_label") == "busy", "the label arrives as the configured attribute",
              f"{res}")
        check(res.get("test_env") == "from-env",
              "the env var arrives as the configured attribute", f"{res}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    check(proc.returncode == 0, "ferrotel stops cleanly", f"exit {proc.returncode}: "
          + open(os.path.join(tmp, "log")).read()[-2000:])

    # the same image excluded: not reported
    os.remove(out)
    with open(cfg, "w") as f:
        f.write(CONFIG.format(out=out, excluded=args.busybox))
    proc = subprocess.Popen([args.ferrotel, "--config", cfg],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    proc.terminate()
    proc.wait(timeout=10)
    cpu, _, _ = points(out, busy)
    check(cpu == [], "an excluded image is not reported", f"{cpu}")

    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
