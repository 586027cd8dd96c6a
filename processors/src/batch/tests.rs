use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue, GoDuration};
use pipeline_api::telemetry::{ComponentTelemetry, MetricsLevel, Telemetry};
use pipeline_api::{
    async_trait, Batch, BuildContext, ComponentId, ComponentKind, ConsumeError, Consumer,
    ErrorKind, Processor, RequestContext, SharedConsumer, Signal,
};
use tokio::sync::Semaphore;

use super::*;

// ---------- helpers ----------

/// Records what it is handed; optionally fails, optionally waits for a permit per batch.
#[derive(Default)]
struct Collect {
    batches: Mutex<Vec<Batch>>,
    fail_with: Mutex<Option<ConsumeError>>,
    gate: Option<Arc<Semaphore>>,
}

impl Collect {
    fn new() -> Arc<Collect> {
        Arc::new(Collect::default())
    }
    fn gated(gate: Arc<Semaphore>) -> Arc<Collect> {
        Arc::new(Collect {
            gate: Some(gate),
            ..Default::default()
        })
    }
    fn sizes(&self) -> Vec<usize> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .map(Batch::items)
            .collect()
    }
    fn names(&self) -> Vec<String> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flat_map(span_names)
            .collect()
    }
}

#[async_trait]
impl Consumer for Collect {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        self.batches.lock().unwrap().push(batch);
        match self.fail_with.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

use pipeline_api::testing::spans;

fn with_metadata(mut b: Batch, pairs: &[(&str, &str)]) -> Batch {
    b.set_context(RequestContext {
        metadata: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    });
    b
}

fn span_names(b: &Batch) -> Vec<String> {
    b.as_traces()
        .unwrap()
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .flat_map(|s| s.spans.iter().map(|sp| sp.name.clone()))
        .collect()
}

fn ctx_with(telemetry: ComponentTelemetry) -> BuildContext {
    BuildContext {
        id: telemetry.id().clone(),
        telemetry,
        signals: vec![Signal::Traces],
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    }
}

fn ctx() -> BuildContext {
    let id = ComponentId::parse("batch").unwrap();
    ctx_with(ComponentTelemetry::detached(ComponentKind::Processor, &id))
}

fn config(send_batch_size: u32, timeout_ms: u64, max: u32) -> Config {
    Config {
        send_batch_size,
        timeout: GoDuration::from_millis(timeout_ms),
        send_batch_max_size: max,
        ..Config::default()
    }
}

/// A started batch processor of traces built in `c`.
async fn started_in(c: BuildContext, cfg: Config, next: SharedConsumer) -> Arc<BatchProcessor> {
    let p = Arc::new(BatchProcessor::new(c, cfg, Signal::Traces, next));
    p.start().await.unwrap();
    p
}

async fn started(cfg: Config, next: SharedConsumer) -> Arc<BatchProcessor> {
    started_in(ctx(), cfg, next).await
}

/// [`started`] with telemetry at the normal level, to read its metrics.
async fn started_with_telemetry(
    cfg: Config,
    next: SharedConsumer,
) -> (Arc<BatchProcessor>, ComponentTelemetry) {
    let id = ComponentId::parse("batch").unwrap();
    let telemetry = Telemetry::new(MetricsLevel::Normal).component(ComponentKind::Processor, &id);
    let p = started_in(ctx_with(telemetry.clone()), cfg, next).await;
    (p, telemetry)
}

/// [`started`] with its own memory budget.
async fn started_with_budget(
    cfg: Config,
    next: SharedConsumer,
    budget: &pipeline_api::MemoryBudget,
) -> Arc<BatchProcessor> {
    let mut c = ctx();
    c.memory = budget.clone();
    started_in(c, cfg, next).await
}

fn spawn_consume(
    p: &Arc<BatchProcessor>,
    b: Batch,
) -> tokio::task::JoinHandle<Result<(), ConsumeError>> {
    let p = p.clone();
    tokio::spawn(async move { p.consume(b).await })
}

/// Let every ready task run (time is paused in these tests, so nothing else moves).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

/// Value of a metric (counter/gauge value, or histogram sample count) with label
/// processor="batch".
fn metric(t: &ComponentTelemetry, name: &str) -> Option<f64> {
    use prometheus::proto::MetricType;
    t.telemetry()
        .registry()
        .gather()
        .into_iter()
        .find(|f| f.name() == name)
        .and_then(|f| {
            f.get_metric().iter().find_map(|m| {
                let labelled = m
                    .get_label()
                    .iter()
                    .any(|l| l.name() == "processor" && l.value() == "batch");
                if !labelled {
                    return None;
                }
                match f.get_field_type() {
                    MetricType::COUNTER => Some(m.get_counter().get_value()),
                    MetricType::GAUGE => Some(m.get_gauge().get_value()),
                    MetricType::HISTOGRAM => Some(m.get_histogram().get_sample_count() as f64),
                    _ => None,
                }
            })
        })
}

// ---------- config ----------

#[test]
fn defaults_validate_and_are_go_defaults() {
    // Go createDefaultConfig: SendBatchSize 8192, Timeout 200ms, MetadataCardinalityLimit 1000.
    let cfg: Config = parse_typed(&ConfigValue::Null).unwrap();
    assert_eq!(cfg, Config::default());
    assert_eq!(cfg.send_batch_size, 8192);
    assert_eq!(cfg.timeout.get(), Duration::from_millis(200));
    assert_eq!(cfg.send_batch_max_size, 0);
    assert!(cfg.metadata_keys.is_empty());
    assert_eq!(cfg.metadata_cardinality_limit, 1000);
    assert!(factory().parse_config(&yaml("{}")).is_ok());
}

#[test]
fn unknown_key_is_rejected() {
    let errs = factory()
        .parse_config(&yaml("send_batch_sise: 10"))
        .unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "send_batch_sise: unknown key \"send_batch_sise\"; did you mean \"send_batch_size\"?"
    );
}

#[test]
fn max_size_below_send_batch_size_is_rejected_with_go_message() {
    let errs = factory()
        .parse_config(&yaml("send_batch_size: 100\nsend_batch_max_size: 50"))
        .unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "send_batch_max_size: send_batch_max_size must be greater or equal to send_batch_size"
    );
    // 0 (no maximum) and an equal maximum are fine
    assert!(factory()
        .parse_config(&yaml("send_batch_size: 100\nsend_batch_max_size: 0"))
        .is_ok());
    assert!(factory()
        .parse_config(&yaml("send_batch_size: 100\nsend_batch_max_size: 100"))
        .is_ok());
}

#[test]
fn duplicate_metadata_keys_are_rejected_case_insensitively_as_go() {
    let errs = factory()
        .parse_config(&yaml("metadata_keys: [Tenant, tenant]"))
        .unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "metadata_keys: duplicate entry in metadata_keys: \"tenant\" (case-insensitive)"
    );
}

#[test]
fn timeout_parses_go_durations() {
    let cfg: Config = parse_typed(&yaml("timeout: 1m30s")).unwrap();
    assert_eq!(cfg.timeout.get(), Duration::from_secs(90));
    assert!(factory().parse_config(&yaml("timeout: -1s")).is_err());
}

// ---------- behaviour ----------

#[tokio::test(start_paused = true)]
async fn size_trigger_sends_once_send_batch_size_is_reached() {
    let next = Collect::new();
    let p = started(config(10, 10_000, 0), next.clone()).await;
    let a = spawn_consume(&p, spans("a", 4));
    settle().await;
    assert!(next.sizes().is_empty(), "4 < 10: still pending");
    assert!(
        a.is_finished(),
        "the caller is answered once its items are accepted, before the flush (Go)"
    );
    let b = spawn_consume(&p, spans("b", 6));
    assert_eq!(b.await.unwrap(), Ok(()));
    assert_eq!(a.await.unwrap(), Ok(()));
    assert_eq!(next.sizes(), vec![10]);
    assert_eq!(
        next.names(),
        vec!["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3", "b4", "b5"]
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn timeout_trigger_sends_after_timeout_since_first_item() {
    let next = Collect::new();
    let p = started(config(100, 200, 0), next.clone()).await;
    let a = spawn_consume(&p, spans("a", 3));
    settle().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = spawn_consume(&p, spans("b", 2));
    tokio::time::sleep(Duration::from_millis(99)).await;
    settle().await;
    assert!(
        next.sizes().is_empty(),
        "199ms after the first item: nothing sent yet"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(a.await.unwrap(), Ok(()));
    assert_eq!(b.await.unwrap(), Ok(()));
    assert_eq!(next.sizes(), vec![5]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn timeout_zero_sends_immediately_split_by_max_size() {
    let next = Collect::new();
    let p = started(config(8192, 0, 10), next.clone()).await;
    assert_eq!(p.consume(spans("a", 25)).await, Ok(()));
    settle().await;
    assert_eq!(next.sizes(), vec![10, 10, 5]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn large_batch_is_split_by_max_size_and_remainder_waits_like_go() {
    // Go processItem: while count >= send_batch_size send min(count, max); the rest waits.
    let next = Collect::new();
    let p = started(config(10, 200, 15), next.clone()).await;
    let a = spawn_consume(&p, spans("a", 32));
    settle().await;
    assert_eq!(next.sizes(), vec![15, 15]);
    assert!(
        a.is_finished(),
        "answered although 2 of its items are still pending"
    );
    tokio::time::sleep(Duration::from_millis(201)).await;
    assert_eq!(a.await.unwrap(), Ok(()));
    assert_eq!(next.sizes(), vec![15, 15, 2]);
    let names = next.names();
    assert_eq!(names.len(), 32);
    assert_eq!(names.first().unwrap(), "a0");
    assert_eq!(names.last().unwrap(), "a31");
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn single_batch_larger_than_send_batch_size_goes_straight_through() {
    let next = Collect::new();
    let p = started(config(10, 60_000, 0), next.clone()).await;
    assert_eq!(p.consume(spans("a", 25)).await, Ok(()));
    settle().await;
    assert_eq!(next.sizes(), vec![25]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn caller_is_answered_before_the_flush_and_a_failed_send_is_counted() {
    let gate = Arc::new(Semaphore::new(0));
    let next = Collect::gated(gate.clone());
    *next.fail_with.lock().unwrap() = Some(ConsumeError::permanent("backend said no"));
    let (p, telemetry) = started_with_telemetry(config(5, 10_000, 0), next.clone()).await;
    // a 10 s timeout (as 4 of 50 public configs set) does not hold the caller
    assert_eq!(p.consume(spans("a", 3)).await, Ok(()));
    assert_eq!(p.consume(spans("b", 2)).await, Ok(()));
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_send_failed_items"),
        Some(0.0)
    );
    gate.add_permits(1);
    settle().await;
    assert_eq!(next.sizes(), vec![5]);
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_send_failed_items"),
        Some(5.0),
        "items the next consumer refused after acceptance are counted"
    );
    p.shutdown().await;
}

/// Refuses (retryable) the first `n` batches, then takes them.
struct RefuseFirst {
    left: Mutex<usize>,
    got: Collect,
}

#[async_trait]
impl Consumer for RefuseFirst {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        {
            let mut left = self.left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(ConsumeError::backpressure("sending queue is full"));
            }
        }
        self.got.consume(batch).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_retryable_refusal_downstream_is_tried_again_not_dropped() {
    let next = Arc::new(RefuseFirst {
        left: Mutex::new(3),
        got: Collect::default(),
    });
    let (p, telemetry) = started_with_telemetry(config(5, 200, 0), next.clone()).await;
    assert_eq!(p.consume(spans("a", 5)).await, Ok(()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(next.got.sizes(), vec![5], "delivered on the fourth attempt");
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_send_failed_items"),
        Some(0.0)
    );
    // refused for much longer than WARN_AFTER: held and tried again, not dropped
    *next.left.lock().unwrap() = usize::MAX;
    assert_eq!(p.consume(spans("b", 5)).await, Ok(()));
    tokio::time::sleep(batcher::WARN_AFTER * 6).await;
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_send_failed_items"),
        Some(0.0)
    );
    assert_eq!(next.got.sizes(), vec![5]);
    // room again: delivered
    *next.left.lock().unwrap() = 0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        next.got.sizes(),
        vec![5, 5],
        "delivered once room came back"
    );
    // still refused at shutdown: counted as failed, once
    *next.left.lock().unwrap() = usize::MAX;
    assert_eq!(p.consume(spans("c", 5)).await, Ok(()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    p.shutdown().await;
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_send_failed_items"),
        Some(5.0)
    );
}

/// `batch` → a fan-out to two exporters, one of them full for longer than the fan-out
/// tries on its own: the batch processor tries the same batch again, the fan-out sends it
/// only to the branch that refused it, and each branch gets it once.
#[tokio::test(start_paused = true)]
async fn a_branch_full_for_long_gets_the_batch_once_and_the_others_are_not_sent_it_again() {
    let up = Arc::new(Collect::default());
    // refuses 40 attempts: longer than the fan-out's own retry (PARTIAL_RETRY)
    let full = Arc::new(RefuseFirst {
        left: Mutex::new(40),
        got: Collect::default(),
    });
    let next = pipeline_api::fanout::FanOut::consumer(vec![up.clone(), full.clone()]);
    let (p, telemetry) = started_with_telemetry(config(5, 200, 0), next).await;
    assert_eq!(p.consume(spans("a", 5)).await, Ok(()));
    tokio::time::sleep(pipeline_api::fanout::PARTIAL_RETRY * 4).await;
    assert_eq!(
        *full.left.lock().unwrap(),
        0,
        "refused past the fan-out's retry"
    );
    assert_eq!(full.got.sizes(), vec![5]);
    assert_eq!(up.sizes(), vec![5], "the branch that took it got it once");
    p.shutdown().await;
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_send_failed_items"),
        Some(0.0)
    );
}

/// Keeps what it takes, charged to the memory budget the way a sending queue charges it
/// (`Batch::memory_charge`), and refuses when the budget has no room.
struct QueueLike {
    budget: pipeline_api::MemoryBudget,
    kept: Mutex<Vec<(Batch, Arc<pipeline_api::MemoryPermit>)>>,
}

#[async_trait]
impl Consumer for QueueLike {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let bytes = batch.memory_size() as u64;
        let Some(charge) = batch.memory_charge(&self.budget, || self.budget.try_reserve(bytes))
        else {
            return Err(ConsumeError::backpressure("memory budget is spent"));
        };
        self.kept.lock().unwrap().push((batch, charge));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_queue_takes_over_the_batch_reservation_instead_of_charging_again() {
    let requests: Vec<Batch> = (0..4).map(|i| spans(&format!("r{i}-"), 4)).collect();
    let total: u64 = requests.iter().map(|b| b.memory_size() as u64).sum();
    // the buffers' share (75 %) holds the four requests; the whole budget not twice that
    let budget = pipeline_api::MemoryBudget::new(total * 4 / 3 + 4);
    let next = Arc::new(QueueLike {
        budget: budget.clone(),
        kept: Mutex::new(Vec::new()),
    });
    let p = started_with_budget(config(16, 200, 0), next.clone(), &budget).await;
    for r in requests {
        assert_eq!(p.consume(r).await, Ok(()));
    }
    // one send of 16 items: the queue keeps it under the batch's four reservations
    settle().await;
    let kept = next.kept.lock().unwrap().len();
    assert_eq!(kept, 1, "taken without a second charge");
    assert_eq!(budget.used(), total, "charged once");
    assert_eq!(
        p.consume(spans("late", 1)).await.unwrap_err().message(),
        format!(
            "memory budget of {} bytes is spent; try again later",
            budget.limit()
        ),
        "the kept data still counts against the buffers' share"
    );
    next.kept.lock().unwrap().clear();
    assert_eq!(budget.used(), 0, "given back when the queue lets go");
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_refuses_with_a_retryable_error_after_the_accept_wait() {
    // send_batch_max_size 2: the buffer holds 4 × 2 = 8 items, pending and being sent
    let gate = Arc::new(Semaphore::new(0));
    let next = Collect::gated(gate.clone());
    let p = started(config(2, 200, 2), next.clone()).await;
    assert_eq!(capacity(&config(2, 200, 2)), 8);
    for i in 0..4 {
        assert_eq!(p.consume(spans(&format!("r{i}-"), 2)).await, Ok(()));
    }
    let started_at = tokio::time::Instant::now();
    let err = p.consume(spans("late", 1)).await.unwrap_err();
    assert!(err.is_retryable(), "UNAVAILABLE / 503 at the client");
    assert_eq!(err.message(), BUFFER_FULL);
    assert_eq!(
        started_at.elapsed(),
        ACCEPT_WAIT,
        "waited the accept wait first"
    );
    // a caller waiting while room frees up is accepted
    let waiting = spawn_consume(&p, spans("w", 2));
    settle().await;
    assert!(!waiting.is_finished());
    gate.add_permits(1);
    settle().await;
    assert_eq!(waiting.await.unwrap(), Ok(()));
    gate.add_permits(100);
    p.shutdown().await;
    // nothing accepted was lost
    assert_eq!(next.sizes().iter().sum::<usize>(), 10);
}

/// The buffer is bounded by the memory budget, charged what a batch takes in memory: a
/// decoded one several times its encoding.
#[tokio::test(start_paused = true)]
async fn the_memory_budget_bounds_the_buffer_in_bytes() {
    let gate = Arc::new(Semaphore::new(0));
    let next = Collect::gated(gate.clone());
    let one = spans("a", 10);
    assert!(one.is_decoded());
    assert!(one.memory_size() > 2 * one.encoded_len());
    // the buffers' share (75 %) of it holds two requests
    let budget = pipeline_api::MemoryBudget::new(one.memory_size() as u64 * 8 / 3 + 2);
    let p = started_with_budget(config(10, 200, 0), next.clone(), &budget).await;
    assert_eq!(p.consume(one.clone()).await, Ok(()));
    assert_eq!(p.consume(one.clone()).await, Ok(()));
    let err = p.consume(one.clone()).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(err.message().contains("memory budget"), "{err}");
    assert_eq!(budget.used(), one.memory_size() as u64 * 2);
    gate.add_permits(100);
    settle().await;
    assert_eq!(budget.used(), 0, "given back once sent");
    assert_eq!(p.consume(one).await, Ok(()));
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn metadata_keys_batch_each_value_combination_separately() {
    let next = Collect::new();
    let cfg = Config {
        metadata_keys: vec!["Tenant".into()],
        ..config(4, 200, 0)
    };
    let p = started(cfg, next.clone()).await;
    let a1 = spawn_consume(&p, with_metadata(spans("a", 2), &[("tenant", "a")]));
    let b1 = spawn_consume(&p, with_metadata(spans("b", 2), &[("tenant", "b")]));
    let a2 = spawn_consume(&p, with_metadata(spans("A", 2), &[("TENANT", "a")]));
    assert_eq!(a1.await.unwrap(), Ok(()));
    assert_eq!(a2.await.unwrap(), Ok(()));
    {
        let batches = next.batches.lock().unwrap();
        assert_eq!(
            batches.len(),
            1,
            "tenant a reached 4 items; tenant b still pending"
        );
        assert_eq!(span_names(&batches[0]), vec!["a0", "a1", "A0", "A1"]);
        // Go exportCtx: the shard's metadata only
        assert_eq!(
            batches[0].context().metadata,
            vec![("tenant".to_string(), "a".to_string())]
        );
    }
    tokio::time::sleep(Duration::from_millis(201)).await;
    assert_eq!(b1.await.unwrap(), Ok(()));
    {
        let batches = next.batches.lock().unwrap();
        assert_eq!(span_names(&batches[1]), vec!["b0", "b1"]);
        assert_eq!(batches[1].context().metadata_values("tenant"), vec!["b"]);
    }
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn unset_and_empty_metadata_are_distinct_batchers() {
    // Go config.go: "Empty value and unset metadata are treated as distinct cases."
    let next = Collect::new();
    let cfg = Config {
        metadata_keys: vec!["tenant".into()],
        ..config(2, 200, 0)
    };
    let p = started(cfg, next.clone()).await;
    let a = spawn_consume(&p, spans("unset", 1));
    let b = spawn_consume(&p, with_metadata(spans("empty", 1), &[("tenant", "")]));
    tokio::time::sleep(Duration::from_millis(201)).await;
    assert_eq!(a.await.unwrap(), Ok(()));
    assert_eq!(b.await.unwrap(), Ok(()));
    assert_eq!(next.sizes(), vec![1, 1]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn cardinality_limit_refuses_new_combinations_with_go_permanent_error() {
    let id = ComponentId::parse("batch").unwrap();
    let telemetry = ComponentTelemetry::detached(ComponentKind::Processor, &id);
    let next = Collect::new();
    let cfg = Config {
        metadata_keys: vec!["tenant".into()],
        metadata_cardinality_limit: 1,
        ..config(1, 200, 0)
    };
    let p = Arc::new(BatchProcessor::new(
        ctx_with(telemetry.clone()),
        cfg,
        Signal::Traces,
        next.clone(),
    ));
    p.start().await.unwrap();
    assert_eq!(
        p.consume(with_metadata(spans("a", 1), &[("tenant", "a")]))
            .await,
        Ok(())
    );
    let err = p
        .consume(with_metadata(spans("b", 1), &[("tenant", "b")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!(err.message(), TOO_MANY_BATCHERS);
    // a known combination still flows
    assert_eq!(
        p.consume(with_metadata(spans("a", 1), &[("tenant", "a")]))
            .await,
        Ok(())
    );
    settle().await;
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_metadata_cardinality"),
        Some(1.0)
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_pending_data_and_then_hands_late_data_straight_on() {
    let next = Collect::new();
    let p = started(config(100, 3_600_000, 0), next.clone()).await;
    let a = spawn_consume(&p, spans("a", 3));
    settle().await;
    assert!(next.sizes().is_empty());
    p.shutdown().await;
    assert_eq!(a.await.unwrap(), Ok(()));
    assert_eq!(next.sizes(), vec![3]);
    // a request still in flight while the receivers drain is not held nor refused
    assert_eq!(p.consume(spans("late", 1)).await, Ok(()));
    assert_eq!(next.sizes(), vec![3, 1]);
    // a second shutdown is harmless
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_sends_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let next = Collect::gated(gate.clone());
    let p = started(config(1, 200, 0), next.clone()).await;
    let a = spawn_consume(&p, spans("a", 1));
    settle().await;
    let stopping = {
        let p = p.clone();
        tokio::spawn(async move { p.shutdown().await })
    };
    settle().await;
    assert!(
        !stopping.is_finished(),
        "the send is still stuck downstream"
    );
    gate.add_permits(1);
    stopping.await.unwrap();
    assert!(a.is_finished());
    assert_eq!(next.sizes(), vec![1]);
}

#[tokio::test]
async fn consume_before_start_is_refused_and_build_spawns_nothing() {
    let next = Collect::new();
    let factory = factory();
    let cfg = factory.parse_config(&ConfigValue::Null).unwrap();
    let p = factory
        .build(ctx(), cfg.as_ref(), Signal::Traces, next.clone())
        .unwrap();
    let err = p.consume(spans("a", 1)).await.unwrap_err();
    assert!(err.is_retryable());
    // build → start → shutdown, twice
    for _ in 0..2 {
        p.start().await.unwrap();
        p.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn batch_of_another_signal_is_refused_not_lost() {
    let next = Collect::new();
    let p = started(config(1, 200, 0), next.clone()).await;
    let err = p.consume(Batch::empty(Signal::Logs)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!(
        err.message(),
        "batch processor of a traces pipeline got logs"
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn empty_batch_is_acknowledged_without_sending() {
    let next = Collect::new();
    let p = started(config(1, 200, 0), next.clone()).await;
    assert_eq!(p.consume(Batch::empty(Signal::Traces)).await, Ok(()));
    assert!(next.sizes().is_empty());
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn metric_counters_change() {
    let id = ComponentId::parse("batch").unwrap();
    let telemetry = Telemetry::new(MetricsLevel::Detailed).component(ComponentKind::Processor, &id);
    let next = Collect::new();
    let p = Arc::new(BatchProcessor::new(
        ctx_with(telemetry.clone()),
        config(4, 200, 0),
        Signal::Traces,
        next.clone(),
    ));
    p.start().await.unwrap();
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_metadata_cardinality"),
        Some(1.0)
    );
    assert_eq!(p.consume(spans("a", 4)).await, Ok(()));
    let b = spawn_consume(&p, spans("b", 1));
    tokio::time::sleep(Duration::from_millis(201)).await;
    assert_eq!(b.await.unwrap(), Ok(()));
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_processor_batch_batch_size_trigger_send"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_timeout_trigger_send"),
        Some(1.0)
    );
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_batch_send_size"),
        Some(2.0)
    );
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_batch_send_size_bytes"),
        Some(2.0)
    );
    // histogram sum: 4 + 1 items
    let families = telemetry.telemetry().registry().gather();
    let h = families
        .iter()
        .find(|f| f.name() == "otelcol_processor_batch_batch_send_size")
        .unwrap();
    assert_eq!(h.get_metric()[0].get_histogram().get_sample_sum(), 5.0);
    // Go bucket boundaries
    let bounds: Vec<f64> = h.get_metric()[0]
        .get_histogram()
        .get_bucket()
        .iter()
        .map(|b| b.upper_bound())
        .collect();
    assert_eq!(bounds, SEND_SIZE_BUCKETS.to_vec());
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn send_size_bytes_only_at_detailed_level() {
    let telemetry = ctx().telemetry; // normal level
    let next = Collect::new();
    let p = Arc::new(BatchProcessor::new(
        ctx_with(telemetry.clone()),
        config(1, 200, 0),
        Signal::Traces,
        next,
    ));
    p.start().await.unwrap();
    assert_eq!(p.consume(spans("a", 1)).await, Ok(()));
    settle().await;
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_batch_send_size"),
        Some(1.0)
    );
    assert_eq!(
        metric(&telemetry, "otelcol_processor_batch_batch_send_size_bytes"),
        None
    );
    p.shutdown().await;
}

#[test]
fn factories_list_batch() {
    let names: Vec<&str> = crate::factories().iter().map(|f| f.type_name()).collect();
    assert!(names.contains(&"batch"));
}
