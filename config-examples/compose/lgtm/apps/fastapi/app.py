"""shop: a FastAPI service instrumented with the OpenTelemetry SDK.

Traces, metrics and logs go to Ferrotel over OTLP/gRPC (OTEL_EXPORTER_OTLP_ENDPOINT,
http://otel-collector:4317). GET /checkout calls the Flask `inventory` service, so one trace
spans both services; every log record carries the trace id of the request it belongs to.
"""

import logging
import os

import httpx
from fastapi import FastAPI, HTTPException
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_ENDPOINT come from
# docker-compose.yaml; Resource.create() and the exporters read them.
resource = Resource.create()

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(tracer_provider)

metrics.set_meter_provider(
    MeterProvider(
        resource=resource,
        metric_readers=[
            PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=10_000)
        ],
    )
)

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
set_logger_provider(logger_provider)
logging.basicConfig(level=logging.INFO)
logging.getLogger().addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
log = logging.getLogger("shop")

meter = metrics.get_meter("shop")
orders = meter.create_counter("shop.orders", unit="{order}", description="Orders placed")

INVENTORY_URL = os.environ.get("INVENTORY_URL", "http://inventory:8000")

app = FastAPI(title="shop")
FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz")
HTTPXClientInstrumentor().instrument()


@app.get("/checkout")
async def checkout(item: str = "book"):
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"{INVENTORY_URL}/stock/{item}")
    if response.status_code != 200:
        log.error(
            "checkout failed: inventory answered %s for %s",
            response.status_code,
            item,
            extra={"route": "/checkout"},
        )
        orders.add(1, {"item": item, "outcome": "failed"})
        raise HTTPException(status_code=503, detail="inventory unavailable")
    stock = response.json()["stock"]
    log.info("order placed for %s (stock %s)", item, stock, extra={"route": "/checkout"})
    orders.add(1, {"item": item, "outcome": "ok"})
    return {"item": item, "stock": stock}


@app.get("/healthz")
async def healthz():
    return {"ok": True}
