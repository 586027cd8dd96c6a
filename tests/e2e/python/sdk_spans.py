"""Create spans with the real OpenTelemetry Python SDK (BatchSpanProcessor, OTLP exporter)
and report what the SDK itself saw: spans created, spans it dropped (created but never exported: its queue was full), each
export's latency and outcome. Used by the end-to-end tests and by bench/sdk.sh.

Prints one JSON object on stdout.
"""

import argparse
import json
import logging
import statistics
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult


class Counting(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.dropped = 0
        self.other = []

    def emit(self, record):
        msg = record.getMessage()
        if "Queue full, dropping" in msg:
            self.dropped += 1
        else:
            self.other.append(msg[:300])


class Timed:
    """Wraps an exporter and times every export call."""

    def __init__(self, inner):
        self.inner = inner
        self.latencies = []
        self.failures = 0
        self.exported = 0

    def export(self, spans):
        start = time.perf_counter()
        result = self.inner.export(spans)
        self.latencies.append(time.perf_counter() - start)
        if result == SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failures += 1
        return result

    def shutdown(self, *args, **kwargs):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True, help="host:port (gRPC) or http://host:port (HTTP)")
    p.add_argument("--spans", type=int, default=0, help="spans to create (0: until --seconds)")
    p.add_argument("--seconds", type=float, default=0.0, help="create spans for this long")
    p.add_argument("--pause-every", type=int, default=0, help="pause after this many spans")
    p.add_argument("--pause-ms", type=float, default=0.0)
    p.add_argument("--service", default="sdk-client")
    args = p.parse_args()

    counting = Counting()
    logging.getLogger("opentelemetry").addHandler(counting)

    if args.endpoint.startswith("http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        inner = OTLPSpanExporter(endpoint=args.endpoint.rstrip("/") + "/v1/traces")
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        inner = OTLPSpanExporter(endpoint=args.endpoint, insecure=True)
    exporter = Timed(inner)
    provider = TracerProvider(resource=Resource.create({"service.name": args.service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))  # SDK defaults
    tracer = provider.get_tracer("ferrotel-tests")

    created = 0
    start = time.perf_counter()
    while True:
        if args.spans and created >= args.spans:
            break
        if not args.spans and time.perf_counter() - start >= args.seconds:
            break
        with tracer.start_as_current_span(f"span-{created}") as span:
            span.set_attribute("seq", created)
        created += 1
        if args.pause_every and created % args.pause_every == 0:
            time.sleep(args.pause_ms / 1000)
    create_s = time.perf_counter() - start
    provider.force_flush()
    provider.shutdown()
    lat = sorted(exporter.latencies) or [0.0]
    print(
        json.dumps(
            {
                "created": created,
                "create_seconds": round(create_s, 3),
                # spans created but never exported: the SDK's queue dropped them (it logs
                # "Queue full" only now and then, so the log count is a lower bound)
                "dropped": created - exporter.exported,
                "queue_full_warnings": counting.dropped,
                "exported": exporter.exported,
                "exports": len(exporter.latencies),
                "export_failures": exporter.failures,
                "export_p50_ms": round(statistics.median(lat) * 1000, 2),
                "export_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
                "export_max_ms": round(lat[-1] * 1000, 2),
                "warnings": counting.other[:5],
            }
        )
    )


if __name__ == "__main__":
    main()
