//! Every listener accepts Go's `:PORT` form (every interface). Binding every interface is
//! done inside a network namespace of the test's own (`unshare --net`, loopback only), so the
//! test still listens on nothing but loopback; it reaches the collector from inside the same
//! namespace with `nsenter`. Needs root (CI runs as root) and util-linux, iproute2, curl.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{temp_dir, BIN};

const CONFIG: &str = r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: :4317
      http:
        endpoint: :4318
  zipkin:
    endpoint: :9411
  jaeger:
    protocols:
      grpc:
        endpoint: :14250
      thrift_http:
        endpoint: :14268
  loki:
    protocols:
      http:
        endpoint: :3500
      grpc:
        endpoint: :3600
exporters:
  prometheus:
    endpoint: :8889
  nop:
extensions:
  health_check:
    endpoint: :13133
  pprof:
    endpoint: :1777
  zpages:
    endpoint: :55679
service:
  extensions: [health_check, pprof, zpages]
  telemetry:
    metrics:
      address: :8888
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
    traces:
      receivers: [zipkin, jaeger]
      exporters: [nop]
    logs:
      receivers: [loki]
      exporters: [nop]
"#;

struct Netns(std::process::Child);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `curl` from inside the collector's namespace: the HTTP status, "000" if nothing answered.
fn curl_in(pid: u32, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args([
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-m",
            "2",
            "-w",
            "%{http_code}",
        ])
        .args(args)
        .output()
        .expect("nsenter and curl are needed for this test");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn every_listener_binds_go_colon_port_form() {
    let dir = temp_dir("colon-port");
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let child = Command::new("unshare")
        .args(["--net", "sh", "-c"])
        .arg(format!(
            "ip link set lo up && exec {BIN} --config {}",
            cfg.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) is needed for this test");
    let ns = Netns(child);
    let pid = ns.0.id();
    let checks: [(&str, &[&str]); 13] = [
        ("health_check :13133", &["http://127.0.0.1:13133/"]),
        (
            "health_check over IPv6 (dual stack)",
            &["http://[::1]:13133/"],
        ),
        ("own metrics :8888", &["http://127.0.0.1:8888/metrics"]),
        (
            "prometheus exporter :8889",
            &["http://127.0.0.1:8889/metrics"],
        ),
        ("pprof :1777", &["http://127.0.0.1:1777/debug/pprof/"]),
        ("zpages :55679", &["http://127.0.0.1:55679/debug/servicez"]),
        (
            "otlp http :4318",
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "-d",
                "{}",
                "http://127.0.0.1:4318/v1/metrics",
            ],
        ),
        (
            "otlp grpc :4317",
            &["--http2-prior-knowledge", "http://127.0.0.1:4317/"],
        ),
        (
            "zipkin :9411",
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "-d",
                "[]",
                "http://127.0.0.1:9411/api/v2/spans",
            ],
        ),
        (
            "jaeger grpc :14250",
            &["--http2-prior-knowledge", "http://127.0.0.1:14250/"],
        ),
        (
            "jaeger thrift_http :14268",
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/x-thrift",
                "-d",
                "",
                "http://127.0.0.1:14268/api/traces",
            ],
        ),
        (
            "loki grpc :3600",
            &["--http2-prior-knowledge", "http://127.0.0.1:3600/"],
        ),
        (
            "loki http :3500",
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "-d",
                r#"{"streams": []}"#,
                "http://127.0.0.1:3500/loki/api/v1/push",
            ],
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    while curl_in(pid, &["http://127.0.0.1:13133/"]) != "200" {
        assert!(
            Instant::now() < deadline,
            "the collector did not come up in its namespace"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut failures = Vec::new();
    for (what, args) in checks {
        let code = curl_in(pid, args);
        // gRPC answers a plain HTTP/2 GET with some status; anything but "000" is a listener;
        // the Jaeger Thrift endpoint answers an empty body 400 ("Unable to process request
        // body")
        let ok = if what.contains(" grpc ") {
            code != "000"
        } else if what.contains("thrift_http") {
            code == "400"
        } else {
            code.starts_with('2')
        };
        if !ok {
            failures.push(format!("{what}: HTTP {code}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
