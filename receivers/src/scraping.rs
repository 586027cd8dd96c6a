//! What the scraping receivers (`docker_stats`, `httpcheck`, `redis`, `nginx`) share, as
//! Go's scraper controller does it for them: the rounds (`initial_delay`, then every
//! `collection_interval`, a late round not made up) and the hand-over of a round's metrics
//! as one request, counted in the receiver's own metrics.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{Batch, CancellationToken, ComponentId, RequestContext, SharedConsumer, Signal};

/// The rounds of a scraper.
pub struct Rounds {
    initial_delay: Option<Duration>,
    interval: Duration,
    ticker: Option<tokio::time::Interval>,
}

impl Rounds {
    pub fn new(initial_delay: Duration, interval: Duration) -> Rounds {
        Rounds {
            initial_delay: Some(initial_delay),
            interval: interval.max(Duration::from_millis(1)),
            ticker: None,
        }
    }

    /// Wait for the next round; `false` once `shutdown` fired.
    pub async fn next(&mut self, shutdown: &CancellationToken) -> bool {
        if let Some(delay) = self.initial_delay.take() {
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        let interval = self.interval;
        let ticker = self.ticker.get_or_insert_with(|| {
            let mut t = tokio::time::interval(interval);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = ticker.tick() => true,
        }
    }
}

/// Hand one round's metrics to the pipeline as one request (nothing when there are none),
/// and count them as the receiver's accepted or refused points.
pub async fn send(
    id: &ComponentId,
    next: &SharedConsumer,
    obs: &ReceiverObs,
    resource_metrics: Vec<ResourceMetrics>,
) {
    let mut batch = Batch::from_metrics(ExportMetricsServiceRequest { resource_metrics });
    let items = batch.items();
    if items == 0 {
        return;
    }
    batch.set_context(RequestContext {
        receiver: Some(id.clone()),
        ..Default::default()
    });
    let result = next.consume(batch).await;
    obs.record(Signal::Metrics, items, &result);
    if let Err(e) = result {
        tracing::debug!(receiver = %id, items, error = %e, "The pipeline refused a round of scraped metrics.");
    }
}
