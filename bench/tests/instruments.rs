//! The instruments measure what they claim: the sink counts what loadgen's clients send,
//! over each protocol, and fails on command. Small and fast; no timed assertions.

use std::time::Duration;

use bench::loadgen::{self, Compression, LoadOptions, Protocol};
use bench::payload::Shape;
use bench::sink::{ControlUpdate, Sink, SinkOptions};
use bench::Signal;

fn opts(sink: &Sink, protocol: Protocol, signal: Signal, count: u64) -> LoadOptions {
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", sink.grpc_addr()),
        _ => format!("http://{}", sink.http_addr()),
    };
    LoadOptions {
        endpoint: Some(endpoint),
        protocol,
        shape: Shape {
            signal,
            items_per_request: 20,
            ..Shape::default()
        },
        count: Some(count),
        connections: 2,
        streams: 2,
        timeout: Duration::from_secs(10),
        max_time: Duration::from_secs(30),
        ..LoadOptions::default()
    }
}

#[tokio::test]
async fn sink_counts_what_loadgen_sends_over_every_protocol_and_signal() {
    let sink = Sink::start(SinkOptions::default()).await.unwrap();
    let mut expected = 0;
    for protocol in [Protocol::Grpc, Protocol::HttpProto, Protocol::HttpJson] {
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            sink.reset();
            let report = loadgen::run(opts(&sink, protocol, signal, 200))
                .await
                .unwrap();
            assert_eq!(
                report.items.sent, 200,
                "{protocol:?} {signal:?}: {report:?}"
            );
            assert_eq!(
                report.items.acknowledged, 200,
                "{protocol:?} {signal:?}: {report:?}"
            );
            assert_eq!(report.requests.acknowledged, 10);
            assert_eq!(report.items.failed + report.items.refused, 0);
            let stats = sink.stats();
            let s = stats.signal(signal);
            assert_eq!(s.items, 200, "{protocol:?} {signal:?}: {stats:?}");
            assert_eq!(s.requests, 10);
            assert_eq!(s.duplicates, 0, "{protocol:?} {signal:?}");
            assert!(s.bytes > 0 && s.first_ms > 0 && s.last_ms >= s.first_ms);
            assert_eq!(stats.items, 200);
            assert_eq!(stats.invalid_requests, 0);
            expected += 1;
        }
    }
    assert_eq!(expected, 9);
    sink.stop().await;
}

#[tokio::test]
async fn gzip_is_counted_by_wire_and_message_bytes() {
    let sink = Sink::start(SinkOptions::default()).await.unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpProto] {
        sink.reset();
        let mut o = opts(&sink, protocol, Signal::Traces, 100);
        o.compression = Compression::Gzip;
        let report = loadgen::run(o).await.unwrap();
        assert_eq!(report.items.acknowledged, 100, "{report:?}");
        let stats = sink.stats();
        assert_eq!(
            stats.encodings.get("gzip"),
            Some(&5),
            "{protocol:?} {stats:?}"
        );
        let s = stats.traces;
        assert_eq!(s.items, 100);
        if protocol == Protocol::HttpProto {
            assert!(s.wire_bytes > 0 && s.wire_bytes < s.bytes, "{s:?}");
        }
    }
    sink.stop().await;
}

#[tokio::test]
async fn resent_requests_are_counted_as_duplicates_per_branch() {
    let sink = Sink::start(SinkOptions::default()).await.unwrap();
    let tpl =
        bench::payload::Template::new(&Shape::default(), bench::payload::Encoding::Proto).unwrap();
    let mut body = Vec::new();
    tpl.render(0, 0, &mut body);
    let client = reqwest_free_post(sink.http_addr());
    for branch in ["a", "a", "b"] {
        client(body.clone(), branch).await;
    }
    let stats = sink.stats();
    assert_eq!(stats.traces.items, 300);
    assert_eq!(stats.traces.duplicates, 100, "{stats:?}");
    assert_eq!(stats.branches.get("a"), Some(&200));
    assert_eq!(stats.branches.get("b"), Some(&100));
    sink.stop().await;
}

/// POST a protobuf trace body with hyper, with an `x-bench-branch` header.
fn reqwest_free_post(
    addr: std::net::SocketAddr,
) -> impl Fn(Vec<u8>, &'static str) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    move |body, branch| {
        Box::pin(async move {
            use http_body_util::{BodyExt, Full};
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<Full<bytes::Bytes>>();
            let req = http::Request::post(format!("http://{addr}/v1/traces"))
                .header("content-type", "application/x-protobuf")
                .header(bench::sink::BRANCH_HEADER, branch)
                .body(Full::new(bytes::Bytes::from(body)))
                .unwrap();
            let resp = client.request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let _ = resp.into_body().collect().await;
        })
    }
}

#[tokio::test]
async fn refusals_on_command_reach_the_client_as_refused() {
    let sink = Sink::start(SinkOptions {
        fail_after: Some(100),
        ..SinkOptions::default()
    })
    .await
    .unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpProto] {
        sink.reset();
        sink.control(ControlUpdate {
            mode: Some("ok".into()),
            fail_after: Some(100),
            ..Default::default()
        })
        .unwrap();
        let mut o = opts(&sink, protocol, Signal::Logs, 300);
        o.connections = 1;
        o.streams = 1;
        let report = loadgen::run(o).await.unwrap();
        assert_eq!(report.items.sent, 300, "{report:?}");
        assert_eq!(report.items.acknowledged, 100, "{report:?}");
        assert_eq!(report.items.refused, 200, "{report:?}");
        let stats = sink.stats();
        assert_eq!(stats.logs.items, 100);
        assert_eq!(stats.refused_items, 200);
        assert_eq!(stats.mode, "fail");
    }
    // Back to ok, with a delay: everything is acknowledged.
    sink.reset();
    sink.control(ControlUpdate {
        mode: Some("ok".into()),
        delay_ms: Some(5),
        fail_after: Some(0),
        ..Default::default()
    })
    .unwrap();
    let report = loadgen::run(opts(&sink, Protocol::Grpc, Signal::Logs, 100))
        .await
        .unwrap();
    assert_eq!(report.items.acknowledged, 100, "{report:?}");
    assert!(report.latency_ms.p50 >= 5.0, "{report:?}");
    sink.stop().await;
}

#[tokio::test]
async fn docker_log_generator_writes_the_lines_asked_for() {
    let dir = std::env::temp_dir().join(format!("ferrotel-bench-docker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let w = bench::dockerlog::write(&dir, 1000, 2).unwrap();
    let lines: usize = w
        .files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert_eq!(lines, 1000);
    assert!(w.files[0].ends_with(format!("{}-json.log", bench::dockerlog::container_id(0))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wirescan_times_the_scan_the_walk_and_the_transform_statements() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wirescan"))
        .args(["--rounds", "1", "--requests", "4"])
        .output()
        .expect("wirescan runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    // one line a measure, each with a time: the transform's baseline, then one line for
    // each of the scenario's ten statements
    let transform_lines: Vec<String> = (1..=10)
        .map(|n| format!("transform, statements 1 to {n}:"))
        .collect();
    let measures = [
        "scan traces:",
        "scan logs:",
        "scan and walk traces",
        "transform baseline",
    ];
    for measure in measures
        .iter()
        .copied()
        .chain(transform_lines.iter().map(String::as_str))
    {
        let line = text
            .lines()
            .find(|l| l.starts_with(measure))
            .unwrap_or_else(|| panic!("no {measure} in {text}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let ns: f64 = words
            .iter()
            .position(|&w| w == "ns")
            .and_then(|at| words.get(at.checked_sub(1)?))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no time in {line}"));
        assert!(ns > 0.0 && ns.is_finite(), "{line}");
    }
}

#[test]
fn wirescan_times_the_whole_statement_list_alone() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wirescan"))
        .args([
            "--rounds",
            "1",
            "--requests",
            "4",
            "--transform-only",
            "--whole",
        ])
        .output()
        .expect("wirescan runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    // the baseline, then the ten statements timed together, not one by one
    assert!(!text.contains("statements 1 to"), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("transform, all 10 statements:"))
        .unwrap_or_else(|| panic!("no whole-list time in {text}"));
    let ns: f64 = line
        .split_whitespace()
        .nth(4)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no time in {line}"));
    assert!(ns > 0.0 && ns.is_finite(), "{line}");
}
