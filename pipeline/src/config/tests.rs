use super::*;
use crate::testing::{registry, Recorder};
use pipeline_api::{ComponentId, PipelineId};
use std::collections::HashMap;

#[derive(Default)]
struct Env {
    vars: HashMap<String, String>,
    files: HashMap<String, String>,
}

impl Environment for Env {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn read_file(&self, path: &str) -> std::io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::other("not found"))
    }
}

fn errors_of(yaml: &str) -> Vec<String> {
    match load_yaml(yaml) {
        Ok(_) => panic!("config should be invalid"),
        Err(e) => e,
    }
}

fn load_yaml(yaml: &str) -> Result<Loaded, Vec<String>> {
    let mut env = Env::default();
    env.files.insert("c.yaml".into(), yaml.into());
    env.vars.insert("BATCH_TIMEOUT".into(), "3s".into());
    load(
        &["c.yaml".into()],
        &[],
        &env,
        &registry(&Recorder::default()),
    )
    .map_err(|errs| errs.iter().map(|e| e.to_string()).collect())
}

const GOOD: &str = r#"
receivers:
  fakerecv:
  fakerecv/2:
    endpoint: localhost:5556
processors:
  fakeproc:
exporters:
  fakeexp:
    timeout: 2s
  fakeexp/b:
    sending_queue:
      queue_size: 10
extensions:
  health_check:
    endpoint: 127.0.0.1:0
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [fakerecv, fakerecv/2]
      processors: [fakeproc]
      exporters: [fakeexp, fakeexp/b]
    traces/2:
      receivers: [fakerecv]
      exporters: [fakeexp]
    logs:
      receivers: [fakerecv]
      exporters: [fakeexp/b]
"#;

#[test]
fn a_good_config_plans() {
    let loaded = load_yaml(GOOD).unwrap();
    let plan = &loaded.plan;
    assert_eq!(plan.pipelines.len(), 3);
    let t = &plan.pipelines[&PipelineId::parse("traces").unwrap()];
    assert_eq!(
        t.receivers,
        vec![
            ComponentId::parse("fakerecv").unwrap(),
            ComponentId::parse("fakerecv/2").unwrap()
        ]
    );
    assert_eq!(
        plan.exporters[&ComponentId::parse("fakeexp").unwrap()]
            .common
            .timeout
            .get()
            .as_secs(),
        2
    );
    let b = &plan.exporters[&ComponentId::parse("fakeexp/b").unwrap()].common;
    assert_eq!(
        b.timeout.get().as_secs(),
        5,
        "Go's default exporter timeout"
    );
    assert_eq!(b.sending_queue.queue_size, 10);
    assert_eq!(
        b.sending_queue.num_consumers, 10,
        "Go's default num_consumers"
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let errs = errors_of(
        r#"
receivers:
  fakerecv:
    endpiont: x
  otlpp:
  bad id:
processors:
  fakeproc:
exporters:
  fakeexp:
    timeout: 5 s
    endpoint: invalid
  tracesonly:
connectors:
  spanmetrics:
extension:
  x:
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [fakerecv, missing]
      processors: [fakeproc, fakeproc]
      exporters: [fakeexp]
    metrics:
      receivers: [fakerecv]
      exporters: [tracesonly]
    logs:
      receivers: []
      exporters: []
    spans:
      receivers: [fakerecv]
      exporters: [fakeexp]
"#,
    );
    let expected = vec![
        r#"extension: unknown top-level key "extension"; did you mean "extensions"?"#,
        r#"receivers::fakerecv::endpiont: unknown key "endpiont"; did you mean "endpoint"?"#,
        r#"receivers::otlpp: unknown receiver type "otlpp" (valid values: [fakerecv])"#,
        r#"receivers::bad id: invalid character(s) in type "bad id": a type starts with a letter and holds only letters, digits and '_' (at most 63)"#,
        r#"exporters::fakeexp::timeout: invalid duration "5 s": unknown unit " s""#,
        r#"exporters::fakeexp::endpoint: must not be "invalid""#,
        r#"connectors::spanmetrics: unknown connector type "spanmetrics" (valid values: [fakeconn])"#,
        r#"service::extensions::0: references extension "health_check" which is not configured"#,
        r#"service::pipelines::logs: must have at least one receiver"#,
        r#"service::pipelines::logs: must have at least one exporter"#,
        r#"service::pipelines::metrics::exporters::0: exporter "tracesonly" does not support metrics (it supports: traces)"#,
        r#"service::pipelines::spans: pipeline id "spans": unknown signal "spans", expected one of traces, metrics, logs"#,
        r#"service::pipelines::traces::receivers::1: references receiver "missing" which is not configured"#,
        r#"service::pipelines::traces::processors::1: references processor "fakeproc" multiple times"#,
    ];
    assert_eq!(errs, expected);
}

#[test]
fn validation_errors_of_a_component_are_reported() {
    let errs = errors_of(
        "receivers: {fakerecv: }\nexporters: {fakeexp: {endpoint: invalid}}\nservice: {pipelines: {traces: {receivers: [fakerecv], exporters: [fakeexp]}}}\n",
    );
    assert_eq!(
        errs,
        vec![r#"exporters::fakeexp::endpoint: must not be "invalid""#]
    );
}

#[test]
fn two_components_on_one_address() {
    let errs = errors_of(
        r#"
receivers:
  fakerecv:
    endpoint: 0.0.0.0:4317
  fakerecv/2:
    endpoint: localhost:4317
exporters:
  fakeexp:
service:
  telemetry:
    metrics:
      address: 127.0.0.1:4317
  pipelines:
    traces:
      receivers: [fakerecv, fakerecv/2]
      exporters: [fakeexp]
"#,
    );
    assert_eq!(
        errs,
        vec![
            r#"receivers::fakerecv/2::endpoint: listen address "localhost:4317" is also used by receivers::fakerecv::endpoint ("0.0.0.0:4317")"#,
            r#"service::telemetry::metrics::address: listen address "127.0.0.1:4317" is also used by receivers::fakerecv::endpoint ("0.0.0.0:4317")"#,
            r#"service::telemetry::metrics::address: listen address "127.0.0.1:4317" is also used by receivers::fakerecv/2::endpoint ("localhost:4317")"#,
        ]
    );
    assert!(addresses_conflict("[::]:1", "127.0.0.1:1"));
    assert!(!addresses_conflict("10.0.0.1:1", "10.0.0.2:1"));
    assert!(!addresses_conflict("localhost:0", "localhost:0"));
}

#[test]
fn unused_components_and_deprecated_aliases_are_warnings() {
    let loaded = load_yaml(
        r#"
receivers:
  fakerecv:
  fakerecv/unused:
    endpoint: localhost:1
processors:
  fakeproc:
exporters:
  oldexp:
service:
  pipelines:
    traces:
      receivers: [fakerecv]
      exporters: [oldexp]
"#,
    )
    .unwrap();
    assert_eq!(
        loaded.warnings,
        vec![
            r#"exporters::oldexp: the exporter type "oldexp" is deprecated; use "fakeexp""#,
            "receiver fakerecv/unused is defined but not used by any pipeline",
            "processor fakeproc is defined but not used by any pipeline",
        ]
    );
}

#[test]
fn env_values_are_typed_and_strings_stay_strings() {
    let mut env = Env::default();
    env.vars.insert("PORT".into(), "4317".into());
    env.vars.insert("DELAY".into(), "1s".into());
    env.files.insert(
        "c.yaml".into(),
        "receivers: {fakerecv: {endpoint: \"${env:PORT}\"}}\nexporters: {fakeexp: {delay: \"${DELAY}\", fail: \"${env:FAIL:-false}\"}}\nservice: {pipelines: {traces: {receivers: [fakerecv], exporters: [fakeexp]}}}\n".into(),
    );
    let loaded = load(
        &["c.yaml".into()],
        &["exporters.fakeexp.endpoint=backend:4317".into()],
        &env,
        &registry(&Recorder::default()),
    )
    .unwrap();
    let r = &loaded.plan.receivers[&ComponentId::parse("fakerecv").unwrap()];
    let cfg = pipeline_api::config_as::<crate::testing::RecvConfig>(&*r.config).unwrap();
    assert_eq!(
        cfg.endpoint, "4317",
        "an int from env stays a string where the field is a string"
    );
    let e = &loaded.plan.exporters[&ComponentId::parse("fakeexp").unwrap()];
    let cfg = pipeline_api::config_as::<crate::testing::ExpConfig>(&*e.config).unwrap();
    assert_eq!(cfg.delay.get().as_secs(), 1);
    assert!(!cfg.fail);
    assert_eq!(cfg.endpoint, "backend:4317", "--set applies last");
}

#[test]
fn the_embedded_default_config_has_the_documented_shape() {
    let tree: serde_yaml_ng::Value = serde_yaml_ng::from_str(DEFAULT_CONFIG).unwrap();
    let get = |path: &str| path.split('.').fold(&tree, |v, k| &v[k]).clone();
    assert_eq!(
        get("receivers.otlp.protocols.grpc.endpoint").as_str(),
        Some("0.0.0.0:4317")
    );
    assert_eq!(
        get("receivers.otlp.protocols.http.endpoint").as_str(),
        Some("0.0.0.0:4318")
    );
    assert_eq!(
        get("extensions.health_check.endpoint").as_str(),
        Some("0.0.0.0:13133")
    );
    let telemetry: ServiceConfig = serde_yaml_ng::from_value(get("service")).unwrap();
    assert_eq!(
        telemetry.telemetry.metrics.pull_address().as_deref(),
        Some("0.0.0.0:8888")
    );
}

#[test]
fn metrics_address_forms() {
    let m: MetricsConfig = serde_yaml_ng::from_str("{}").unwrap();
    assert_eq!(
        m.pull_address().as_deref(),
        Some("localhost:8888"),
        "Go default"
    );
    let m: MetricsConfig = serde_yaml_ng::from_str("address: 0.0.0.0:9999").unwrap();
    assert_eq!(m.pull_address().as_deref(), Some("0.0.0.0:9999"));
    let m: MetricsConfig = serde_yaml_ng::from_str("level: none").unwrap();
    assert_eq!(m.pull_address(), None);
    let m: MetricsConfig = serde_yaml_ng::from_str(
        "readers: [{pull: {exporter: {prometheus: {host: '::', port: 7777}}}}]",
    )
    .unwrap();
    assert_eq!(m.pull_address().as_deref(), Some("[::]:7777"));
}

#[test]
fn redaction_hides_secrets() {
    let tree: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        "exporters:\n  otlp:\n    endpoint: x:1\n    headers:\n      authorization: Bearer abc\n      x-tenant: t1\n  loki:\n    auth:\n      password: hunter2\n      username: u\n",
    )
    .unwrap();
    let text = serde_yaml_ng::to_string(&redact(&tree)).unwrap();
    assert!(
        !text.contains("abc") && !text.contains("t1") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(
        text.contains("endpoint: x:1") && text.contains("username: u"),
        "{text}"
    );
    assert!(text.contains("[REDACTED]"));
}

fn with_exporter(exporter_yaml: &str) -> String {
    format!(
        "receivers:\n  fakerecv:\nexporters:\n  fakeexp:\n{exporter_yaml}service:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:0\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n      exporters: [fakeexp]\n"
    )
}

fn queue_of(exporter_yaml: &str) -> crate::config::QueueConfig {
    let loaded = load_yaml(&with_exporter(exporter_yaml)).unwrap_or_else(|e| panic!("{e:?}"));
    loaded.plan.exporters[&ComponentId::parse("fakeexp").unwrap()]
        .common
        .sending_queue
        .clone()
}

#[test]
fn sending_queue_batch_is_off_unless_present_as_in_go() {
    assert!(queue_of("    timeout: 1s\n").batch.is_none());
    // `batch:` with nothing under it turns it on with Go's defaults (configoptional.Default)
    let q = queue_of("    sending_queue:\n      batch:\n");
    let b = q.batch.clone().expect("present means on");
    assert_eq!(b.flush_timeout.get(), std::time::Duration::from_millis(200));
    assert_eq!((b.min_size, b.max_size), (8192, 0));
    assert_eq!(q.batch_sizer(), crate::config::QueueSizer::Items);
    let q = queue_of("    sending_queue:\n      batch: {}\n");
    assert!(q.batch.is_some());
    let q = queue_of("    sending_queue:\n      batch:\n        enabled: false\n");
    assert!(q.batch.is_none(), "enabled: false turns it off");
    // the queue's bytes sizer carries over to the batch
    let q = queue_of(
        "    sending_queue:\n      sizer: bytes\n      queue_size: 100000000\n      batch:\n        min_size: 1000\n",
    );
    assert_eq!(q.batch_sizer(), crate::config::QueueSizer::Bytes);
}

#[test]
fn sending_queue_problems_are_reported_with_go_messages() {
    let errs = errors_of(&with_exporter(
        "    sending_queue:\n      wait_for_result: true\n      storage: file_storage\n      batch:\n        flush_timeout: 0s\n        min_size: 10\n        max_size: 5\n        sizer: requests\n",
    ));
    let all = errs.join("\n");
    for want in [
        "`wait_for_result` is not supported with a persistent queue configured with `storage`",
        "`batch` supports only `items` or `bytes` sizer, found \"requests\"",
        "`flush_timeout` must be positive, found 0",
        "`max_size` (5) must be greater or equal to `min_size` (10)",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    let errs = errors_of(&with_exporter(
        "    sending_queue:\n      sizer: items\n      queue_size: 100\n      batch:\n        min_size: 1000\n",
    ));
    assert!(
        errs.join("\n")
            .contains("`min_size` must be less than or equal to `queue_size`"),
        "{errs:?}"
    );
}

#[test]
fn telemetry_levels_are_read_as_go_reads_them() {
    use pipeline_api::telemetry::MetricsLevel;
    // zap: lower or upper case, not mixed; empty is info
    for (text, want) in [
        ("info", LogLevel::Info),
        ("INFO", LogLevel::Info),
        ("DEBUG", LogLevel::Debug),
        ("warn", LogLevel::Warn),
        ("ERROR", LogLevel::Error),
        ("fatal", LogLevel::Error),
        ("''", LogLevel::Info),
    ] {
        let got: LogLevel = serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, want, "{text}");
    }
    for bad in ["Info", "verbose"] {
        let err = serde_yaml_ng::from_str::<LogLevel>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unrecognized level"), "{bad}: {err}");
    }
    // configtelemetry: any case
    for (text, want) in [
        ("Detailed", MetricsLevel::Detailed),
        ("NONE", MetricsLevel::None),
        ("basic", MetricsLevel::Basic),
    ] {
        let got: MetricsLevel = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(got, want, "{text}");
    }
    assert!(serde_yaml_ng::from_str::<MetricsLevel>("loud").is_err());
    // and through the loader, as a Helm values file writes it
    let loaded = load_yaml(
        "receivers:\n  fakerecv:\nexporters:\n  fakeexp:\nservice:\n  telemetry:\n    logs:\n      level: INFO\n    metrics:\n      level: Basic\n      address: 127.0.0.1:0\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n      exporters: [fakeexp]\n",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(loaded.plan.service.telemetry.logs.level, LogLevel::Info);
    assert_eq!(
        loaded.plan.service.telemetry.metrics.level,
        MetricsLevel::Basic
    );
}

#[test]
fn a_service_section_that_does_not_parse_is_not_also_reported_as_empty() {
    let errs = errors_of(
        "receivers:\n  fakerecv:\nexporters:\n  fakeexp:\nservice:\n  telemetry: {logs: {level: verbose}}\n  pipelines:\n    traces: {receivers: [fakerecv], exporters: [fakeexp]}\n",
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("unrecognized level"), "{errs:?}");
}

const CONNECTED: &str = r#"
receivers:
  fakerecv:
exporters:
  fakeexp:
connectors:
  fakeconn:
service:
  pipelines:
    traces/in:
      receivers: [fakerecv]
      exporters: [fakeconn]
    traces/out:
      receivers: [fakeconn]
      exporters: [fakeexp]
    logs:
      receivers: [fakerecv]
      exporters: [fakeexp]
"#;

#[test]
fn a_connector_joins_pipelines_and_orders_them() {
    let loaded = load_yaml(CONNECTED).unwrap();
    let plan = &loaded.plan;
    assert!(plan
        .connectors
        .contains_key(&ComponentId::parse("fakeconn").unwrap()));
    let order: Vec<String> = plan.order.iter().map(|p| p.to_string()).collect();
    let at = |p: &str| order.iter().position(|o| o == p).unwrap();
    assert_eq!(order.len(), 3);
    assert!(at("traces/in") < at("traces/out"), "{order:?}");
    let edges = plan.connector_edges(&PipelineId::parse("traces/in").unwrap());
    assert_eq!(edges.len(), 1);
    assert!(plan
        .connector_edges(&PipelineId::parse("traces/out").unwrap())
        .is_empty());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn a_connector_must_be_used_on_both_sides_with_a_supported_pair() {
    // Go's messages (service/internal/graph)
    let errs = errors_of(
        r#"
receivers: {fakerecv: }
exporters: {fakeexp: }
connectors: {fakeconn: , fakeconn/2: }
service:
  pipelines:
    traces/in: {receivers: [fakerecv], exporters: [fakeconn, fakeexp]}
    logs: {receivers: [fakerecv, fakeconn/2], exporters: [fakeexp]}
    metrics: {receivers: [fakeconn], exporters: [fakeexp]}
"#,
    );
    assert_eq!(
        errs,
        vec![
            r#"connectors::fakeconn: connector "fakeconn" used as exporter in [traces/in] pipeline but not used in any supported receiver pipeline"#,
            r#"connectors::fakeconn: connector "fakeconn" used as receiver in [metrics] pipeline but not used in any supported exporter pipeline"#,
            r#"connectors::fakeconn/2: connector "fakeconn/2" used as receiver in [logs] pipeline but not used in any supported exporter pipeline"#,
        ]
    );
}

#[test]
fn a_cycle_through_connectors_is_refused() {
    let errs = errors_of(
        r#"
receivers: {fakerecv: }
exporters: {fakeexp: }
connectors: {fakeconn: , fakeconn/back: }
service:
  pipelines:
    traces/a: {receivers: [fakerecv, fakeconn/back], exporters: [fakeconn]}
    traces/b: {receivers: [fakeconn], exporters: [fakeexp, fakeconn/back]}
"#,
    );
    assert_eq!(
        errs,
        vec![
            r#"service::pipelines: cycle detected: pipeline "traces/a" -> connector "fakeconn" -> pipeline "traces/b" -> connector "fakeconn/back" -> pipeline "traces/a""#
        ]
    );
    // a pipeline feeding itself
    let errs = errors_of(
        "receivers: {fakerecv: }\nconnectors: {fakeconn: }\nservice: {pipelines: {logs: {receivers: [fakerecv, fakeconn], exporters: [fakeconn]}}}\n",
    );
    assert_eq!(
        errs,
        vec![
            r#"service::pipelines: cycle detected: pipeline "logs" -> connector "fakeconn" -> pipeline "logs""#
        ]
    );
}

#[test]
fn a_connector_id_may_not_also_name_a_receiver_or_exporter() {
    let errs = errors_of(
        r#"
receivers: {fakerecv: }
exporters: {fakeexp: }
connectors: {fakeconn: }
service:
  pipelines:
    traces: {receivers: [fakerecv], exporters: [fakeexp]}
"#
        .replace(
            "connectors: {fakeconn: }",
            "connectors: {fakeconn: , fakeexp: }",
        )
        .as_str(),
    );
    assert!(
        errs.iter().any(|e| e.starts_with(
            r#"connectors::fakeexp: ambiguous ID: Found both "fakeexp" exporter and "fakeexp" connector."#
        )),
        "{errs:?}"
    );
}

/// A config from before Go removed the spanmetrics processor (contrib v0.89) is refused, as
/// Go refuses it, with the way to the connector in the message.
#[test]
fn the_removed_spanmetrics_processor_is_refused_with_the_migration() {
    let errs = errors_of(
        "receivers: {fakerecv: }\nprocessors:\n  spanmetrics:\n    metrics_exporter: prometheus\nexporters: {fakeexp: }\nservice: {pipelines: {traces: {receivers: [fakerecv], processors: [spanmetrics], exporters: [fakeexp]}}}\n",
    );
    let text = errs.join("\n");
    assert!(
        text.contains(r#"processors::spanmetrics: unknown processor type "spanmetrics""#),
        "{text}"
    );
    assert!(
        text.contains("removed from the Go collector (contrib v0.89.0) in favour of the spanmetrics connector"),
        "{text}"
    );
    assert!(!text.contains("did you mean"), "{text}");
}

#[test]
fn pipeline_problems_are_reported_beside_the_components_own() {
    // A component whose config fails to parse still has a type: the pipelines' checks
    // (signal support, connector pairs, cycles) run on it in the same pass.
    let errs = errors_of(
        r#"
receivers: {fakerecv: }
exporters:
  fakeexp: {endpiont: x}
  tracesonly: {bogus: 1}
connectors: {fakeconn: {bogus: 1}}
service:
  pipelines:
    metrics: {receivers: [fakerecv], exporters: [tracesonly, fakeexp]}
    traces/in: {receivers: [fakerecv], exporters: [fakeconn]}
"#,
    );
    assert_eq!(
        errs,
        vec![
            r#"exporters::fakeexp::endpiont: unknown key "endpiont"; did you mean "endpoint"?"#,
            r#"exporters::tracesonly::bogus: unknown key "bogus"; valid keys: delay, fail, endpoint"#,
            r#"connectors::fakeconn::bogus: unknown key "bogus"; valid keys: hold"#,
            r#"service::pipelines::metrics::exporters::0: exporter "tracesonly" does not support metrics (it supports: traces)"#,
            r#"connectors::fakeconn: connector "fakeconn" used as exporter in [traces/in] pipeline but not used in any supported receiver pipeline"#,
        ]
    );
}
