use std::fmt;
use std::time::Duration;

/// Whether the sender may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again later (queue full, memory limit, backend unavailable). Maps to gRPC
    /// UNAVAILABLE / HTTP 503, or RESOURCE_EXHAUSTED / 429 when a retry hint is present.
    Retryable,
    /// The data will never be accepted (malformed, rejected by the backend). gRPC
    /// INVALID_ARGUMENT / HTTP 400.
    Permanent,
}

/// The error of [`crate::Consumer::consume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
    /// Refused at the door (a full buffer or queue, a spent memory budget): nothing was
    /// attempted, so offering the same data again soon is the expected reaction.
    backpressure: bool,
    /// The receiving end refused the request for its size (gRPC "message larger than max",
    /// HTTP 413): the same items in smaller requests may be accepted.
    too_large: bool,
    /// What kind of failure, as Go's exporterhelper names it in the `error.type` attribute
    /// of `otelcol_exporter_send_failed_*`: a gRPC code name (`Unavailable`), `Shutdown`,
    /// `Deadline_Exceeded`; `None` is Go's `_OTHER`.
    error_type: Option<&'static str>,
}

impl ConsumeError {
    pub fn retryable(message: impl Into<String>) -> Self {
        ConsumeError {
            kind: ErrorKind::Retryable,
            message: message.into(),
            retry_after: None,
            backpressure: false,
            too_large: false,
            error_type: None,
        }
    }

    /// A permanent refusal of a request for its size (see [`Self::is_too_large`]).
    pub fn too_large(message: impl Into<String>) -> Self {
        ConsumeError {
            too_large: true,
            ..ConsumeError::permanent(message)
        }
    }

    /// The request was refused for its size: an exporter sends its items again in smaller
    /// requests.
    pub fn is_too_large(&self) -> bool {
        self.too_large
    }

    /// A retryable refusal at the door: no room for the data now (see [`Self::is_backpressure`]).
    pub fn backpressure(message: impl Into<String>) -> Self {
        ConsumeError {
            kind: ErrorKind::Retryable,
            message: message.into(),
            retry_after: None,
            backpressure: true,
            too_large: false,
            error_type: None,
        }
    }

    /// Refused for lack of room, before any attempt to send: a caller that holds the data
    /// may offer it again shortly without risking a duplicate.
    pub fn is_backpressure(&self) -> bool {
        self.backpressure
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        ConsumeError {
            kind: ErrorKind::Permanent,
            message: message.into(),
            retry_after: None,
            backpressure: false,
            too_large: false,
            error_type: None,
        }
    }

    /// A retryable error with a throttle hint.
    pub fn throttled(message: impl Into<String>, retry_after: Duration) -> Self {
        ConsumeError {
            kind: ErrorKind::Retryable,
            message: message.into(),
            retry_after: Some(retry_after),
            backpressure: false,
            too_large: false,
            error_type: None,
        }
    }

    /// The same error with Go's `error.type` name for it (see the field).
    pub fn with_error_type(mut self, error_type: &'static str) -> Self {
        self.error_type = Some(error_type);
        self
    }

    /// Go's `error.type` of this failure: the name given, else `_OTHER`.
    pub fn error_type(&self) -> &'static str {
        self.error_type.unwrap_or("_OTHER")
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Combine the errors of concurrent branches: retryable only if every failure is
    /// retryable; the longest retry hint wins.
    pub fn combine(errors: Vec<ConsumeError>) -> Option<ConsumeError> {
        let mut iter = errors.into_iter();
        let first = iter.next()?;
        Some(iter.fold(first, |acc, e| {
            let kind = if acc.kind == ErrorKind::Permanent || e.kind == ErrorKind::Permanent {
                ErrorKind::Permanent
            } else {
                ErrorKind::Retryable
            };
            let retry_after = match (acc.retry_after, e.retry_after) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            ConsumeError {
                kind,
                message: format!("{}; {}", acc.message, e.message),
                retry_after,
                backpressure: acc.backpressure && e.backpressure,
                too_large: acc.too_large && e.too_large,
                error_type: acc.error_type.or(e.error_type),
            }
        }))
    }
}

impl fmt::Display for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Retryable => "retryable",
            ErrorKind::Permanent => "permanent",
        };
        write!(f, "{kind} error: {}", self.message)
    }
}

impl std::error::Error for ConsumeError {}

/// A component could not be built (a port in use, a file that cannot be read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

impl BuildError {
    pub fn new(message: impl Into<String>) -> Self {
        BuildError(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_is_permanent_if_any_is_permanent() {
        let e = ConsumeError::combine(vec![
            ConsumeError::retryable("a"),
            ConsumeError::permanent("b"),
        ])
        .unwrap();
        assert_eq!(e.kind(), ErrorKind::Permanent);
        let e = ConsumeError::combine(vec![
            ConsumeError::throttled("a", Duration::from_secs(1)),
            ConsumeError::throttled("b", Duration::from_secs(3)),
        ])
        .unwrap();
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(ConsumeError::combine(vec![]).is_none());
    }
}
