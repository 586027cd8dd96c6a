//! The metrics of Go's `httpcheck` receiver (its `metadata.yaml`: name, description, unit,
//! instrument, on by default, attributes), and those Ferrotel accepts in `metrics:` without
//! producing them.

use crate::hostmetrics::builder::{def, Def, Kind};

/// Every metric of the receiver has integer values.
const fn m(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    kind: Kind,
    enabled: bool,
    attributes: &'static [&'static str],
) -> Def {
    def(name, description, unit, kind, true, enabled, attributes)
}

const UPDOWN: Kind = Kind::Sum { monotonic: false };
const GAUGE: Kind = Kind::Gauge;
const URL: &[&str] = &["http.url"];
const VALIDATION: &[&str] = &["http.url", "validation.type"];

pub const DEFS: &[Def] = &[
    m("httpcheck.client.connection.duration", "Time spent establishing TCP connection to the endpoint.", "ms", GAUGE, false, &["http.url", "network.transport"]),
    m("httpcheck.client.request.duration", "Time spent sending the HTTP request to the endpoint.", "ms", GAUGE, false, URL),
    m("httpcheck.dns.lookup.duration", "Time spent performing DNS lookup for the endpoint.", "ms", GAUGE, false, URL),
    m("httpcheck.duration", "Measures the duration of the HTTP check.", "ms", GAUGE, true, URL),
    m("httpcheck.error", "Records errors occurring during HTTP check.", "{error}", UPDOWN, true, &["http.url", "error.message"]),
    m("httpcheck.response.duration", "Time spent receiving the HTTP response from the endpoint.", "ms", GAUGE, false, URL),
    m("httpcheck.response.size", "Size of response body in bytes.", "By", GAUGE, false, URL),
    m("httpcheck.status", "1 if the check resulted in status_code matching the status_class, otherwise 0.", "1", UPDOWN, true, &["http.url", "http.status_code", "http.method", "http.status_class"]),
    m("httpcheck.tls.cert_remaining", "Time in seconds until certificate expiry, as specified by `NotAfter` field in the x.509 certificate. Negative values represent time in seconds since expiration.", "s", GAUGE, false, &["http.url", "http.tls.issuer", "http.tls.cn", "http.tls.san"]),
    m("httpcheck.tls.handshake.duration", "Time spent performing TLS handshake with the endpoint.", "ms", GAUGE, false, URL),
    m("httpcheck.validation.failed", "Number of response validations that failed.", "{validation}", UPDOWN, false, VALIDATION),
    m("httpcheck.validation.passed", "Number of response validations that passed.", "{validation}", UPDOWN, false, VALIDATION),
    m("httpcheck.validation.result", "Result of a response validation (1 for each validation, with result attribute).", "{validation}", UPDOWN, false, &["http.url", "validation.type", "validation.expression", "validation.expected", "validation.result"]),
];

/// Metrics of the request's phases and of the server's certificate: accepted, not produced.
pub const NOT_MEASURED: &[&str] = &[
    "httpcheck.client.connection.duration",
    "httpcheck.client.request.duration",
    "httpcheck.dns.lookup.duration",
    "httpcheck.response.duration",
    "httpcheck.tls.cert_remaining",
    "httpcheck.tls.handshake.duration",
];
