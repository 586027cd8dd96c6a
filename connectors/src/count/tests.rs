use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::common::v1::any_value;
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::testing::{context, spans, string_attr, Collect};
use pipeline_api::{ComponentKind, ConnectorNext, PipelineId};

use super::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).expect("test yaml")
}

fn build(cfg: &str, from: Signal) -> (Arc<dyn Processor>, Arc<Collect>) {
    let target = Collect::new();
    let next = ConnectorNext {
        all: target.clone(),
        pipelines: vec![(
            PipelineId::parse("metrics").unwrap(),
            target.clone() as SharedConsumer,
        )],
    };
    let f = factory();
    let c = f.parse_config(&yaml(cfg)).unwrap();
    let p = f
        .build(
            context(
                ComponentKind::Connector,
                "count",
                vec![from, Signal::Metrics],
            ),
            c.as_ref(),
            from,
            Signal::Metrics,
            next,
        )
        .unwrap();
    (p, target)
}

fn logs(levels: &[Option<&str>]) -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string_attr("service.name", "api")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: levels
                    .iter()
                    .map(|l| LogRecord {
                        attributes: l.map(|l| vec![string_attr("level", l)]).unwrap_or_default(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// Each metric's name and its data points (attributes, count).
type Sums = Vec<(String, Vec<(Vec<KeyValue>, i64)>)>;

fn sums(target: &Collect) -> Sums {
    let mut out = Vec::new();
    for b in target.take() {
        for rm in &b.as_metrics().unwrap().resource_metrics {
            assert_eq!(rm.scope_metrics[0].scope.as_ref().unwrap().name, SCOPE_NAME);
            for m in &rm.scope_metrics[0].metrics {
                let Some(metric::Data::Sum(s)) = &m.data else {
                    panic!("a sum")
                };
                assert!(s.is_monotonic);
                assert_eq!(
                    s.aggregation_temporality,
                    AggregationTemporality::Delta as i32
                );
                out.push((
                    m.name.clone(),
                    s.data_points
                        .iter()
                        .map(|p| {
                            let v = match p.value {
                                Some(number_data_point::Value::AsInt(v)) => v,
                                _ => -1,
                            };
                            (p.attributes.clone(), v)
                        })
                        .collect(),
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn default_metrics_count_every_item() {
    let (c, target) = build("", Signal::Traces);
    c.consume(spans("s", 3)).await.unwrap();
    let got = sums(&target);
    assert_eq!(
        got,
        vec![("trace.span.count".to_string(), vec![(vec![], 3)])]
    );
    let (c, target) = build("", Signal::Logs);
    c.consume(logs(&[None, None])).await.unwrap();
    assert_eq!(
        sums(&target),
        vec![("log.record.count".to_string(), vec![(vec![], 2)])]
    );
}

#[tokio::test]
async fn attributes_group_counts_and_an_item_missing_one_is_not_counted() {
    let cfg = "logs:\n  by.level:\n    description: per level\n    attributes: [{key: level}]\n  by.service:\n    attributes: [{key: service.name}, {key: env, default_value: prod}]\n";
    let (c, target) = build(cfg, Signal::Logs);
    c.consume(logs(&[Some("info"), Some("error"), Some("info"), None]))
        .await
        .unwrap();
    let got = sums(&target);
    assert_eq!(
        got.len(),
        2,
        "{got:?}; the default log.record.count is replaced"
    );
    let by_level = &got.iter().find(|(n, _)| n == "by.level").unwrap().1;
    assert_eq!(
        by_level,
        &vec![
            (vec![string_attr("level", "info")], 2),
            (vec![string_attr("level", "error")], 1)
        ]
    );
    let by_service = &got.iter().find(|(n, _)| n == "by.service").unwrap().1;
    assert_eq!(
        by_service,
        &vec![(
            vec![
                string_attr("service.name", "api"),
                string_attr("env", "prod")
            ],
            4
        )],
        "from the resource, and the default"
    );
}

/// Conditions from the Go connector's README (`connector/countconnector`): log records of
/// one `environment`, spans of one `http.method`.
#[tokio::test]
async fn conditions_choose_the_items_counted() {
    let cfg = r#"
logs:
  error.logs:
    description: errors and warnings
    conditions:
      - 'attributes["level"] == "error"'
      - 'attributes["level"] == "warn"'
    attributes:
      - key: level
spans:
  my.prod.span.count:
    description: The number of spans from my prod environment.
    conditions:
      - 'resource.attributes["env"] == "prod"'
"#;
    let (c, target) = build(cfg, Signal::Logs);
    c.consume(logs(&[
        Some("info"),
        Some("error"),
        Some("warn"),
        Some("error"),
        None,
    ]))
    .await
    .unwrap();
    let mut got = sums(&target);
    got[0].1.sort_by_key(|(a, _)| format!("{a:?}"));
    assert_eq!(
        got,
        vec![(
            "error.logs".to_string(),
            vec![
                (vec![string_attr("level", "error")], 2),
                (vec![string_attr("level", "warn")], 1)
            ]
        )]
    );

    let (c, target) = build(cfg, Signal::Traces);
    let mut prod = spans("p", 2);
    prod.edit(|d| {
        if let BatchData::Traces(t) = d {
            t.resource_spans[0].resource = Some(Resource {
                attributes: vec![string_attr("env", "prod")],
                ..Default::default()
            });
        }
    });
    c.consume(prod).await.unwrap();
    c.consume(spans("d", 3)).await.unwrap();
    assert_eq!(
        sums(&target),
        vec![("my.prod.span.count".to_string(), vec![(vec![], 2)])],
        "the batch of other spans counts nothing and sends nothing"
    );
}

#[tokio::test]
async fn a_condition_that_fails_fails_the_batch_and_sends_nothing() {
    let cfg = "logs:
  parsed:
    conditions: ['ParseJSON(attributes[\"level\"])[\"a\"] == 1']
";
    let (c, target) = build(cfg, Signal::Logs);
    let err = c.consume(logs(&[Some("not json")])).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(target.count(), 0);
}

#[test]
fn bad_conditions_and_attributes_are_refused_with_their_path() {
    let errs = factory()
        .parse_config(&yaml(
            "spans:
  errors:
    conditions: ['status.code ==', 'name == \"ok\"', 'nme == \"x\"']
logs:
  bad:
    conditions: ['body == ']
",
        ))
        .unwrap_err();
    // every condition that does not load, at its index
    let all: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all.iter()
            .any(|e| e.starts_with("spans::errors::conditions::2:") && e.contains("nme")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|e| e.starts_with("logs::bad::conditions::0:")),
        "{all:?}"
    );
    let text = errs[0].to_string();
    assert!(text.contains("spans::errors::conditions::0"), "{text}");
    assert!(
        text.contains("spans condition: metric \"errors\""),
        "{text}"
    );
    assert!(factory()
        .parse_config(&yaml(
            "metrics:
  m:
    attributes: [{key: a}]
"
        ))
        .is_err());
}

#[tokio::test]
async fn counts_span_the_items_times_and_a_default_value_keeps_its_type() {
    let cfg = "logs:
  by.shard:
    attributes: [{key: shard, default_value: 7}]
";
    let (c, target) = build(cfg, Signal::Logs);
    let mut b = logs(&[None, None, None]);
    b.edit(|d| {
        if let BatchData::Logs(l) = d {
            for (r, t) in l.resource_logs[0].scope_logs[0]
                .log_records
                .iter_mut()
                .zip([3_000, 1_000, 2_000])
            {
                r.time_unix_nano = t;
            }
        }
    });
    c.consume(b).await.unwrap();
    let batches = target.take();
    let m = &batches[0].as_metrics().unwrap().resource_metrics[0].scope_metrics[0].metrics[0];
    let Some(metric::Data::Sum(s)) = &m.data else {
        panic!("a sum")
    };
    let p = &s.data_points[0];
    assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (1_000, 3_000));
    assert_eq!(
        p.attributes[0].value.as_ref().unwrap().value,
        Some(any_value::Value::IntValue(7))
    );
    assert_eq!(p.value, Some(number_data_point::Value::AsInt(3)));
}

/// A `count` of `signal` with the config `cfg` (YAML), called directly.
fn instance(signal: Signal, cfg: &str) -> Count {
    let cfg: Config = serde_yaml_ng::from_str(if cfg.is_empty() { "{}" } else { cfg }).unwrap();
    Count::new(signal, &cfg, Collect::new()).unwrap()
}

/// Batches still in the wire form are counted as their decoded form is: random requests
/// (resources repeated and empty, repeated keys, values of every type, entries without a
/// value, spans with events) under metrics of every kind, counted from each form with the
/// same clock, give the same counts, and the wire form is read where it lies.
#[test]
fn the_wire_form_counts_as_the_decoded_form() {
    use pipeline_api::testing::random::{self, Rng};
    let cases = [
        (Signal::Traces, ""),
        (
            Signal::Traces,
            "spans:
  by.a: {attributes: [{key: a}, {key: dup, default_value: 3}]}
  with.b: {conditions: ['attributes[\"b\"] != nil', 'name == \"x\"']}
  service: {attributes: [{key: service.name}, {key: c, default_value: none}]}
  all: {}
spanevents:
  events.one: {}
  events.two: {description: every event}
",
        ),
        (Signal::Logs, ""),
        (
            Signal::Logs,
            "logs:
  by.http: {attributes: [{key: http.method}, {key: ''}]}
  with.a: {conditions: ['attributes[\"a\"] == nil', 'severity_number > 8']}
  scope: {attributes: [{key: b, default_value: {k: v}}]}
",
        ),
    ];
    let mut rng = Rng(0xc0);
    for (case, (signal, yaml_cfg)) in cases.into_iter().enumerate() {
        let count = instance(signal, yaml_cfg);
        let mut points = 0;
        for i in 0..300 {
            let data = random::request(signal, &mut rng);
            let (wire, decoded) = random::both_forms(data);
            let now = 1_000 + i;
            let mut read = wire.clone();
            let w = count
                .counts_wire(&mut read, now)
                .expect("read from the wire form");
            assert!(!wire.is_decoded(), "case {case}: the wire form was decoded");
            let d = count.counts(decoded.into_data(), now);
            assert_eq!(w, d, "case {case}, request {i}");
            if let Ok(m) = &w {
                points += Batch::from_metrics(m.clone()).items();
            }
        }
        assert!(points > 200, "case {case}: only {points} points");
    }
}

/// Span events counted by conditions or attributes read their own contexts: such a
/// config counts from the decoded form, and metrics do too.
#[test]
fn span_event_conditions_and_metrics_are_counted_decoded() {
    use pipeline_api::testing::random::{self, Rng};
    let mut rng = Rng(7);
    for (signal, yaml_cfg) in [
        (Signal::Traces, "spanevents: {e: {attributes: [{key: a}]}}"),
        (
            Signal::Traces,
            "spanevents: {e: {conditions: ['name == \"x\"']}}",
        ),
        (Signal::Metrics, ""),
    ] {
        let count = instance(signal, yaml_cfg);
        let (mut wire, _) = random::both_forms(random::request(signal, &mut rng));
        assert!(count.counts_wire(&mut wire, 1).is_none(), "{yaml_cfg}");
    }
}
