//! The one place where a refusal becomes a protocol answer, for gRPC and HTTP alike.
//!
//! Go: `receiver/otlpreceiver/internal/errors` and `internal/{trace,metrics,logs}/otlp.go`:
//! a permanent error is `INVALID_ARGUMENT`, any other `UNAVAILABLE`; the HTTP status follows
//! `GetHTTPStatusCodeFromStatus` (UNAVAILABLE → 503, RESOURCE_EXHAUSTED → 429,
//! INVALID_ARGUMENT → 400, UNIMPLEMENTED → 404). A throttle hint travels as a
//! `google.rpc.RetryInfo` detail with `RESOURCE_EXHAUSTED`, and over HTTP also as
//! `Retry-After` seconds (Go `otlphttp.go writeStatusResponse`).

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use pipeline_api::ConsumeError;
use prost::Message;
use tonic::Code;

use transport::status::RetryInfo;
pub use transport::status::{RpcStatus, RETRY_INFO_TYPE_URL};

/// What the client is told: a gRPC code, a message, an optional retry hint; the HTTP status
/// is derived from the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl Refusal {
    pub fn new(code: Code, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A request the receiver could not read (bad compression, truncated protobuf,
    /// invalid JSON): never retryable.
    pub fn bad_data(message: impl Into<String>) -> Refusal {
        Refusal::new(Code::InvalidArgument, message)
    }

    /// A refusal from downstream.
    pub fn from_consume(err: &ConsumeError) -> Refusal {
        match (err.is_retryable(), err.retry_after()) {
            (false, _) => Refusal::new(Code::InvalidArgument, err.message()),
            (true, None) => Refusal::new(Code::Unavailable, err.message()),
            (true, Some(after)) => Refusal {
                code: Code::ResourceExhausted,
                message: err.message().to_string(),
                retry_after: Some(after),
            },
        }
    }

    /// Go `GetHTTPStatusCodeFromStatus`.
    pub fn http_status(&self) -> StatusCode {
        match self.code {
            Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss => StatusCode::SERVICE_UNAVAILABLE,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::InvalidArgument => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::Unimplemented => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `Retry-After` in whole seconds. Go truncates (`delay / time.Second`); Ferrotel rounds
    /// up so a sub-second hint never reads as "retry now".
    pub fn retry_after_header(&self) -> Option<String> {
        let d = self.retry_after?;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        Some(secs.to_string())
    }

    pub fn rpc_status(&self) -> RpcStatus {
        let details = self
            .retry_after
            .map(|d| RetryInfo::new(d).to_any())
            .into_iter()
            .collect();
        RpcStatus {
            code: self.code as i32,
            message: self.message.clone(),
            details,
        }
    }

    /// The protojson form of the `google.rpc.Status` (Go `jsonpb.Marshaler`).
    pub fn rpc_status_json(&self) -> Vec<u8> {
        let mut obj = serde_json::Map::new();
        obj.insert("code".into(), serde_json::Value::from(self.code as i32));
        obj.insert(
            "message".into(),
            serde_json::Value::from(self.message.clone()),
        );
        if let Some(d) = self.retry_after {
            let delay = if d.subsec_nanos() == 0 {
                format!("{}s", d.as_secs())
            } else {
                let frac = format!("{:09}", d.subsec_nanos());
                format!("{}.{}s", d.as_secs(), frac.trim_end_matches('0'))
            };
            obj.insert(
                "details".into(),
                serde_json::json!([{ "@type": RETRY_INFO_TYPE_URL, "retryDelay": delay }]),
            );
        }
        serde_json::to_vec(&serde_json::Value::Object(obj)).unwrap_or_default()
    }

    /// The gRPC status, with the `google.rpc.Status` in `grpc-status-details-bin` when there
    /// is a retry hint.
    pub fn grpc_status(&self) -> tonic::Status {
        if self.retry_after.is_some() {
            tonic::Status::with_details(
                self.code,
                self.message.clone(),
                Bytes::from(self.rpc_status().encode_to_vec()),
            )
        } else {
            tonic::Status::new(self.code, self.message.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_errors_map_like_go_internal_errors() {
        let r = Refusal::from_consume(&ConsumeError::retryable("queue full"));
        assert_eq!(
            (r.code, r.http_status()),
            (Code::Unavailable, StatusCode::SERVICE_UNAVAILABLE)
        );
        let r = Refusal::from_consume(&ConsumeError::permanent("bad"));
        assert_eq!(
            (r.code, r.http_status()),
            (Code::InvalidArgument, StatusCode::BAD_REQUEST)
        );
        let r = Refusal::from_consume(&ConsumeError::throttled(
            "slow down",
            Duration::from_millis(1500),
        ));
        assert_eq!(
            (r.code, r.http_status()),
            (Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(r.retry_after_header().as_deref(), Some("2"));
        let status = r.rpc_status();
        let back = RpcStatus::decode(status.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back.retry_delay(), Some(Duration::from_millis(1500)));
        let json: serde_json::Value = serde_json::from_slice(&r.rpc_status_json()).unwrap();
        assert_eq!(json["code"], 8);
        assert_eq!(json["details"][0]["retryDelay"], "1.5s");
        assert_eq!(
            Refusal::new(Code::Unimplemented, "").http_status(),
            StatusCode::NOT_FOUND
        );
    }
}
