//! The receiver against loopback HTTP servers: answers of each status class, a port where
//! nothing listens, a POST with a body, validations of the answer, and the receiver run with
//! the configs of public projects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::{metric, ResourceMetrics};
use pipeline_api::testing::{context, Collect};
use pipeline_api::{ComponentKind, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{HttpCheckConfig, HttpCheckReceiver};
use crate::testing::{self, metrics_to, rounds};

fn parse(s: &str) -> Result<HttpCheckConfig, String> {
    pipeline_api::testing::parse_config(s)
}

/// A loopback server answering every request with `status` and `body`; it keeps each
/// request's head and body.
async fn server(status: u16, body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if rest.len() >= len {
                            seen.lock().unwrap().push(text);
                            break;
                        }
                    }
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Run the receiver until it has sent one round; that round's resource metrics.
async fn one_scrape(cfg: &HttpCheckConfig) -> ResourceMetrics {
    let next = Collect::new();
    let ctx = context(ComponentKind::Receiver, "httpcheck", vec![Signal::Metrics]);
    let r = HttpCheckReceiver::build(ctx, cfg, metrics_to(&next)).unwrap();
    let rms = rounds(Box::new(r), &next, 1).await;
    assert_eq!(rms.len(), 1, "one round within 5 s");
    rms.into_iter().next().unwrap()
}

/// Each point of metric `name` (every value of the receiver is an integer; its sums go up
/// and down).
fn points(rm: &ResourceMetrics, name: &str) -> Vec<(String, i64)> {
    for m in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
        if let (true, Some(metric::Data::Sum(s))) = (m.name == name, &m.data) {
            assert!(!s.is_monotonic, "{name} is an up-down sum");
        }
    }
    testing::points(rm, name)
        .into_iter()
        .map(|(a, v)| (a, v as i64))
        .collect()
}

#[test]
fn defaults_and_validation_are_gos() {
    let cfg = parse("targets: [{endpoint: 'http://localhost:13133/health/status', method: GET}]")
        .unwrap();
    assert_eq!(cfg.collection_interval.get(), Duration::from_secs(60));
    assert_eq!(cfg.initial_delay.get(), Duration::from_secs(1));
    assert!(cfg.timeout.is_zero());
    assert_eq!(parse("{}").unwrap_err(), "no targets configured");
    let errs = parse(
        "targets:\n  - method: GET\n  - endpoint: 'no scheme'\n  - endpoints: [http://a:1, 'x y']\n    method: 'G T'\ncollection_interval: 0s\nmetrics: {httpcheck.nope: {enabled: true}}",
    )
    .unwrap_err();
    let lines: Vec<&str> = errs.lines().collect();
    assert_eq!(lines.len(), 6, "{errs}");
    assert_eq!(
        lines[0],
        "targets::0: at least one of 'endpoint' or 'endpoints' must be specified"
    );
    assert!(
        lines[1].starts_with(
            "targets::1::endpoint: \"endpoint\" must be in the form of <scheme>://<hostname>[:<port>]: parse \"no scheme\""
        ),
        "{errs}"
    );
    assert!(lines[2].starts_with("targets::2::endpoints::1: \"endpoint\" must be in the form"));
    assert_eq!(lines[3], "targets::2::method: invalid method \"G T\"");
    assert_eq!(lines[4], "collection_interval: requires positive value");
    assert_eq!(lines[5], "metrics: has invalid keys: httpcheck.nope");
    // `http://${env:HOST}` with HOST unset: Go's ParseRequestURI takes it
    assert!(parse("targets: [{endpoint: 'http://'}]").is_ok());
    // a typo is named with the nearest key of the target or of its HTTP client
    let err = parse("targets: [{endpoint: 'http://a:1', metod: GET}]").unwrap_err();
    assert!(err.contains("did you mean \"method\""), "{err}");
}

#[tokio::test]
async fn an_answer_is_one_point_per_status_class_and_its_duration() {
    let (ok, _) = server(200, "healthy").await;
    let (down, _) = server(503, "").await;
    let cfg = parse(&format!(
        "targets:\n  - endpoint: {ok}/health\n  - endpoints: [{down}/a]\n    method: HEAD\ninitial_delay: 0s\ncollection_interval: 1h"
    ))
    .unwrap();
    let rm = one_scrape(&cfg).await;
    assert!(rm.resource.as_ref().unwrap().attributes.is_empty());
    let scope = rm.scope_metrics[0].scope.as_ref().unwrap();
    assert_eq!(
        scope.name,
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/httpcheckreceiver"
    );
    let status = points(&rm, "httpcheck.status");
    let want = |url: &str, method: &str, code: u16| -> Vec<(String, i64)> {
        ["1xx", "2xx", "3xx", "4xx", "5xx"]
            .iter()
            .map(|c| {
                if u16::from(c.as_bytes()[0] - b'0') == code / 100 {
                    (
                        format!("http.url={url},http.status_code={code},http.method={method},http.status_class={c}"),
                        1,
                    )
                } else {
                    (
                        format!("http.url={url},http.method={method},http.status_class={c}"),
                        0,
                    )
                }
            })
            .collect()
    };
    let mut expected = want(&format!("{ok}/health"), "GET", 200);
    expected.extend(want(&format!("{down}/a"), "HEAD", 503));
    assert_eq!(status, expected);
    let durations = points(&rm, "httpcheck.duration");
    assert_eq!(durations.len(), 2);
    assert_eq!(durations[0].0, format!("http.url={ok}/health"));
    assert!(durations.iter().all(|(_, ms)| (0..5_000).contains(ms)));
    // an answer, whatever its status, is not an error; the off-by-default size is not sent
    assert!(points(&rm, "httpcheck.error").is_empty());
    assert!(points(&rm, "httpcheck.response.size").is_empty());
    // every point of a check has the time it was sent; the start is the receiver's
    let m = &rm.scope_metrics[0].metrics;
    let dp = match &m[0].data {
        Some(metric::Data::Gauge(g)) => &g.data_points[0],
        other => panic!("{other:?}"),
    };
    assert!(dp.start_time_unix_nano > 0 && dp.start_time_unix_nano <= dp.time_unix_nano);
}

#[tokio::test]
async fn no_answer_is_an_error_point_and_every_class_at_zero() {
    // a port where nothing listens
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let cfg = parse(&format!(
        "targets: [{{endpoint: '{url}'}}]\ninitial_delay: 0s\ncollection_interval: 1h"
    ))
    .unwrap();
    let rm = one_scrape(&cfg).await;
    let errors = points(&rm, "httpcheck.error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (attrs, v) = &errors[0];
    assert_eq!(*v, 1);
    assert!(
        attrs.starts_with(&format!("http.url={url},error.message=Get \"{url}\": ")),
        "{attrs}"
    );
    assert!(attrs.to_lowercase().contains("refused"), "{attrs}");
    let status = points(&rm, "httpcheck.status");
    assert_eq!(status.len(), 5);
    assert!(status
        .iter()
        .all(|(a, v)| *v == 0 && !a.contains("status_code")));
    assert_eq!(points(&rm, "httpcheck.duration").len(), 1);
}

#[tokio::test]
async fn a_target_sends_its_method_headers_and_body() {
    let (url, seen) = server(201, "").await;
    let cfg = parse(&format!(
        "targets:\n  - endpoint: {url}/users\n    method: POST\n    body: '{{\"name\": \"Test User\"}}'\n    auto_content_type: true\n    headers: {{Authorization: Bearer x}}\n  - endpoint: {url}/form\n    method: PUT\n    body: 'a=1'\n    auto_content_type: true\n    headers: {{Content-Type: text/csv}}\ninitial_delay: 0s\ncollection_interval: 1h"
    ))
    .unwrap();
    let rm = one_scrape(&cfg).await;
    assert_eq!(points(&rm, "httpcheck.status")[1].1, 1);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen.len(), 2);
    let post = seen.iter().find(|r| r.starts_with("POST /users ")).unwrap();
    let lower = post.to_lowercase();
    assert!(lower.contains("content-type: application/json"), "{post}");
    assert!(lower.contains("authorization: bearer x"), "{post}");
    assert!(post.ends_with("{\"name\": \"Test User\"}"), "{post}");
    let put = seen.iter().find(|r| r.starts_with("PUT /form ")).unwrap();
    // a Content-Type header the target sets is kept
    assert!(
        put.to_lowercase().contains("content-type: text/csv"),
        "{put}"
    );
    assert!(put.ends_with("a=1"), "{put}");
}

#[tokio::test]
async fn validations_check_the_body_each_by_its_first_rule() {
    const BODY: &str = r#"{"status": "ok", "items": [{"n": 3}]}"#;
    let (url, _) = server(200, BODY).await;
    let cfg = parse(&format!(
        "targets:\n  - endpoint: {url}/\n    validations:\n      - contains: '\"ok\"'\n      - not_contains: status\n      - json_path: status\n        equals: ok\n      - json_path: items.0.n\n        equals: '4'\n      - json_path: missing\n      - max_size: 1024\n      - min_size: 1024\n      - regex: 'ite[m]s'\n      - regex: '('\ninitial_delay: 0s\ncollection_interval: 1h\nmetrics:\n  httpcheck.validation.passed: {{enabled: true}}\n  httpcheck.validation.failed: {{enabled: true}}\n  httpcheck.validation.result: {{enabled: true}}\n  httpcheck.response.size: {{enabled: true}}"
    ))
    .unwrap();
    let rm = one_scrape(&cfg).await;
    let u = format!("http.url={url}/");
    let counts = |name: &str| -> Vec<(String, i64)> {
        points(&rm, name)
            .into_iter()
            .map(|(a, v)| (a.replace(&format!("{u},"), ""), v))
            .collect()
    };
    assert_eq!(
        counts("httpcheck.validation.passed"),
        vec![
            ("validation.type=contains".to_string(), 1),
            ("validation.type=json_path".to_string(), 1),
            ("validation.type=size".to_string(), 1),
            ("validation.type=regex".to_string(), 1),
        ]
    );
    assert_eq!(
        counts("httpcheck.validation.failed"),
        vec![
            ("validation.type=not_contains".to_string(), 1),
            ("validation.type=json_path".to_string(), 2),
            ("validation.type=size".to_string(), 1),
            ("validation.type=regex".to_string(), 1),
        ]
    );
    let results = counts("httpcheck.validation.result");
    assert_eq!(results.len(), 9);
    assert_eq!(
        results[3].0,
        "validation.type=json_path,validation.expression=items.0.n,validation.expected=4,validation.result=failed"
    );
    assert_eq!(
        points(&rm, "httpcheck.response.size"),
        vec![(u.clone(), BODY.len() as i64)]
    );
}

#[tokio::test]
async fn the_public_configs_run() {
    // origin: https://github.com/uptrace/uptrace/blob/08db7a1d0b03824ac3aca2c8f63e6a605f1307d5/example/docker/otel-collector.yaml
    // (its `httpcheck` receiver; the ports are this test's servers)
    let (a, _) = server(200, "{\"status\":\"Server available\"}").await;
    let (b, _) = server(500, "").await;
    let cfg = parse(&format!(
        "targets:\n  - endpoint: '{a}/health/status'\n    method: GET\n  - endpoint: '{b}/health/status'\n    method: GET\ncollection_interval: 15s\ninitial_delay: 0s"
    ))
    .unwrap();
    let rm = one_scrape(&cfg).await;
    let hits: Vec<String> = points(&rm, "httpcheck.status")
        .into_iter()
        .filter(|(_, v)| *v == 1)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        hits,
        vec![
            format!("http.url={a}/health/status,http.status_code=200,http.method=GET,http.status_class=2xx"),
            format!("http.url={b}/health/status,http.status_code=500,http.method=GET,http.status_class=5xx"),
        ]
    );
    // origin: https://github.com/open-telemetry/opentelemetry-demo/blob/036e04eddd8f4f5a4dc89baf6f3722777a988673/src/otel-collector/otelcol-config.yml
    // (`httpcheck/frontend-proxy`, with FRONTEND_PROXY_ADDR set to a test server)
    let (proxy, _) = server(200, "").await;
    let cfg = parse(&format!(
        "targets:\n  - endpoint: {proxy}\ninitial_delay: 0s"
    ))
    .unwrap();
    let rm = one_scrape(&cfg).await;
    assert_eq!(points(&rm, "httpcheck.status")[1].1, 1);
}
