"""Send spans of known names, kinds, statuses and durations with the real OpenTelemetry
Python SDK over OTLP/gRPC, for the spanmetrics end-to-end test: it computes the RED
metrics it expects from the same numbers.

    red_spans.py --endpoint 127.0.0.1:4317 --service shop \
        --span "GET /users,server,5,40,10" --span "SELECT users,client,30,20,0"

Each --span is name,kind,duration_ms,count,errors. Each --call client,server,count,errors
makes count requests from one service to another: a client span in the first service and,
as its child, a server span in the second (the pair the servicegraph connector joins).
Prints one JSON object on stdout.
"""

import argparse
import json
import time

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

KINDS = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--service", default="shop")
    p.add_argument("--span", action="append", default=[])
    p.add_argument("--call", action="append", default=[])
    args = p.parse_args()

    provider = TracerProvider(resource=Resource.create({"service.name": args.service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.endpoint, insecure=True)))
    tracer = provider.get_tracer("ferrotel-red-tests")
    sent = 0
    for spec in args.span:
        name, kind, ms, count, errors = spec.split(",")
        for i in range(int(count)):
            start = time.time_ns()
            span = tracer.start_span(name, kind=KINDS[kind], start_time=start)
            if i < int(errors):
                span.set_status(Status(StatusCode.ERROR, "failed"))
            span.end(end_time=start + int(float(ms) * 1_000_000))
            sent += 1
    providers = [provider]
    for spec in args.call:
        client, server, count, errors = spec.split(",")
        cp = TracerProvider(resource=Resource.create({"service.name": client}))
        sp = TracerProvider(resource=Resource.create({"service.name": server}))
        for pr in (cp, sp):
            pr.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.endpoint, insecure=True)))
            providers.append(pr)
        ct, st = cp.get_tracer("ferrotel-red-tests"), sp.get_tracer("ferrotel-red-tests")
        for i in range(int(count)):
            with ct.start_as_current_span("call " + server, kind=SpanKind.CLIENT):
                with st.start_as_current_span("handle", kind=SpanKind.SERVER) as s:
                    if i < int(errors):
                        s.set_status(Status(StatusCode.ERROR, "failed"))
            sent += 2
    for pr in providers:
        pr.force_flush()
        pr.shutdown()
    print(json.dumps({"sent": sent}))


if __name__ == "__main__":
    main()
