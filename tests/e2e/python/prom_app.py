"""A Prometheus target made with the official Python client, for the prometheus receiver's
end-to-end tests: a labelled counter, a ticking counter, a gauge, a histogram and a summary,
served on 127.0.0.1:PORT. Exits by itself after --lifetime seconds."""

import argparse
import threading
import time

from prometheus_client import Counter, Gauge, Histogram, Summary, start_http_server


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lifetime", type=float, default=180.0)
    p.add_argument(
        "--ephemeral-for",
        type=float,
        default=0.0,
        help="serve app_ephemeral{kind=\"gone\"} for this long, then remove it",
    )
    p.add_argument("--certfile", help="serve HTTPS with this certificate")
    p.add_argument("--keyfile")
    args = p.parse_args()

    requests = Counter("app_requests", "Requests served.", ["method", "code"])
    ticks = Counter("app_ticks", "Ten ticks a second.")
    temperature = Gauge("app_temperature", "A gauge.")
    latency = Histogram(
        "app_latency_seconds", "Latency.", buckets=(0.1, 0.5, 1.0, 2.5, 5.0)
    )
    size = Summary("app_payload_bytes", "Payload sizes.")

    # fixed values, so a scrape at any moment sees the same numbers
    requests.labels(method="get", code="200").inc(42)
    requests.labels(method="post", code="500").inc(7)
    temperature.set(21.5)
    for v in [0.05] * 10 + [0.3] * 30 + [0.7] * 40 + [2.0] * 15 + [4.0] * 5:
        latency.observe(v)
    for v in (100, 200, 300):
        size.observe(v)

    start_http_server(
        args.port, addr="127.0.0.1", certfile=args.certfile, keyfile=args.keyfile
    )
    print("serving", flush=True)

    def tick():
        while True:
            ticks.inc()
            time.sleep(0.1)

    threading.Thread(target=tick, daemon=True).start()
    if args.ephemeral_for > 0:
        ephemeral = Gauge("app_ephemeral", "A series that goes away.", ["kind"])
        ephemeral.labels(kind="gone").set(1)
        time.sleep(args.ephemeral_for)
        ephemeral.remove("gone")
    time.sleep(args.lifetime)


if __name__ == "__main__":
    main()
