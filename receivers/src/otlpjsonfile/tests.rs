use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use pipeline_api::testing::{context, Collect};
use pipeline_api::{
    Batch, CancellationToken, ComponentKind, Exporter, Receiver, SharedConsumer, Signal,
    SignalConsumers,
};

use super::*;
use crate::filelog::tests::TempDir;

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn resource(svc: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", any_value::Value::StringValue(svc.into())),
            kv("host.cpus", any_value::Value::IntValue(8)),
        ],
        dropped_attributes_count: 1,
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "lib".into(),
        version: "1.2".into(),
        attributes: vec![kv("s", any_value::Value::BoolValue(true))],
        dropped_attributes_count: 0,
    })
}

/// Spans with every kind of attribute value, events, links and status.
fn traces(n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![0x5a; 16],
            span_id: vec![i as u8 + 1; 8],
            parent_span_id: vec![0xee; 8],
            trace_state: "k=v".into(),
            name: format!("op-{i}"),
            kind: 3,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            end_time_unix_nano: 1_700_000_001_000_000_000,
            attributes: vec![
                kv("str", any_value::Value::StringValue("é\"\n".into())),
                kv("int", any_value::Value::IntValue(-(i as i64))),
                kv("dbl", any_value::Value::DoubleValue(1.5)),
                kv("bytes", any_value::Value::BytesValue(vec![0, 1, 255])),
                kv(
                    "arr",
                    any_value::Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(any_value::Value::IntValue(1)),
                        }],
                    }),
                ),
                kv(
                    "map",
                    any_value::Value::KvlistValue(KeyValueList {
                        values: vec![kv("in", any_value::Value::StringValue("x".into()))],
                    }),
                ),
            ],
            dropped_attributes_count: 2,
            events: vec![span::Event {
                time_unix_nano: 1_700_000_000_500_000_000,
                name: "ev".into(),
                attributes: vec![kv("e", any_value::Value::IntValue(7))],
                dropped_attributes_count: 0,
            }],
            links: vec![span::Link {
                trace_id: vec![0x11; 16],
                span_id: vec![0x22; 8],
                trace_state: String::new(),
                attributes: vec![],
                dropped_attributes_count: 0,
                flags: 0x100,
            }],
            status: Some(Status {
                message: "bad".into(),
                code: 2,
            }),
            flags: 1,
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("traces-svc"),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metrics() -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("metrics-svc"),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    Metric {
                        name: "requests".into(),
                        description: "d".into(),
                        unit: "1".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![NumberDataPoint {
                                attributes: vec![kv(
                                    "a",
                                    any_value::Value::StringValue("b".into()),
                                )],
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                value: Some(number_data_point::Value::AsInt(42)),
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        unit: "ms".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: 3,
                                count: 3,
                                sum: Some(7.5),
                                bucket_counts: vec![1, 2, 0],
                                explicit_bounds: vec![1.0, 5.0],
                                min: Some(0.5),
                                max: Some(4.0),
                                ..Default::default()
                            }],
                            aggregation_temporality: 1,
                        })),
                        ..Default::default()
                    },
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn logs(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("logs-svc"),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                        observed_time_unix_nano: 1_700_000_000_000_000_001,
                        severity_number: 17,
                        severity_text: "ERROR".into(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        attributes: vec![kv("n", any_value::Value::IntValue(i as i64))],
                        trace_id: vec![0x5a; 16],
                        span_id: vec![1; 8],
                        flags: 1,
                        event_name: "evt".into(),
                        ..Default::default()
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn parse(yaml: &str) -> Config {
    let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
    parse_typed::<Config>(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

fn errors(yaml: &str) -> String {
    let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
    match factory().parse_config(&v) {
        Ok(_) => String::new(),
        Err(es) => es
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

struct Started {
    token: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), pipeline_api::BuildError>>,
    counters: Arc<Counters>,
    traces: Arc<Collect>,
    metrics: Arc<Collect>,
    logs: Arc<Collect>,
}

fn start(cfg: &Config) -> Started {
    start_with(cfg, None)
}

/// A storage extension handing out one shared in-memory client (for restarts).
struct MemExtension(pipeline_api::storage::MemoryStorage);

impl pipeline_api::Extension for MemExtension {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_storage(&self) -> Option<&dyn pipeline_api::storage::StorageExtension> {
        Some(self)
    }
}

impl pipeline_api::storage::StorageExtension for MemExtension {
    fn client(
        &self,
        _kind: ComponentKind,
        _id: &pipeline_api::ComponentId,
        _name: &str,
    ) -> Result<Arc<dyn StorageClient>, pipeline_api::storage::StorageError> {
        Ok(Arc::new(self.0.clone()))
    }
}

fn start_with(cfg: &Config, storage: Option<&pipeline_api::storage::MemoryStorage>) -> Started {
    let traces = Collect::new();
    let metrics = Collect::new();
    let logs = Collect::new();
    let next = SignalConsumers {
        traces: Some(traces.clone() as SharedConsumer),
        metrics: Some(metrics.clone() as SharedConsumer),
        logs: Some(logs.clone() as SharedConsumer),
    };
    let mut ctx = context(
        ComponentKind::Receiver,
        "otlpjsonfile",
        Signal::ALL.to_vec(),
    );
    if let Some(m) = storage {
        let mut exts: std::collections::BTreeMap<
            pipeline_api::ComponentId,
            Arc<dyn pipeline_api::Extension>,
        > = Default::default();
        exts.insert(
            pipeline_api::ComponentId::parse("file_storage").unwrap(),
            Arc::new(MemExtension(m.clone())),
        );
        ctx.extensions = Arc::new(exts);
    }
    let r = OtlpJsonFileReceiver::build(ctx, cfg, next).unwrap();
    let counters = r.counters();
    let token = CancellationToken::new();
    let handle = tokio::spawn(Box::new(r).run(token.clone()));
    Started {
        token,
        handle,
        counters,
        traces,
        metrics,
        logs,
    }
}

impl Started {
    async fn wait(&self, what: impl Fn(&Started) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !what(self) {
            assert!(std::time::Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

#[test]
fn defaults_and_keys() {
    let c = parse("include: [/x/*.json]");
    assert!(!c.replay_file);
    assert_eq!(c.files.start_at, StartAt::End);
    assert_eq!(c.files.poll_interval.get(), Duration::from_millis(200));
    let c = parse("include: [/x]\nreplay_file: true\nstart_at: beginning\nexclude: [/y]\n");
    assert!(c.replay_file);
    assert!(errors("{}").contains("include"));
    assert!(errors("include: [/x]\noperators: []").contains("operators"));
    assert!(errors("include: [/x]\nbogus: 1").contains("bogus"));
    assert!(errors("include: [/x]\nreplay_file: 3").contains("replay_file"));
}

/// What the `file` exporter wrote comes back from the file unchanged, each signal to its own
/// pipeline, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_exporter_output_read_back_equals_what_went_in() {
    let dir = TempDir::new("otlpjsonfile-roundtrip");
    let path = dir.path("out.json");
    let exp_cfg: exporters::file::Config = {
        let v: ConfigValue =
            serde_yaml_ng::from_str(&format!("path: {}\n", path.display())).unwrap();
        parse_typed(&v).unwrap()
    };
    let exp = exporters::file::FileExporter::new(
        pipeline_api::ComponentId::parse("file").unwrap(),
        &exp_cfg,
    );
    exp.start().await.unwrap();
    let sent_traces = [traces(3), traces(1)];
    let sent_logs = [logs(5)];
    let sent_metrics = [metrics()];
    exp.export(Batch::from_traces(sent_traces[0].clone()))
        .await
        .unwrap();
    exp.export(Batch::from_logs(sent_logs[0].clone()))
        .await
        .unwrap();
    exp.export(Batch::from_metrics(sent_metrics[0].clone()))
        .await
        .unwrap();
    exp.export(Batch::from_traces(sent_traces[1].clone()))
        .await
        .unwrap();
    exp.shutdown().await;

    let cfg = parse(&format!(
        "include: [{}]\nstart_at: beginning\npoll_interval: 20ms\n",
        dir.glob("*.json")
    ));
    let r = start(&cfg);
    r.wait(|r| r.traces.count() == 2 && r.logs.count() == 1 && r.metrics.count() == 1)
        .await;
    let got_traces: Vec<ExportTraceServiceRequest> = r
        .traces
        .take()
        .iter()
        .map(|b| b.as_traces().unwrap().clone())
        .collect();
    assert_eq!(got_traces, sent_traces.to_vec());
    assert_eq!(
        r.logs.take()[0].as_logs().unwrap().clone(),
        sent_logs[0].clone()
    );
    assert_eq!(
        r.metrics.take()[0].as_metrics().unwrap().clone(),
        sent_metrics[0].clone()
    );
    assert_eq!(r.counters.malformed.load(Ordering::Relaxed), 0);
    r.stop().await;
}

/// Lines added after the start are read; malformed, truncated and non-object lines are
/// counted and skipped, and the lines after them still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_counted_and_skipped() {
    let dir = TempDir::new("otlpjsonfile-bad");
    let path = dir.path("in.json");
    std::fs::write(&path, "").unwrap();
    let cfg = parse(&format!(
        "include: [{}]\npoll_interval: 20ms\n",
        path.display()
    ));
    let r = start(&cfg);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let good =
        String::from_utf8(exporters::otlphttp::json::encode(&BatchData::Logs(logs(2)))).unwrap();
    let truncated = &good[..good.len() / 2];
    let text = format!("{truncated}\nnot json at all\n[1,2]\n{{\"resourceLogs\": 5}}\n{good}\n");
    crate::filelog::tests::append(&path, &text);
    r.wait(|r| r.logs.items() == 2).await;
    r.wait(|r| r.counters.malformed.load(Ordering::Relaxed) == 4)
        .await;
    assert_eq!(r.counters.lines.load(Ordering::Relaxed), 5);
    r.stop().await;
}

/// `replay_file`: the whole file again at every poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_file_reads_the_file_again_each_poll() {
    let dir = TempDir::new("otlpjsonfile-replay");
    let path = dir.path("in.json");
    let line =
        String::from_utf8(exporters::otlphttp::json::encode(&BatchData::Logs(logs(1)))).unwrap();
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let cfg = parse(&format!(
        "include: [{}]\npoll_interval: 20ms\nreplay_file: true\n",
        path.display()
    ));
    let r = start(&cfg);
    r.wait(|r| r.logs.count() >= 3).await;
    r.stop().await;

    // Without it, the line is read once.
    let cfg = parse(&format!(
        "include: [{}]\npoll_interval: 20ms\nstart_at: beginning\n",
        path.display()
    ));
    let r = start(&cfg);
    r.wait(|r| r.logs.count() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.logs.count(), 1);
    r.stop().await;
}

/// `exclude`: of the files `include` matches, the excluded ones are not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_files_are_not_read() {
    let dir = TempDir::new("otlpjsonfile-exclude");
    let line =
        String::from_utf8(exporters::otlphttp::json::encode(&BatchData::Logs(logs(1)))).unwrap();
    std::fs::write(dir.path("a.json"), format!("{line}\n")).unwrap();
    std::fs::write(dir.path("b.json"), format!("{line}\n{line}\n")).unwrap();
    let cfg = parse(&format!(
        "include: [{}]\nexclude: [{}]\npoll_interval: 20ms\nstart_at: beginning\n",
        dir.path("*.json").display(),
        dir.path("b.json").display()
    ));
    let r = start(&cfg);
    r.wait(|r| r.logs.items() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.logs.items(), 1, "b.json was read");
    r.stop().await;
}

/// `storage`: a restart continues after what was read (nothing twice, nothing skipped); with
/// no storage a restart at `start_at: beginning` reads everything again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_storage_a_restart_continues_where_it_stopped() {
    let dir = TempDir::new("otlpjsonfile-storage");
    let path = dir.path("in.json");
    let line =
        String::from_utf8(exporters::otlphttp::json::encode(&BatchData::Logs(logs(1)))).unwrap();
    std::fs::write(&path, format!("{line}\n{line}\n")).unwrap();
    let storage = pipeline_api::storage::MemoryStorage::default();
    let cfg = parse(&format!(
        "include: [{}]\npoll_interval: 20ms\nstart_at: beginning\nstorage: file_storage\n",
        path.display()
    ));
    let r = start_with(&cfg, Some(&storage));
    r.wait(|r| r.logs.items() == 2).await;
    // the checkpoint is stored once the poll was handed on
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while storage.keys().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no checkpoint stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    r.stop().await;
    crate::filelog::tests::append(&path, &format!("{line}\n"));
    let r = start_with(&cfg, Some(&storage));
    r.wait(|r| r.logs.items() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.logs.items(), 1, "only the line written after the stop");
    r.stop().await;
    // without storage, all three again
    let cfg = parse(&format!(
        "include: [{}]\npoll_interval: 20ms\nstart_at: beginning\n",
        path.display()
    ));
    let r = start(&cfg);
    r.wait(|r| r.logs.items() == 3).await;
    r.stop().await;
}
