"""inventory: a Flask service instrumented with the OpenTelemetry SDK.

Traces, metrics and logs go to Ferrotel over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT,
http://otel-collector:4318). GET /stock/<item> answers a random stock level, slowly now and
then, and fails one time in ten, so there are errors and latency to look at.
"""

import logging
import os
import random
import time

from flask import Flask, jsonify
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

# OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_ENDPOINT come from
# docker-compose.yaml; the HTTP exporters append /v1/traces, /v1/metrics, /v1/logs.
resource = Resource.create()

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(tracer_provider)
tracer = trace.get_tracer("inventory")

metrics.set_meter_provider(
    MeterProvider(
        resource=resource,
        metric_readers=[
            PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=10_000)
        ],
    )
)
meter = metrics.get_meter("inventory")
# milliseconds: the SDK's default histogram buckets (0, 5, 10, 25, ... 10000) are meant for
# ms; seconds would all land in the first bucket
lookups = meter.create_histogram("inventory.lookup.duration", unit="ms", description="Stock lookups")

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
set_logger_provider(logger_provider)
logging.basicConfig(level=logging.INFO)
logging.getLogger().addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
log = logging.getLogger("inventory")

app = Flask(__name__)
FlaskInstrumentor().instrument_app(app, excluded_urls="healthz")


@app.get("/stock/<item>")
def stock(item: str):
    start = time.monotonic()
    with tracer.start_as_current_span("inventory.lookup") as span:
        span.set_attribute("inventory.item", item)
        time.sleep(random.choice([0.005, 0.01, 0.02, 0.3]))
        if random.random() < 0.1:
            span.set_status(Status(StatusCode.ERROR, "lookup failed"))
            log.warning("stock lookup failed for %s", item, extra={"route": "/stock"})
            lookups.record((time.monotonic() - start) * 1000, {"outcome": "failed"})
            return jsonify(error="lookup failed"), 500
        level = random.randint(0, 20)
        log.info("stock for %s is %d", item, level, extra={"route": "/stock"})
        lookups.record((time.monotonic() - start) * 1000, {"outcome": "ok"})
        return jsonify(item=item, stock=level)


@app.get("/healthz")
def healthz():
    return jsonify(ok=True)


if __name__ == "__main__":
    app.run(
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "8000")),
        threaded=True,
    )
