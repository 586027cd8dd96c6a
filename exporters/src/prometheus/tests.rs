use pipeline_api::config::ConfigError;
use pipeline_api::ComponentConfig;
use pipeline_api::Signal;
use std::io::Read;
use std::time::{Duration, Instant};

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{BuildContext, ComponentId, ComponentKind, Exporter};

use super::*;
use crate::promtranslate::testutil::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<Config, Vec<ConfigError>> {
    parse_typed::<Config>(&yaml(s))
}

fn exporter(cfg: &str) -> PrometheusExporter {
    let cfg = parse(cfg).unwrap();
    PrometheusExporter::new(ComponentId::parse("prometheus").unwrap(), &cfg).unwrap()
}

async fn scrape(e: &PrometheusExporter, accept: Option<&str>) -> (String, String) {
    let url = format!("http://{}/metrics", e.local_addr());
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let resp = tokio::time::timeout(Duration::from_secs(5), req.send())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    (ct, resp.text().await.unwrap())
}

const L: &str = r#"instance="i-1",job="api",otel_scope_name="meter",otel_scope_schema_url="",otel_scope_version="1.0""#;

#[test]
fn defaults_match_go_create_default_config() {
    let c = parse("endpoint: 127.0.0.1:0").unwrap();
    assert_eq!(c.metric_expiration.get(), Duration::from_secs(300));
    assert!(!c.send_timestamps && !c.enable_open_metrics && !c.without_scope_info);
    assert!(c.add_metric_suffixes && c.with_suffixes());
    assert!(c.const_labels.is_empty() && c.namespace.is_empty());
    assert!(!c.resource_to_telemetry_conversion.enabled);
    assert_eq!(
        c.listen_addresses(),
        vec![("endpoint".to_string(), "127.0.0.1:0".to_string())]
    );
    // Go errBlankPrometheusAddress: the endpoint is required.
    let errs = parse("{}").unwrap_err();
    assert_eq!(errs[0].path_string(), "endpoint");
    // translation_strategy wins over add_metric_suffixes (Go getTranslationConfiguration).
    let c = parse("{endpoint: ':8889', add_metric_suffixes: true, translation_strategy: UnderscoreEscapingWithoutSuffixes}").unwrap();
    assert!(!c.with_suffixes());
}

#[test]
fn unknown_keys_and_bad_values_are_rejected() {
    let errs = parse("{endpoint: '127.0.0.1:0', metric_expiraton: 1m, translation_strategy: NoTranslaton, resource_to_telemetry_conversion: {enable: true}}").unwrap_err();
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("metric_expiraton") && t.contains("metric_expiration")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("NoTranslaton") && t.contains("NoTranslation")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("resource_to_telemetry_conversion::enable")),
        "{text:?}"
    );
    let errs = parse("{endpoint: 'nohost', tls: {ca_file: /x}}").unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");
}

#[tokio::test]
async fn build_start_shutdown_twice_on_port_0() {
    let f = factory();
    assert_eq!(f.signals(), &[Signal::Metrics]);
    assert!(!f.queue_and_retry_by_default());
    let cfg = f.parse_config(&yaml("endpoint: 127.0.0.1:0")).unwrap();
    for _ in 0..2 {
        let id = ComponentId::parse("prometheus/x").unwrap();
        let ctx = BuildContext {
            telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &id),
            id,
            signals: vec![Signal::Metrics],
            extensions: Default::default(),
            memory: Default::default(),
        };
        let e = f.build(ctx, cfg.as_ref()).unwrap();
        e.start().await.unwrap();
        e.export(batch(vec![resource_metrics(
            api_resource(),
            ("meter", "1.0"),
            every_kind(),
        )]))
        .await
        .unwrap();
        e.shutdown().await;
        e.shutdown().await;
    }
    // A port in use fails the build.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = parse(&format!("endpoint: {}", taken.local_addr().unwrap())).unwrap();
    let err = PrometheusExporter::new(ComponentId::parse("prometheus").unwrap(), &cfg)
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with("endpoint: failed to listen on"),
        "{err}"
    );
}

#[tokio::test]
async fn scrape_shows_every_metric_type_in_text_format() {
    let e = exporter("endpoint: 127.0.0.1:0");
    e.start().await.unwrap();
    let t = 2 * SEC;
    let delta = |start, time, v| {
        metric(
            "jobs.done",
            "",
            "",
            sum(vec![int_point(vec![], start, time, v)], true, DELTA),
        )
    };
    let mut metrics = every_kind();
    metrics.push(delta(SEC, t, 2));
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("meter", "1.0"),
        metrics,
    )]))
    .await
    .unwrap();
    // The second delta is added to the first (Go accumulator: delta → cumulative).
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("meter", "1.0"),
        vec![delta(t, 3 * SEC, 3)],
    )]))
    .await
    .unwrap();
    let (ct, body) = scrape(&e, None).await;
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let expected = format!(
        "\
# HELP cpu_utilization_ratio CPU
# TYPE cpu_utilization_ratio gauge
cpu_utilization_ratio{{{L}}} 0.25
# HELP http_requests_total Requests
# TYPE http_requests_total counter
http_requests_total{{instance=\"i-1\",job=\"api\",method=\"GET\",otel_scope_name=\"meter\",otel_scope_schema_url=\"\",otel_scope_version=\"1.0\"}} 10
# HELP http_server_duration_seconds 
# TYPE http_server_duration_seconds histogram
http_server_duration_seconds_bucket{{{L},le=\"0.1\"}} 1
http_server_duration_seconds_bucket{{{L},le=\"1\"}} 3
http_server_duration_seconds_bucket{{{L},le=\"+Inf\"}} 4
http_server_duration_seconds_sum{{{L}}} 2.5
http_server_duration_seconds_count{{{L}}} 4
# HELP jobs_done_total 
# TYPE jobs_done_total counter
jobs_done_total{{{L}}} 5
# HELP payload_size_bytes 
# TYPE payload_size_bytes histogram
payload_size_bytes_bucket{{{L},le=\"0\"}} 1
payload_size_bytes_bucket{{{L},le=\"2\"}} 3
payload_size_bytes_bucket{{{L},le=\"4\"}} 6
payload_size_bytes_bucket{{{L},le=\"+Inf\"}} 6
payload_size_bytes_sum{{{L}}} 15
payload_size_bytes_count{{{L}}} 6
# HELP queue_size 
# TYPE queue_size gauge
queue_size{{{L}}} -3
# HELP rpc_latency_milliseconds 
# TYPE rpc_latency_milliseconds summary
rpc_latency_milliseconds{{{L},quantile=\"0.5\"}} 10
rpc_latency_milliseconds{{{L},quantile=\"0.99\"}} 20
rpc_latency_milliseconds_sum{{{L}}} 60
rpc_latency_milliseconds_count{{{L}}} 5
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{{host_name=\"h1\",instance=\"i-1\",job=\"api\"}} 1
"
    );
    assert_eq!(body, expected);
    e.shutdown().await;
}

#[tokio::test]
async fn two_resources_never_overwrite_each_other() {
    let e = exporter("endpoint: 127.0.0.1:0");
    e.start().await.unwrap();
    let m = |v| {
        vec![metric(
            "up.time",
            "s",
            "",
            gauge(vec![double_point(vec![], 0, 2 * SEC, v)]),
        )]
    };
    let a = vec![kv("service.name", "api"), kv("service.instance.id", "a")];
    let b = vec![
        kv("service.name", "api"),
        kv("service.instance.id", "b"),
        kv("zone", "z2"),
    ];
    e.export(batch(vec![
        resource_metrics(a, ("m", ""), m(1.0)),
        resource_metrics(b, ("m", ""), m(2.0)),
    ]))
    .await
    .unwrap();
    let (_, body) = scrape(&e, None).await;
    let lines: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        vec![
            // one target_info per job+instance (Go resourceSignature needs both)
            "target_info{instance=\"a\",job=\"api\"} 1",
            "target_info{instance=\"b\",job=\"api\",zone=\"z2\"} 1",
            "up_time_seconds{instance=\"a\",job=\"api\",otel_scope_name=\"m\",otel_scope_schema_url=\"\",otel_scope_version=\"\"} 1",
            "up_time_seconds{instance=\"b\",job=\"api\",otel_scope_name=\"m\",otel_scope_schema_url=\"\",otel_scope_version=\"\"} 2",
        ],
        "{body}"
    );
    e.shutdown().await;
}

#[tokio::test]
async fn series_expire_after_metric_expiration() {
    let e = exporter("{endpoint: 127.0.0.1:0, metric_expiration: 300ms}");
    e.start().await.unwrap();
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("m", ""),
        every_kind(),
    )]))
    .await
    .unwrap();
    let (_, body) = scrape(&e, None).await;
    assert!(body.contains("queue_size{"), "{body}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, body) = scrape(&e, None).await;
        if body.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still served after 5s: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    e.shutdown().await;
}

#[tokio::test]
async fn open_metrics_is_negotiated_and_carries_exemplars() {
    let e = exporter("{endpoint: 127.0.0.1:0, enable_open_metrics: true}");
    e.start().await.unwrap();
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("meter", "1.0"),
        every_kind(),
    )]))
    .await
    .unwrap();
    // Prometheus 2.x's scrape Accept header.
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (ct, body) = scrape(&e, Some(accept)).await;
    assert_eq!(
        ct,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    let exemplar_time = "1.7e+09";
    assert!(
        body.contains("# HELP http_requests Requests\n# TYPE http_requests counter\n"),
        "{body}"
    );
    assert!(body.contains(&format!(
        "http_requests_total{{instance=\"i-1\",job=\"api\",method=\"GET\",otel_scope_name=\"meter\",otel_scope_schema_url=\"\",otel_scope_version=\"1.0\"}} 10.0 # {{span_id=\"65666768696a6b6c\",trace_id=\"0102030405060708090a0b0c0d0e0f10\"}} 1.0 {exemplar_time}\n"
    )), "{body}");
    // the histogram exemplar (0.5) sits on the first bucket at or above it: le="1.0"
    assert!(body.contains(&format!(
        "http_server_duration_seconds_bucket{{{L},le=\"1.0\"}} 3 # {{span_id=\"666768696a6b6c6d\",trace_id=\"02030405060708090a0b0c0d0e0f1011\"}} 0.5 {exemplar_time}\n"
    )), "{body}");
    assert!(
        body.contains(&format!("http_server_duration_seconds_count{{{L}}} 4\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("http_server_duration_seconds_sum{{{L}}} 2.5\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("queue_size{{{L}}} -3.0\n")),
        "{body}"
    );
    assert!(body.contains("# TYPE target_info gauge\ntarget_info{host_name=\"h1\",instance=\"i-1\",job=\"api\"} 1.0\n"), "{body}");
    // OpenMetrics 0.0.1 when only that is asked for; text when the scraper asks for text
    let (ct, _) = scrape(&e, Some("application/openmetrics-text;version=0.0.1")).await;
    assert_eq!(
        ct,
        "application/openmetrics-text; version=0.0.1; charset=utf-8"
    );
    let (ct, body) = scrape(
        &e,
        Some("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"),
    )
    .await;
    assert_eq!(ct, TEXT_CONTENT_TYPE);
    assert!(
        !body.contains("# EOF") && !body.contains("trace_id"),
        "{body}"
    );
    let (ct, _) = scrape(&e, None).await;
    assert_eq!(ct, TEXT_CONTENT_TYPE);
    e.shutdown().await;

    // enable_open_metrics: false → always text, no exemplars
    let e = exporter("endpoint: 127.0.0.1:0");
    e.start().await.unwrap();
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("meter", "1.0"),
        every_kind(),
    )]))
    .await
    .unwrap();
    let (ct, body) = scrape(&e, Some(accept)).await;
    assert_eq!(ct, TEXT_CONTENT_TYPE);
    assert!(!body.contains("trace_id"));
    e.shutdown().await;
}

#[tokio::test]
async fn gzip_other_paths_and_response_headers() {
    let e = exporter("{endpoint: 127.0.0.1:0, response_headers: {X-Served-By: ferrotel}}");
    e.start().await.unwrap();
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("m", ""),
        every_kind(),
    )]))
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("http://{}/metrics", e.local_addr()))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.headers()["x-served-by"], "ferrotel");
    let gz = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("# TYPE queue_size gauge"), "{text}");
    let resp = client
        .get(format!("http://{}/other", e.local_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "404 page not found\n");
    e.shutdown().await;
}

#[tokio::test]
async fn namespace_const_labels_timestamps_and_no_recorded_value() {
    let e = exporter(
        "{endpoint: 127.0.0.1:0, namespace: app, send_timestamps: true, without_scope_info: true, const_labels: {env: prod, 'bad label': x}}",
    );
    let point = |flags| {
        let mut p = double_point(vec![kv("_private", "p")], 0, 2_500_000_000, 1.5);
        p.flags = flags;
        metric("temp", "Cel", "", gauge(vec![p]))
    };
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("m", ""),
        vec![point(0)],
    )]))
    .await
    .unwrap();
    let body = e.render(Format::Text);
    assert!(body.contains(
        "app_temp_celsius{bad_label=\"x\",env=\"prod\",instance=\"i-1\",job=\"api\",key_private=\"p\"} 1.5 2500\n"
    ), "{body}");
    // target_info gets the namespace, not the const labels
    assert!(body.contains("# TYPE app_target_info gauge\napp_target_info{host_name=\"h1\",instance=\"i-1\",job=\"api\"} 1\n"), "{body}");
    // NoRecordedValue removes the series (Go accumulator deletes the signature)
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("m", ""),
        vec![point(1)],
    )]))
    .await
    .unwrap();
    assert_eq!(e.render(Format::Text), "");
}

#[tokio::test]
async fn type_conflicts_keep_the_first_type() {
    let e = exporter("endpoint: 127.0.0.1:0");
    e.export(batch(vec![resource_metrics(
        vec![],
        ("m", ""),
        vec![
            metric(
                "x",
                "",
                "first",
                gauge(vec![double_point(vec![], 0, SEC, 1.0)]),
            ),
            metric(
                "x",
                "",
                "second",
                sum(
                    vec![int_point(vec![kv("a", "b")], 0, SEC, 1)],
                    false,
                    CUMULATIVE,
                ),
            ),
            metric(
                "x",
                "",
                "",
                histogram(
                    vec![histogram_point(vec![], SEC, vec![], vec![1], 1.0)],
                    CUMULATIVE,
                ),
            ),
        ],
    )]))
    .await
    .unwrap();
    let body = e.render(Format::Text);
    assert_eq!(
        body,
        "# HELP x first\n# TYPE x gauge\nx{a=\"b\",otel_scope_name=\"m\",otel_scope_schema_url=\"\",otel_scope_version=\"\"} 1\nx{otel_scope_name=\"m\",otel_scope_schema_url=\"\",otel_scope_version=\"\"} 1\n"
    );
}

#[test]
fn negotiation_follows_expfmt() {
    assert_eq!(
        negotiate(Some("application/openmetrics-text"), false),
        Format::Text
    );
    assert_eq!(
        negotiate(Some("application/openmetrics-text"), true),
        Format::OpenMetrics("1.0.0")
    );
    assert_eq!(
        negotiate(Some("application/openmetrics-text;version=2.0.0"), true),
        Format::Text
    );
    assert_eq!(negotiate(Some("*/*"), true), Format::Text);
    assert_eq!(
        negotiate(
            Some("text/plain;q=0.2, application/openmetrics-text;version=0.0.1;q=0.8"),
            true
        ),
        Format::OpenMetrics("0.0.1")
    );
}

/// Idle clients cannot take the scrape endpoint: past the connection limit a new connection
/// is closed at once, and a freed slot serves Prometheus again.
#[tokio::test]
async fn idle_connections_over_the_limit_are_closed() {
    let e = exporter("endpoint: 127.0.0.1:0");
    e.start().await.unwrap();
    let limit = transport::limits::Limits::default().max_connections;
    let mut idle = Vec::new();
    for _ in 0..limit {
        idle.push(
            tokio::net::TcpStream::connect(e.local_addr())
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = tokio::net::TcpStream::connect(e.local_addr())
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut extra, &mut buf),
    )
    .await
    .expect("closed at once, not left hanging");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    idle.truncate(limit - 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // `scrape` asserts a 200 answer within 5 s
    scrape(&e, None).await;
    e.shutdown().await;
}
