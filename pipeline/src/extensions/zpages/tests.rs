use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::telemetry::{MetricsLevel, Telemetry};
use pipeline_api::{BuildContext, ComponentId, ComponentKind, GraphInfo, PipelineId, PipelineInfo};

use super::model::{pipelinez, RateKeeper, Values};
use super::*;

fn id(s: &str) -> ComponentId {
    ComponentId::parse(s).unwrap()
}

fn ids(list: &[&str]) -> Vec<ComponentId> {
    list.iter().map(|s| id(s)).collect()
}

fn graph() -> GraphInfo {
    GraphInfo {
        pipelines: vec![
            PipelineInfo {
                id: PipelineId::parse("logs").unwrap(),
                receivers: ids(&["otlp"]),
                processors: vec![],
                exporters: ids(&["debug"]),
            },
            PipelineInfo {
                id: PipelineId::parse("traces").unwrap(),
                receivers: ids(&["otlp", "otlp/2"]),
                processors: ids(&["memory_limiter", "batch"]),
                exporters: ids(&["otlp/tempo", "debug"]),
            },
        ],
        extensions: ids(&["zpages"]),
    }
}

/// The counters the runtime keeps, with values.
fn count(t: &Arc<Telemetry>) {
    let r = t.component(ComponentKind::Receiver, &id("otlp"));
    r.counter(
        "otelcol_receiver_accepted_spans",
        "h",
        &[("transport", "grpc")],
    )
    .inc_by(70);
    r.counter(
        "otelcol_receiver_accepted_spans",
        "h",
        &[("transport", "http")],
    )
    .inc_by(30);
    r.counter(
        "otelcol_receiver_refused_spans",
        "h",
        &[("transport", "grpc")],
    )
    .inc_by(4);
    r.counter(
        "otelcol_receiver_accepted_log_records",
        "h",
        &[("transport", "grpc")],
    )
    .inc_by(9);
    let p = t.component(ComponentKind::Processor, &id("batch"));
    p.counter(
        "otelcol_processor_incoming_items",
        "h",
        &[("otel_signal", "traces")],
    )
    .inc_by(96);
    p.counter(
        "otelcol_processor_outgoing_items",
        "h",
        &[("otel_signal", "traces")],
    )
    .inc_by(90);
    let e = t.component(ComponentKind::Exporter, &id("otlp/tempo"));
    e.counter("otelcol_exporter_sent_spans", "h", &[])
        .inc_by(85);
    e.counter("otelcol_exporter_send_failed_spans", "h", &[])
        .inc_by(5);
    e.gauge(
        "otelcol_exporter_queue_size",
        "h",
        &[("data_type", "traces")],
    )
    .set(3);
}

#[test]
fn defaults_validate_and_match_go() {
    let value: ConfigValue = serde_yaml_ng::from_str("{}").unwrap();
    let cfg = parse_typed::<ZPagesConfig>(&value).expect("defaults");
    assert_eq!(cfg, ZPagesConfig::default());
    assert_eq!(cfg.endpoint, "localhost:55679");
    let value: ConfigValue = serde_yaml_ng::from_str(
        "endpoint: 0.0.0.0:55679\nexpvar:\n  enabled: true\ncors:\n  allowed_origins: ['*']\n",
    )
    .unwrap();
    parse_typed::<ZPagesConfig>(&value).expect("Go keys");
    let value: ConfigValue = serde_yaml_ng::from_str("endpoit: x").unwrap();
    let errors = parse_typed::<ZPagesConfig>(&value).unwrap_err();
    assert!(errors[0].to_string().contains("endpoint"), "{errors:?}");
}

#[test]
fn pipelinez_reads_the_graph_and_the_counters() {
    let t = Telemetry::new(MetricsLevel::Normal);
    count(&t);
    let z = pipelinez(
        &graph(),
        &Values::new(t.registry().gather()),
        &RateKeeper::default(),
        Instant::now(),
        "9.9.9",
    );
    assert_eq!(z.pipelines.len(), 2);
    let traces = &z.pipelines[1];
    assert_eq!(traces.id, "traces");
    let names = |n: &[model::NodeView]| n.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(names(&traces.receivers), ["otlp", "otlp/2"]);
    assert_eq!(names(&traces.processors), ["memory_limiter", "batch"]);
    assert_eq!(names(&traces.exporters), ["otlp/tempo", "debug"]);
    let otlp = &traces.receivers[0];
    assert_eq!(otlp.items, 100, "both transports");
    assert_eq!(otlp.errors, Some(4));
    assert_eq!(traces.receivers[1].items, 0);
    let batch = &traces.processors[1];
    assert_eq!(batch.items, 96);
    assert_eq!(batch.errors, None);
    assert_eq!(batch.counters["outgoing"], 90);
    let tempo = &traces.exporters[0];
    assert_eq!((tempo.items, tempo.errors), (85, Some(5)));
    assert_eq!(tempo.counters["queue_size"], 3);
    // the logs pipeline counts log records of the same receiver, not its spans
    assert_eq!(z.pipelines[0].receivers[0].items, 9);
    assert_eq!(z.rate_window_seconds, None);
    assert!(otlp.items_per_second.is_none());
}

#[test]
fn rates_come_from_samples_over_the_window() {
    let t = Telemetry::new(MetricsLevel::Normal);
    let g = graph();
    let t0 = Instant::now();
    let mut rates = RateKeeper::default();
    rates.record(&g, &Values::new(t.registry().gather()), t0);
    count(&t);
    let z = pipelinez(
        &g,
        &Values::new(t.registry().gather()),
        &rates,
        t0 + Duration::from_secs(10),
        "x",
    );
    assert_eq!(z.rate_window_seconds, Some(10.0));
    let otlp = &z.pipelines[1].receivers[0];
    assert_eq!(otlp.items_per_second, Some(10.0));
    assert_eq!(otlp.errors_per_second, Some(0.4));
    assert_eq!(z.pipelines[1].processors[0].errors_per_second, None);
    // samples older than the window are dropped, keeping one baseline
    for s in 1..=30 {
        rates.record(
            &g,
            &Values::new(t.registry().gather()),
            t0 + Duration::from_secs(5 * s),
        );
    }
    let z = pipelinez(
        &g,
        &Values::new(t.registry().gather()),
        &rates,
        t0 + Duration::from_secs(150),
        "x",
    );
    let w = z.rate_window_seconds.unwrap();
    assert!((60.0..=65.0).contains(&w), "{w}");
    assert_eq!(z.pipelines[1].receivers[0].items_per_second, Some(0.0));
}

#[test]
fn svg_draws_every_component_and_edge() {
    let t = Telemetry::new(MetricsLevel::Normal);
    count(&t);
    let z = pipelinez(
        &graph(),
        &Values::new(t.registry().gather()),
        &RateKeeper::default(),
        Instant::now(),
        "1",
    );
    let svg = render::pipeline_svg(&z.pipelines[1]);
    assert_eq!(svg.matches("<rect").count(), 6);
    // 2 receivers → first processor, 1 processor → processor, last → 2 exporters
    assert_eq!(svg.matches("marker-end=").count(), 5);
    assert!(svg.contains(">otlp/tempo</text>"));
    assert!(svg.contains("5 errors"), "{svg}");
    assert!(svg.contains("in 96 → out 90"), "{svg}");
    // no processors: every receiver to every exporter
    let svg = render::pipeline_svg(&z.pipelines[0]);
    assert_eq!(svg.matches("marker-end=").count(), 1);
    assert!(svg.contains("url(#arrow-logs)"));
    let html = render::pipelinez_html(&z);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("<h2 id=\"traces\">"));
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let status = buf.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn get_async(addr: SocketAddr, path: &str) -> (u16, String) {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || get(addr, &path))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_pages_of_the_graph_it_is_given() {
    let telemetry = Telemetry::new(MetricsLevel::Normal);
    count(&telemetry);
    let zid = id("zpages");
    let value: ConfigValue = serde_yaml_ng::from_str("endpoint: 127.0.0.1:0").unwrap();
    let cfg = factory().parse_config(&value).unwrap();
    let ctx = BuildContext {
        id: zid.clone(),
        telemetry: telemetry.component(ComponentKind::Extension, &zid),
        signals: vec![],
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    };
    let ext = factory().build(ctx, &*cfg).expect("build");
    ext.start().await.expect("start");
    let addr = ext
        .as_any()
        .downcast_ref::<ZPages>()
        .unwrap()
        .local_addr()
        .unwrap();
    // before the graph is ready: an empty page, not an error
    let (status, body) = get_async(addr, "/debug/pipelinez").await;
    assert_eq!(status, 200);
    assert!(body.contains("No pipeline is running"), "{body}");

    ext.graph_ready(&graph());
    ext.ready();
    let (status, body) = get_async(addr, "/debug/pipelinez?format=json").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["pipelines"][1]["id"], "traces");
    assert_eq!(json["pipelines"][1]["receivers"][0]["items"], 100);
    assert_eq!(json["pipelines"][1]["exporters"][0]["errors"], 5);
    assert_eq!(json["extensions"][0], "zpages");
    let (status, body) = get_async(addr, "/debug/pipelinez").await;
    assert_eq!(status, 200);
    assert_eq!(body.matches("<svg").count(), 2, "{body}");

    let (status, body) = get_async(addr, "/debug/servicez?format=json").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        json["config"]["receivers"],
        serde_json::json!(["otlp", "otlp/2"])
    );
    assert_eq!(
        json["config"]["exporters"],
        serde_json::json!(["debug", "otlp/tempo"])
    );
    assert!(json["uptime_seconds"].as_f64().unwrap() >= 0.0);
    let (status, body) = get_async(addr, "/debug/servicez").await;
    assert_eq!(status, 200);
    assert!(body.contains("<td>version</td>"), "{body}");
    assert!(body.contains("[otlp, otlp/2] → [memory_limiter, batch] → [otlp/tempo, debug]"));
    let (status, _) = get_async(addr, "/debug/nothing").await;
    assert_eq!(status, 404);
    ext.shutdown().await;
    ext.shutdown().await;
}
