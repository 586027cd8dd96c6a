use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue, GoDuration};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{
    async_trait, Batch, BuildContext, ComponentId, ComponentKind, ConsumeError, Consumer,
    Processor, Signal,
};

use super::*;

#[derive(Default)]
struct Collect {
    items: Mutex<usize>,
}

#[async_trait]
impl Consumer for Collect {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        *self.items.lock().unwrap() += batch.items();
        Ok(())
    }
}

/// A memory reading the test sets.
#[derive(Default)]
struct FakeMemory(AtomicU64);

impl FakeMemory {
    fn set_mib(&self, mib: u64) {
        self.0.store(mib * memory::MIB, Ordering::SeqCst);
    }
}

impl MemoryReader for FakeMemory {
    fn used_bytes(&self) -> Option<u64> {
        Some(self.0.load(Ordering::SeqCst))
    }
}

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn messages(s: &str) -> Vec<String> {
    match factory().parse_config(&yaml(s)) {
        Ok(_) => vec![],
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

fn ctx() -> BuildContext {
    let id = ComponentId::parse("memory_limiter").unwrap();
    BuildContext {
        telemetry: ComponentTelemetry::detached(ComponentKind::Processor, &id),
        id,
        signals: vec![Signal::Logs],
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    }
}

fn logs(n: usize) -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); n],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn config(limit_mib: u32, spike_limit_mib: u32) -> Config {
    Config {
        check_interval: GoDuration::from_secs(1),
        limit_mib,
        spike_limit_mib,
        ..Config::default()
    }
}

fn counter(t: &ComponentTelemetry, name: &str) -> Option<f64> {
    t.telemetry()
        .registry()
        .gather()
        .into_iter()
        .find(|f| f.name() == name)
        .and_then(|f| f.get_metric().first().map(|m| m.get_counter().get_value()))
}

// ---------- config ----------

#[test]
fn default_config_fails_as_in_go_check_interval_must_be_set() {
    // Go createDefaultConfig: "Notice that the default configuration is expected to fail".
    let errs = parse_typed::<Config>(&ConfigValue::Null).unwrap_err();
    let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        msgs,
        vec![
            "check_interval: 'check_interval' must be greater than zero",
            "limit_mib: 'limit_mib' or 'limit_percentage' must be greater than zero",
        ]
    );
    assert_eq!(
        Config::default().min_gc_interval_when_soft_limited,
        GoDuration::from_secs(10)
    );
}

#[test]
fn valid_configs_parse() {
    assert!(messages("check_interval: 1s\nlimit_mib: 4000\nspike_limit_mib: 800").is_empty());
    assert!(
        messages("check_interval: 5s\nlimit_percentage: 80\nspike_limit_percentage: 25").is_empty()
    );
    // Go: limit_mib takes precedence when both are set; not an error
    assert!(messages("check_interval: 1s\nlimit_mib: 100\nlimit_percentage: 50").is_empty());
    // GC keys are accepted
    assert!(messages(
        "check_interval: 1s\nlimit_mib: 100\nmin_gc_interval_when_soft_limited: 5s\nmin_gc_interval_when_hard_limited: 1s"
    )
    .is_empty());
}

#[test]
fn validation_messages_are_gos() {
    assert_eq!(
        messages("limit_mib: 100"),
        vec!["check_interval: 'check_interval' must be greater than zero"]
    );
    assert_eq!(
        messages("check_interval: 1s\nlimit_mib: 100\nspike_limit_mib: 100"),
        vec!["spike_limit_mib: 'spike_limit_mib' must be smaller than 'limit_mib'"]
    );
    assert_eq!(
        messages("check_interval: 1s\nlimit_percentage: 50\nspike_limit_percentage: 60"),
        vec!["spike_limit_percentage: 'spike_limit_percentage' must be smaller than 'limit_percentage'"]
    );
    assert_eq!(
        messages("check_interval: 1s\nlimit_percentage: 101"),
        vec!["limit_percentage: 'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred"]
    );
    assert_eq!(
        messages("check_interval: 1s\nlimit_mib: 100\nmin_gc_interval_when_soft_limited: 1s\nmin_gc_interval_when_hard_limited: 2s"),
        vec!["min_gc_interval_when_soft_limited: 'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'"]
    );
}

#[test]
fn unknown_key_is_rejected() {
    assert_eq!(
        messages("check_interval: 1s\nlimit_mb: 100"),
        vec![
            "limit_mb: unknown key \"limit_mb\"; did you mean \"limit_mib\"?",
            // the rest is validated too: without the typo no limit is set
            "limit_mib: 'limit_mib' or 'limit_percentage' must be greater than zero",
        ]
    );
}

#[test]
fn spike_defaults_to_a_fifth_of_the_limit_like_go() {
    let l = Limits::from_config(&config(1000, 0), || unreachable!()).unwrap();
    assert_eq!(l.limit, 1000 * memory::MIB);
    assert_eq!(l.spike, 200 * memory::MIB);
    assert_eq!(l.soft(), 800 * memory::MIB);
    let cfg = Config {
        limit_mib: 0,
        limit_percentage: 50,
        spike_limit_percentage: 10,
        ..config(0, 0)
    };
    let l = Limits::from_config(&cfg, || Ok(1000 * memory::MIB)).unwrap();
    assert_eq!((l.limit, l.spike), (500 * memory::MIB, 100 * memory::MIB));
    let cfg = Config {
        limit_mib: 0,
        limit_percentage: 50,
        ..config(0, 0)
    };
    let l = Limits::from_config(&cfg, || Ok(1000 * memory::MIB)).unwrap();
    assert_eq!((l.limit, l.spike), (500 * memory::MIB, 100 * memory::MIB));
    let err = Limits::from_config(&cfg, || Err("no meminfo".into())).unwrap_err();
    assert_eq!(
        err,
        "failed to get total memory, use fixed memory settings (limit_mib): no meminfo"
    );
}

// ---------- behaviour ----------

#[tokio::test]
async fn refuses_above_soft_limit_and_recovers_below_it() {
    let mem = Arc::new(FakeMemory::default());
    let next = Arc::new(Collect::default());
    let ctx = ctx();
    let telemetry = ctx.telemetry.clone();
    // limit 100 MiB, spike 20 MiB: soft limit 80 MiB
    let p = MemoryLimiterProcessor::with_reader(
        ctx,
        &config(100, 20),
        mem.clone(),
        Signal::Logs,
        next.clone(),
    )
    .unwrap();
    p.start().await.unwrap();

    mem.set_mib(50);
    p.check_now();
    assert_eq!(p.consume(logs(3)).await, Ok(()));

    mem.set_mib(80); // Go aboveSoftLimit: used >= limit - spike
    p.check_now();
    let err = p.consume(logs(2)).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.message(), "data refused due to high memory usage");

    mem.set_mib(79);
    p.check_now();
    assert_eq!(p.consume(logs(4)).await, Ok(()));

    assert_eq!(*next.items.lock().unwrap(), 7);
    assert_eq!(
        counter(
            &telemetry,
            "otelcol_processor_memory_limiter_accepted_log_records"
        ),
        Some(7.0)
    );
    assert_eq!(
        counter(
            &telemetry,
            "otelcol_processor_memory_limiter_refused_log_records"
        ),
        Some(2.0)
    );
    p.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn checker_started_in_start_ticks_every_check_interval() {
    let mem = Arc::new(FakeMemory::default());
    let next = Arc::new(Collect::default());
    let p = MemoryLimiterProcessor::with_reader(
        ctx(),
        &config(100, 0),
        mem.clone(),
        Signal::Logs,
        next,
    )
    .unwrap();
    mem.set_mib(90);
    // built, not started: nothing measured
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(p.consume(logs(1)).await.is_ok());
    p.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1001)).await;
    assert!(
        p.consume(logs(1)).await.is_err(),
        "first tick after check_interval measured 90 MiB > 80 MiB"
    );
    mem.set_mib(10);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(p.consume(logs(1)).await.is_ok());
    p.shutdown().await;
    // stopped: no more measurements
    mem.set_mib(90);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(p.consume(logs(1)).await.is_ok());
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn limit_of_one_mib_refuses_with_the_real_reader() {
    // This test process's RSS is far above 1 MiB (soft limit: 1 MiB - 20%).
    let factory = factory();
    let cfg = factory
        .parse_config(&yaml("check_interval: 10ms\nlimit_mib: 1"))
        .unwrap();
    let next = Arc::new(Collect::default());
    let p = factory
        .build(ctx(), cfg.as_ref(), Signal::Logs, next.clone())
        .unwrap();
    p.start().await.unwrap();
    // wait for the checker's first ticks (bounded, so a loaded machine does not fail it)
    let mut refused = None;
    for _ in 0..500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Err(e) = p.consume(logs(0)).await {
            refused = Some(e);
            break;
        }
    }
    let err = refused.expect("refused within 5s");
    assert_eq!(err.message(), ERR_DATA_REFUSED);
    assert!(p.consume(logs(1)).await.is_err());
    assert_eq!(*next.items.lock().unwrap(), 0);
    p.shutdown().await;
}

#[tokio::test]
async fn instances_of_one_component_share_one_limiter() {
    let factory = factory();
    let cfg = factory
        .parse_config(&yaml("check_interval: 1s\nlimit_mib: 100000"))
        .unwrap();
    let next: Arc<Collect> = Arc::new(Collect::default());
    let a = factory
        .build(ctx(), cfg.as_ref(), Signal::Logs, next.clone())
        .unwrap();
    let b = factory
        .build(ctx(), cfg.as_ref(), Signal::Traces, next.clone())
        .unwrap();
    let limiters = Limiters::default();
    let id = ComponentId::parse("memory_limiter").unwrap();
    let parsed: &Config = pipeline_api::config_as(cfg.as_ref()).unwrap();
    let first = limiters.get(&id, parsed).unwrap();
    assert!(Arc::ptr_eq(&first, &limiters.get(&id, parsed).unwrap()));
    // start both, stop one: the other still works; stop both twice: harmless
    a.start().await.unwrap();
    b.start().await.unwrap();
    a.shutdown().await;
    assert!(b.consume(logs(1)).await.is_ok());
    b.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
    // another config for the same id gets its own limiter
    let other = factory
        .parse_config(&yaml("check_interval: 2s\nlimit_mib: 100000"))
        .unwrap();
    let _c = factory
        .build(ctx(), other.as_ref(), Signal::Logs, next)
        .unwrap();
    let other: &Config = pipeline_api::config_as(other.as_ref()).unwrap();
    let second = limiters.get(&id, other).unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(limiters.0.lock().unwrap().len(), 1, "one limiter per id");
    assert_eq!(
        limiters
            .0
            .lock()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .0
            .check_interval,
        GoDuration::from_secs(2)
    );
}

#[test]
fn factories_list_memory_limiter() {
    let names: Vec<&str> = crate::factories().iter().map(|f| f.type_name()).collect();
    assert_eq!(
        names,
        vec![
            "batch",
            "memory_limiter",
            "attributes",
            "resource",
            "resourcedetection",
            "probabilistic_sampler",
            "tail_sampling",
            "transform",
            "filter",
            "k8s_attributes"
        ]
    );
}
