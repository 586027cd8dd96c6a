//! `google.rpc.Status` and `google.rpc.RetryInfo`, the one definition for servers and
//! clients: carried in gRPC's `grpc-status-details-bin` trailer and in OTLP/HTTP error
//! bodies. The OTLP receiver answers with them; the exporters read them.

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

    pub fn from_duration(d: Duration) -> ProtoDuration {
        ProtoDuration {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }
    }
}

impl RetryInfo {
    pub fn new(delay: Duration) -> RetryInfo {
        RetryInfo {
            retry_delay: Some(ProtoDuration::from_duration(delay)),
        }
    }

    /// As an `Any` detail of a status.
    pub fn to_any(&self) -> ProtoAny {
        ProtoAny {
            type_url: RETRY_INFO_TYPE_URL.into(),
            value: self.encode_to_vec(),
        }
    }
}

impl RpcStatus {
    /// The `RetryInfo` detail, if the status has one: `Some(delay)` (zero when it names no
    /// delay).
    pub fn retry_delay(&self) -> Option<Duration> {
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

    /// A status carrying a `RetryInfo`.
    pub fn with_retry_info(code: i32, message: &str, delay: Duration) -> RpcStatus {
        RpcStatus {
            code,
            message: message.to_string(),
            details: vec![RetryInfo::new(delay).to_any()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_round_trips_through_a_status() {
        let s = RpcStatus::with_retry_info(8, "slow down", Duration::from_millis(1500));
        let back = RpcStatus::decode(s.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back.message, "slow down");
        assert_eq!(back.retry_delay(), Some(Duration::from_millis(1500)));
        let none = RpcStatus {
            code: 14,
            message: String::new(),
            details: Vec::new(),
        };
        assert_eq!(none.retry_delay(), None);
        let empty = RpcStatus {
            details: vec![RetryInfo { retry_delay: None }.to_any()],
            ..none
        };
        assert_eq!(empty.retry_delay(), Some(Duration::ZERO));
        let negative = ProtoDuration {
            seconds: -3,
            nanos: 5,
        };
        assert_eq!(negative.to_duration(), Duration::new(0, 5));
    }
}
