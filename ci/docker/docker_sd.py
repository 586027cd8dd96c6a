"""The prometheus receiver's docker_sd_configs against the real Docker engine (called by
ci/docker/run.sh).

Starts busybox containers serving Prometheus text at /cgi-bin/metrics on port 8080: two with
the test's label (one exposing 8080, so its target comes from the port list; one exposing
nothing, so its target takes the configured `port`) and one without it. Runs Ferrotel on the
host with a `prometheus` receiver that discovers targets through the engine's Unix socket
(filtered by the label, refreshed every 2 s), relabels the container name and a container
label into target labels, and writes what it scraped with the `file` exporter. Checks: both
labelled containers are scraped with their relabelled labels, the unlabelled one is not, and
a labelled container started later is discovered. Prints `N passed, N failed`; exits
non-zero on a failure. Bounded: about 30 s.
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
  prometheus:
    config:
      scrape_configs:
        - job_name: docker
          scrape_interval: 1s
          metrics_path: /cgi-bin/metrics
          docker_sd_configs:
            - host: unix:///var/run/docker.sock
              port: 8080
              refresh_interval: 2s
              filters:
                - name: label
                  values: [ferrotel.sd={run}]
          relabel_configs:
            - source_labels: [__meta_docker_container_name]
              regex: /(.*)
              target_label: container
            - source_labels: [__meta_docker_container_label_ferrotel_service]
              target_label: service
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
      receivers: [prometheus]
      exporters: [file]
"""

# busybox httpd runs the CGI script; it answers with the text format
SERVE = (
    'mkdir -p /www/cgi-bin && printf "#!/bin/sh\\necho \\"Content-Type: text/plain; '
    'version=0.0.4\\"\\necho\\necho \\"# TYPE sd_demo counter\\"\\necho \\"sd_demo_total 42\\"\\n"'
    " > /www/cgi-bin/metrics && chmod +x /www/cgi-bin/metrics && httpd -f -p 8080 -h /www"
)



def scraped(out_path):
    """container label -> the service label, of every sd_demo_total point written."""
    seen = {}
    try:
        lines = open(out_path).read().splitlines()
    except FileNotFoundError:
        return seen
    for line in lines:
        if not line.strip():
            continue
        for rm in json.loads(line).get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    if m["name"] != "sd_demo_total":
                        continue
                    for p in (m.get("sum") or {}).get("dataPoints", []):
                        a = attrs(p.get("attributes"))
                        seen[a.get("container")] = a.get("service")
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferrotel", required=True, help="the ferrotel binary")
    ap.add_argument("--busybox", required=True, help="the busybox image")
    args = ap.parse_args()

    checks = Checks()
    check = checks.check

    run = str(os.getpid())
    names = {k: f"ferrotel-sd-{k}-{run}" for k in ("exposed", "plain", "other", "late")}

    def start(key, labelled, expose):
        cmd = ["docker", "run", "-d", "--rm", "--name", names[key]]
        if labelled:
            cmd += ["--label", f"ferrotel.sd={run}", "--label", f"ferrotel.service=svc-{key}"]
        if expose:
            cmd += ["--expose", "8080"]
        subprocess.run(cmd + [args.busybox, SERVE], check=True, capture_output=True)

    tmp = tempfile.mkdtemp(prefix="ferrotel-docker-sd.")
    out = os.path.join(tmp, "metrics.jsonl")
    cfg = os.path.join(tmp, "config.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(run=run, out=out))
    proc = None
    try:
        start("exposed", True, True)
        start("plain", True, False)
        start("other", False, True)
        proc = subprocess.Popen([args.ferrotel, "--config", cfg], stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(tmp, "log"), "w"))
        seen = {}
        deadline = time.time() + 15
        while time.time() < deadline:
            time.sleep(1)
            seen = scraped(out)
            if names["exposed"] in seen and names["plain"] in seen:
                break
        check(seen.get(names["exposed"]) == "svc-exposed",
              "a container exposing the port is discovered and scraped, labels relabelled",
              f"{seen}")
        check(seen.get(names["plain"]) == "svc-plain",
              "a container exposing nothing is scraped on the configured port", f"{seen}")
        check(names["other"] not in seen, "a container without the filter's label is not",
              f"{seen}")
        start("late", True, True)
        deadline = time.time() + 12
        while time.time() < deadline and names["late"] not in seen:
            time.sleep(1)
            seen = scraped(out)
        check(seen.get(names["late"]) == "svc-late",
              "a container started later is discovered at the next refresh", f"{seen}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for n in names.values():
            subprocess.run(["docker", "rm", "-f", n], capture_output=True)
    check(proc is not None and proc.returncode == 0, "ferrotel stops cleanly",
          "" if proc is None else f"exit {proc.returncode}: "
          + open(os.path.join(tmp, "log")).read()[-2000:])
    shutil.rmtree(tmp, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
