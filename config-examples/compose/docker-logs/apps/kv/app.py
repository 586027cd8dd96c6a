"""orders: logs with structlog's key=value renderer to stdout, as many Python services do.

Lines look like:
  timestamp='2025-01-01T12:00:00Z' level='info' event='order accepted' logger='orders' order_id=17 request_id='9f1c...'
"""

import random
import time
import uuid

import structlog

structlog.configure(
    processors=[
        structlog.processors.TimeStamper(fmt="%Y-%m-%dT%H:%M:%SZ", utc=True, key="timestamp"),
        structlog.processors.add_log_level,
        structlog.processors.KeyValueRenderer(
            key_order=["timestamp", "level", "event", "logger"], drop_missing=True
        ),
    ],
    logger_factory=structlog.PrintLoggerFactory(),
)
log = structlog.get_logger().bind(logger="orders")

order_id = 0
while True:
    order_id += 1
    request_id = uuid.uuid4().hex[:12]
    roll = random.random()
    if roll < 0.05:
        log.error("payment declined", order_id=order_id, request_id=request_id, amount=round(random.uniform(5, 500), 2))
    elif roll < 0.15:
        log.warning("slow inventory answer", order_id=order_id, request_id=request_id, took_ms=random.randint(500, 3000))
    else:
        log.info("order accepted", order_id=order_id, request_id=request_id, items=random.randint(1, 5))
    time.sleep(1)
