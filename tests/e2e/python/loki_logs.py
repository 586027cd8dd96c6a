"""Push log lines with the `python-logging-loki` handler (Loki's JSON push API, version 1
emitter) and report how many were sent. Each line i: "loki line <i>" at WARNING, tags
{"application": "py-loki"} plus the handler's own `severity` and `logger` labels.
"""

import argparse
import json
import logging

import logging_loki


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--lines", type=int, default=100)
    p.add_argument("--user", help="HTTP Basic credentials, with --password")
    p.add_argument("--password", default="")
    a = p.parse_args()
    auth = (a.user, a.password) if a.user else None
    handler = logging_loki.LokiHandler(
        url=a.url, tags={"application": "py-loki"}, version="1", auth=auth
    )
    logger = logging.getLogger("ferrotel-e2e")
    logger.propagate = False
    logger.addHandler(handler)
    errors = []
    handler.handleError = lambda record: errors.append(record.getMessage())
    for i in range(a.lines):
        logger.warning("loki line %d", i)
    print(json.dumps({"sent": a.lines, "errors": len(errors)}))


if __name__ == "__main__":
    main()
