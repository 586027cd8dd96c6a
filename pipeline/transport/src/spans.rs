//! The spans Go's confighttp and configgrpc servers and clients make for every request when
//! the collector traces itself (`service.telemetry.traces`): one server span per HTTP
//! request named `<METHOD> <route>` and one per gRPC call named after its method, with the
//! semantic conventions' attributes, children of a propagated `traceparent`/`b3` parent
//! when `propagators` asks for it (a receiver's own operation span is their child); and a
//! client span per gRPC call an exporter makes, whose context is sent on in `traceparent`
//! with the `tracecontext` propagator.

use std::net::SocketAddr;

use http::HeaderMap;
use pipeline_api::own_spans::{ActiveSpan, SpanContext, Tracer};
use pipeline_api::proto::tonic::trace::v1::span::SpanKind;
use pipeline_api::telemetry::ComponentTelemetry;

/// The instrumentation scopes of the server spans (the names Go's servers report, so
/// queries over the collector's own traces keep working).
const HTTP_SCOPE: &str = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp";
const GRPC_SCOPE: &str =
    "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc";

/// A tracer for a receiver's HTTP server spans.
pub fn http_tracer(telemetry: &ComponentTelemetry) -> Tracer {
    telemetry.tracer(HTTP_SCOPE)
}

/// A tracer for gRPC server spans (a receiver's) or client spans (an exporter's, with the
/// handle of one signal).
pub fn grpc_tracer(telemetry: &ComponentTelemetry) -> Tracer {
    telemetry.tracer(GRPC_SCOPE)
}

/// The parent a request carries in the headers the configured propagators read.
fn parent(tracer: &Tracer, headers: &HeaderMap) -> Option<SpanContext> {
    let p = tracer.hub().propagators();
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if p.tracecontext {
        if let Some(c) = get("traceparent").and_then(SpanContext::from_traceparent) {
            return Some(c);
        }
    }
    if p.b3 {
        let multi = match (get("x-b3-traceid"), get("x-b3-spanid")) {
            (Some(t), Some(s)) => Some((t, s, get("x-b3-sampled"))),
            _ => None,
        };
        if let Some(c) = SpanContext::from_b3(get("b3"), multi) {
            return Some(c);
        }
    }
    None
}

/// Go's `standardizeHTTPMethod`: a known method as it is, anything else as `fallback`.
fn standard_method<'a>(method: &'a str, fallback: &'a str) -> &'a str {
    match method {
        "CONNECT" | "DELETE" | "GET" | "HEAD" | "OPTIONS" | "PATCH" | "POST" | "PUT" | "TRACE" => {
            method
        }
        _ => fallback,
    }
}

/// Start the server span of one HTTP request; `route` is the handler's pattern if one
/// matched (the span is then `<METHOD> <route>`, else `<METHOD>`).
pub fn start_http<B>(
    tracer: &Tracer,
    req: &http::Request<B>,
    peer: SocketAddr,
    tls: bool,
    route: Option<&str>,
) -> Option<ActiveSpan> {
    if !tracer.hub().enabled() {
        return None;
    }
    let method = req.method().as_str();
    let name = match route {
        Some(r) => format!("{} {r}", standard_method(method, "HTTP")),
        None => standard_method(method, "HTTP").to_string(),
    };
    let mut span = tracer.start(&name, SpanKind::Server, parent(tracer, req.headers()))?;
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let authority = host.and_then(|h| h.parse::<http::uri::Authority>().ok());
    let host_name = authority.as_ref().map(|a| {
        a.host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    });
    let host_port = authority.as_ref().and_then(|a| a.port_u16()).map(i64::from);
    if let Some(h) = host_name {
        span.set_str("server.address", h);
    }
    span.set_str("http.request.method", standard_method(method, "_OTHER"));
    if standard_method(method, "") != method {
        span.set_str("http.request.method_original", method);
    }
    span.set_str("url.scheme", if tls { "https" } else { "http" });
    if let Some(p) = host_port {
        span.set_int("server.port", p);
    }
    span.set_str("network.peer.address", peer.ip().to_string());
    span.set_int("network.peer.port", peer.port() as i64);
    if let Some(ua) = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.set_str("user_agent.original", ua);
    }
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    span.set_str(
        "client.address",
        forwarded.unwrap_or_else(|| peer.ip().to_string()),
    );
    span.set_str("url.path", req.uri().path());
    let version = match req.version() {
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "1.1",
    };
    span.set_str("network.protocol.version", version);
    Some(span)
}

/// End an HTTP server span with the sizes read and written and the status; a 5xx answer is
/// an error, as the semantic conventions say for servers.
pub fn end_http(mut span: ActiveSpan, status: u16, request_body: u64, response_body: u64) {
    if request_body > 0 {
        span.set_int("http.request.body.size", request_body as i64);
    }
    if response_body > 0 {
        span.set_int("http.response.body.size", response_body as i64);
    }
    span.set_int("http.response.status_code", status as i64);
    if status >= 500 {
        span.error("");
    }
    span.end();
}

/// Start the server span of one gRPC call to `path` (`/package.Service/Method`) received on
/// `local`.
pub fn start_grpc(
    tracer: &Tracer,
    path: &str,
    headers: &HeaderMap,
    local: SocketAddr,
) -> Option<ActiveSpan> {
    if !tracer.hub().enabled() {
        return None;
    }
    let method = path.trim_start_matches('/');
    let mut span = tracer.start(method, SpanKind::Server, parent(tracer, headers))?;
    span.mark_parent_remote();
    span.set_str("rpc.method", method);
    span.set_str("rpc.system.name", "grpc");
    span.set_str("server.address", local.ip().to_string());
    span.set_int("server.port", local.port() as i64);
    Some(span)
}

/// Start the client span of one gRPC call to `path` on `endpoint` (`host:port`, with or
/// without a scheme), a child of the task's current span (the exporter's send).
pub fn start_grpc_client(tracer: &Tracer, path: &str, endpoint: &str) -> Option<ActiveSpan> {
    if !tracer.hub().enabled() {
        return None;
    }
    let method = path.trim_start_matches('/');
    let mut span = tracer.start_in_current(method, SpanKind::Client)?;
    span.set_str("rpc.method", method);
    span.set_str("rpc.system.name", "grpc");
    let authority = endpoint
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(endpoint)
        .split('/')
        .next()
        .and_then(|a| a.parse::<http::uri::Authority>().ok());
    if let Some(a) = authority {
        span.set_str(
            "server.address",
            a.host().trim_start_matches('[').trim_end_matches(']'),
        );
        if let Some(p) = a.port_u16() {
            span.set_int("server.port", p as i64);
        }
    }
    Some(span)
}

/// The `traceparent` a client sends for `span` when the `tracecontext` propagator is on.
pub fn traceparent(tracer: &Tracer, span: &ActiveSpan) -> Option<String> {
    if !tracer.hub().propagators().tracecontext {
        return None;
    }
    let c = span.context();
    Some(format!(
        "00-{}-{}-01",
        const_hex::encode(c.trace_id),
        const_hex::encode(c.span_id)
    ))
}

/// End a gRPC server or client span with the call's status: the codes the semantic conventions count
/// as server errors make the span an error with the status message.
pub fn end_grpc(mut span: ActiveSpan, status: Option<&tonic::Status>) {
    let code = status.map(|s| s.code()).unwrap_or(tonic::Code::Ok);
    span.set_str("rpc.response.status_code", code_name(code));
    if matches!(
        code,
        tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
    ) {
        span.error(status.map(|s| s.message().to_string()).unwrap_or_default());
    }
    span.end();
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
