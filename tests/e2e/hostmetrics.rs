//! The `hostmetrics` receiver (under Go's new name `host_metrics`) on this machine, exported
//! through the `prometheus` exporter and scraped by a real Prometheus: the series carry Go's
//! names (`system_cpu_time_seconds_total`, …) and values that agree with `/proc`.

use std::time::Duration;

use crate::harness::{free_port, Collector, Ports};
use crate::prometheus::{query, scraping};
use crate::sink::eventually;

fn proc_cpus() -> usize {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count()
}

fn mem_total() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse::<f64>()
        .unwrap()
        * 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_metrics_reach_a_real_prometheus_with_gos_names() {
    let exporter_port = free_port();
    let ports = Ports::new();
    let (_prom, prom_port) = scraping("hostmetrics-prometheus", "host", exporter_port).await;
    let config = ports.fill(&format!(
        r#"
receivers:
  host_metrics:
    collection_interval: 1s
    initial_delay: 0s
    scrapers:
      cpu:
      disk:
      filesystem:
      load:
      memory:
        metrics:
          system.memory.limit: {{enabled: true}}
      network:
      paging:
      processes:
      process:
        include: {{match_type: strict, names: [ferrotel]}}
        mute_process_exe_error: true
      system:
exporters:
  prometheus:
    endpoint: 127.0.0.1:{exporter_port}
    resource_to_telemetry_conversion: {{enabled: true}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [host_metrics]
      exporters: [prometheus]
"#
    ));
    let collector = Collector::start("hostmetrics-collector", &config);
    let ncpu = proc_cpus() as f64;
    let wait = |q: String, ok: Box<dyn Fn(f64) -> bool + Send>| async move {
        let found = eventually(Duration::from_secs(30), || {
            query(prom_port, &q).is_some_and(&ok)
        })
        .await;
        assert!(found, "{q}: got {:?}", query(prom_port, &q));
    };
    // every (cpu, state) of /proc/stat
    wait(
        "count(system_cpu_time_seconds_total{job=\"host\"})".into(),
        Box::new(move |v| v == ncpu * 8.0),
    )
    .await;
    wait(
        "sum(system_cpu_time_seconds_total{state=\"user\"})".into(),
        Box::new(|v| v > 0.0),
    )
    .await;
    let total = mem_total();
    wait(
        "system_memory_limit_bytes".into(),
        Box::new(move |v| v == total),
    )
    .await;
    wait(
        "system_memory_usage_bytes{state=\"used\"}".into(),
        Box::new(move |v| v > 0.0 && v < total),
    )
    .await;
    for (q, min) in [
        ("count(system_disk_io_bytes_total)", 1.0),
        ("count(system_disk_operations_total)", 1.0),
        ("count(system_network_io_bytes_total{device=\"lo\"})", 2.0),
        ("count(system_network_packets_total)", 2.0),
        ("count(system_network_connections)", 12.0),
        ("count(system_filesystem_usage_bytes)", 3.0),
        ("count(system_filesystem_inodes_usage)", 2.0),
        ("count(system_cpu_load_average_1m)", 1.0),
        ("count(system_cpu_load_average_15m)", 1.0),
        ("count(system_paging_faults_total)", 2.0),
        ("count(system_paging_operations_total)", 4.0),
        ("sum(system_processes_count)", 1.0),
        ("count(system_processes_created_total)", 1.0),
        ("system_uptime_seconds", 1.0),
        ("count(process_cpu_time_seconds_total)", 3.0),
        ("count(process_memory_usage_bytes)", 1.0),
    ] {
        wait(q.into(), Box::new(move |v| v >= min)).await;
    }
    // the process resource (as labels: resource_to_telemetry_conversion) names the
    // collector's own process
    let pid = collector.pid();
    wait(
        format!("count(process_memory_usage_bytes{{process_pid=\"{pid}\",process_executable_name=\"ferrotel\"}})"),
        Box::new(|v| v == 1.0),
    )
    .await;
    drop(collector);
}
