#!/usr/bin/env python3
"""The seeds' Docker logs scenario, end to end with a real Docker engine.

    ci/docker/scenario.py --image ferrotel:scenario --busybox ferrotel-busybox:scenario

Services (busybox on scratch, in a Compose project run by Debian's docker-compose, json-file
logging rotated at 1 MB with 3 files) print structlog key='value' lines, JSON lines,
multi-line tracebacks and lines over 16 KiB to stdout and stderr, every record carrying a
sequence number. An *agent* Ferrotel container tails /var/lib/docker/containers read-only
(filelog + container + docker_metadata + the seeds' parsers, checkpoints in file_storage on
a named volume, a persistent sending queue) and exports OTLP/gRPC to a *backend* Ferrotel
container, which exports OTLP/HTTP JSON to this script's sink.

Why this backend: there is no `file` exporter yet and the `loki` receiver does not exist; the
debug exporter's text is not meant to be parsed back (bodies with newlines, 16 KiB lines).
OTLP/JSON from a second Ferrotel keeps every field exact and needs nothing but the Python
standard library. Both Ferrotel containers use host networking and bind 127.0.0.1 only, so
the sink listens on loopback and no port is published.

Checks: every record arrives exactly once (missing = 0, duplicates counted and bounded),
with the labels the seeds' Alloy config gives (service, container, project, job, level), across
Docker's rotations under load, a `docker restart` and a `docker kill` of the agent
mid-stream; a container started later is picked up within a few poll intervals; a removed
container's files are let go; the agent never reads its own log; its log stays bounded;
`docker stop` exits 0 within Docker's 10 s; the image's HEALTHCHECK turns healthy.
Prints the counts and a last line `N passed, N failed`; exits 1 on any failure. Everything it
creates (containers, the volume, temporary files) is removed at the end, failure or not.
"""

import argparse
import gzip
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

SEQ = re.compile(r"""seq['"]?\s*[=:]\s*(\d+)""")
LEVEL = re.compile(r"""level['"]?\s*[=:]\s*['"]([a-z]+)['"]""")

RESULTS = []

# container id -> Compose service, for the services' containers: a record is attributed to
# its service by the container its file belongs to (`container.id`, taken from the log file's
# path), not by its `service.name` label, so a record that arrives without its labels counts
# as arrived and fails the labels check instead of passing for missing
CONTAINERS = {}


def service_of(r):
    return CONTAINERS.get(r["container_id"]) or r["service"]


def check(name, ok, detail=""):
    RESULTS.append((name, bool(ok)))
    print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def run(*args, check_rc=True, timeout=120, quiet=False):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    if not quiet and p.stderr.strip() and p.returncode != 0:
        print(p.stderr.strip()[-2000:], file=sys.stderr)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------- the sink


class Sink:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = []  # dicts
        self.requests = 0
        self.bad = 0

    def add(self, payload):
        now = time.time()
        out = []
        for rl in payload.get("resourceLogs", []):
            res = {}
            for kv in rl.get("resource", {}).get("attributes", []):
                v = kv.get("value", {})
                res[kv["key"]] = v.get("stringValue", v.get("intValue"))
            for sl in rl.get("scopeLogs", []):
                for r in sl.get("logRecords", []):
                    body = r.get("body", {}).get("stringValue", "")
                    out.append(
                        {
                            "service": res.get("service.name"),
                            "compose_service": res.get("docker.compose.service"),
                            "container": res.get("container.name"),
                            "container_id": res.get("container.id"),
                            "project": res.get("docker.compose.project"),
                            "job": res.get("job"),
                            "severity": r.get("severityText", ""),
                            "body": body,
                            "at": now,
                        }
                    )
        with self.lock:
            self.records.extend(out)
            self.requests += 1

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def serve(self):
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(n)
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                try:
                    sink.add(json.loads(data))
                    code, answer = 200, b"{}"
                except Exception as e:  # a bad request must be seen, not swallowed
                    print(f"sink: bad request: {e}", file=sys.stderr)
                    with sink.lock:
                        sink.bad += 1
                    code, answer = 400, b"{}"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *a):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


# ------------------------------------------------------------------------- what services print

# orders: structlog key='value' lines on stdout, a Python traceback on stderr every 97th
ORDERS = r"""
i=0
while [ $i -lt $N ]; do
  ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  j=0
  while [ $j -lt 100 ] && [ $i -lt $N ]; do
    i=$((i+1)); j=$((j+1))
    if [ $((i % 97)) -eq 0 ]; then
      printf 'Traceback (most recent call last):\n  File "/app/orders.py", line 42, in place_order\n    charge(order)\nValueError: payment declined seq=%d\n' $i >&2
    elif [ $((i % 10)) -eq 0 ]; then
      printf "timestamp='%s' level='warning' event='slow order' seq=%d order_id='o-%d' logger='orders'\n" $ts $i $i
    else
      printf "timestamp='%s' level='info' event='order placed' seq=%d order_id='o-%d' amount=%d.50 logger='orders'\n" $ts $i $i $((i % 500))
    fi
  done
  usleep $PAUSE
done
echo "timestamp='$ts' level='info' event='done' seq=0 logger='orders'"
exec sleep 3600
"""

# payments: JSON lines on stdout, JSON errors on stderr every 13th, a 20 KB line every 500th
PAYMENTS = r"""
pad=$(printf '%20000s' | tr ' ' x)
i=0
while [ $i -lt $N ]; do
  ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  j=0
  while [ $j -lt 100 ] && [ $i -lt $N ]; do
    i=$((i+1)); j=$((j+1))
    if [ $((i % 13)) -eq 0 ]; then
      printf '{"timestamp": "%s", "level": "error", "event": "card declined", "seq": %d, "logger": "payments"}\n' $ts $i >&2
    elif [ $((i % 500)) -eq 0 ]; then
      printf '{"timestamp": "%s", "level": "info", "event": "big payload", "seq": %d, "pad": "%s"}\n' $ts $i $pad
    else
      printf '{"timestamp": "%s", "level": "info", "event": "payment captured", "seq": %d, "amount": %d, "logger": "payments"}\n' $ts $i $((i % 700))
    fi
  done
  usleep $PAUSE
done
exec sleep 3600
"""

# late and gone: a few key='value' lines, then wait
SMALL = r"""
ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
i=0
while [ $i -lt $N ]; do
  i=$((i+1))
  printf "timestamp='%s' level='info' event='tick' seq=%d logger='%s'\n" $ts $i $NAME
done
exec sleep 3600
"""

SERVICES = {
    # name: (script, records, pause between 100 lines in µs)
    "orders": (ORDERS, 40000, 30000),
    "payments": (PAYMENTS, 30000, 30000),
    "late": (SMALL, 2000, 0),
    "gone": (SMALL, 2000, 0),
}


def compose_file(args, ports):
    logging = {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}}
    services = {
        "backend": {
            "image": args.image,
            "network_mode": "host",
            "volumes": ["./backend-config.yaml:/etc/otelcol/config.yaml:ro"],
            "logging": logging,
            "healthcheck": {"interval": "1s", "timeout": "5s", "retries": 3},
        },
        "agent": {
            "image": args.image,
            "network_mode": "host",
            # Docker's log files are root-only
            "user": "0:0",
            "volumes": [
                "./agent-config.yaml:/etc/otelcol/config.yaml:ro",
                "/var/lib/docker/containers:/var/lib/docker/containers:ro",
                "checkpoints:/var/lib/otelcol/file_storage",
            ],
            "logging": logging,
            # the image's HEALTHCHECK test, checked more often than its 10 s
            "healthcheck": {"interval": "1s", "timeout": "5s", "retries": 3},
        },
    }
    for name, (script, n, pause) in SERVICES.items():
        services[name] = {
            "image": args.busybox,
            "network_mode": "none",
            # `$$`: a literal `$` for the shell, not Compose's interpolation
            "command": [script.replace("$", "$$")],
            "environment": {"N": str(n), "PAUSE": str(pause), "NAME": name},
            "logging": logging,
            "stop_grace_period": "1s",
        }
    return {"version": "2.4", "services": services, "volumes": {"checkpoints": {}}}


AGENT = """
extensions:
  health_check:
    endpoint: 127.0.0.1:{agent_health}
  file_storage:
    directory: /var/lib/otelcol/file_storage
    create_directory: true
receivers:
  filelog/docker:
    # the rotated files too: what a restart finds renamed to .1 is read to its end
    include: [/var/lib/docker/containers/*/*-json.log*]
    exclude: ['/var/lib/docker/containers/*/*.gz']
    start_at: end
    storage: file_storage
    resource:
      job: docker
    operators:
      - type: container
        format: docker
        docker_metadata: true
      # tracebacks come on stderr, one Docker line per line: join them per container
      - type: router
        routes:
          - output: tracebacks
            expr: 'attributes["log.iostream"] == "stderr"'
        default: shape
      - type: recombine
        id: tracebacks
        combine_field: body
        combine_with: "\\n"
        is_first_entry: 'body matches "^(Traceback|\\\\{{|\\\\w+=)"'
        source_identifier: resource["container.id"]
        force_flush_period: 1s
        output: shape
      - type: router
        id: shape
        routes:
          - output: json
            expr: 'body matches "^\\\\s*\\\\{{"'
        default: kv
      - type: json_parser
        id: json
        output: level
        timestamp:
          parse_from: attributes.timestamp
          layout_type: gotime
          layout: '2006-01-02T15:04:05.999999999Z07:00'
      - type: key_value_parser
        id: kv
        output: level
        timestamp:
          parse_from: attributes.timestamp
          layout: '%Y-%m-%dT%H:%M:%SZ'
      - type: severity_parser
        id: level
        parse_from: attributes.level
        if: 'attributes.level != nil'
exporters:
  otlp:
    endpoint: 127.0.0.1:{backend_grpc}
    tls:
      insecure: true
    sending_queue:
      storage: file_storage
service:
  extensions: [health_check, file_storage]
  telemetry:
    metrics:
      address: 127.0.0.1:{agent_metrics}
  pipelines:
    logs:
      receivers: [filelog/docker]
      exporters: [otlp]
"""

BACKEND = """
extensions:
  health_check:
    endpoint: 127.0.0.1:{backend_health}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{backend_grpc}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:{sink}
    encoding: json
    compression: none
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{backend_metrics}
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
"""


class Project:
    def __init__(self, name, folder):
        self.name = name
        self.folder = folder

    def compose(self, *args, timeout=120, check_rc=True):
        return run(
            "docker-compose",
            "--ansi",
            "never",
            "-p",
            self.name,
            "-f",
            os.path.join(self.folder, "docker-compose.yaml"),
            *args,
            timeout=timeout,
            check_rc=check_rc,
        )

    def container(self, service):
        p = self.compose("ps", "-q", service)
        ids = p.stdout.split()
        if not ids:
            raise RuntimeError(f"no container for {service}")
        return ids[0]

    def inspect(self, service, fmt):
        return run("docker", "inspect", "-f", fmt, self.container(service)).stdout.strip()


def wait(what, cond, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def scenario(args, sink, sink_port, folder):
    ports = {
        "agent_health": free_port(),
        "agent_metrics": free_port(),
        "backend_grpc": free_port(),
        "backend_health": free_port(),
        "backend_metrics": free_port(),
        "sink": sink_port,
    }
    with open(os.path.join(folder, "agent-config.yaml"), "w") as f:
        f.write(AGENT.format(**ports))
    with open(os.path.join(folder, "backend-config.yaml"), "w") as f:
        f.write(BACKEND.format(**ports))
    with open(os.path.join(folder, "docker-compose.yaml"), "w") as f:
        json.dump(compose_file(args, ports), f, indent=1)  # JSON is YAML
    project = Project(args.project, folder)
    t_start = time.monotonic()

    # 1. the collectors, healthy by the image's HEALTHCHECK
    project.compose("up", "-d", "backend", "agent")
    healthy = wait(
        "agent healthy",
        lambda: project.inspect("agent", "{{.State.Health.Status}}") == "healthy",
        30,
    )
    check("HEALTHCHECK turns healthy (agent, health_check read from --config)", healthy)
    wait(
        "backend healthy",
        lambda: project.inspect("backend", "{{.State.Health.Status}}") == "healthy",
        30,
    )
    agent_id = project.container("agent")
    first_logs = run("docker", "logs", agent_id).stderr + run("docker", "logs", agent_id).stdout
    check(
        "no 'Resuming from previously known offset(s)' on a first start",
        "Resuming" not in first_logs,
    )

    # 2. the services, under json-file rotation
    project.compose("up", "-d", "orders", "payments", "gone")
    for svc in ("orders", "payments", "gone"):
        CONTAINERS[project.container(svc)] = svc
    time.sleep(3)

    # 3. docker restart of the agent mid-stream (SIGTERM, drain, start again)
    t = time.monotonic()
    at_restart = written(project)
    project.compose("restart", "-t", "10", "agent")
    restart_s = time.monotonic() - t
    print(f"agent restarted at {at_restart} in {restart_s:.1f}s", flush=True)
    time.sleep(3)

    # 4. docker kill (SIGKILL) of the agent mid-stream, then start it again
    # mid-stream whatever the machine's speed: once orders is half way
    wait("orders half way", lambda: last_seq(project, "orders") >= SERVICES["orders"][1] // 2, 60, 0.1)
    at_kill = written(project)
    run("docker", "kill", "-s", "KILL", agent_id)
    # down until the services wrote more than one request a gRPC server accepts (4 MiB) can
    # hold, so the first poll after the start must hand its records on in several
    killed_at = last_seq(project, "orders")
    wait("written while down", lambda: last_seq(project, "orders") >= killed_at + 6000 or last_seq(project, "orders") == 0, 30, 0.1)
    at_start = written(project)
    run("docker", "start", agent_id)
    print(f"agent killed (SIGKILL) at {at_kill} and started again at {at_start}", flush=True)
    resumed = wait(
        "resumed",
        lambda: "Resuming from previously known offset(s)" in run("docker", "logs", agent_id).stderr,
        20,
    )
    check("after a restart the checkpoints are loaded ('Resuming ...')", resumed)

    # 5. a container started after the collector is picked up within a few poll intervals
    wait("agent healthy again", lambda: project.inspect("agent", "{{.State.Health.Status}}") == "healthy", 30)
    project.compose("up", "-d", "late")
    CONTAINERS[project.container("late")] = "late"
    started = parse_time(project.inspect("late", "{{.State.StartedAt}}"))
    got = wait("late picked up", lambda: [r["at"] for r in sink.snapshot() if service_of(r) == "late"], 30, 0.05)
    late_s = min(got) - started if got else float("inf")
    check(
        "a container started after the collector is picked up (poll_interval 200ms)",
        late_s < 3,
        f"first record {late_s:.2f}s after the container started",
    )

    # 6. a removed container's files are let go
    gone_id = project.container("gone")
    wait("gone delivered", lambda: seqs(sink, "gone") >= set(range(1, SERVICES["gone"][1] + 1)), 30)
    project.compose("rm", "-s", "-f", "gone")
    agent_pid = project.inspect("agent", "{{.State.Pid}}")

    def holds_gone():
        fds = f"/proc/{agent_pid}/fd"
        held = []
        for fd in os.listdir(fds):
            try:
                target = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue
            if gone_id in target:
                held.append(target)
        return held

    let_go = wait("files let go", lambda: not holds_gone(), 10)
    check("a removed container's files are let go", let_go, "" if let_go else str(holds_gone()))

    # 7. everything delivered
    expected = {name: set(range(1, n + 1)) for name, (_, n, _) in SERVICES.items()}
    wait(
        "all delivered",
        lambda: all(seqs(sink, name) >= expected[name] for name in ("orders", "payments", "late")),
        args.deadline,
        0.5,
    )
    time.sleep(2)  # anything sent twice arrives too

    # what the agent and the backend counted as failed or dropped (printed when something
    # is missing)
    def read_metrics(port):
        try:
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return r.read().decode()
        except Exception as e:
            return f"(metrics not read: {e})"

    agent_metrics = read_metrics(ports["agent_metrics"])
    backend_metrics = read_metrics(ports["backend_metrics"])

    # 8. docker stop: SIGTERM, drained, exit 0 within Docker's 10 s
    t = time.monotonic()
    project.compose("stop", "-t", "10", "agent")
    stop_s = time.monotonic() - t
    code = project.inspect("agent", "{{.State.ExitCode}}")
    check("docker stop: exit 0 within 10 s", code == "0" and stop_s < 10, f"exit {code} after {stop_s:.1f}s")

    # the counts
    records = sink.snapshot()
    names = {}
    for svc in SERVICES:
        try:
            names[svc] = project.inspect(svc, "{{.Name}}").lstrip("/")
        except RuntimeError:
            names[svc] = None
    agent_name = project.inspect("agent", "{{.Name}}").lstrip("/")
    print(f"\n{'service':10} {'sent':>7} {'received':>9} {'unique':>7} {'missing':>8} {'dups':>6}")
    total_sent = total_dups = total_missing = 0
    for svc, (_, n, _) in SERVICES.items():
        got = [r for r in records if service_of(r) == svc]
        counts = {}
        for r in got:
            m = SEQ.search(r["body"])
            if m and int(m.group(1)) > 0:
                counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
        missing = len(expected[svc] - set(counts))
        dups = sum(c - 1 for c in counts.values())
        total_sent += n
        total_dups += dups
        total_missing += missing
        print(f"{svc:10} {n:7} {len(got):9} {len(counts):7} {missing:8} {dups:6}")
        if missing:
            print(f"           missing: {ranges(sorted(expected[svc] - set(counts)))}")
    print(f"{'all':10} {total_sent:7} {'':9} {'':7} {total_missing:8} {total_dups:6}\n")
    if not check("every record arrives (missing = 0)", total_missing == 0, f"{total_missing} missing"):
        # enough to tell where they went: both collectors' failure counters and their logs'
        # errors (the backend's exporter to the sink included)
        for who, text in (("agent", agent_metrics), ("backend", backend_metrics)):
            for line in text.splitlines():
                if not line.startswith("#") and re.search(r"fail|refus|drop|discard|sent_log", line):
                    print(f"    {who} metric: {line}")
        for who in ("agent", "backend"):
            log = run("docker", "logs", project.container(who), check_rc=False, quiet=True)
            errors = [l for l in (log.stdout + log.stderr).splitlines() if re.search(r"ERROR|WARN|Resuming|signal|Dropping", l)]
            for line in errors[:30]:
                print(f"    {who} log: {line[:400]}")
        print(f"    sink: {sink.requests} requests, {sink.bad} refused as bad")
    # each restart or kill may send again what was read but not yet checkpointed: at most
    # one poll's batch (10,000 records) per interruption
    check("duplicates bounded (≤ 10,000 per interruption, 2 interruptions)", total_dups <= 20000, f"{total_dups} duplicates")

    # labels as the seeds' Alloy config gives them: service, container, project, job, level
    bad = []
    ours = [r for r in records if service_of(r) in SERVICES]
    for r in ours:
        svc = service_of(r)
        want = {
            "service": svc,
            "compose_service": svc,
            "project": args.project,
            "job": "docker",
        }
        if names.get(svc):
            want["container"] = names[svc]
        for k, v in want.items():
            if r[k] != v:
                bad.append(f"{svc}: {k}={r[k]!r}, want {v!r}")
        m = LEVEL.search(r["body"])
        if m and "Traceback" not in r["body"] and r["severity"] != m.group(1):
            bad.append(f"{svc}: severity {r['severity']!r} for level {m.group(1)!r} ({len(r['body'])} bytes)")
    unlabelled = {}
    for r in ours:
        m = SEQ.search(r["body"])
        if r["service"] != service_of(r) and m:
            unlabelled.setdefault(service_of(r), []).append(int(m.group(1)))
    for svc, ns in unlabelled.items():
        print(f"           {svc}: {len(ns)} records without their labels: {ranges(sorted(ns))}")
    check("labels: service, container, project, job=docker, level", not bad and ours, f"{len(bad)} wrong: " + "; ".join(sorted(set(bad))[:5]))

    # multi-line tracebacks arrive as one record each; lines over 16 KiB arrive whole
    tracebacks = [r for r in ours if r["body"].startswith("Traceback")]
    whole = [r for r in tracebacks if r["body"].count("\n") == 3 and "ValueError: payment declined seq=" in r["body"]]
    broken_tb = [r for r in ours if service_of(r) == "orders" and ("Traceback" in r["body"] or "ValueError" in r["body"]) and r not in whole]
    check(
        "tracebacks arrive as one record (4 lines)",
        tracebacks and not broken_tb,
        f"{len(whole)}/{len(tracebacks)} whole"
        + "".join(f"; broken: {r['body'][:200]!r}" for r in broken_tb[:3]),
    )
    big = [r for r in ours if '"big payload"' in r["body"]]
    big_whole = [r for r in big if len(r["body"]) > 20000 and r["body"].endswith("}")]
    broken = [r for r in big if r not in big_whole]
    check(
        "lines over 16 KiB arrive whole",
        big and not broken,
        f"{len(big_whole)}/{len(big)} whole"
        + "".join(f"; broken: {len(r['body'])} bytes {r['body'][:60]!r}...{r['body'][-30:]!r}" for r in broken[:3]),
    )
    # parts of a split line that arrived as records of their own
    stray = [r for r in ours if r["body"].startswith("xxxx")]
    check("no part of a split line arrives alone", not stray, f"{len(stray)} stray parts")

    # never its own log; its log stays bounded
    own = [r for r in records if r["container"] == agent_name]
    check("the agent does not read its own container log", not own, f"{len(own)} records of {agent_name}")
    backend = [r for r in records if r["service"] == "backend"]
    print(f"records from the backend container's log: {len(backend)}")
    agent_log = run("docker", "logs", agent_id)
    lines = (agent_log.stdout + agent_log.stderr).splitlines()
    failed = [l for l in lines if "Failed to process entry" in l]
    longest = max((len(l) for l in lines), default=0)
    print(f"agent log: {len(lines)} lines, {len(failed)} 'Failed to process entry', longest {longest} bytes")
    check(
        "the agent's log stays bounded (sampled operator errors, no quoted input over 256 bytes)",
        len(lines) < 400 and longest < 2000,
        f"{len(lines)} lines, longest {longest} bytes",
    )
    print(f"scenario time: {time.monotonic() - t_start:.0f}s", flush=True)


def last_seq(project, svc):
    """The last sequence number a service has written (0 once it is done), -1 if unknown."""
    p = run("docker", "logs", "--tail", "5", project.container(svc), check_rc=False, quiet=True)
    if "event='done'" in p.stdout:
        return 0
    found = [int(n) for n in SEQ.findall(p.stdout + p.stderr)]
    return max(found) if found else -1


def written(project):
    """The last sequence number each busy service has written (for the log of the run)."""
    return ", ".join(f"{svc} {last_seq(project, svc)}" for svc in ("orders", "payments"))


def parse_time(text):
    """Docker's `2026-12-01T22:33:50.730098111Z` → seconds since the epoch."""
    import datetime

    main, _, frac = text.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + (float("0." + frac) if frac else 0.0)


def ranges(nums, limit=12):
    """`[1, 2, 3, 7]` → `1-3, 7` (the first `limit` ranges)."""
    out = []
    for n in nums:
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in out[:limit])
    return text + (f" ... ({len(out)} ranges)" if len(out) > limit else "")


def seqs(sink, service):
    out = set()
    for r in sink.snapshot():
        if service_of(r) == service:
            m = SEQ.search(r["body"])
            if m:
                out.add(int(m.group(1)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default="ferrotel:scenario")
    ap.add_argument("--busybox", default="ferrotel-busybox:scenario")
    ap.add_argument("--project", default=f"ferrotelscn{os.getpid()}", type=str.lower)
    ap.add_argument("--deadline", type=float, default=120, help="seconds to wait for delivery")
    ap.add_argument("--keep", action="store_true", help="leave the containers for inspection")
    args = ap.parse_args()

    try:
        run("docker", "info", timeout=20)
    except Exception as e:
        print(f"FAIL  no Docker engine: {e}\n0 passed, 1 failed")
        return 1
    for image in (args.image, args.busybox):
        if run("docker", "image", "inspect", image, check_rc=False, quiet=True).returncode != 0:
            print(f"FAIL  image {image} is not built (ci/docker/run.sh builds it)\n0 passed, 1 failed")
            return 1

    sink = Sink()
    server = sink.serve()
    folder = tempfile.mkdtemp(prefix="ferrotel-scenario-")
    project = Project(args.project, folder)
    try:
        scenario(args, sink, server.server_address[1], folder)
    except Exception as e:
        check("scenario ran to its end", False, f"{type(e).__name__}: {e}")
    finally:
        if not args.keep:
            project.compose("down", "-v", "--remove-orphans", "-t", "2", check_rc=False, timeout=120)
            subprocess.run(["rm", "-rf", folder])
        server.shutdown()
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
