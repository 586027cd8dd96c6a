"""Spans sent by the real Jaeger Python client (jaeger-client 4.8.0), which reports Thrift
`Agent.emitBatch` calls in the compact protocol over UDP, as a Jaeger agent receives them.

usage: jaeger_client_spans.py PORT N
prints a JSON report on stdout.
"""

import json
import sys
import time

from jaeger_client import Config


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": port},
            "reporter_queue_size": n * 2 + 10,
            "reporter_flush_interval": 0.2,
            "logging": False,
        },
        service_name="py-jaeger",
        validate=True,
    )
    tracer = config.initialize_tracer()
    for i in range(n):
        with tracer.start_active_span("parent-%d" % i) as parent:
            parent.span.set_tag("span.kind", "server")
            parent.span.set_tag("order.id", i)
            parent.span.set_tag("ratio", 0.5)
            parent.span.set_tag("cached", i % 2 == 0)
            if i % 3 == 0:
                parent.span.set_tag("error", True)
            with tracer.start_active_span("child-%d" % i) as child:
                child.span.set_tag("span.kind", "client")
                child.span.log_kv({"event": "retry", "attempt": i})
        # give the reporter's UDP sends some room
        if i % 50 == 49:
            time.sleep(0.05)
    time.sleep(0.5)
    # close() flushes what is still queued
    done = tracer.close()
    time.sleep(1.0)
    print(json.dumps({"sent": 2 * n, "closed": done is not None}))


if __name__ == "__main__":
    main()
