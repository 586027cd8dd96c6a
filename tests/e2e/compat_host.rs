//! The `hostmetrics` receiver against Go's on this machine: the same config gives the same
//! metric names, units, instruments, scopes and attribute keys (and the same values of the
//! enumerated attributes: `state`, `direction`, `type`, `status`, `protocol`); the measured
//! values differ between two runs and are not compared, nor are the process statuses other
//! than `running` and `blocked` (which processes are zombies or stopped changes between the
//! two runs), nor the TCP states outside Go's fixed list (`FIN_WAIT1` is there only while a
//! connection is in it).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::compat::{run_both, verdict, Case, Input};

/// The TCP states Go's network scraper reports at every scrape (`allTCPStates`, Linux).
const TCP_STATES: [&str; 12] = [
    "CLOSE_WAIT",
    "CLOSE",
    "CLOSING",
    "DELETE",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "LAST_ACK",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECV",
    "TIME_WAIT",
];

/// What is compared of a run: one line per (scope, metric, unit, instrument, attribute keys,
/// enumerated attribute values) and one per resource attribute key.
fn shapes(requests: &[Value]) -> BTreeSet<String> {
    const ENUMS: &[&str] = &["state", "direction", "type", "status", "protocol"];
    let mut out = BTreeSet::new();
    for req in requests {
        for rm in req["resourceMetrics"].as_array().into_iter().flatten() {
            for a in rm["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.insert(format!(
                    "resource attribute {}",
                    a["key"].as_str().unwrap_or("")
                ));
            }
            for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                let scope = sm["scope"]["name"].as_str().unwrap_or("").to_string();
                for m in sm["metrics"].as_array().into_iter().flatten() {
                    for kind in ["gauge", "sum"] {
                        let Some(data) = m.get(kind).filter(|d| !d.is_null()) else {
                            continue;
                        };
                        let mono = data["isMonotonic"].as_bool().unwrap_or(false);
                        for dp in data["dataPoints"].as_array().into_iter().flatten() {
                            let mut keys = Vec::new();
                            for a in dp["attributes"].as_array().into_iter().flatten() {
                                let k = a["key"].as_str().unwrap_or("");
                                if ENUMS.contains(&k) {
                                    keys.push(format!(
                                        "{k}={}",
                                        a["value"]["stringValue"].as_str().unwrap_or("?")
                                    ));
                                } else {
                                    keys.push(k.to_string());
                                }
                            }
                            keys.sort();
                            // the other statuses (zombies, stopped, idle...) count the processes
                            // alive at the moment of a scrape, and the two collectors run one
                            // after the other: only `running` and `blocked` (from /proc/stat,
                            // always there) are compared
                            if m["name"] == "system.processes.count"
                                && !keys
                                    .iter()
                                    .any(|k| k == "status=running" || k == "status=blocked")
                            {
                                continue;
                            }
                            // likewise the connection states: both report Go's twelve at every
                            // scrape, and a state under gopsutil's own name (`FIN_WAIT1`) only
                            // while a connection is in it at that moment
                            if m["name"] == "system.network.connections"
                                && !keys.iter().any(|k| {
                                    k.strip_prefix("state=")
                                        .is_some_and(|st| TCP_STATES.contains(&st))
                                })
                            {
                                continue;
                            }
                            let int = dp.get("asInt").is_some_and(|v| !v.is_null());
                            out.insert(format!(
                                "{scope} {} unit={} {kind} monotonic={mono} int={int} [{}]",
                                m["name"].as_str().unwrap_or(""),
                                m["unit"].as_str().unwrap_or(""),
                                keys.join(",")
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h_hostmetrics_has_gos_names_units_and_attributes() {
    let config = r#"
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
      network:
        include: {match_type: strict, interfaces: [lo]}
      paging:
      processes:
      process:
        include: {match_type: regexp, names: ['^(otelcol-oracle|ferrotel)$']}
        mute_process_exe_error: true
        mute_process_io_error: true
      system:
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    metrics:
      receivers: [host_metrics]
      exporters: [otlp]
"#;
    let case = Case {
        name: "hostmetrics",
        config,
        files: &[],
        input: Input::Nothing,
        // two rounds of every scraper
        wait_for: 60,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let mismatch = match &fe {
        Ok(fe) => {
            let (g, f) = (shapes(&go.metrics), shapes(&fe.metrics));
            assert!(!g.is_empty(), "the Go collector produced nothing");
            for m in [
                "system.cpu.time",
                "system.filesystem.usage",
                "process.cpu.time",
            ] {
                assert!(
                    g.iter().any(|l| l.contains(&format!(" {m} "))),
                    "Go produced no {m}: {g:#?}"
                );
            }
            let only_go: Vec<_> = g.difference(&f).collect();
            let only_fe: Vec<_> = f.difference(&g).collect();
            (!only_go.is_empty() || !only_fe.is_empty())
                .then(|| format!("only Go: {only_go:#?}\nonly Ferrotel: {only_fe:#?}"))
        }
        Err(e) => Some(e.clone()),
    };
    if let Err(e) = verdict(case.name, mismatch) {
        panic!("{e}");
    }
}

/// The comparison leaves out a TCP state under gopsutil's own name (there only while a
/// connection is in it) and keeps Go's fixed ones.
#[test]
fn h_transient_tcp_states_are_not_compared() {
    let point = |state: &str| {
        serde_json::json!({"attributes": [
            {"key": "protocol", "value": {"stringValue": "tcp"}},
            {"key": "state", "value": {"stringValue": state}},
        ], "asInt": "1"})
    };
    let request = serde_json::json!({"resourceMetrics": [{"scopeMetrics": [{
        "scope": {"name": "s"},
        "metrics": [{"name": "system.network.connections", "unit": "{connections}",
            "sum": {"dataPoints": [point("ESTABLISHED"), point("FIN_WAIT1")]}}],
    }]}]});
    let lines = shapes(&[request]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines.iter().all(|l| l.contains("state=ESTABLISHED")),
        "{lines:#?}"
    );
}
