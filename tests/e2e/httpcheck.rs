//! The `httpcheck` receiver in the binary, checking the collector's own `health_check`
//! endpoint and a port where nothing listens, exported through the `prometheus` exporter and
//! scraped by a real Prometheus: the queries people alert on answer as with Go's receiver.

use std::time::Duration;

use crate::harness::{free_port, Collector, Ports};
use crate::prometheus::{query, scraping};
use crate::sink::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_checks_reach_a_real_prometheus_with_gos_names() {
    let exporter_port = free_port();
    let closed = free_port();
    let ports = Ports::new();
    let (_prom, prom_port) = scraping("httpcheck-prometheus", "checks", exporter_port).await;
    // the receiver under Go's new name; the old one is the alias
    let config = ports.fill(&format!(
        r#"
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
receivers:
  http_check:
    collection_interval: 1s
    initial_delay: 0s
    targets:
      - endpoint: http://127.0.0.1:HEALTH_PORT/
      - endpoints: [http://127.0.0.1:{closed}/health]
        method: GET
exporters:
  prometheus:
    endpoint: 127.0.0.1:{exporter_port}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [http_check]
      exporters: [prometheus]
"#
    ));
    let collector = Collector::start("httpcheck-collector", &config);
    let health = ports.health;
    let up = format!("http://127.0.0.1:{health}/");
    let down = format!("http://127.0.0.1:{closed}/health");
    for (q, want) in [
        // the endpoint answered 200
        (
            format!("httpcheck_status{{http_url=\"{up}\",http_status_class=\"2xx\",http_status_code=\"200\",http_method=\"GET\"}}"),
            1.0,
        ),
        (
            format!("sum(httpcheck_status{{http_url=\"{up}\"}})"),
            1.0,
        ),
        (
            format!("count(httpcheck_status{{http_url=\"{up}\"}})"),
            5.0,
        ),
        // nothing listens: one error, every class at 0
        (
            format!("count(httpcheck_error{{http_url=\"{down}\"}})"),
            1.0,
        ),
        (
            format!("sum(httpcheck_status{{http_url=\"{down}\"}})"),
            0.0,
        ),
        (
            format!("count(httpcheck_duration_milliseconds{{http_url=\"{up}\"}})"),
            1.0,
        ),
    ] {
        let found = eventually(Duration::from_secs(30), || {
            query(prom_port, &q).is_some_and(|v| v == want)
        })
        .await;
        assert!(found, "{q}: got {:?}, want {want}", query(prom_port, &q));
    }
    drop(collector);
}
