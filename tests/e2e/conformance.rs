//! One conformance suite over the whole registry (`ferrotel::registry()`): every component,
//! of every kind, is held to the same contract.
//! - Its default config (Go's `createDefaultConfig()`) validates, unless Go's default does not
//!   either (a required key); those are listed in [`NEEDS_CONFIG`], and the list is checked
//!   against the registry both ways.
//! - An unknown key is refused, naming the key, and a misspelt known key gets "did you mean".
//! - Built on loopback port 0, it starts, takes one batch of every signal it supports, and
//!   shuts down, twice (a reload builds a component again from the same config), within a
//!   bounded time and without a panic.
//!
//! A new component passes it by being registered; one that breaks the contract fails here.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};
use pipeline_api::config::ConfigValue;
use pipeline_api::{Batch, ComponentKind, Factory, Signal, SignalConsumers};

use crate::harness::temp_dir;

/// Components whose Go default config does not validate (a key without a default is
/// required), with the smallest config that does. Every other component must validate with
/// no config at all.
const NEEDS_CONFIG: &[(ComponentKind, &str, &str)] = &[
    // Go: "must specify at least one scraper when using host_metrics receiver"
    (
        ComponentKind::Receiver,
        "hostmetrics",
        "collection_interval: 1s\nscrapers: {load: , memory: }",
    ),
    (
        ComponentKind::Receiver,
        "filelog",
        "include: [FILELOG_DIR/*.log]",
    ),
    // Go: "required argument `include` is empty" (the file consumer's check)
    (
        ComponentKind::Receiver,
        "otlpjsonfile",
        "include: [FILELOG_DIR/*.json]",
    ),
    // Go: "no targets configured" (a port where nothing listens: an error point each round)
    (
        ComponentKind::Receiver,
        "httpcheck",
        "targets: [{endpoint: 'http://127.0.0.1:1/'}]\ninitial_delay: 0s",
    ),
    // Go: "invalid config: missing username", "... missing password" (nothing listens on
    // port 1: the rounds fail and are retried)
    (
        ComponentKind::Receiver,
        "postgresql",
        "username: u\npassword: p\nendpoint: 127.0.0.1:1\ninitial_delay: 0s",
    ),
    // Go: "missing required parameter 'listen_address'"
    (
        ComponentKind::Receiver,
        "tcp_log",
        "listen_address: 127.0.0.1:0",
    ),
    (
        ComponentKind::Receiver,
        "udp_log",
        "listen_address: 127.0.0.1:0",
    ),
    // Go: "need tcp config or udp config", then "missing field 'protocol'"
    (
        ComponentKind::Receiver,
        "syslog",
        "tcp: {listen_address: 127.0.0.1:0}\nprotocol: rfc5424",
    ),
    // Go: "no credential source provided"
    (
        ComponentKind::Extension,
        "basicauth",
        "client_auth: {username: u, password: p}",
    ),
    // Go: "no bearer token provided"
    (ComponentKind::Extension, "bearertokenauth", "token: t"),
    // Go: "must specify at least one protocol when using the Loki receiver"
    (
        ComponentKind::Receiver,
        "loki",
        "protocols: {http: {endpoint: 127.0.0.1:0}}",
    ),
    // Go: "must specify at least one protocol when using the Jaeger receiver"
    (
        ComponentKind::Receiver,
        "jaeger",
        "protocols: {grpc: {endpoint: 127.0.0.1:0}}",
    ),
    // Go: "invalid routing table: the routing table is empty". SIGNAL is the pipeline the
    // connector feeds in the lifecycle check (one per signal pair); elsewhere `traces`.
    (
        ComponentKind::Connector,
        "routing",
        "table: [{condition: 'true', pipelines: [SIGNAL]}]",
    ),
    // Go: "endpoint required" (zipkin exporter)
    (
        ComponentKind::Exporter,
        "zipkin",
        "endpoint: http://127.0.0.1:1/api/v2/spans",
    ),
    // Go: "path must be non-empty"
    (
        ComponentKind::Exporter,
        "file",
        "path: FILELOG_DIR/out.json",
    ),
    // Go: "directory must exist" (its default /var/lib/otelcol/file_storage, without
    // create_directory); on a machine where that directory exists the default validates
    (
        ComponentKind::Extension,
        "file_storage",
        "directory: FILELOG_DIR",
    ),
    // Go: "must specify at least one protocol when using the OTLP receiver"
    (
        ComponentKind::Receiver,
        "otlp",
        "protocols: {grpc: {endpoint: 127.0.0.1:0}}",
    ),
    // Go: "no Prometheus scrape_configs or target_allocator set"
    (
        ComponentKind::Receiver,
        "prometheus",
        "config: {scrape_configs: [{job_name: conformance, scrape_interval: 1s, static_configs: [{targets: ['127.0.0.1:1']}]}]}",
    ),
    (
        ComponentKind::Processor,
        "memory_limiter",
        "check_interval: 1s\nlimit_mib: 4000",
    ),
    (
        ComponentKind::Exporter,
        "otlp",
        "endpoint: 127.0.0.1:1\ntls: {insecure: true}",
    ),
    (
        ComponentKind::Exporter,
        "otlphttp",
        "endpoint: http://127.0.0.1:1",
    ),
    (
        ComponentKind::Exporter,
        "jaeger",
        "endpoint: 127.0.0.1:1\ntls: {insecure: true}",
    ),
    (
        ComponentKind::Exporter,
        "prometheus",
        "endpoint: 127.0.0.1:0",
    ),
    (
        ComponentKind::Exporter,
        "prometheusremotewrite",
        "endpoint: http://127.0.0.1:1/api/v1/write",
    ),
    (
        ComponentKind::Exporter,
        "loki",
        "endpoint: http://127.0.0.1:1/loki/api/v1/push",
    ),
];

/// Config for the lifecycle part, where the default would listen on a fixed port or on every
/// interface: loopback port 0 instead.
const LOOPBACK: &[(ComponentKind, &str, &str)] = &[
    // Go builds it only with an endpoint (checked at build); nothing listens on port 1
    (
        ComponentKind::Receiver,
        "redis",
        "endpoint: 127.0.0.1:1\ninitial_delay: 0s",
    ),
    // Go's default `auth_type: tls` needs the kubelet's CA and a client certificate (checked
    // at build, as Go fails its start): the read-only port instead, where nothing listens
    (
        ComponentKind::Receiver,
        "kubelet_stats",
        "auth_type: none\nendpoint: 127.0.0.1:1\ninitial_delay: 0s",
    ),
    // not a listener: the default reads the in-cluster service account, which a test
    // machine has not (the processor's own tests use a loopback Kubernetes API)
    (
        ComponentKind::Processor,
        "k8s_attributes",
        "passthrough: true",
    ),
    // not listeners: Go's default config of these validates, but the processor cannot be
    // built without actions (Go checks them at build, as `check_when_used` does here)
    (
        ComponentKind::Processor,
        "attributes",
        "actions: [{key: a, value: b, action: insert}]",
    ),
    (
        ComponentKind::Processor,
        "resource",
        "attributes: [{key: a, value: b, action: insert}]",
    ),
    (
        ComponentKind::Receiver,
        "otlp",
        "protocols: {grpc: {endpoint: 127.0.0.1:0}, http: {endpoint: 127.0.0.1:0}}",
    ),
    (
        ComponentKind::Extension,
        "health_check",
        "endpoint: 127.0.0.1:0",
    ),
    (ComponentKind::Extension, "pprof", "endpoint: 127.0.0.1:0"),
    (ComponentKind::Receiver, "zipkin", "endpoint: 127.0.0.1:0"),
    (ComponentKind::Extension, "zpages", "endpoint: 127.0.0.1:0"),
    (
        ComponentKind::Extension,
        "file_storage",
        "directory: FILELOG_DIR",
    ),
];

fn yaml(text: &str) -> ConfigValue {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn lookup(
    table: &[(ComponentKind, &str, &str)],
    kind: ComponentKind,
    name: &str,
) -> Option<String> {
    lookup_for(table, kind, name, Signal::Traces)
}

/// [`lookup`] with `SIGNAL` naming the pipeline of `signal` (a connector's target).
fn lookup_for(
    table: &[(ComponentKind, &str, &str)],
    kind: ComponentKind,
    name: &str,
    signal: Signal,
) -> Option<String> {
    table
        .iter()
        .find(|(k, n, _)| *k == kind && *n == name)
        .map(|(_, _, c)| c.replace("SIGNAL", signal.as_str()))
}

/// Every registered component: kind, type name, its factory's parse_config and signals.
fn all() -> Vec<(ComponentKind, &'static str, Arc<dyn Factory>)> {
    let r = ferrotel::registry();
    let mut out: Vec<(ComponentKind, &'static str, Arc<dyn Factory>)> = Vec::new();
    for f in r.receivers {
        out.push((
            ComponentKind::Receiver,
            f.type_name(),
            Arc::new(AsFactory(f)),
        ));
    }
    for f in r.processors {
        out.push((
            ComponentKind::Processor,
            f.type_name(),
            Arc::new(AsFactory(f)),
        ));
    }
    for f in r.exporters {
        out.push((
            ComponentKind::Exporter,
            f.type_name(),
            Arc::new(AsFactory(f)),
        ));
    }
    for f in r.connectors {
        out.push((
            ComponentKind::Connector,
            f.type_name(),
            Arc::new(AsFactory(f)),
        ));
    }
    for f in r.extensions {
        out.push((
            ComponentKind::Extension,
            f.type_name(),
            Arc::new(AsFactory(f)),
        ));
    }
    out
}

/// A kind's factory seen only as a [`Factory`].
struct AsFactory<F: ?Sized>(Arc<F>);

impl<F: ?Sized + Factory> Factory for AsFactory<F> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn aliases(&self) -> &'static [(&'static str, bool)] {
        self.0.aliases()
    }
    fn signals(&self) -> &'static [Signal] {
        self.0.signals()
    }
    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn pipeline_api::ComponentConfig>, Vec<pipeline_api::config::ConfigError>>
    {
        self.0.parse_config(value)
    }
}

#[test]
fn every_default_config_validates_unless_go_requires_a_key() {
    let mut problems = Vec::new();
    for (kind, name, f) in all() {
        let needs = lookup(NEEDS_CONFIG, kind, name).is_some();
        match (f.parse_config(&ConfigValue::Null), needs) {
            (Ok(_), false) | (Err(_), true) => {}
            (Ok(_), true)
                if kind == ComponentKind::Extension
                    && name == "file_storage"
                    && std::path::Path::new("/var/lib/otelcol/file_storage").is_dir() => {}
            (Ok(_), true) => problems.push(format!(
                "{kind:?} {name}: its default validates; remove it from NEEDS_CONFIG"
            )),
            (Err(e), false) => problems.push(format!(
                "{kind:?} {name}: the default config does not validate: {e:?}"
            )),
        }
        if let Some(minimal) = lookup(NEEDS_CONFIG, kind, name) {
            let dir = temp_dir(&format!("conf-{name}"));
            let text = minimal.replace("FILELOG_DIR", &dir.display().to_string());
            if let Err(e) = f.parse_config(&yaml(&text)) {
                problems.push(format!("{kind:?} {name}: minimal config refused: {e:?}"));
            }
        }
    }
    for (kind, name, _) in NEEDS_CONFIG.iter().chain(LOOPBACK) {
        if !all().iter().any(|(k, n, _)| k == kind && n == name) {
            problems.push(format!("{kind:?} {name} is listed here but not registered"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// A key each of these components accepts without acting on, with a config that sets it:
/// the loader must report it (`ComponentConfig::not_acted_on`).
const NOT_ACTED_ON: &[(ComponentKind, &str, &str, &str)] = &[
    (
        ComponentKind::Exporter,
        "otlphttp",
        "endpoint: http://127.0.0.1:1\nread_buffer_size: 4096",
        "read_buffer_size",
    ),
    (
        ComponentKind::Exporter,
        "loki",
        "endpoint: http://127.0.0.1:1\ncookies: {enabled: true}",
        "cookies",
    ),
    (
        ComponentKind::Exporter,
        "prometheusremotewrite",
        "endpoint: http://127.0.0.1:1\nwal: {directory: /tmp/wal}",
        "wal",
    ),
    (ComponentKind::Extension, "zpages", "tls: {}", "tls"),
    (
        ComponentKind::Receiver,
        "hostmetrics",
        "scrapers: {load: }\ntimeout: 5s",
        "timeout",
    ),
    (
        ComponentKind::Processor,
        "resourcedetection",
        "refresh_interval: 1m",
        "refresh_interval",
    ),
    (ComponentKind::Receiver, "docker_stats", "tls: {}", "tls"),
    (
        ComponentKind::Receiver,
        "httpcheck",
        "targets: [{endpoint: 'http://a:1', cookies: {enabled: true}}]",
        "targets::0::cookies",
    ),
    (
        ComponentKind::Receiver,
        "redis",
        "endpoint: a:1\nmetrics: {redis.mode: {enabled: true}}",
        "metrics::redis.mode",
    ),
    (
        ComponentKind::Receiver,
        "nginx",
        "cookies: {enabled: true}",
        "cookies",
    ),
    (
        ComponentKind::Receiver,
        "postgresql",
        "username: u\npassword: p\nevents: {db.server.query_sample: {enabled: true}}",
        "events::db.server.query_sample",
    ),
];

/// Every component is declared ([`pipeline_api::Meta`]): its stability is known for what it
/// supports, its signals follow from it, and its default config reports no key it ignores.
#[test]
fn every_component_is_declared_and_its_defaults_ignore_nothing() {
    let registry = ferrotel::registry();
    let mut problems = Vec::new();
    for (kind, f) in registry.all() {
        let name = f.type_name();
        let Some(meta) = f.meta() else {
            problems.push(format!("{kind:?} {name}: not declared"));
            continue;
        };
        assert_eq!(meta.name, name);
        match kind {
            ComponentKind::Extension => {
                if meta.extension == pipeline_api::Stability::Undefined {
                    problems.push(format!("extension {name}: no stability"));
                }
            }
            ComponentKind::Connector => {
                if meta.pairs.is_empty() {
                    problems.push(format!("connector {name}: no signal pairs"));
                }
            }
            _ => {
                if f.signals().is_empty() {
                    problems.push(format!("{kind:?} {name}: no signal with a stability"));
                }
            }
        }
        let dir = temp_dir(&format!("declared-{name}"));
        let text = lookup(NEEDS_CONFIG, kind, name)
            .unwrap_or_default()
            .replace("FILELOG_DIR", &dir.display().to_string());
        let value = if text.is_empty() {
            ConfigValue::Null
        } else {
            yaml(&text)
        };
        if let Ok(cfg) = f.parse_config(&value) {
            let ignored = cfg.not_acted_on();
            if !ignored.is_empty() {
                problems.push(format!(
                    "{kind:?} {name}: its default config reports ignored keys {ignored:?}"
                ));
            }
        }
    }
    for (kind, name, text, key) in NOT_ACTED_ON {
        let (_, f) = registry
            .all()
            .into_iter()
            .find(|(k, f)| k == kind && f.type_name() == *name)
            .unwrap_or_else(|| panic!("{kind:?} {name} is not registered"));
        let cfg = f
            .parse_config(&yaml(text))
            .unwrap_or_else(|e| panic!("{kind:?} {name}: {e:?}"));
        let ignored = cfg.not_acted_on();
        if !ignored.iter().any(|(k, _)| k == key) {
            problems.push(format!(
                "{kind:?} {name}: {key} is set and not reported as ignored ({ignored:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The configuration reference names every registered component.
#[test]
fn the_configuration_reference_names_every_component() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let missing: Vec<String> = ferrotel::registry()
        .all()
        .into_iter()
        .map(|(_, f)| f.type_name().to_string())
        .filter(|name| !docs.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

#[test]
fn unknown_keys_are_refused_and_misspellings_get_a_suggestion() {
    let mut problems = Vec::new();
    for (kind, name, f) in all() {
        let dir = temp_dir(&format!("unknown-{name}"));
        let base = lookup(NEEDS_CONFIG, kind, name)
            .or_else(|| lookup(LOOPBACK, kind, name))
            .unwrap_or_default()
            .replace("FILELOG_DIR", &dir.display().to_string());
        let mut value = if base.is_empty() {
            ConfigValue::Mapping(Default::default())
        } else {
            yaml(&base)
        };
        let Some(map) = value.as_mapping_mut() else {
            problems.push(format!("{kind:?} {name}: config is not a mapping"));
            continue;
        };
        map.insert("no_such_key_anywhere".into(), ConfigValue::Bool(true));
        match f.parse_config(&value) {
            Ok(_) => problems.push(format!("{kind:?} {name}: an unknown key was accepted")),
            Err(errs) => {
                let text = format!("{errs:?}");
                if !text.contains("no_such_key_anywhere") {
                    problems.push(format!(
                        "{kind:?} {name}: the error does not name the key: {text}"
                    ));
                }
            }
        }
        // a misspelt real key: the first key of the minimal config, or `endpoint`/`timeout`
        let real = base
            .split([':', '\n'])
            .next()
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.trim().to_string());
        if let Some(real) = real {
            let typo = format!("{real}x");
            let mut v = ConfigValue::Mapping(Default::default());
            v.as_mapping_mut()
                .expect("mapping")
                .insert(typo.clone().into(), ConfigValue::Bool(true));
            match f.parse_config(&v) {
                Ok(_) => problems.push(format!("{kind:?} {name}: {typo} was accepted")),
                Err(errs) => {
                    let text = format!("{errs:?}");
                    if !text.contains("did you mean") {
                        problems.push(format!(
                            "{kind:?} {name}: no suggestion for {typo} (meant {real}): {text}"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

use pipeline_api::testing::Collect;

use pipeline_api::testing::string_attr as attr;

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![attr("service.name", "conformance")],
        ..Default::default()
    })
}

/// One small batch of a signal.
fn batch(signal: Signal) -> Batch {
    match signal {
        Signal::Traces => Batch::from_traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    // a client call and the server span it caused: a request between
                    // two services, as the trace-reading connectors need
                    spans: vec![
                        Span {
                            trace_id: vec![1; 16],
                            span_id: vec![2; 8],
                            name: "op".into(),
                            kind: span::SpanKind::Client as i32,
                            start_time_unix_nano: 1_700_000_000_000_000_000,
                            end_time_unix_nano: 1_700_000_000_100_000_000,
                            attributes: vec![attr("k", "v")],
                            ..Default::default()
                        },
                        Span {
                            trace_id: vec![1; 16],
                            span_id: vec![3; 8],
                            parent_span_id: vec![2; 8],
                            name: "handle".into(),
                            kind: span::SpanKind::Server as i32,
                            start_time_unix_nano: 1_700_000_000_010_000_000,
                            end_time_unix_nano: 1_700_000_000_090_000_000,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
        Signal::Metrics => Batch::from_metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "g".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000,
                                value: Some(number_data_point::Value::AsDouble(1.5)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
        Signal::Logs => Batch::from_logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("hello".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
    }
}

use pipeline_api::testing::context;

const STEP: Duration = Duration::from_secs(10);

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {STEP:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_component_builds_starts_consumes_and_stops_twice() {
    let r = ferrotel::registry();
    let config_for = |kind: ComponentKind, name: &str, dir: &std::path::Path| {
        let text = lookup(LOOPBACK, kind, name)
            .or_else(|| lookup(NEEDS_CONFIG, kind, name))
            .unwrap_or_default()
            .replace("FILELOG_DIR", &dir.display().to_string());
        if text.is_empty() {
            ConfigValue::Null
        } else {
            yaml(&text)
        }
    };
    let mut checked = Vec::new();
    for f in &r.receivers {
        let name = f.type_name();
        let dir = temp_dir(&format!("life-{name}"));
        let cfg = f
            .parse_config(&config_for(ComponentKind::Receiver, name, &dir))
            .unwrap();
        for round in 0..2 {
            let mut next = SignalConsumers::default();
            for &s in f.signals() {
                next.set(s, Arc::new(Collect::default()));
            }
            let ctx = context(ComponentKind::Receiver, name, f.signals().to_vec());
            let recv = f
                .build(ctx, cfg.as_ref(), next)
                .unwrap_or_else(|e| panic!("receiver {name} (round {round}): build: {e}"));
            let token = pipeline_api::CancellationToken::new();
            let run = tokio::spawn(recv.run(token.clone()));
            tokio::time::sleep(Duration::from_millis(100)).await;
            token.cancel();
            bounded(&format!("receiver {name} shutdown"), run)
                .await
                .unwrap_or_else(|e| panic!("receiver {name} panicked: {e}"))
                .unwrap_or_else(|e| panic!("receiver {name} (round {round}): {e}"));
        }
        checked.push(format!("receiver {name}"));
    }
    for f in &r.processors {
        let name = f.type_name();
        let dir = temp_dir(&format!("life-{name}"));
        let cfg = f
            .parse_config(&config_for(ComponentKind::Processor, name, &dir))
            .unwrap();
        for &signal in f.signals() {
            for round in 0..2 {
                let next = Arc::new(Collect::default());
                let ctx = context(ComponentKind::Processor, name, vec![signal]);
                let p = f
                    .build(ctx, cfg.as_ref(), signal, next.clone())
                    .unwrap_or_else(|e| panic!("processor {name} {signal}: build: {e}"));
                bounded(&format!("processor {name} start"), p.start())
                    .await
                    .unwrap_or_else(|e| panic!("processor {name} {signal} (round {round}): {e}"));
                // accepted, or refused with an error: both are answers; a panic or a hang is not
                let _ = bounded(
                    &format!("processor {name} consume"),
                    p.consume(batch(signal)),
                )
                .await;
                bounded(&format!("processor {name} shutdown"), p.shutdown()).await;
                // data during and after shutdown is passed on or refused, never held
                let _ = bounded(
                    &format!("processor {name} consume after shutdown"),
                    p.consume(batch(signal)),
                )
                .await;
            }
        }
        checked.push(format!("processor {name}"));
    }
    for f in &r.exporters {
        let name = f.type_name();
        let dir = temp_dir(&format!("life-{name}"));
        let cfg = f
            .parse_config(&config_for(ComponentKind::Exporter, name, &dir))
            .unwrap();
        for round in 0..2 {
            let ctx = context(ComponentKind::Exporter, name, f.signals().to_vec());
            let e = f
                .build(ctx, cfg.as_ref())
                .unwrap_or_else(|err| panic!("exporter {name} (round {round}): build: {err}"));
            bounded(&format!("exporter {name} start"), e.start())
                .await
                .unwrap_or_else(|err| panic!("exporter {name} (round {round}): start: {err}"));
            for &signal in f.signals() {
                // the backends named in the configs are not there: an error is the expected
                // answer, within the bound
                let _ = bounded(&format!("exporter {name} export"), e.export(batch(signal))).await;
            }
            bounded(&format!("exporter {name} shutdown"), e.shutdown()).await;
        }
        checked.push(format!("exporter {name}"));
    }
    for f in &r.connectors {
        let name = f.type_name();
        let dir = temp_dir(&format!("life-{name}"));
        assert!(!f.pairs().is_empty(), "connector {name} connects nothing");
        for &(from, to) in f.pairs() {
            let cfg = match lookup_for(NEEDS_CONFIG, ComponentKind::Connector, name, to) {
                Some(text) => f.parse_config(&yaml(&text)),
                None => f.parse_config(&config_for(ComponentKind::Connector, name, &dir)),
            }
            .unwrap();
            for round in 0..2 {
                let target = Arc::new(Collect::default());
                let id = pipeline_api::PipelineId::parse(to.as_str()).unwrap();
                let next = pipeline_api::ConnectorNext {
                    all: target.clone(),
                    pipelines: vec![(id, target.clone())],
                };
                let ctx = context(ComponentKind::Connector, name, vec![from, to]);
                let c = f
                    .build(ctx, cfg.as_ref(), from, to, next)
                    .unwrap_or_else(|e| panic!("connector {name} {from}->{to}: build: {e}"));
                bounded(&format!("connector {name} start"), c.start())
                    .await
                    .unwrap_or_else(|e| {
                        panic!("connector {name} {from}->{to} (round {round}): {e}")
                    });
                bounded(&format!("connector {name} consume"), c.consume(batch(from)))
                    .await
                    .unwrap_or_else(|e| panic!("connector {name} {from}->{to}: consume: {e}"));
                bounded(&format!("connector {name} shutdown"), c.shutdown()).await;
                // what it was given, or what it made of it, is out by the end of shutdown
                assert!(
                    target.items() > 0,
                    "connector {name} {from}->{to}: nothing reached the next pipeline"
                );
                let _ = bounded(
                    &format!("connector {name} consume after shutdown"),
                    c.consume(batch(from)),
                )
                .await;
            }
        }
        checked.push(format!("connector {name}"));
    }
    for f in &r.extensions {
        let name = f.type_name();
        let dir = temp_dir(&format!("life-{name}"));
        let cfg = f
            .parse_config(&config_for(ComponentKind::Extension, name, &dir))
            .unwrap();
        for round in 0..2 {
            let ctx = context(ComponentKind::Extension, name, vec![]);
            let x = f
                .build(ctx, cfg.as_ref())
                .unwrap_or_else(|err| panic!("extension {name} (round {round}): build: {err}"));
            bounded(&format!("extension {name} start"), x.start())
                .await
                .unwrap_or_else(|err| panic!("extension {name} (round {round}): start: {err}"));
            x.ready();
            bounded(&format!("extension {name} shutdown"), x.shutdown()).await;
        }
        checked.push(format!("extension {name}"));
    }
    let total = r.receivers.len()
        + r.processors.len()
        + r.exporters.len()
        + r.connectors.len()
        + r.extensions.len();
    assert_eq!(checked.len(), total, "{checked:?}");
}
