//! Where a failed gRPC export becomes a retryable or permanent error (the connection itself
//! is `transport::grpc`).
//!
//! Go facts relied on (`exporter/otlpexporter/otlp.go` `processError` / `shouldRetry`):
//! CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS are retryable;
//! RESOURCE_EXHAUSTED only with a `RetryInfo` detail; every other code is permanent. A
//! non-zero `RetryInfo` delay becomes the throttle delay.
//!
//! Ferrotel adds one case: a request the server refuses for its size (grpc-go's
//! "received message larger than max", tonic's "decoded message length too large" and
//! "size limit ... exceeded while decompressing") is marked too large, and the exporter sends
//! its items again in smaller requests instead of dropping them (Go drops them, or retries the
//! same request until `max_elapsed_time` when the code is OUT_OF_RANGE).

use std::time::Duration;

use pipeline_api::ConsumeError;
use prost::Message;
use tonic::{Code, Status};
use transport::grpc::{code_name, describe};
use transport::status::RpcStatus;

/// The `RetryInfo` of a status (from `grpc-status-details-bin`), if any.
pub fn retry_info(status: &Status) -> Option<Duration> {
    if status.details().is_empty() {
        return None;
    }
    RpcStatus::decode(status.details())
        .ok()
        .and_then(|s| s.retry_delay())
}

/// Whether the server refused the message for its size (grpc-go, tonic and Ferrotel wording).
pub fn refused_for_size(status: &Status) -> bool {
    if !matches!(status.code(), Code::ResourceExhausted | Code::OutOfRange) {
        return false;
    }
    let m = status.message().to_ascii_lowercase();
    m.contains("larger than max")
        || m.contains("message length too large")
        || (m.contains("size limit") && m.contains("exceeded"))
}

/// Go `processError` + `shouldRetry`: the error an export returns for a failed call, with the
/// gRPC code's name as its `error.type`.
pub fn classify(status: &Status, what: &str) -> ConsumeError {
    classify_untyped(status, what).with_error_type(code_name(status.code()))
}

fn classify_untyped(status: &Status, what: &str) -> ConsumeError {
    if refused_for_size(status) {
        return ConsumeError::too_large(format!("failed to push {what}: {}", describe(status)));
    }
    let info = retry_info(status);
    let retryable = match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => info.is_some(),
        _ => false,
    };
    let message = format!("failed to push {what}: {}", describe(status));
    match (retryable, info) {
        (false, _) => ConsumeError::permanent(message),
        (true, Some(delay)) if !delay.is_zero() => ConsumeError::throttled(message, delay),
        (true, _) => ConsumeError::retryable(message),
    }
}
