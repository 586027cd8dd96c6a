use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_api::config::GoDuration;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::storage::MemoryStorage;
use pipeline_api::telemetry::{ComponentTelemetry, MetricsLevel, Telemetry};
use pipeline_api::{
    async_trait, Batch, ComponentId, ComponentKind, ConsumeError, Consumer, Exporter, Signal,
};
use tokio::time::Instant;

use super::ExporterRunner;
use crate::config::{ExporterCommon, QueueBatchConfig, QueueSizer};
use pipeline_api::MemoryBudget;

/// A backend that is up or down, records what it got, and can hold each attempt.
#[derive(Default)]
struct Backend {
    up: AtomicBool,
    permanent: AtomicBool,
    throttle: Mutex<Option<Duration>>,
    attempts: AtomicUsize,
    received: Mutex<Vec<String>>,
    hold: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
}

#[async_trait]
impl Exporter for Backend {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let hold = self.hold.lock().unwrap().clone();
        if let Some(gate) = hold {
            let _ = gate.acquire().await.map(|p| p.forget());
        }
        if self.permanent.load(Ordering::SeqCst) {
            return Err(ConsumeError::permanent("bad data"));
        }
        if !self.up.load(Ordering::SeqCst) {
            let throttle = *self.throttle.lock().unwrap();
            return Err(match throttle {
                Some(d) => ConsumeError::throttled("slow down", d),
                None => ConsumeError::retryable("connection refused"),
            });
        }
        let logs = batch.as_logs().unwrap();
        for r in &logs.resource_logs {
            for s in &r.scope_logs {
                for l in &s.log_records {
                    self.received.lock().unwrap().push(l.event_name.clone());
                }
            }
        }
        Ok(())
    }
}

fn logs(names: &[&str]) -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: names
                    .iter()
                    .map(|n| LogRecord {
                        event_name: n.to_string(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn common(queue: bool, size: u64, consumers: usize) -> ExporterCommon {
    let mut c = ExporterCommon::default();
    c.sending_queue.enabled = queue;
    c.sending_queue.queue_size = size;
    c.sending_queue.num_consumers = consumers;
    c.retry_on_failure.initial_interval = GoDuration::from_millis(10);
    c.retry_on_failure.max_interval = GoDuration::from_millis(50);
    c.retry_on_failure.randomization_factor = 0.0;
    c
}

fn telemetry() -> ComponentTelemetry {
    Telemetry::new(MetricsLevel::Normal).component(
        ComponentKind::Exporter,
        &ComponentId::parse("otlp/backend").unwrap(),
    )
}

/// The series of `name` with a value, as `label=value,...` (sorted) → value.
fn series(t: &ComponentTelemetry, name: &str) -> Vec<(String, f64)> {
    t.telemetry()
        .registry()
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| {
            f.get_metric().iter().map(|m| {
                let mut labels: Vec<String> = m
                    .get_label()
                    .iter()
                    .map(|l| format!("{}={}", l.name(), l.value()))
                    .collect();
                labels.sort();
                (labels.join(","), m.get_counter().get_value())
            })
        })
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

fn value(t: &ComponentTelemetry, name: &str) -> f64 {
    t.telemetry()
        .registry()
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| {
            let counter = f.get_field_type() == prometheus::proto::MetricType::COUNTER;
            f.get_metric().iter().map(move |m| {
                if counter {
                    m.get_counter().get_value()
                } else {
                    m.get_gauge().get_value()
                }
            })
        })
        .sum()
}

fn runner(
    backend: &Arc<Backend>,
    c: ExporterCommon,
    storage: Option<MemoryStorage>,
    t: &ComponentTelemetry,
) -> Arc<ExporterRunner> {
    runner_with(backend, c, storage, t, MemoryBudget::unlimited())
}

fn runner_with(
    backend: &Arc<Backend>,
    c: ExporterCommon,
    storage: Option<MemoryStorage>,
    t: &ComponentTelemetry,
    memory: MemoryBudget,
) -> Arc<ExporterRunner> {
    Arc::new(ExporterRunner::new(
        ComponentId::parse("otlp/backend").unwrap(),
        Signal::Logs,
        backend.clone(),
        c,
        storage.map(|s| Arc::new(s) as Arc<dyn pipeline_api::storage::StorageClient>),
        t,
        memory,
    ))
}

/// The log names of each request the backend got, in order.
#[derive(Default)]
struct Requests(Mutex<Vec<Vec<String>>>);

#[async_trait]
impl Exporter for Requests {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        let logs = batch.as_logs().unwrap();
        let names = logs
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .map(|l| l.event_name.clone())
            .collect();
        self.0.lock().unwrap().push(names);
        Ok(())
    }
}

fn batch_common(min: i64, max: i64, flush_ms: u64) -> ExporterCommon {
    let mut c = common(true, 1000, 2);
    c.sending_queue.batch = Some(QueueBatchConfig {
        min_size: min,
        max_size: max,
        flush_timeout: GoDuration::from_millis(flush_ms),
        ..Default::default()
    });
    c
}

fn requests_runner(c: ExporterCommon) -> (Arc<Requests>, Arc<ExporterRunner>) {
    let backend = Arc::new(Requests::default());
    let r = Arc::new(ExporterRunner::new(
        ComponentId::parse("otlp/backend").unwrap(),
        Signal::Logs,
        backend.clone(),
        c,
        None,
        &telemetry(),
        MemoryBudget::unlimited(),
    ));
    (backend, r)
}

#[tokio::test]
async fn queue_batch_merges_requests_until_min_size_and_cuts_at_max_size() {
    let (backend, r) = requests_runner(batch_common(4, 5, 60_000));
    r.start().await.unwrap();
    r.consume(logs(&["a", "b"])).await.unwrap();
    r.consume(logs(&["c"])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        backend.0.lock().unwrap().is_empty(),
        "3 items are below min_size 4 and the flush timeout is a minute away"
    );
    r.consume(logs(&["d", "e", "f", "g"])).await.unwrap();
    wait_for("a batch of max_size", || {
        !backend.0.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        backend.0.lock().unwrap()[0],
        vec!["a", "b", "c", "d", "e"],
        "three requests merged and cut at max_size 5"
    );
    // the remaining 2 items are below min_size: they leave at shutdown
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
    assert_eq!(backend.0.lock().unwrap()[1], vec!["f", "g"]);
}

#[tokio::test]
async fn queue_batch_flushes_after_flush_timeout() {
    let (backend, r) = requests_runner(batch_common(1000, 0, 100));
    r.start().await.unwrap();
    let started = std::time::Instant::now();
    r.consume(logs(&["a"])).await.unwrap();
    r.consume(logs(&["b", "c"])).await.unwrap();
    wait_for("the timed flush", || !backend.0.lock().unwrap().is_empty()).await;
    assert!(started.elapsed() >= Duration::from_millis(90));
    assert_eq!(backend.0.lock().unwrap()[0], vec!["a", "b", "c"]);
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
}

#[tokio::test]
async fn queue_batch_with_bytes_sizer_cuts_by_encoded_size() {
    let mut c = batch_common(0, 0, 100);
    let one = logs(&["x0"]).encoded_len() as i64;
    c.sending_queue.sizer = QueueSizer::Bytes;
    c.sending_queue.queue_size = 1 << 20;
    let b = c.sending_queue.batch.as_mut().unwrap();
    b.min_size = 4 * one;
    b.max_size = 4 * one;
    let (backend, r) = requests_runner(c);
    r.start().await.unwrap();
    for i in 0..8 {
        r.consume(logs(&[&format!("x{i}")])).await.unwrap();
    }
    wait_for("two batches", || backend.0.lock().unwrap().len() == 2).await;
    let sizes: Vec<usize> = backend.0.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![4, 4], "min and max of four records' bytes");
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
}

#[tokio::test]
async fn sizer_bytes_bounds_the_queue_by_encoded_bytes() {
    let backend = Arc::new(Backend::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *backend.hold.lock().unwrap() = Some(gate.clone());
    backend.up.store(true, Ordering::SeqCst);
    let t = telemetry();
    let small = logs(&["a"]);
    let big = logs(&[&"b".repeat(500)]);
    let mut c = common(true, (small.encoded_len() + big.encoded_len()) as u64, 1);
    c.sending_queue.sizer = QueueSizer::Bytes;
    let r = runner(&backend, c, None, &t);
    r.start().await.unwrap();
    r.consume(big.clone()).await.unwrap();
    r.consume(small.clone()).await.unwrap();
    let err = r.consume(small.clone()).await.unwrap_err();
    assert_eq!(err.message(), "sending queue is full");
    assert_eq!(
        value(&t, "otelcol_exporter_queue_size"),
        (small.encoded_len() + big.encoded_len()) as f64,
        "the queue's size is in bytes"
    );
    gate.add_permits(100);
    wait_for("drain", || backend.received.lock().unwrap().len() == 2).await;
    r.consume(small).await.unwrap();
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn wait_for_result_returns_the_exports_error_to_the_sender() {
    let backend = Arc::new(Backend::default());
    backend.permanent.store(true, Ordering::SeqCst);
    let t = telemetry();
    let mut c = common(true, 10, 1);
    c.sending_queue.wait_for_result = true;
    let r = runner(&backend, c.clone(), None, &t);
    r.start().await.unwrap();
    let err = r.consume(logs(&["a"])).await.unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(err.message(), "bad data");
    backend.permanent.store(false, Ordering::SeqCst);
    backend.up.store(true, Ordering::SeqCst);
    r.consume(logs(&["b"])).await.unwrap();
    assert_eq!(*backend.received.lock().unwrap(), vec!["b".to_string()]);
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;

    // without it the sender is answered when the request is queued
    let backend = Arc::new(Backend::default());
    backend.permanent.store(true, Ordering::SeqCst);
    c.sending_queue.wait_for_result = false;
    let r = runner(&backend, c, None, &t);
    r.start().await.unwrap();
    r.consume(logs(&["a"])).await.unwrap();
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn wait_for_result_with_queue_batching_answers_each_sender_with_its_batchs_outcome() {
    let (backend, r) = requests_runner({
        let mut c = batch_common(3, 0, 60_000);
        c.sending_queue.wait_for_result = true;
        c
    });
    r.start().await.unwrap();
    let r1 = r.clone();
    let first = tokio::spawn(async move { r1.consume(logs(&["a", "b"])).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!first.is_finished(), "waits until its items were exported");
    r.consume(logs(&["c"])).await.unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(*backend.0.lock().unwrap(), vec![vec!["a", "b", "c"]]);
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn fan_out_to_three_queues_with_one_stuck_backend_stays_within_the_memory_budget() {
    let one = logs(&[&"x".repeat(1000)]);
    let per_request = one.memory_size() as u64;
    let budget = MemoryBudget::new(per_request * 20);
    let stuck = Arc::new(Backend::default());
    *stuck.hold.lock().unwrap() = Some(Arc::new(tokio::sync::Semaphore::new(0)));
    let t = telemetry();
    let fast: Vec<Arc<Backend>> = (0..2).map(|_| Arc::new(Backend::default())).collect();
    for b in &fast {
        b.up.store(true, Ordering::SeqCst);
    }
    let runners: Vec<Arc<ExporterRunner>> = std::iter::once(&stuck)
        .chain(fast.iter())
        .map(|b| runner_with(b, common(true, 1000, 1), None, &t, budget.clone()))
        .collect();
    for r in &runners {
        r.start().await.unwrap();
    }
    let mut refused = 0;
    for _ in 0..200 {
        // one new request, handed to the three queues as a fan-out does: counted once
        let request = logs(&[&"x".repeat(1000)]);
        for r in &runners {
            if r.consume(request.clone()).await.is_err() {
                refused += 1;
            }
        }
        assert!(budget.used() <= budget.limit());
        tokio::task::yield_now().await;
    }
    assert!(
        refused > 0,
        "the stuck queue's 1000 requests do not fit 20 requests' bytes"
    );
    assert!(
        budget.used() >= per_request * 10,
        "the stuck queue holds what the budget allows"
    );
    assert!(
        value(&t, "otelcol_exporter_enqueue_failed_log_records") >= refused as f64,
        "every refusal is counted"
    );
    for r in &runners {
        r.shutdown(Instant::now() + Duration::from_millis(200))
            .await;
    }
}

#[tokio::test]
async fn without_a_queue_no_queue_metrics_are_reported() {
    let backend = Arc::new(Backend::default());
    backend.up.store(true, Ordering::SeqCst);
    let t = telemetry();
    let r = runner(&backend, common(false, 0, 1), None, &t);
    r.consume(logs(&["a"])).await.unwrap();
    let names: Vec<String> = t
        .telemetry()
        .registry()
        .gather()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("otelcol_exporter_queue")),
        "{names:?}"
    );
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn backend_down_then_back_everything_queued_arrives() {
    let backend = Arc::new(Backend::default());
    let t = telemetry();
    let r = runner(&backend, common(true, 100, 2), None, &t);
    r.start().await.unwrap();
    for i in 0..20 {
        r.consume(logs(&[&format!("r{i}")])).await.unwrap();
    }
    wait_for("retries", || backend.attempts.load(Ordering::SeqCst) >= 6).await;
    assert!(backend.received.lock().unwrap().is_empty());
    backend.up.store(true, Ordering::SeqCst);
    wait_for("delivery", || backend.received.lock().unwrap().len() == 20).await;
    let mut got = backend.received.lock().unwrap().clone();
    got.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    wait_for("counter", || {
        value(&t, "otelcol_exporter_sent_log_records") == 20.0
    })
    .await;
    assert_eq!(value(&t, "otelcol_exporter_send_failed_log_records"), 0.0);
    assert_eq!(value(&t, "otelcol_exporter_queue_capacity"), 100.0);
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_full_queue_refuses_with_a_retryable_error_and_counts_it() {
    let backend = Arc::new(Backend::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *backend.hold.lock().unwrap() = Some(gate.clone());
    backend.up.store(true, Ordering::SeqCst);
    let t = telemetry();
    let r = runner(&backend, common(true, 2, 1), None, &t);
    r.start().await.unwrap();
    r.consume(logs(&["a"])).await.unwrap();
    r.consume(logs(&["b"])).await.unwrap();
    let err = r.consume(logs(&["c", "d"])).await.unwrap_err();
    assert!(err.is_retryable(), "the client may retry: {err}");
    assert_eq!(err.message(), "sending queue is full");
    assert_eq!(
        value(&t, "otelcol_exporter_enqueue_failed_log_records"),
        2.0
    );
    assert_eq!(value(&t, "otelcol_exporter_queue_size"), 2.0);
    gate.add_permits(10);
    wait_for("drain", || backend.received.lock().unwrap().len() == 2).await;
    // room again: the client's retry succeeds
    r.consume(logs(&["c", "d"])).await.unwrap();
    wait_for("retry delivered", || {
        backend.received.lock().unwrap().len() == 4
    })
    .await;
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn block_on_overflow_waits_for_room_instead_of_refusing() {
    let backend = Arc::new(Backend::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *backend.hold.lock().unwrap() = Some(gate.clone());
    backend.up.store(true, Ordering::SeqCst);
    let t = telemetry();
    let mut c = common(true, 1, 1);
    c.sending_queue.block_on_overflow = true;
    let r = runner(&backend, c, None, &t);
    r.start().await.unwrap();
    r.consume(logs(&["a"])).await.unwrap();
    let r2 = r.clone();
    let waiting = tokio::spawn(async move { r2.consume(logs(&["b"])).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "the sender waits for room");
    gate.add_permits(10);
    waiting.await.unwrap().unwrap();
    wait_for("both", || backend.received.lock().unwrap().len() == 2).await;
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn sizer_items_counts_items_not_requests() {
    let backend = Arc::new(Backend::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *backend.hold.lock().unwrap() = Some(gate.clone());
    let t = telemetry();
    let mut c = common(true, 5, 1);
    c.sending_queue.sizer = QueueSizer::Items;
    let r = runner(&backend, c, None, &t);
    r.start().await.unwrap();
    r.consume(logs(&["a", "b", "c"])).await.unwrap();
    assert!(
        r.consume(logs(&["d", "e", "f"])).await.is_err(),
        "3 + 3 items exceed 5"
    );
    let too_big = r
        .consume(logs(&["1", "2", "3", "4", "5", "6"]))
        .await
        .unwrap_err();
    assert!(
        !too_big.is_retryable(),
        "a request larger than the whole queue can never fit"
    );
    gate.add_permits(100);
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn without_a_queue_the_caller_gets_the_outcome_after_retries() {
    let backend = Arc::new(Backend::default());
    let t = telemetry();
    let r = runner(&backend, common(false, 0, 0), None, &t);
    let b2 = backend.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(60)).await;
        b2.up.store(true, Ordering::SeqCst);
    });
    r.consume(logs(&["x"])).await.unwrap();
    assert!(
        backend.attempts.load(Ordering::SeqCst) >= 2,
        "retried until the backend came back"
    );
    backend.permanent.store(true, Ordering::SeqCst);
    let before = backend.attempts.load(Ordering::SeqCst);
    let err = r.consume(logs(&["y"])).await.unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(
        backend.attempts.load(Ordering::SeqCst),
        before + 1,
        "a permanent error is not retried"
    );
    assert_eq!(value(&t, "otelcol_exporter_send_failed_log_records"), 1.0);
    // below level `detailed`, no failure labels (Go's default views drop them)
    assert_eq!(
        series(&t, "otelcol_exporter_send_failed_log_records"),
        vec![("exporter=otlp/backend".to_string(), 1.0)]
    );
}

#[tokio::test]
async fn retries_stop_after_max_elapsed_time_and_the_drop_is_counted() {
    let backend = Arc::new(Backend::default());
    let t = telemetry();
    let mut c = common(true, 10, 1);
    c.retry_on_failure.max_elapsed_time = GoDuration::from_millis(100);
    let r = runner(&backend, c, None, &t);
    r.start().await.unwrap();
    r.consume(logs(&["lost"])).await.unwrap();
    wait_for("give up", || {
        value(&t, "otelcol_exporter_send_failed_log_records") == 1.0
    })
    .await;
    r.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn throttle_hints_lengthen_the_wait() {
    let backend = Arc::new(Backend::default());
    *backend.throttle.lock().unwrap() = Some(Duration::from_millis(300));
    let t = telemetry();
    let r = runner(&backend, common(false, 0, 0), None, &t);
    let b2 = backend.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        b2.up.store(true, Ordering::SeqCst);
    });
    let started = std::time::Instant::now();
    r.consume(logs(&["x"])).await.unwrap();
    assert_eq!(
        backend.attempts.load(Ordering::SeqCst),
        2,
        "one wait of the hinted 300ms, not several 10ms backoffs"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn shutdown_sends_what_is_queued_once_and_a_memory_queue_counts_what_it_loses() {
    let backend = Arc::new(Backend::default());
    let t = telemetry();
    let r = runner(&backend, common(true, 10, 1), None, &t);
    r.start().await.unwrap();
    for n in ["a", "b", "c"] {
        r.consume(logs(&[n])).await.unwrap();
    }
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
    assert_eq!(
        value(&t, "otelcol_exporter_send_failed_log_records"),
        3.0,
        "every lost item is counted"
    );

    assert!(r.consume(logs(&["late"])).await.unwrap_err().is_retryable());
}

#[tokio::test]
async fn a_persistent_queue_keeps_unsent_requests_across_a_restart() {
    let storage = MemoryStorage::default();
    let backend = Arc::new(Backend::default());
    let t = telemetry();
    let r = runner(&backend, common(true, 100, 2), Some(storage.clone()), &t);
    r.start().await.unwrap();
    for i in 0..10 {
        r.consume(logs(&[&format!("p{i}")])).await.unwrap();
    }
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
    assert!(backend.received.lock().unwrap().is_empty());
    assert_eq!(value(&t, "otelcol_exporter_send_failed_log_records"), 10.0);

    // the next start finds everything on disk and sends it once the backend is up
    backend.up.store(true, Ordering::SeqCst);
    let t2 = telemetry();
    let r2 = runner(&backend, common(true, 100, 2), Some(storage.clone()), &t2);
    r2.start().await.unwrap();
    wait_for("recovered delivery", || {
        backend.received.lock().unwrap().len() == 10
    })
    .await;
    let mut got = backend.received.lock().unwrap().clone();
    got.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    want.sort();
    assert_eq!(got, want, "no request lost, none twice");
    wait_for("cleanup", || {
        storage
            .keys()
            .iter()
            .all(|k| k == "wi" || k == "ri" || k == "di")
    })
    .await;
    r2.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn requests_in_flight_at_a_crash_are_sent_again_and_nothing_else_twice() {
    let storage = MemoryStorage::default();
    let backend = Arc::new(Backend::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *backend.hold.lock().unwrap() = Some(gate.clone());
    backend.up.store(true, Ordering::SeqCst);
    let t = telemetry();
    let r = runner(&backend, common(true, 100, 2), Some(storage.clone()), &t);
    r.start().await.unwrap();
    for i in 0..6 {
        r.consume(logs(&[&format!("c{i}")])).await.unwrap();
    }
    wait_for("two in flight", || {
        backend.attempts.load(Ordering::SeqCst) == 2
    })
    .await;
    // a crash: the process is gone, nothing is flushed or closed
    drop(r);
    let backend2 = Arc::new(Backend::default());
    backend2.up.store(true, Ordering::SeqCst);
    let r2 = runner(
        &backend2,
        common(true, 100, 2),
        Some(storage.clone()),
        &telemetry(),
    );
    r2.start().await.unwrap();
    wait_for("all six", || backend2.received.lock().unwrap().len() == 6).await;
    let mut got = backend2.received.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, vec!["c0", "c1", "c2", "c3", "c4", "c5"]);
    r2.shutdown(Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_request_queued_by_three_exporters_is_counted_once_in_the_memory_budget() {
    let budget = MemoryBudget::new(1 << 20);
    let t = telemetry();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let runners: Vec<Arc<ExporterRunner>> = (0..3)
        .map(|_| {
            let b = Arc::new(Backend::default());
            *b.hold.lock().unwrap() = Some(gate.clone());
            runner_with(&b, common(true, 100, 1), None, &t, budget.clone())
        })
        .collect();
    for r in &runners {
        r.start().await.unwrap();
    }
    let request = logs(&[&"x".repeat(1000)]);
    for r in &runners {
        r.consume(request.clone()).await.unwrap();
    }
    assert_eq!(budget.used(), request.memory_size() as u64);
    let other = logs(&["y"]);
    runners[0].consume(other.clone()).await.unwrap();
    assert_eq!(
        budget.used(),
        (request.memory_size() + other.memory_size()) as u64,
        "other data pays for itself"
    );
    gate.add_permits(100);
    for r in &runners {
        r.shutdown(Instant::now() + Duration::from_secs(5)).await;
    }
    assert_eq!(
        budget.used(),
        0,
        "given back when every queue is done with it"
    );
}

/// `otelcol_exporter_in_flight_requests` counts the sends under way, retries included, and
/// comes back to 0 when they end.
#[tokio::test]
async fn in_flight_requests_follow_the_sends() {
    let backend = Arc::new(Backend::default());
    backend.up.store(true, Ordering::SeqCst);
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *backend.hold.lock().unwrap() = Some(gate.clone());
    let t = telemetry();
    let r = runner(&backend, common(true, 10, 2), None, &t);
    r.start().await.unwrap();
    r.consume(logs(&["a"])).await.unwrap();
    r.consume(logs(&["b"])).await.unwrap();
    wait_for("two sends in flight", || {
        value(&t, "otelcol_exporter_in_flight_requests") == 2.0
    })
    .await;
    gate.add_permits(2);
    wait_for("both delivered", || {
        backend.received.lock().unwrap().len() == 2
    })
    .await;
    wait_for("none in flight", || {
        value(&t, "otelcol_exporter_in_flight_requests") == 0.0
    })
    .await;
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
}

/// A destination that refuses, for its size, any request of more than `max` items, or any
/// request holding the item named "huge".
struct SizeLimited {
    max: usize,
    attempts: AtomicUsize,
    received: Mutex<Vec<String>>,
}

#[async_trait]
impl Exporter for SizeLimited {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let names: Vec<String> = batch
            .as_logs()
            .unwrap()
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .map(|l| l.event_name.clone())
            .collect();
        if names.len() > self.max || names.iter().any(|n| n == "huge") {
            return Err(ConsumeError::too_large(
                "grpc: received message larger than max (5000000 vs. 4194304)",
            ));
        }
        self.received.lock().unwrap().extend(names);
        Ok(())
    }
}

#[tokio::test]
async fn a_request_refused_for_its_size_is_sent_again_in_smaller_requests() {
    let backend = Arc::new(SizeLimited {
        max: 3,
        attempts: AtomicUsize::new(0),
        received: Mutex::new(Vec::new()),
    });
    let t = telemetry();
    let r = Arc::new(ExporterRunner::new(
        ComponentId::parse("otlp/backend").unwrap(),
        Signal::Logs,
        backend.clone(),
        common(false, 10, 1),
        None,
        &t,
        MemoryBudget::unlimited(),
    ));
    r.start().await.unwrap();
    let names: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    r.consume(logs(&refs)).await.unwrap();
    assert_eq!(
        *backend.received.lock().unwrap(),
        names,
        "every item, in order"
    );
    assert_eq!(value(&t, "otelcol_exporter_sent_log_records"), 10.0);
    assert_eq!(value(&t, "otelcol_exporter_send_failed_log_records"), 0.0);

    // one item too large on its own: it alone fails, the others are sent
    let before = backend.received.lock().unwrap().len();
    let err = r
        .consume(logs(&["a", "b", "huge", "c", "d"]))
        .await
        .unwrap_err();
    assert!(err.is_too_large(), "{err}");
    let got = backend.received.lock().unwrap()[before..].to_vec();
    assert_eq!(got, vec!["a", "b", "c", "d"]);
    assert_eq!(value(&t, "otelcol_exporter_sent_log_records"), 14.0);
    assert_eq!(value(&t, "otelcol_exporter_send_failed_log_records"), 1.0);
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
}

/// At `level: detailed` the failures carry Go's `error_type` (`_OTHER` for an error without
/// a gRPC code, `Shutdown` for what a stop gives up) and `error_permanent` labels.
#[tokio::test]
async fn at_level_detailed_failures_carry_the_error_labels() {
    let backend = Arc::new(Backend::default());
    let t = Telemetry::new(MetricsLevel::Detailed).component(
        ComponentKind::Exporter,
        &ComponentId::parse("otlp/backend").unwrap(),
    );
    backend.up.store(true, Ordering::SeqCst);
    backend.permanent.store(true, Ordering::SeqCst);
    let r = runner(&backend, common(false, 0, 0), None, &t);
    r.consume(logs(&["y"])).await.unwrap_err();
    assert_eq!(
        series(&t, "otelcol_exporter_send_failed_log_records"),
        vec![(
            "error_permanent=true,error_type=_OTHER,exporter=otlp/backend".to_string(),
            1.0
        )]
    );
    // a backend down: what the queue holds at the stop is given up as `Shutdown`
    let backend = Arc::new(Backend::default());
    let t = Telemetry::new(MetricsLevel::Detailed).component(
        ComponentKind::Exporter,
        &ComponentId::parse("otlp/backend").unwrap(),
    );
    let r = runner(&backend, common(true, 10, 1), None, &t);
    r.start().await.unwrap();
    for n in ["a", "b"] {
        r.consume(logs(&[n])).await.unwrap();
    }
    assert!(r.shutdown(Instant::now() + Duration::from_secs(5)).await);
    assert_eq!(
        series(&t, "otelcol_exporter_send_failed_log_records"),
        vec![(
            "error_permanent=false,error_type=Shutdown,exporter=otlp/backend".to_string(),
            2.0
        )]
    );
}
