//! `google.rpc.Status` and `google.rpc.RetryInfo`, as servers send them: in gRPC's
//! `grpc-status-details-bin` trailer and in OTLP/HTTP error bodies.

use std::time::Duration;

use prost::Message;

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

pub const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

impl ProtoDuration {
    /// Negative or out-of-range durations are zero.
    pub fn to_duration(&self) -> Duration {
        let secs = u64::try_from(self.seconds).unwrap_or(0);
        let nanos = u32::try_from(self.nanos).unwrap_or(0).min(999_999_999);
        Duration::new(secs, nanos)
    }
}

impl RpcStatus {
    /// The `RetryInfo` detail, if the status has one: `Some(delay)` (possibly zero).
    pub fn retry_info(&self) -> Option<Duration> {
        self.details
            .iter()
            .find(|d| d.type_url == RETRY_INFO_TYPE_URL)
            .and_then(|d| RetryInfo::decode(d.value.as_slice()).ok())
            .map(|r| {
                r.retry_delay
                    .map(|d| d.to_duration())
                    .unwrap_or(Duration::ZERO)
            })
    }

    /// A status carrying a `RetryInfo` (test servers build these).
    pub fn with_retry_info(code: i32, message: &str, delay: Duration) -> RpcStatus {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
            }),
        };
        RpcStatus {
            code,
            message: message.to_string(),
            details: vec![ProtoAny {
                type_url: RETRY_INFO_TYPE_URL.into(),
                value: info.encode_to_vec(),
            }],
        }
    }
}
