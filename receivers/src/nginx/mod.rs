//! The `nginx` receiver (Go's `receiver/nginxreceiver`): every `collection_interval` it
//! reads nginx's `stub_status` page and records Go's `nginx.*` metrics.
//!
//! Go facts relied on (contrib `receiver/nginxreceiver`: `factory.go`, `config.go`,
//! `scraper.go`, `metadata.yaml`, and the `stub_status` client of
//! nginx-prometheus-exporter it uses; the Go module proxy here does not serve it, so the
//! behaviour is taken from its source and tested against a real nginx, not against the Go
//! oracle):
//! - `endpoint` `http://localhost:80/status`, `timeout` 10s (the request's, and the
//!   round's), `collection_interval` 10s; the HTTP client keys as every confighttp client.
//! - `endpoint` is not checked before use (a wrong one fails every round, named in the log).
//! - An answer other than 200 ("expected 200 response, got N") or a page that does not
//!   parse fails the round: nothing is sent, the error is logged.
//! - `nginx.requests`, `nginx.connections_accepted`, `nginx.connections_handled` (monotonic
//!   sums) and `nginx.connections_current` (an up-down sum, `state` active, reading,
//!   writing, waiting); no resource attributes.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Meta, Receiver, ReceiverFactory, SharedConsumer, Signal, SignalConsumers,
    Stability,
};
use serde::Deserialize;
use transport::http::{error_chain, ClientOptions, HttpClientConfig};

use crate::hostmetrics::builder::{def, resource_metrics_scoped, Def, Kind, MetricsBuilder};
use crate::hostmetrics::config::{check_metrics, toggles, MetricToggles};
use crate::hostmetrics::scrapers::now_nanos;
use crate::scraping::{self, Rounds};

pub const META: Meta = Meta::new("nginx").metrics(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<NginxConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(NginxReceiver::build(ctx, cfg, next)?))
    })
}

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/nginxreceiver";

const CLIENT: ClientOptions = ClientOptions {
    http1_only: false,
    compresses_bodies: false,
};

const MONO: Kind = Kind::Sum { monotonic: true };

/// Go's `metadata.yaml`.
pub const DEFS: &[Def] = &[
    def(
        "nginx.connections_accepted",
        "The total number of accepted client connections",
        "connections",
        MONO,
        true,
        true,
        &[],
    ),
    def(
        "nginx.connections_current",
        "The current number of nginx connections by state",
        "connections",
        Kind::Sum { monotonic: false },
        true,
        true,
        &["state"],
    ),
    def(
        "nginx.connections_handled",
        "The total number of handled connections. Generally, the parameter value is the same as nginx.connections_accepted unless some resource limits have been reached (for example, the worker_connections limit).",
        "connections",
        MONO,
        true,
        true,
        &[],
    ),
    def(
        "nginx.requests",
        "Total number of requests made to the server since it started",
        "requests",
        MONO,
        true,
        true,
        &[],
    ),
];

/// The receiver's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct NginxConfig {
    /// `endpoint` is the `stub_status` page.
    #[serde(skip)]
    pub http: HttpClientConfig,
    /// The request's timeout, and the round's.
    pub timeout: GoDuration,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    pub metrics: MetricToggles,
}

pipeline_api::squashed!(NginxConfig, http);

/// Go's default `endpoint`.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:80/status";

impl NginxConfig {
    /// The page's URL: `endpoint`, or Go's default when it is not set (the squashed client
    /// keys come with their own defaults).
    pub fn endpoint(&self) -> &str {
        match self.http.endpoint.as_str() {
            "" => DEFAULT_ENDPOINT,
            e => e,
        }
    }
}

impl Default for NginxConfig {
    fn default() -> Self {
        NginxConfig {
            http: HttpClientConfig {
                endpoint: DEFAULT_ENDPOINT.into(),
                ..Default::default()
            },
            timeout: GoDuration::from_secs(10),
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            metrics: MetricToggles::new(),
        }
    }
}

impl Validate for NginxConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = self
            .http
            .validate(transport::compression::Compression::None);
        if self.collection_interval.is_zero() {
            errors.push(ConfigError::new(
                &["collection_interval"],
                "requires positive value",
            ));
        }
        check_metrics(&self.metrics, DEFS, &[], &[], &mut errors);
        errors
    }
}

impl ComponentConfig for NginxConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        self.http.keys_not_acted_on(CLIENT)
    }
}

/// What `stub_status` reports.
#[derive(Debug, PartialEq, Eq)]
pub struct StubStatus {
    pub active: i64,
    pub accepted: i64,
    pub handled: i64,
    pub requests: i64,
    pub reading: i64,
    pub writing: i64,
    pub waiting: i64,
}

/// Parse the `stub_status` page:
///
/// ```text
/// Active connections: 291
/// server accepts handled requests
///  16630948 16630948 31070465
/// Reading: 6 Writing: 179 Waiting: 106
/// ```
pub fn parse_stub_status(body: &str) -> Result<StubStatus, String> {
    let bad = || format!("failed to parse response body {body:?}: invalid format");
    let lines: Vec<&str> = body.lines().map(str::trim).collect();
    let [active, _, counts, states, ..] = lines[..] else {
        return Err(bad());
    };
    let number = |s: &str| s.trim().parse::<i64>().map_err(|_| bad());
    let active = number(active.strip_prefix("Active connections:").ok_or_else(bad)?)?;
    let counts: Vec<&str> = counts.split_whitespace().collect();
    let [accepted, handled, requests] = counts[..] else {
        return Err(bad());
    };
    let states: Vec<&str> = states.split_whitespace().collect();
    let ["Reading:", reading, "Writing:", writing, "Waiting:", waiting] = states[..] else {
        return Err(bad());
    };
    Ok(StubStatus {
        active,
        accepted: number(accepted)?,
        handled: number(handled)?,
        requests: number(requests)?,
        reading: number(reading)?,
        writing: number(writing)?,
        waiting: number(waiting)?,
    })
}

/// A built receiver.
pub struct NginxReceiver {
    id: ComponentId,
    cfg: NginxConfig,
    client: transport::http::HttpClient,
    /// Start time of the sums: when the receiver was built (Go's metrics builder).
    start: u64,
    next: SharedConsumer,
    obs: ReceiverObs,
}

impl NginxReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &NginxConfig,
        next: SignalConsumers,
    ) -> Result<NginxReceiver, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the nginx receiver produces metrics only"))?;
        let client = cfg
            .http
            .client(&ctx.id.to_string(), CLIENT, &ctx.extensions)?;
        Ok(NginxReceiver {
            obs: ctx.telemetry.receiver_obs(""),
            id: ctx.id,
            cfg: cfg.clone(),
            client,
            start: now_nanos(),
            next,
        })
    }

    /// One round: the page, read and recorded.
    async fn scrape(&self) -> Result<ResourceMetrics, String> {
        let url = self.cfg.endpoint();
        let resp = self
            .client
            .send(self.client.get(url))
            .await
            .map_err(|e| format!("failed to get {url}: {}", error_chain(&e)))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(format!("expected 200 response, got {status}"));
        }
        let body = resp
            .text()
            .await
            .map_err(|e| format!("failed to read the response body: {}", error_chain(&e)))?;
        let s = parse_stub_status(&body)?;
        let now = now_nanos();
        let mut mb = MetricsBuilder::new(DEFS, &toggles(&self.cfg.metrics));
        mb.begin(self.start, now);
        mb.record("nginx.requests", s.requests as f64, &[]);
        mb.record("nginx.connections_accepted", s.accepted as f64, &[]);
        mb.record("nginx.connections_handled", s.handled as f64, &[]);
        for (state, v) in [
            ("active", s.active),
            ("reading", s.reading),
            ("writing", s.writing),
            ("waiting", s.waiting),
        ] {
            mb.record("nginx.connections_current", v as f64, &[state]);
        }
        Ok(resource_metrics_scoped(
            SCOPE,
            Vec::new(),
            mb.take_metrics(),
        ))
    }
}

#[async_trait]
impl Receiver for NginxReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let cfg = &self.cfg;
        let deadline = match cfg.timeout.get() {
            t if t.is_zero() => Duration::MAX,
            t => t,
        };
        let mut rounds = Rounds::new(cfg.initial_delay.get(), cfg.collection_interval.get());
        while rounds.next(&shutdown).await {
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::time::timeout(deadline, self.scrape()) => {
                    r.unwrap_or_else(|_| Err(format!("no answer within {}", cfg.timeout)))
                }
            };
            match result {
                Ok(rm) => scraping::send(&self.id, &self.next, &self.obs, vec![rm]).await,
                Err(e) => {
                    tracing::warn!(receiver = %self.id, endpoint = %cfg.endpoint(), error = %e, "Failed to fetch nginx stats; trying again at the next interval.");
                }
            }
        }
        Ok(())
    }
}
