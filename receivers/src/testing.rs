//! Test helpers of the receivers: run a scraping one until it has sent some rounds, read the
//! points of a metric, read the log records sent.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, ResourceMetrics};
use pipeline_api::testing::Collect;
use pipeline_api::{CancellationToken, Receiver, SignalConsumers};

/// Consumers that collect metrics into `next`.
pub fn metrics_to(next: &Arc<Collect>) -> SignalConsumers {
    SignalConsumers {
        metrics: Some(next.clone()),
        ..Default::default()
    }
}

/// Run `receiver` until `next` holds `n` requests, or 5 s; the resource metrics sent.
pub async fn rounds(
    receiver: Box<dyn Receiver>,
    next: &Arc<Collect>,
    n: usize,
) -> Vec<ResourceMetrics> {
    let stop = CancellationToken::new();
    let task = tokio::spawn(receiver.run(stop.clone()));
    let mut waited = 0;
    while next.count() < n && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    next.take()
        .into_iter()
        .flat_map(|b| b.as_metrics().unwrap().resource_metrics.clone())
        .collect()
}

/// Each point of metric `name`: its attributes (`key=value`, in order, joined with `,`)
/// and its value.
pub fn points(rm: &ResourceMetrics, name: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for m in rm
        .scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
    {
        let dps = match &m.data {
            Some(metric::Data::Sum(s)) => &s.data_points,
            Some(metric::Data::Gauge(g)) => &g.data_points,
            _ => continue,
        };
        for dp in dps {
            let attrs: Vec<String> = dp.attributes.iter().map(kv_text).collect();
            let v = match dp.value {
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                Some(number_data_point::Value::AsDouble(d)) => d,
                None => f64::NAN,
            };
            out.push((attrs.join(","), v));
        }
    }
    out
}

/// An attribute as `key=value` (a string or an integer; a map as `key={..}`; else the key).
pub fn kv_text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => format!("{}={s}", kv.key),
        Some(any_value::Value::IntValue(i)) => format!("{}={i}", kv.key),
        Some(any_value::Value::KvlistValue(_)) => format!("{}={{..}}", kv.key),
        _ => kv.key.clone(),
    }
}

/// Every log record `next` took: its body (a string), its attributes as [`kv_text`]
/// (sorted), and the record.
pub fn log_records(next: &Collect) -> Vec<(String, Vec<String>, LogRecord)> {
    let mut out = Vec::new();
    for b in next.take() {
        for rl in &b.as_logs().unwrap().resource_logs {
            for r in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
                let body = match r.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    other => format!("{other:?}"),
                };
                let mut attrs: Vec<String> = r.attributes.iter().map(kv_text).collect();
                attrs.sort();
                out.push((body, attrs, r.clone()));
            }
        }
    }
    out
}

/// The value of the one point of metric `name` (fails unless there is exactly one).
pub fn one(rm: &ResourceMetrics, name: &str) -> f64 {
    let p = points(rm, name);
    assert_eq!(p.len(), 1, "{name}: {p:?}");
    p[0].1
}

/// The resource's attributes as [`kv_text`], in order.
pub fn resource_text(rm: &ResourceMetrics) -> Vec<String> {
    rm.resource
        .as_ref()
        .map(|r| r.attributes.iter().map(kv_text).collect())
        .unwrap_or_default()
}
