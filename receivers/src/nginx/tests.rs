//! The receiver against a real nginx (Debian's `nginx-light`, which `.ci/run` installs)
//! serving `stub_status` on a loopback port, and the page's parsing on the example of
//! nginx's documentation and on pages that do not parse.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::{metric, ResourceMetrics};
use pipeline_api::testing::{context, Collect};
use pipeline_api::{ComponentKind, Signal};

use super::{parse_stub_status, NginxConfig, NginxReceiver, StubStatus};
use crate::testing::{metrics_to, points, rounds};

fn parse(s: &str) -> Result<NginxConfig, String> {
    pipeline_api::testing::parse_config(s)
}

/// An nginx on a free loopback port: `/status` is `stub_status`, `/forbidden` answers 403,
/// `/` answers 200. Stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Nginx {
    async fn start() -> Nginx {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("ferrotel-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    location = /status {{ stub_status; }}\n    \
             location = /forbidden {{ return 403; }}\n    location / {{ return 200 \"ok\"; }}\n  }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is not installed (Debian package nginx-light; .ci/run installs it)");
        let nginx = Nginx { child, port, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return nginx;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nginx did not listen on {port} within 5 s");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run the receiver until it has sent `n` rounds, or 5 s.
async fn scrapes(cfg: &NginxConfig, n: usize) -> Vec<ResourceMetrics> {
    let next = Collect::new();
    let ctx = context(ComponentKind::Receiver, "nginx", vec![Signal::Metrics]);
    let r = NginxReceiver::build(ctx, cfg, metrics_to(&next)).unwrap();
    rounds(Box::new(r), &next, n).await
}

/// Whether `name` is a monotonic sum (it must be a sum).
fn monotonic(rm: &ResourceMetrics, name: &str) -> bool {
    let m = rm.scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no {name}"));
    let Some(metric::Data::Sum(sum)) = &m.data else {
        panic!("{name} is not a sum")
    };
    sum.is_monotonic
}

#[test]
fn defaults_and_validation_are_gos() {
    let cfg = parse("{}").unwrap();
    assert_eq!(cfg.endpoint(), "http://localhost:80/status");
    assert_eq!(cfg.timeout.get(), Duration::from_secs(10));
    assert_eq!(cfg.collection_interval.get(), Duration::from_secs(10));
    let errs =
        parse("collection_interval: 0s\nmetrics: {nginx.nope: {enabled: false}}").unwrap_err();
    assert_eq!(
        errs,
        "collection_interval: requires positive value\nmetrics: has invalid keys: nginx.nope"
    );
    // as in Go, the endpoint is not checked before use
    assert!(parse("endpoint: 'http://:/status'").is_ok());
}

#[test]
fn the_status_page_parses_as_the_exporter_client_reads_it() {
    // nginx's documentation of ngx_http_stub_status_module
    let page = "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n";
    assert_eq!(
        parse_stub_status(page).unwrap(),
        StubStatus {
            active: 291,
            accepted: 16630948,
            handled: 16630948,
            requests: 31070465,
            reading: 6,
            writing: 179,
            waiting: 106,
        }
    );
    for bad in [
        "",
        "<html>hello</html>",
        "Active connections: x\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
        "Active connections: 1\nserver accepts handled requests\n 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
        "Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1\n",
    ] {
        let err = parse_stub_status(bad).unwrap_err();
        assert!(err.starts_with("failed to parse response body"), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn a_real_nginx_gives_gos_metrics() {
    let nginx = Nginx::start().await;
    // some requests of its own
    let client = reqwest::Client::new();
    for _ in 0..3 {
        client
            .get(format!("http://127.0.0.1:{}/", nginx.port))
            .send()
            .await
            .unwrap();
    }
    let cfg = parse(&format!(
        "endpoint: http://127.0.0.1:{}/status\ncollection_interval: 100ms\ninitial_delay: 0s",
        nginx.port
    ))
    .unwrap();
    let rms = scrapes(&cfg, 2).await;
    assert!(rms.len() >= 2, "{} rounds", rms.len());
    let rm = &rms[0];
    assert!(rm.resource.as_ref().unwrap().attributes.is_empty());
    assert_eq!(
        rm.scope_metrics[0].scope.as_ref().unwrap().name,
        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/nginxreceiver"
    );
    let names: Vec<&str> = rm.scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "nginx.connections_accepted",
            "nginx.connections_current",
            "nginx.connections_handled",
            "nginx.requests"
        ]
    );
    // three requests before, this one counted as it is served
    assert!(monotonic(rm, "nginx.requests"));
    assert_eq!(points(rm, "nginx.requests"), vec![(String::new(), 4.0)]);
    assert!(!monotonic(rm, "nginx.connections_current"));
    let current = points(rm, "nginx.connections_current");
    let states: Vec<&str> = current.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        states,
        [
            "state=active",
            "state=reading",
            "state=writing",
            "state=waiting"
        ]
    );
    // the page is written while the scrape's own request is being written
    assert!(current[2].1 >= 1.0, "{current:?}");
    assert_eq!(
        points(&rms[1], "nginx.requests"),
        vec![(String::new(), 5.0)]
    );
}

#[tokio::test]
async fn an_answer_other_than_the_page_sends_nothing() {
    let nginx = Nginx::start().await;
    for path in ["forbidden", ""] {
        let cfg = parse(&format!(
            "endpoint: http://127.0.0.1:{}/{path}\ncollection_interval: 100ms\ninitial_delay: 0s",
            nginx.port
        ))
        .unwrap();
        assert!(scrapes(&cfg, 1).await.is_empty(), "{path}");
    }
}
