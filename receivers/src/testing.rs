//! Test helpers of the scraping receivers: run one until it has sent some rounds, and read
//! the points of a metric.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value;
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
            let attrs: Vec<String> = dp
                .attributes
                .iter()
                .map(
                    |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::StringValue(s)) => format!("{}={s}", kv.key),
                        Some(any_value::Value::IntValue(i)) => format!("{}={i}", kv.key),
                        _ => kv.key.clone(),
                    },
                )
                .collect();
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
