"""What the Docker suite's scripts share: OTLP/JSON attribute lists as dicts, and the
`ok:`/`FAIL:` lines with the closing `N passed, N failed` that ci/docker/run.sh counts."""


def attrs(kvs):
    """An OTLP/JSON attribute list as {key: value}."""
    out = {}
    for kv in kvs or []:
        v = kv.get("value", {})
        out[kv["key"]] = next(iter(v.values()), None) if v else None
    return out


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"ok: {what}")
        else:
            self.failed += 1
            print(f"FAIL: {what} {detail}")

    def summary(self):
        """Print the closing line; the exit status."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1
