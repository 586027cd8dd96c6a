"""Send spans with the real OpenTelemetry Python SDK's Zipkin exporter
(opentelemetry-exporter-zipkin-json, Zipkin v2 JSON over HTTP) and report what the SDK saw.

Each span i: name "zipkin-op-<i>", kind SERVER, attributes order.id=<i> (int), region="eu"
(string), cached=<i is even> (bool), one event "checkpoint" with attribute step=<i>; every
third span ends with an ERROR status "boom-<i>". Prints one JSON object on stdout.
"""

import argparse
import json

from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode


class Counting:
    def __init__(self, inner):
        self.inner = inner
        self.exported = 0
        self.failures = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result == SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failures += 1
        return result

    def shutdown(self, *args, **kwargs):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--spans", type=int, default=100)
    a = p.parse_args()
    provider = TracerProvider(resource=Resource.create({"service.name": "py-zipkin"}))
    exporter = Counting(ZipkinExporter(endpoint=a.endpoint))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
    tracer = provider.get_tracer("zipkin-test", "0.1")
    for i in range(a.spans):
        with tracer.start_as_current_span(f"zipkin-op-{i}", kind=SpanKind.SERVER) as span:
            span.set_attribute("order.id", i)
            span.set_attribute("region", "eu")
            span.set_attribute("cached", i % 2 == 0)
            span.add_event("checkpoint", {"step": i})
            if i % 3 == 0:
                span.set_status(Status(StatusCode.ERROR, f"boom-{i}"))
    provider.force_flush()
    provider.shutdown()
    print(json.dumps({"created": a.spans, "exported": exporter.exported, "failures": exporter.failures}))


if __name__ == "__main__":
    main()
