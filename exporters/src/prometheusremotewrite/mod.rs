//! `prometheusremotewrite` exporter: translates OTLP metrics into Prometheus remote write 1.0
//! requests and POSTs them (Go `exporter/prometheusremotewriteexporter`).
//!
//! One `export` is one attempt: the batch becomes one or more requests (split at
//! `max_batch_size_bytes`) sent in order; the first failure ends the attempt and is
//! classified for the runtime's retry.
//!
//! Go facts relied on (`exporter.go execute`): the body is the `WriteRequest` protobuf,
//! snappy block-compressed (`snappy.Encode`), with `Content-Encoding: snappy`,
//! `Content-Type: application/x-protobuf`, `X-Prometheus-Remote-Write-Version: 0.1.0` and
//! `User-Agent` set by the exporter; a 2xx answer is success, 5xx is retryable, other
//! statuses are permanent, and the error quotes at most 256 bytes of the answer. 429: Go
//! retries it only behind the `exporter.prometheusremotewritexporter.RetryOn429` feature
//! gate; Ferrotel always treats it as retryable and passes `Retry-After` on as the throttle
//! hint, as Prometheus' own remote write does with `retry_on_http_429`. A failure to connect
//! or to get an answer is retryable.
//!
//! Delta sums, histograms and exponential histograms are accumulated into cumulative series
//! (Go drops them: "invalid temporality and type combination"); that state forgets a series
//! after [`DELTA_STATE_TTL`] without points.

mod config;
pub mod prompb;
#[cfg(test)]
mod tests;
mod translate;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use pipeline_api::{
    async_trait, Batch, BuildError, ComponentId, ConsumeError, Exporter, ExporterFactory,
};
use pipeline_api::{declare, Meta, Stability};
use prost::Message;
use transport::client::user_agent;

pub use config::{
    Config, EnabledFalse, EnabledTrue, RemoteWriteQueue, ResourceToTelemetryConfig, WalConfig,
    DEFAULT_MAX_BATCH_SIZE_BYTES,
};
pub use translate::STALE_NAN_BITS;

use crate::promtranslate::cumulative::{Merge, State};
use crate::promtranslate::{
    config_labels, label_name, translate_batch, ExtraLabels, Labels, MetricNamer, ResourceInfo,
    ResourceToTelemetry, ScopeLabels, Temporality, TranslateOptions,
};
use translate::{SeriesOptions, SeriesSet};

pub const TYPE_NAME: &str = "prometheusremotewrite";

/// How long delta → cumulative state is kept for a series without new points (as the
/// default `max_stale` of Go's `deltatocumulative` processor).
pub const DELTA_STATE_TTL: Duration = Duration::from_secs(300);

/// At most this many bytes of an error answer are quoted (Go `io.LimitReader(resp.Body, 256)`).
const ERROR_BODY_LIMIT: usize = 256;

/// Go renamed the type to `prometheus_remote_write` (v0.155.0 `metadata.yaml`: `type:
/// prometheus_remote_write`, `deprecated_type: prometheusremotewrite`); both spellings work.
pub const META: Meta = Meta::new(TYPE_NAME)
    .aliases(&[("prometheus_remote_write", false)])
    .metrics(Stability::Beta);

pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(RemoteWriteExporter::new(
            ctx.id,
            cfg,
            &ctx.extensions,
        )?))
    })
    .into_factory()
}

struct DeltaEntry {
    state: State,
    touched: Instant,
}

pub struct RemoteWriteExporter {
    id: ComponentId,
    endpoint: String,
    client: transport::http::HttpClient,
    user_agent: String,
    translate: TranslateOptions,
    series: SeriesOptions,
    max_batch_size_bytes: usize,
    deltas: Mutex<BTreeMap<(Arc<str>, Labels), DeltaEntry>>,
}

impl RemoteWriteExporter {
    /// `extensions`: the running ones, for `auth::authenticator`.
    pub fn new(
        id: ComponentId,
        cfg: &Config,
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<RemoteWriteExporter, BuildError> {
        let endpoint = cfg.http.endpoint.trim().to_string();
        let client = cfg
            .http
            .client(&id.to_string(), config::CLIENT, extensions)?;
        let external_labels = config_labels(&cfg.external_labels);
        let namespace_label = label_name(&cfg.namespace).unwrap_or_default();
        Ok(RemoteWriteExporter {
            id,
            endpoint,
            client,
            user_agent: user_agent(),
            translate: TranslateOptions {
                namer: MetricNamer::new(&cfg.namespace, cfg.add_metric_suffixes),
                scope_labels: ScopeLabels::NameAndVersionIfSet,
                resource_to_telemetry: ResourceToTelemetry {
                    enabled: cfg.resource_to_telemetry_conversion.enabled,
                    exclude_service_attributes: cfg
                        .resource_to_telemetry_conversion
                        .exclude_service_attributes,
                },
                extra: ExtraLabels {
                    labels: external_labels.clone(),
                    override_data: false,
                },
                drop_reserved: false,
            },
            series: SeriesOptions {
                export_created: cfg.export_created_metric.enabled,
                target_info: cfg
                    .target_info
                    .enabled
                    .then(|| translate::target_info_name(&namespace_label)),
                external_labels,
                send_metadata: cfg.send_metadata,
            },
            max_batch_size_bytes: usize::try_from(cfg.max_batch_size_bytes)
                .unwrap_or(DEFAULT_MAX_BATCH_SIZE_BYTES as usize)
                .max(1),
            deltas: Mutex::new(BTreeMap::new()),
        })
    }

    /// The requests one batch becomes (delta state updated).
    pub fn requests(&self, batch: &Batch) -> Vec<prompb::WriteRequest> {
        let Some((points, dropped)) = translate_batch(batch, &self.translate) else {
            return Vec::new();
        };
        if dropped.invalid_name > 0 || dropped.unspecified_temporality > 0 {
            tracing::debug!(
                exporter = %self.id,
                invalid_name = dropped.invalid_name,
                unspecified_temporality = dropped.unspecified_temporality,
                "Dropped metrics that cannot be translated to Prometheus."
            );
        }
        let mut set = SeriesSet::default();
        // The most recent point time of each resource, for target_info; points of a resource
        // lie together and share its `Arc`.
        let mut resources: BTreeMap<Arc<ResourceInfo>, u64> = BTreeMap::new();
        let mut current: Option<(Arc<ResourceInfo>, u64)> = None;
        let now = Instant::now();
        let mut deltas = self.deltas.lock().unwrap_or_else(|p| p.into_inner());
        deltas.retain(|_, e| now.saturating_duration_since(e.touched) <= DELTA_STATE_TTL);
        for p in points {
            match &mut current {
                Some((r, t)) if Arc::ptr_eq(r, &p.resource) => *t = (*t).max(p.time_ns),
                _ => {
                    if let Some((r, t)) = current.replace((p.resource.clone(), p.time_ns)) {
                        let latest = resources.entry(r).or_insert(0);
                        *latest = (*latest).max(t);
                    }
                }
            }
            if p.temporality == Temporality::Cumulative || p.no_recorded_value {
                set.add_point(p, None, &self.series);
                continue;
            }
            let key = p.series_key();
            match deltas.get_mut(&key) {
                None => {
                    let state = State::new(&p);
                    set.add_point(
                        p,
                        Some((state.start_ns, state.time_ns, &state.value)),
                        &self.series,
                    );
                    deltas.insert(
                        key,
                        DeltaEntry {
                            state,
                            touched: now,
                        },
                    );
                }
                Some(entry) => match entry.state.merge(&p) {
                    Merge::Updated | Merge::AlreadyCounted => {
                        entry.touched = now;
                        let s = &entry.state;
                        set.add_point(p, Some((s.start_ns, s.time_ns, &s.value)), &self.series);
                    }
                    Merge::Stale => {
                        tracing::debug!(exporter = %self.id, metric = %p.name, "Dropped an out-of-order delta point.");
                    }
                },
            }
        }
        drop(deltas);
        if let Some((r, t)) = current {
            let latest = resources.entry(r).or_insert(0);
            *latest = (*latest).max(t);
        }
        for (r, t) in resources {
            set.add_target_info(&r, t, &self.series);
        }
        set.into_requests(self.max_batch_size_bytes)
    }

    async fn send(&self, request: &prompb::WriteRequest) -> Result<(), ConsumeError> {
        let body = request.encode_to_vec();
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&body)
            .map_err(|e| ConsumeError::permanent(format!("snappy compression failed: {e}")))?;
        // The configured headers are the client's, on every request; these four replace any
        // of the same name (README: they cannot be changed).
        let request = self
            .client
            .post(&self.endpoint)
            .header(http::header::CONTENT_ENCODING, "snappy")
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header(http::header::USER_AGENT, &self.user_agent)
            .body(compressed);
        let resp = self.client.send(request).await.map_err(|e| {
            ConsumeError::retryable(format!("remote write to {} failed: {e}", self.endpoint))
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp.bytes().await.unwrap_or_default();
        let quoted =
            String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_LIMIT)]).into_owned();
        Err(classify(status, retry_after, &quoted))
    }
}

/// Go's error text: `remote write returned HTTP status 503 Service Unavailable; err = <nil>: body`.
pub fn classify(
    status: http::StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> ConsumeError {
    let message = format!(
        "remote write returned HTTP status {} {}; err = <nil>: {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.trim_end()
    );
    let retryable = status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS;
    match (retryable, retry_after) {
        (true, Some(d)) => ConsumeError::throttled(message, d),
        (true, None) => ConsumeError::retryable(message),
        (false, _) => ConsumeError::permanent(message),
    }
}

/// `Retry-After`: delay seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[async_trait]
impl Exporter for RemoteWriteExporter {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        for request in self.requests(&batch) {
            self.send(&request).await?;
        }
        Ok(())
    }
}
