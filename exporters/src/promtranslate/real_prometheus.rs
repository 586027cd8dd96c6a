//! Both exporters against a real Prometheus server (Debian package `prometheus`): it scrapes
//! two `prometheus` exporters (one answering text 0.0.4, one OpenMetrics), receives remote
//! write from `prometheusremotewrite`, and PromQL through its HTTP API must return the
//! expected series and values. A missing `prometheus` binary fails the test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pipeline_api::config::parse_typed;
use pipeline_api::{ComponentId, Exporter};

use super::testutil::*;
use crate::prometheus::PrometheusExporter;
use crate::prometheusremotewrite::RemoteWriteExporter;

const INSTALL_HINT: &str = "the `prometheus` binary is needed by this test (Debian/Ubuntu: `apt-get install -y prometheus`; or set PROMETHEUS_BIN)";

fn prometheus_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PROMETHEUS_BIN") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

/// Kills Prometheus and removes its directory when the test ends, even on failure.
struct Server {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(targets: &[(&str, std::net::SocketAddr)]) -> Server {
    let bin = prometheus_binary();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "ferrotel-prometheus-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let mut config =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for (job, addr) in targets {
        // honor_labels: the exporter's job/instance (from service.*) are kept, as for federation
        config.push_str(&format!(
            "  - job_name: {job}\n    honor_labels: true\n    static_configs:\n      - targets: ['{addr}']\n"
        ));
    }
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(&bin)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        // native histograms: what the remote-write exporter sends an exponential histogram as
        .arg("--enable-feature=exemplar-storage,native-histograms")
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            panic!("cannot start {}: {e}; {INSTALL_HINT}", bin.display())
        });
    Server { child, dir, port }
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
    params: &[(&str, &str)],
) -> Option<serde_json::Value> {
    let resp = client.get(url).query(params).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    serde_json::from_slice(&resp.bytes().await.ok()?).ok()
}

/// The value of a one-series instant query, once Prometheus has it.
async fn query(client: &reqwest::Client, server: &Server, q: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{}/api/v1/query", server.port);
    let v = get_json(client, &url, &[("query", q)]).await?;
    let result = v.pointer("/data/result")?.as_array()?;
    if result.len() != 1 {
        return None;
    }
    result[0].pointer("/value/1")?.as_str()?.parse().ok()
}

/// Poll `q` until it equals `want` (within 1e-9) or the deadline passes.
async fn expect(client: &reqwest::Client, server: &Server, q: &str, want: f64, deadline: Instant) {
    let mut last = None;
    while Instant::now() < deadline {
        last = query(client, server, q).await;
        if last.is_some_and(|v| (v - want).abs() < 1e-9) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "query {q:?}: expected {want}, last answer {last:?}\nPrometheus log:\n{}",
        server.log()
    );
}

fn pull(cfg: &str) -> PrometheusExporter {
    let cfg: crate::prometheus::Config =
        parse_typed(&serde_yaml_ng::from_str(cfg).unwrap()).unwrap();
    PrometheusExporter::new(ComponentId::parse("prometheus").unwrap(), &cfg).unwrap()
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Counter, gauge, histogram and exponential histogram of service `service`, stamped `t`.
fn metrics(service: &str, t: u64) -> pipeline_api::Batch {
    let resource = vec![
        kv("service.name", service),
        kv("service.instance.id", "i-1"),
        kv("host.name", "h1"),
    ];
    let mut counter = int_point(vec![kv("method", "GET")], t - SEC, t, 10);
    counter.exemplars = vec![exemplar(1.0, t, 1, 101)];
    batch(vec![resource_metrics(
        resource,
        ("meter", "1.0"),
        vec![
            metric(
                "http.requests",
                "{requests}",
                "Requests",
                sum(vec![counter], true, CUMULATIVE),
            ),
            metric(
                "cpu.utilization",
                "1",
                "CPU",
                gauge(vec![double_point(vec![], 0, t, 0.25)]),
            ),
            metric(
                "http.server.duration",
                "s",
                "",
                histogram(
                    vec![histogram_point(
                        vec![],
                        t,
                        vec![0.1, 1.0],
                        vec![1, 2, 1],
                        2.5,
                    )],
                    CUMULATIVE,
                ),
            ),
            metric(
                "payload.size",
                "By",
                "",
                exp_histogram(t, 1, 0, vec![2, 3], 15.0, CUMULATIVE),
            ),
        ],
    )])
}

fn delta(t: u64, v: i64) -> pipeline_api::Batch {
    let resource = vec![kv("service.name", "push"), kv("service.instance.id", "i-1")];
    batch(vec![resource_metrics(
        resource,
        ("meter", "1.0"),
        vec![metric(
            "jobs.done",
            "",
            "",
            sum(vec![int_point(vec![], t - SEC, t, v)], true, DELTA),
        )],
    )])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_scrapes_and_receives_remote_write() {
    let text = pull("endpoint: 127.0.0.1:0");
    let om = pull("{endpoint: 127.0.0.1:0, enable_open_metrics: true}");
    text.start().await.unwrap();
    om.start().await.unwrap();
    let server = start_prometheus(&[
        ("ferrotel-text", text.local_addr()),
        ("ferrotel-om", om.local_addr()),
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{}/-/ready", server.port);
    loop {
        if client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not get ready:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let t = now_ns();
    text.export(metrics("pull-text", t)).await.unwrap();
    om.export(metrics("pull-om", t)).await.unwrap();
    let rw: RemoteWriteExporter = RemoteWriteExporter::new(
        ComponentId::parse("prometheusremotewrite").unwrap(),
        &parse_typed::<crate::prometheusremotewrite::Config>(
            &serde_yaml_ng::from_str(&format!(
                "{{endpoint: 'http://127.0.0.1:{}/api/v1/write', external_labels: {{source: ferrotel}}}}",
                server.port
            ))
            .unwrap(),
        )
        .unwrap(),
        &Default::default(),
    )
    .unwrap();
    rw.export(metrics("push", t)).await.unwrap();
    // delta counter: 2 then 3 → 5 (sent cumulative)
    rw.export(delta(t - SEC, 2)).await.unwrap();
    rw.export(delta(t, 3)).await.unwrap();

    for job in ["pull-text", "pull-om", "push"] {
        let sel = format!("job=\"{job}\",instance=\"i-1\"");
        expect(
            &client,
            &server,
            &format!("http_requests_total{{{sel},method=\"GET\"}}"),
            10.0,
            deadline,
        )
        .await;
        expect(
            &client,
            &server,
            &format!("cpu_utilization_ratio{{{sel}}}"),
            0.25,
            deadline,
        )
        .await;
        expect(
            &client,
            &server,
            &format!("http_server_duration_seconds_count{{{sel}}}"),
            4.0,
            deadline,
        )
        .await;
        expect(
            &client,
            &server,
            &format!("http_server_duration_seconds_sum{{{sel}}}"),
            2.5,
            deadline,
        )
        .await;
        // buckets 0.1:1, 1:3, +Inf:4 → the median is interpolated in (0.1, 1]: 0.1 + 0.9 * 1/2
        expect(
            &client,
            &server,
            &format!("histogram_quantile(0.5, http_server_duration_seconds_bucket{{{sel}}})"),
            0.55,
            deadline,
        )
        .await;
        if job == "push" {
            // remote write: a native histogram (zero bucket 1, (1, 2]: 2, (2, 4]: 3) → the
            // median, rank 3, ends the bucket (1, 2]
            expect(
                &client,
                &server,
                &format!("histogram_count(payload_size_bytes{{{sel}}})"),
                6.0,
                deadline,
            )
            .await;
            expect(
                &client,
                &server,
                &format!("histogram_quantile(0.5, payload_size_bytes{{{sel}}})"),
                2.0,
                deadline,
            )
            .await;
        } else {
            // a scrape: classic buckets 0:1, 2:3, 4:6, +Inf:6 → median rank 3 in (0, 2]
            expect(
                &client,
                &server,
                &format!("histogram_quantile(0.5, payload_size_bytes_bucket{{{sel}}})"),
                2.0,
                deadline,
            )
            .await;
        }
        expect(
            &client,
            &server,
            &format!("target_info{{{sel},host_name=\"h1\"}}"),
            1.0,
            deadline,
        )
        .await;
        // scope labels survive (empty ones, e.g. otel_scope_schema_url, are dropped by Prometheus)
        expect(
            &client,
            &server,
            &format!("count(cpu_utilization_ratio{{{sel},otel_scope_name=\"meter\",otel_scope_version=\"1.0\"}})"),
            1.0,
            deadline,
        )
        .await;
    }
    expect(
        &client,
        &server,
        "jobs_done_total{job=\"push\"}",
        5.0,
        deadline,
    )
    .await;
    expect(
        &client,
        &server,
        "count(http_requests_total{job=\"push\",source=\"ferrotel\"})",
        1.0,
        deadline,
    )
    .await;

    // The OpenMetrics scrape carried the counter's exemplar.
    let url = format!("http://127.0.0.1:{}/api/v1/query_exemplars", server.port);
    let start = ((t / SEC) - 60).to_string();
    let end = ((t / SEC) + 60).to_string();
    let mut found = None;
    while Instant::now() < deadline {
        let v = get_json(
            &client,
            &url,
            &[
                ("query", "http_requests_total{job=\"pull-om\"}"),
                ("start", &start),
                ("end", &end),
            ],
        )
        .await;
        found = v
            .as_ref()
            .and_then(|v| v.pointer("/data/0/exemplars/0/labels/trace_id"))
            .and_then(|x| x.as_str())
            .map(str::to_string);
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        found.as_deref(),
        Some("0102030405060708090a0b0c0d0e0f10"),
        "no exemplar; Prometheus log:\n{}",
        server.log()
    );
    // Nothing went wrong on Prometheus' side (scrape or remote write errors are warnings).
    let log = server.log();
    assert!(!log.contains("level=error"), "{log}");
    text.shutdown().await;
    om.shutdown().await;
    drop(server);
}
