"""payments: logs JSON lines with structlog to stdout, with a trace id on each request.

Lines look like:
  {"event": "charge captured", "logger": "payments", "amount": 42.5, "request_id": "...",
   "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "level": "info", "timestamp": "2025-01-01T12:00:00.123456Z"}
"""

import random
import secrets
import time
import uuid

import structlog

structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.JSONRenderer(),
    ],
    logger_factory=structlog.PrintLoggerFactory(),
)
log = structlog.get_logger().bind(logger="payments")

while True:
    request_id = uuid.uuid4().hex[:12]
    trace_id = secrets.token_hex(16)
    amount = round(random.uniform(5, 500), 2)
    if random.random() < 0.08:
        log.error("charge failed", request_id=request_id, trace_id=trace_id, amount=amount, reason="card_expired")
    else:
        log.info("charge captured", request_id=request_id, trace_id=trace_id, amount=amount)
    time.sleep(0.5)
