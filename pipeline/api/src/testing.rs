//! Builders for tests of components and of the runtime (feature `testing`): one copy instead
//! of one per crate.

use crate::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use crate::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::Batch;

pub mod kube;
pub mod random;

/// A traces batch of `n` spans named `{prefix}0`, `{prefix}1`, … in one resource and scope.
pub fn spans(prefix: &str, n: usize) -> Batch {
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        name: format!("{prefix}{i}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// A string attribute.
pub fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// A consumer that keeps every batch it is handed; optionally fails each with one error.
#[derive(Default)]
pub struct Collect {
    pub batches: std::sync::Mutex<Vec<Batch>>,
    pub fail: std::sync::Mutex<Option<crate::ConsumeError>>,
}

impl Collect {
    pub fn new() -> std::sync::Arc<Collect> {
        std::sync::Arc::new(Collect::default())
    }

    /// Items (spans, data points, log records) received so far.
    pub fn items(&self) -> usize {
        self.batches.lock().unwrap().iter().map(Batch::items).sum()
    }

    /// The batches received so far, leaving none.
    pub fn take(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }

    /// How many batches were received.
    pub fn count(&self) -> usize {
        self.batches.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl crate::Consumer for Collect {
    async fn consume(&self, batch: Batch) -> Result<(), crate::ConsumeError> {
        self.batches.lock().unwrap().push(batch);
        match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A build context for a component under test: detached telemetry, no extensions, an
/// unlimited memory budget.
pub fn context(
    kind: crate::ComponentKind,
    id: &str,
    signals: Vec<crate::Signal>,
) -> crate::BuildContext {
    let id = crate::ComponentId::parse(id).expect("a valid test id");
    crate::BuildContext {
        telemetry: crate::telemetry::ComponentTelemetry::detached(kind, &id),
        id,
        signals,
        extensions: std::sync::Arc::new(Default::default()),
        memory: Default::default(),
    }
}

/// A component's config from YAML, as the loader parses and checks it; every problem as one
/// `path: message` line.
pub fn parse_config<T: serde::de::DeserializeOwned + crate::config::Validate>(
    yaml: &str,
) -> Result<T, String> {
    let v: crate::config::ConfigValue = serde_yaml_ng::from_str(yaml).expect("test YAML");
    crate::config::parse_typed::<T>(&v).map_err(|e| {
        e.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Read an HTTP/1 request's head (up to the blank line) from a test server's connection;
/// `None` when the client went away first.
pub async fn read_request_head<R: tokio::io::AsyncRead + Unpin>(conn: &mut R) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A directory under the system temp dir, unique to the test that made it, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "ferrotel-{name}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A file in it, as a string for configs.
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
