//! Tests of the `filelog` receiver: config, tailing, rotation, checkpoints, operators in the
//! running receiver, bad input. Each test works in its own temporary directory and waits on
//! conditions with a deadline, never on a fixed sleep.

mod bad_input;
mod checkpoints;
mod config;
mod docker_lines;
mod kill_rotation;
mod operators;
mod rotation;
mod tailing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::proto::tonic::common::v1::any_value;
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::storage::MemoryStorage;
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{
    async_trait, Batch, BuildContext, CancellationToken, ComponentId, ComponentKind, ConsumeError,
    Consumer, Receiver, Signal, SignalConsumers,
};

use super::{Counters, FileLogConfig, FileLogReceiver};

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "ferrotel-filelog-{name}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    /// The directory as a string for globs.
    pub fn glob(&self, pattern: &str) -> String {
        format!("{}/{pattern}", self.0.display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A consumer that collects batches, and can refuse.
#[derive(Default)]
pub struct Sink {
    pub batches: Mutex<Vec<Batch>>,
    /// Refuse (retryable) this many calls first.
    pub refuse_first: AtomicUsize,
    /// Refuse every call with a permanent error.
    pub permanent: std::sync::atomic::AtomicBool,
    /// Refuse every call (retryable).
    pub always_refuse: std::sync::atomic::AtomicBool,
    pub calls: AtomicUsize,
    /// Bodies of every batch offered, accepted or not.
    pub offered: Mutex<Vec<String>>,
}

#[async_trait]
impl Consumer for Sink {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.offered
            .lock()
            .unwrap()
            .extend(records_of(&batch).iter().map(body));
        if self.permanent.load(Ordering::SeqCst) {
            return Err(ConsumeError::permanent("no"));
        }
        if self.always_refuse.load(Ordering::SeqCst) {
            return Err(ConsumeError::retryable("full"));
        }
        let left = self.refuse_first.load(Ordering::SeqCst);
        if left > 0 {
            self.refuse_first.store(left - 1, Ordering::SeqCst);
            return Err(ConsumeError::retryable("queue full"));
        }
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

impl Sink {
    pub fn records(&self) -> Vec<LogRecord> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flat_map(records_of)
            .collect()
    }

    pub fn bodies(&self) -> Vec<String> {
        self.records().iter().map(body).collect()
    }

    pub fn batches(&self) -> Vec<Batch> {
        self.batches.lock().unwrap().clone()
    }
}

pub fn records_of(b: &Batch) -> Vec<LogRecord> {
    b.as_logs()
        .map(|l| {
            l.resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| s.log_records.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A record's body as text (bytes lossily).
pub fn body(r: &LogRecord) -> String {
    match r.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BytesValue(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// A record attribute as text.
pub fn attr(r: &LogRecord, key: &str) -> Option<String> {
    r.attributes.iter().find(|kv| kv.key == key).map(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            Some(any_value::Value::IntValue(i)) => i.to_string(),
            Some(any_value::Value::DoubleValue(f)) => f.to_string(),
            Some(any_value::Value::BoolValue(b)) => b.to_string(),
            other => format!("{other:?}"),
        }
    })
}

pub fn parse(yaml: &str) -> FileLogConfig {
    let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
    match parse_typed::<FileLogConfig>(&v) {
        Ok(c) => c,
        Err(e) => panic!("config errors: {e:?}"),
    }
}

/// A running receiver.
pub struct Running {
    pub token: CancellationToken,
    pub handle: tokio::task::JoinHandle<Result<(), pipeline_api::BuildError>>,
    pub counters: Arc<Counters>,
}

impl Running {
    /// Stop abruptly, as SIGKILL does: no final flush, no final checkpoint; the storage keeps
    /// the last checkpoint that was written.
    pub async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }

    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .expect("receiver stops in time")
            .expect("task")
            .expect("run result");
    }
}

pub fn context() -> BuildContext {
    let id = ComponentId::parse("filelog").unwrap();
    BuildContext {
        telemetry: ComponentTelemetry::detached(ComponentKind::Receiver, &id),
        id,
        signals: vec![Signal::Logs],
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    }
}

pub fn start(yaml: &str, sink: &Arc<Sink>, storage: Option<&MemoryStorage>) -> Running {
    let cfg = parse(yaml);
    let next = SignalConsumers {
        logs: Some(sink.clone()),
        ..Default::default()
    };
    let mut r = FileLogReceiver::build(context(), &cfg, next).expect("build");
    if let Some(s) = storage {
        r = r.with_storage(Arc::new(s.clone()));
    }
    let counters = r.counters();
    let token = CancellationToken::new();
    let handle = tokio::spawn(Box::new(r).run(token.clone()));
    Running {
        token,
        handle,
        counters,
    }
}

/// Wait until `cond` holds (at most 10 s), polling.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// Wait until the sink holds `n` records; return the bodies.
pub async fn wait_records(sink: &Sink, n: usize) -> Vec<String> {
    wait_for(&format!("{n} records"), || sink.records().len() >= n).await;
    sink.bodies()
}

/// Wait until the receiver has polled `n` more times (quiet periods without sleeping blind).
pub async fn polls(counters: &Counters, n: u64) {
    let start = counters.polls.load(Ordering::SeqCst);
    wait_for("polls", || {
        counters.polls.load(Ordering::SeqCst) >= start + n
    })
    .await;
}

/// A config with fast polling for tests.
pub fn cfg(include: &str, extra: &str) -> String {
    format!("include: ['{include}']\npoll_interval: 20ms\nforce_flush_period: 150ms\n{extra}")
}
