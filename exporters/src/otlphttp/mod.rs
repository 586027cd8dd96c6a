//! `otlphttp` exporter (alias `otlp_http`): OTLP over HTTP, Go `exporter/otlphttpexporter`.
//!
//! Go facts relied on (`otlp.go`, `factory.go`, `config/confighttp/client.go`):
//! - One POST per export to the signal's URL (`composeSignalURL`), body in protobuf
//!   (`application/x-protobuf`) or OTLP/JSON (`application/json`), compressed as
//!   configured with `Content-Encoding`; `User-Agent` set; configured headers override
//!   (a `Host` header sets the request's host).
//! - 2xx: success; a partial-success body (decoded by the response's `Content-Type`) with a
//!   message or rejected items is logged as a warning ("Partial success response").
//! - 429, 502, 503, 504 are retryable; any other status is permanent. On 429 and 503 a
//!   `Retry-After` of whole seconds or an HTTP date becomes the throttle delay.
//! - The error text carries the URL, the status code and, when the body decodes as a
//!   `google.rpc.Status`, its message; at most 64 KiB of a response body is read.
//! - A request that could not be made (connection refused, TLS failure) is retryable.
//!
//! Ferrotel differs where a 2xx body cannot be decoded: Go returns a (retryable) error and the
//! data is sent again; Ferrotel logs a warning and counts the export as done, since the
//! server said it accepted the data. And a request refused for its size (413, or 400 with
//! Go's "request body too large") is marked too large: the exporter sends its items again in
//! smaller requests, where Go drops them.

mod config;
pub mod json;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use pipeline_api::{
    async_trait, Batch, BuildError, ComponentId, ConsumeError, Exporter, ExporterFactory, Signal,
};
use pipeline_api::{declare, Meta, Stability};
use prost::Message;

use transport::compression::{compress, Compression, CompressionParams};
use transport::http::error_chain;
use transport::status::RpcStatus;

pub use config::{Config, Encoding};

pub const TYPE_NAME: &str = "otlphttp";

/// Go `maxHTTPResponseReadBytes`.
const MAX_RESPONSE_READ: usize = 64 * 1024;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// `otlp_http` is accepted too (not deprecated).
pub const META: Meta = Meta::new(TYPE_NAME)
    .aliases(&[("otlp_http", false)])
    .traces(Stability::Stable)
    .metrics(Stability::Stable)
    .logs(Stability::Stable);

/// Go `otlphttpexporter` `createDefaultConfig`: `Timeout: 30 * time.Second`.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(OtlpHttpExporter::new(
            ctx.id,
            cfg,
            &ctx.signals,
            &ctx.extensions,
        )?))
    })
    .default_timeout(Duration::from_secs(30))
    .into_factory()
}

pub struct OtlpHttpExporter {
    id: ComponentId,
    client: transport::http::HttpClient,
    traces_url: Option<String>,
    metrics_url: Option<String>,
    logs_url: Option<String>,
    encoding: Encoding,
    compression: Compression,
    compression_params: CompressionParams,
    headers: HeaderMap,
}

impl OtlpHttpExporter {
    /// `signals`: the signals this instance serves; each needs a URL (Go: "either endpoint
    /// or traces_endpoint must be specified" when the traces exporter is created).
    /// `extensions`: the running ones, for `auth::authenticator`.
    pub fn new(
        id: ComponentId,
        cfg: &Config,
        signals: &[Signal],
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<OtlpHttpExporter, BuildError> {
        for s in signals {
            if cfg.signal_url(*s).is_none() {
                return Err(BuildError::new(format!(
                    "{id}: either endpoint or {}_endpoint must be specified",
                    s.as_str()
                )));
            }
        }
        let client = cfg
            .http
            .client(&id.to_string(), config::CLIENT, extensions)?;
        let mut headers = HeaderMap::new();
        for (name, value) in cfg.http.headers.to_http() {
            headers.insert(name, value);
        }
        Ok(OtlpHttpExporter {
            traces_url: cfg.signal_url(Signal::Traces),
            metrics_url: cfg.signal_url(Signal::Metrics),
            logs_url: cfg.signal_url(Signal::Logs),
            id,
            client,
            encoding: cfg.encoding,
            compression: cfg.compression(),
            compression_params: cfg.http.compression_params,
            headers,
        })
    }

    fn url(&self, signal: Signal) -> Option<&str> {
        match signal {
            Signal::Traces => self.traces_url.as_deref(),
            Signal::Metrics => self.metrics_url.as_deref(),
            Signal::Logs => self.logs_url.as_deref(),
        }
    }
}

#[async_trait]
impl Exporter for OtlpHttpExporter {
    fn metric_labels(&self, signal: Signal) -> Vec<(&'static str, String)> {
        self.url(signal)
            .map(crate::common::endpoint::http_labels)
            .unwrap_or_default()
    }

    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let signal = batch.signal();
        let url = self.url(signal).ok_or_else(|| {
            ConsumeError::permanent(format!(
                "no URL for {signal}: set endpoint or {signal}_endpoint"
            ))
        })?;
        let body = match (self.encoding, batch.wire_pieces()) {
            // the pieces of a batch put together from several requests (a `batch`
            // processor's) go out as they are, one after the other, small ones gathered
            // (as the `otlp` exporter sends them): no copy of the large ones into one buffer
            (Encoding::Proto, Some(pieces))
                if pieces.len() > 1 && !self.compression.is_compressed() =>
            {
                reqwest::Body::wrap(crate::otlp::pieces::Pieces::of(&[], pieces))
            }
            (encoding, _) => {
                let body = match encoding {
                    Encoding::Proto => batch.encode_bytes(),
                    Encoding::Json => Bytes::from(json::encode(batch.data())),
                };
                if self.compression.is_compressed() {
                    compress(self.compression, self.compression_params, &body)
                        .map_err(ConsumeError::permanent)?
                        .into()
                } else {
                    body.into()
                }
            }
        };
        let content_type = match self.encoding {
            Encoding::Proto => PROTOBUF,
            Encoding::Json => JSON,
        };
        let mut headers = HeaderMap::with_capacity(self.headers.len() + 2);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if self.compression.is_compressed() {
            headers.insert(
                CONTENT_ENCODING,
                HeaderValue::from_static(self.compression.as_str()),
            );
        }
        // Configured headers win over the exporter's own, as Go's header round tripper sets
        // them last.
        for (k, v) in &self.headers {
            headers.insert(k, v.clone());
        }
        let request = self.client.post(url).headers(headers).body(body);
        let response = self.client.send(request).await.map_err(|e| {
            ConsumeError::retryable(format!(
                "failed to make an HTTP request: {}",
                error_chain(&e)
            ))
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(response).await;
        if status.is_success() {
            let content_type = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if let Err(e) = self.partial_success(signal, &body, content_type) {
                tracing::warn!(exporter = %self.id, url, error = %e, "The export succeeded but its response could not be read.");
            }
            return Ok(());
        }
        Err(failure(url, status, &headers, &body, SystemTime::now()))
    }
}

impl OtlpHttpExporter {
    /// Go `tracesPartialSuccessHandler` & co.: only protobuf and JSON bodies are read.
    fn partial_success(
        &self,
        signal: Signal,
        body: &[u8],
        content_type: &str,
    ) -> Result<(), String> {
        if body.is_empty() {
            return Ok(());
        }
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let (message, rejected) = match media.as_str() {
            PROTOBUF => match signal {
                Signal::Traces => ExportTraceServiceResponse::decode(body).map(|r| {
                    r.partial_success
                        .map(|p| (p.error_message, p.rejected_spans))
                }),
                Signal::Metrics => ExportMetricsServiceResponse::decode(body).map(|r| {
                    r.partial_success
                        .map(|p| (p.error_message, p.rejected_data_points))
                }),
                Signal::Logs => ExportLogsServiceResponse::decode(body).map(|r| {
                    r.partial_success
                        .map(|p| (p.error_message, p.rejected_log_records))
                }),
            }
            .map_err(|e| format!("error parsing protobuf response: {e}"))?
            .unwrap_or_default(),
            JSON => json_partial_success(signal, body)
                .map_err(|e| format!("error parsing json response: {e}"))?,
            _ => return Ok(()),
        };
        if message.is_empty() && rejected == 0 {
            return Ok(());
        }
        match signal {
            Signal::Traces => {
                tracing::warn!(exporter = %self.id, message, dropped_spans = rejected, "Partial success response")
            }
            Signal::Metrics => {
                tracing::warn!(exporter = %self.id, message, dropped_data_points = rejected, "Partial success response")
            }
            Signal::Logs => {
                tracing::warn!(exporter = %self.id, message, dropped_log_records = rejected, "Partial success response")
            }
        }
        Ok(())
    }
}

/// `{"partialSuccess": {"rejectedSpans": "3", "errorMessage": "..."}}` (64-bit counts may be
/// strings or numbers; snake_case keys are accepted too).
fn json_partial_success(signal: Signal, body: &[u8]) -> Result<(String, i64), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Some(p) = v.get("partialSuccess").or_else(|| v.get("partial_success")) else {
        return Ok((String::new(), 0));
    };
    let (camel, snake) = match signal {
        Signal::Traces => ("rejectedSpans", "rejected_spans"),
        Signal::Metrics => ("rejectedDataPoints", "rejected_data_points"),
        Signal::Logs => ("rejectedLogRecords", "rejected_log_records"),
    };
    let rejected = match p.get(camel).or_else(|| p.get(snake)) {
        None | Some(serde_json::Value::Null) => 0,
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or("invalid rejected count")?,
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("invalid rejected count {s:?}"))?,
        Some(other) => return Err(format!("invalid rejected count {other}")),
    };
    let message = p
        .get("errorMessage")
        .or_else(|| p.get("error_message"))
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    Ok((message, rejected))
}

/// Read at most [`MAX_RESPONSE_READ`] bytes of the body (errors end the read).
async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_RESPONSE_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_READ - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// Go `isRetryableStatusCode`.
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// `Retry-After` as whole seconds or an HTTP date (RFC 7231 section 7.1.3), relative to
/// `now`; a date in the past is zero.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(v).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The error of a non-2xx answer (Go `export` after `resp.StatusCode` checks), with the
/// gRPC code name Go's `NewStatusFromMsgAndHTTPCode` gives the status as its `error.type`.
pub fn failure(
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> ConsumeError {
    let error_type = match status.as_u16() {
        400 => "InvalidArgument",
        401 => "Unauthenticated",
        403 => "PermissionDenied",
        404 => "Unimplemented",
        429 => "ResourceExhausted",
        502..=504 => "Unavailable",
        _ => "Unknown",
    };
    failure_untyped(url, status, headers, body, now).with_error_type(error_type)
}

fn failure_untyped(
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> ConsumeError {
    let detail = response_status_message(headers, body);
    let message = match detail {
        Some(m) => format!(
            "error exporting items, request to {url} responded with HTTP Status Code {}, Message={m}",
            status.as_u16()
        ),
        None => format!(
            "error exporting items, request to {url} responded with HTTP Status Code {}",
            status.as_u16()
        ),
    };
    // refused for its size: 413, or Go's receiver's 400 "http: request body too large"
    if status == StatusCode::PAYLOAD_TOO_LARGE
        || (status == StatusCode::BAD_REQUEST && message.contains("request body too large"))
    {
        return ConsumeError::too_large(message);
    }
    if !is_retryable(status) {
        return ConsumeError::permanent(message);
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        let after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, now));
        if let Some(after) = after {
            return ConsumeError::throttled(message, after);
        }
    }
    ConsumeError::retryable(message)
}

/// The `google.rpc.Status` message of an error body: protobuf (Go decodes every error body
/// this way), or JSON when the server says so.
fn response_status_message(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(JSON));
    if is_json {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        return v
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string);
    }
    RpcStatus::decode(body).ok().map(|s| s.message)
}
