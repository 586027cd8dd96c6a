//! The receiver against a loopback fake of the Docker Engine API on a Unix socket (the
//! cgroup v2 stats shape of Docker 20+), an engine that is down, and one that answers errors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::testing::{context, Collect};
use pipeline_api::{CancellationToken, ComponentKind, Receiver, Signal, SignalConsumers};
use tokio::io::AsyncWriteExt;

use super::engine::Engine;
use super::{scrape, DockerStatsConfig, DockerStatsReceiver, ImageMatcher};
use crate::testing::points as value;

fn parse(s: &str) -> Result<DockerStatsConfig, String> {
    pipeline_api::testing::parse_config(s)
}

const STATS: &str = r#"{
  "read": "2026-12-02T04:00:00Z",
  "pids_stats": {"current": 3, "limit": 4915},
  "networks": {"eth0": {"rx_bytes": 1000, "rx_packets": 10, "rx_errors": 0, "rx_dropped": 1, "tx_bytes": 2000, "tx_packets": 20, "tx_errors": 0, "tx_dropped": 2}},
  "memory_stats": {"usage": 50000000, "limit": 200000000, "stats": {"inactive_file": 10000000, "file": 12000000, "anon": 30000000}},
  "blkio_stats": {"io_service_bytes_recursive": [{"major": 8, "minor": 0, "op": "read", "value": 4096}, {"major": 8, "minor": 0, "op": "write", "value": 8192}]},
  "cpu_stats": {"cpu_usage": {"total_usage": 3000000000, "usage_in_kernelmode": 1000000000, "usage_in_usermode": 2000000000}, "system_cpu_usage": 110000000000, "online_cpus": 2, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
  "precpu_stats": {"cpu_usage": {"total_usage": 2000000000}, "system_cpu_usage": 100000000000, "online_cpus": 2}
}"#;

fn inspect(id: &str, name: &str, image: &str) -> String {
    format!(
        r#"{{"Id":"{id}","Name":"/{name}","Image":"sha256:abc","RestartCount":2,
            "State":{{"StartedAt":"2020-01-01T00:00:00Z"}},
            "HostConfig":{{"NanoCpus":1500000000,"CpuShares":512}},
            "Config":{{"Hostname":"{id}","Image":"{image}","Env":["APP_VERSION=1.4.2","PATH=/bin"],"Labels":{{"com.example.team":"payments"}},"Cmd":["sh","-c","work"]}}}}"#
    )
}

/// A fake engine: (path → (status, body)); returns the paths requested.
async fn fake_engine(
    path: &std::path::Path,
    routes: BTreeMap<String, (u16, String)>,
) -> Arc<Mutex<Vec<String>>> {
    let l = tokio::net::UnixListener::bind(path).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let routes = routes.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let Some(head) = pipeline_api::testing::read_request_head(&mut s).await else {
                    return;
                };
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(path.clone());
                let (status, body) = routes
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, r#"{"message":"page not found"}"#.into()));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    seen
}

fn routes() -> BTreeMap<String, (u16, String)> {
    let mut r = BTreeMap::new();
    r.insert(
        "/containers/json".into(),
        (
            200,
            r#"[{"Id":"c1","Image":"shop:1.0"},{"Id":"c2","Image":"redis:7"}]"#.into(),
        ),
    );
    r.insert(
        "/containers/c1/json".into(),
        (200, inspect("c1", "web", "shop:1.0")),
    );
    r.insert(
        "/containers/c2/json".into(),
        (200, inspect("c2", "cache", "redis:7")),
    );
    r.insert(
        "/containers/c1/stats?stream=false".into(),
        (200, STATS.into()),
    );
    r.insert(
        "/containers/c2/stats?stream=false".into(),
        (200, STATS.into()),
    );
    r
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("docker-stats-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn resource(rm: &ResourceMetrics) -> BTreeMap<String, String> {
    rm.resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                _ => String::new(),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

#[test]
fn defaults_and_validation_are_gos() {
    let c = DockerStatsConfig::default();
    assert_eq!(c.endpoint, "unix:///var/run/docker.sock");
    assert_eq!(c.collection_interval.get(), Duration::from_secs(10));
    assert_eq!(c.timeout.get(), Duration::from_secs(5));
    let e = parse("api_version: '1.20'").unwrap_err();
    assert!(
        e.contains("\"api_version\" 1.20 must be at least 1.25"),
        "{e}"
    );
    let e = parse("endpoint: ftp://x").unwrap_err();
    assert!(e.contains("endpoint"), "{e}");
    let e = parse("metrics: {container.cpu.usage.totl: {enabled: true}}").unwrap_err();
    assert!(e.contains("container.cpu.usage.totl"), "{e}");
    // a Go metric Ferrotel does not produce is accepted (and warned)
    parse("metrics: {container.memory.total_rss: {enabled: true}}").unwrap();
    parse("endpoint: tcp://127.0.0.1:2375\napi_version: '1.44'").unwrap();
}

#[test]
fn excluded_images_take_literals_globs_regexes_and_negation() {
    let m = ImageMatcher::new(&["redis:*".into(), "/^nginx/".into(), "exact:1".into()]).unwrap();
    assert!(m.excludes("redis:7"));
    assert!(m.excludes("nginx:latest"));
    assert!(m.excludes("exact:1"));
    assert!(!m.excludes("exact:2"));
    assert!(!m.excludes("shop:1.0"));
    let only = ImageMatcher::new(&["!shop:*".into()]).unwrap();
    assert!(only.excludes("redis:7"));
    assert!(!only.excludes("shop:1.0"));
}

#[tokio::test]
async fn stats_become_gos_metrics_with_configured_labels() {
    let dir = tmp("fake");
    let sock = dir.join("docker.sock");
    let seen = fake_engine(&sock, routes()).await;
    let cfg = parse(&format!(
        "endpoint: unix://{}\nexcluded_images: ['redis:*']\ncontainer_labels_to_metric_labels: {{com.example.team: team}}\nenv_vars_to_metric_labels: {{APP_VERSION: app.version}}\nmetrics: {{container.pids.count: {{enabled: true}}, container.restarts: {{enabled: true}}, container.cpu.limit: {{enabled: true}}, container.memory.usage.total: {{enabled: true}}}}",
        sock.display()
    ))
    .unwrap();
    let engine = Engine::new(&cfg.endpoint, &cfg.api_version, cfg.timeout.get()).unwrap();
    let ex = ImageMatcher::new(&cfg.excluded_images).unwrap();
    let (rms, errors) = scrape(&engine, &cfg, &ex).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rms.len(), 1, "redis excluded");
    let rm = &rms[0];
    assert_eq!(
        resource(rm),
        BTreeMap::from([
            ("container.runtime".into(), "docker".into()),
            ("container.hostname".into(), "c1".into()),
            ("container.id".into(), "c1".into()),
            ("container.image.name".into(), "shop:1.0".into()),
            ("container.name".into(), "web".into()),
            ("app.version".into(), "1.4.2".into()),
            ("team".into(), "payments".into()),
        ])
    );
    assert_eq!(
        value(rm, "container.cpu.usage.total"),
        [(String::new(), 3e9)]
    );
    assert_eq!(
        value(rm, "container.cpu.usage.kernelmode"),
        [(String::new(), 1e9)]
    );
    // (1e9 / 10e9) × 2 CPUs × 100
    assert_eq!(
        value(rm, "container.cpu.utilization"),
        [(String::new(), 20.0)]
    );
    // usage − inactive_file
    assert_eq!(
        value(rm, "container.memory.usage.total"),
        [(String::new(), 40e6)]
    );
    assert_eq!(
        value(rm, "container.memory.percent"),
        [(String::new(), 20.0)]
    );
    assert_eq!(value(rm, "container.memory.file"), [(String::new(), 12e6)]);
    assert_eq!(
        value(rm, "container.network.io.usage.rx_bytes"),
        [("interface=eth0".into(), 1000.0)]
    );
    assert_eq!(
        value(rm, "container.blockio.io_service_bytes_recursive"),
        [
            (
                "device_major=8,device_minor=0,operation=read".into(),
                4096.0
            ),
            (
                "device_major=8,device_minor=0,operation=write".into(),
                8192.0
            )
        ]
    );
    assert_eq!(value(rm, "container.pids.count"), [(String::new(), 3.0)]);
    assert_eq!(value(rm, "container.restarts"), [(String::new(), 2.0)]);
    assert_eq!(value(rm, "container.cpu.limit"), [(String::new(), 1.5)]);
    assert!(
        value(rm, "container.memory.anon").is_empty(),
        "off by default"
    );
    assert!(
        value(rm, "container.cpu.usage.system").is_empty(),
        "off by default"
    );
    // the excluded container was listed, never inspected
    assert!(!seen
        .lock()
        .unwrap()
        .iter()
        .any(|p| p.starts_with("/containers/c2")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn api_version_prefixes_every_path() {
    let dir = tmp("version");
    let sock = dir.join("docker.sock");
    let mut r = BTreeMap::new();
    r.insert(
        "/v1.44/containers/json".to_string(),
        (200, "[]".to_string()),
    );
    let seen = fake_engine(&sock, r).await;
    let engine = Engine::new(
        &format!("unix://{}", sock.display()),
        "1.44",
        Duration::from_secs(2),
    )
    .unwrap();
    let cfg = DockerStatsConfig::default();
    let (rms, errors) = scrape(&engine, &cfg, &ImageMatcher::new(&[]).unwrap()).await;
    assert!(rms.is_empty() && errors.is_empty(), "{errors:?}");
    assert_eq!(seen.lock().unwrap().as_slice(), ["/v1.44/containers/json"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn engine_errors_are_reported_not_fatal() {
    let dir = tmp("errors");
    let sock = dir.join("docker.sock");
    let engine = Engine::new(
        &format!("unix://{}", sock.display()),
        "",
        Duration::from_secs(2),
    )
    .unwrap();
    let cfg = DockerStatsConfig::default();
    let none = ImageMatcher::new(&[]).unwrap();
    // down
    let (rms, errors) = scrape(&engine, &cfg, &none).await;
    assert!(rms.is_empty());
    assert!(
        errors[0].contains("Cannot connect to the Docker daemon at unix://"),
        "{errors:?}"
    );
    // up, but one container's stats fail: the other is still reported
    let mut r = routes();
    r.insert(
        "/containers/c2/stats?stream=false".into(),
        (500, r#"{"message":"cgroup gone"}"#.into()),
    );
    fake_engine(&sock, r).await;
    let (rms, errors) = scrape(&engine, &cfg, &none).await;
    assert_eq!(rms.len(), 1);
    assert!(
        errors[0].contains("500") && errors[0].contains("cgroup gone"),
        "{errors:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_receiver_keeps_trying_until_the_engine_comes_up() {
    let dir = tmp("retry");
    let sock = dir.join("docker.sock");
    let cfg = parse(&format!(
        "endpoint: unix://{}\ncollection_interval: 100ms\ninitial_delay: 0s",
        sock.display()
    ))
    .unwrap();
    let next = Collect::new();
    let ctx = context(
        ComponentKind::Receiver,
        "docker_stats",
        vec![Signal::Metrics],
    );
    let r = DockerStatsReceiver::build(
        ctx,
        &cfg,
        SignalConsumers {
            metrics: Some(next.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(Box::new(r).run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(next.count(), 0);
    assert!(
        !task.is_finished(),
        "the receiver must keep running with the engine down"
    );
    fake_engine(&sock, routes()).await;
    let mut waited = 0;
    while next.count() == 0 && waited < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert!(next.count() > 0, "no metrics once the engine came up");
    stop.cancel();
    task.await.unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
