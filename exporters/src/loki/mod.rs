//! `loki` exporter: logs to Grafana Loki's push API (`/loki/api/v1/push`), as the Go
//! collector's `exporter/lokiexporter` did before it was removed from contrib, plus label
//! rules from config, structured metadata and guards against label cardinality.
//!
//! Go facts relied on, beyond those in `config.rs`, `labels.rs`, `format.rs` and `push.rs`
//! (`pkg/translator/loki/logs_to_loki.go`, `convert.go`, `exporter/lokiexporter/exporter.go`):
//! - Records are grouped by tenant, then by label set into streams; one push request per
//!   tenant, the requests' errors joined.
//! - The tenant comes from the `loki.tenant` hint: the hint is read from the resource
//!   attributes, else from the record's; it names an attribute looked up in the resource,
//!   else in the record (both as `Str()`: other types give an empty tenant). An empty tenant
//!   sends no `X-Scope-OrgID`. The older exporter's `tenant` setting: `static` (the value),
//!   `context` (client metadata key; more than one value is an error), `attributes` (a
//!   resource attribute).
//! - The line format comes from the `loki.format` hint (resource first, then record),
//!   default `json`.
//! - An entry's time is the record's time, else its observed time, else now.
//! - A batch that yields no stream is a permanent error ("failed to transform logs into Loki
//!   log streams"); Go counted records Loki refused for missing labels in
//!   `otelcol_lokiexporter_send_failed_due_to_missing_labels`.
//! - Default timeout 30s (`createDefaultConfig`).
//!
//! Ferrotel differs: entries are sorted by time within each stream and streams by label
//! text (Go kept arrival order and random map order); the `tenant` setting wins over the
//! hint, and `attributes` looks at each record (resource, then record attributes) rather
//! than the first resource of the batch; a record that would get no label at all is not sent
//! (Loki would refuse the whole request) but counted in
//! `otelcol_lokiexporter_send_failed_due_to_missing_labels` and logged; an unknown
//! `loki.format` hint falls back to the configured format with a warning (Go dropped the
//! record). Labels beyond `max_label_count` are dropped (the lowest-priority first, counted
//! in `otelcol_lokiexporter_labels_truncated`) rather than sent for Loki to refuse. A retry
//! after a partial multi-tenant failure sends every tenant's request again; Loki ignores an
//! entry it already has (same stream, time and line).

mod config;
pub mod format;
pub mod labels;
pub mod push;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{btree_map, BTreeMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pipeline_api::config::format_go_duration;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::wire_items::{filter_items, Level, LogParts, WireMap};
use pipeline_api::{
    async_trait, Batch, BuildError, ComponentId, ConsumeError, Exporter, ExporterFactory,
    IntCounter, RequestContext,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::{
    CardinalityWarningConfig, Config, DefaultLabelsEnabled, LabelsConfig, LineFormat,
    StructuredMetadataConfig, TenantConfig, TenantSource, DEFAULT_MAX_LABEL_COUNT,
};

use transport::http::{error_chain, ClientOptions};

use crate::debug::gofmt::{hex_id, value_as_string};
use crate::promtranslate::label_name;
use format::LineParts;
use labels::{
    get, get_nested_string, get_str, Attrs, CardinalityGuard, Explosion, LabelRules, Source,
};
use push::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

pub const TYPE_NAME: &str = "loki";

const CONTENT_TYPE: &str = "application/x-protobuf";

/// Metric names (Go's for the first; Ferrotel's own for the second).
pub const METRIC_MISSING_LABELS: &str = "otelcol_lokiexporter_send_failed_due_to_missing_labels";
pub const METRIC_TRUNCATED: &str = "otelcol_lokiexporter_labels_truncated";

/// Deprecated in Go's contrib (and removed after v0.130).
pub const META: Meta = Meta::new(TYPE_NAME).logs(Stability::Deprecated);

/// Go `createDefaultConfig`: `Timeout: 30 * time.Second`.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(LokiExporter::new(
            ctx.id,
            cfg,
            &ctx.telemetry,
            &ctx.extensions,
        )?))
    })
    .default_timeout(Duration::from_secs(30))
    .into_factory()
}

/// One batch turned into push requests.
#[derive(Debug, Default, PartialEq)]
pub struct Translated {
    /// Tenant (empty: none) → request.
    pub requests: BTreeMap<String, PushRequest>,
    /// Records left out because they had no label.
    pub missing_labels: usize,
}

pub struct LokiExporter {
    id: ComponentId,
    endpoint: String,
    client: transport::http::HttpClient,
    rules: LabelRules,
    format: LineFormat,
    tenant: Option<TenantConfig>,
    /// `(attribute, metadata name)`.
    metadata_attributes: Vec<(String, String)>,
    trace_context: bool,
    guard: Mutex<CardinalityGuard>,
    max_label_count: usize,
    cardinality_max: usize,
    warned_truncation: AtomicBool,
    warned_format: AtomicBool,
    missing_labels: IntCounter,
    truncated: IntCounter,
}

impl LokiExporter {
    pub fn new(
        id: ComponentId,
        cfg: &Config,
        telemetry: &ComponentTelemetry,
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<LokiExporter, BuildError> {
        let endpoint = cfg.http.endpoint.trim().to_string();
        let client = cfg
            .http
            .client(&id.to_string(), ClientOptions::default(), extensions)?;
        let metadata_attributes = cfg
            .structured_metadata
            .attributes
            .iter()
            .filter_map(|a| {
                let a = a.trim();
                Some((a.to_string(), label_name(a)?))
            })
            .collect();
        let warning = cfg.cardinality_warning;
        Ok(LokiExporter {
            endpoint,
            client,
            rules: LabelRules::new(cfg),
            format: cfg.format,
            tenant: cfg.tenant.clone(),
            metadata_attributes,
            trace_context: cfg.structured_metadata.trace_context,
            guard: Mutex::new(CardinalityGuard::new(
                warning.max_values,
                warning.window.get(),
                Instant::now(),
            )),
            max_label_count: cfg.max_label_count,
            cardinality_max: warning.max_values,
            warned_truncation: AtomicBool::new(false),
            warned_format: AtomicBool::new(false),
            missing_labels: telemetry.counter(
                METRIC_MISSING_LABELS,
                "Number of log records not sent because they had no label (Loki refuses a stream without labels).",
                &[],
            ),
            truncated: telemetry.counter(
                METRIC_TRUNCATED,
                "Number of log records whose labels were cut to max_label_count.",
                &[],
            ),
            id,
        })
    }

    /// The tenant of a record (empty: none). `context_tenant` is the batch's tenant for
    /// `source: context`.
    fn tenant_of<A: Attrs + ?Sized>(
        &self,
        resource: &[KeyValue],
        attrs: &A,
        context_tenant: &str,
    ) -> String {
        match &self.tenant {
            Some(t) => match t.source {
                TenantSource::Static => t.value.clone(),
                TenantSource::Context => context_tenant.to_string(),
                TenantSource::Attributes => get(resource, &t.value)
                    .or_else(|| get(attrs, &t.value))
                    .map(|v| value_as_string(Some(&v)))
                    .unwrap_or_default(),
            },
            None => {
                // Go GetTenantFromTenantHint.
                let hint = get_str(resource, labels::HINT_TENANT)
                    .or_else(|| get_str(attrs, labels::HINT_TENANT));
                match hint {
                    Some(attr) => get_str(resource, &attr)
                        .or_else(|| get_str(attrs, &attr))
                        .unwrap_or_default()
                        .into_owned(),
                    None => String::new(),
                }
            }
        }
    }

    /// The line format of a record: the `loki.format` hint, else the configured one.
    fn format_of<A: Attrs + ?Sized>(&self, resource: &[KeyValue], attrs: &A) -> LineFormat {
        let hint = get(resource, labels::HINT_FORMAT)
            .or_else(|| get(attrs, labels::HINT_FORMAT))
            .map(|v| value_as_string(Some(&v)));
        match hint {
            None => self.format,
            Some(h) => LineFormat::from_hint(&h).unwrap_or_else(|| {
                if !self.warned_format.swap(true, Ordering::Relaxed) {
                    tracing::warn!(exporter = %self.id, hint = %h, "Invalid loki.format hint {h:?}; expected json, logfmt or raw. The configured format is used instead.");
                }
                self.format
            }),
        }
    }

    /// Structured metadata of a record: the configured attributes (record first, then
    /// resource), then the trace context.
    fn metadata_of<A: Attrs + ?Sized>(
        &self,
        resource: &[KeyValue],
        record: &LogRecord,
        attrs: &A,
    ) -> Vec<LabelPairAdapter> {
        let mut out: Vec<LabelPairAdapter> = Vec::new();
        let mut push = |name: &str, value: String| {
            if !value.is_empty() && !out.iter().any(|p| p.name == name) {
                out.push(LabelPairAdapter {
                    name: name.to_string(),
                    value,
                });
            }
        };
        for (attr, name) in &self.metadata_attributes {
            if let Some(v) =
                get_nested_string(attrs, attr).or_else(|| get_nested_string(resource, attr))
            {
                push(name, v);
            }
        }
        if self.trace_context {
            push("trace_id", hex_id(&record.trace_id));
            push("span_id", hex_id(&record.span_id));
        }
        out
    }

    /// The batch's tenant for `source: context`: Go's error when the request carries more
    /// than one.
    fn context_tenant(&self, context: &RequestContext) -> Result<String, ConsumeError> {
        match &self.tenant {
            Some(t) if t.source == TenantSource::Context => {
                let values = context.metadata_values(&t.value);
                if values.len() > 1 {
                    // Go ContextTenantSource.
                    return Err(ConsumeError::permanent(format!(
                        "{} tenant keys found in the context, can't determine which one to use",
                        values.len()
                    )));
                }
                Ok(values.first().map(|v| v.to_string()).unwrap_or_default())
            }
            _ => Ok(String::new()),
        }
    }

    /// Turn a batch into one push request per tenant: read from its wire form where it has
    /// one (`wire_items`' log record walk: a record's attributes stay bytes, only those the
    /// labels, hints and metadata name are read), else from the decoded request.
    pub fn translate_batch(&self, batch: &Batch) -> Result<Option<Translated>, ConsumeError> {
        let now = SystemTime::now();
        if !batch.is_decoded() {
            if let Some(pieces) = batch.wire_pieces() {
                if let Some(t) = self.translate_wire(pieces, batch.context(), now)? {
                    return Ok(Some(t));
                }
            }
        }
        match batch.as_logs() {
            Some(logs) => self.translate(logs, batch.context(), now).map(Some),
            None => Ok(None),
        }
    }

    /// [`LokiExporter::translate`] over export requests in their wire form, each of
    /// `chunks` one the receive scan accepted. `None` when the bytes cannot be walked:
    /// decode them instead.
    pub fn translate_wire(
        &self,
        chunks: &[impl AsRef<[u8]>],
        context: &RequestContext,
        now: SystemTime,
    ) -> Result<Option<Translated>, ConsumeError> {
        let mut t = Translation::new(self, self.context_tenant(context)?, now);
        for chunk in chunks {
            let walked = filter_items::<LogRecord>(
                chunk.as_ref(),
                Level::Item,
                false,
                &mut |parts: LogParts<'_, '_>| {
                    let Some(item) = parts.item else {
                        return Ok(());
                    };
                    let resource: &[KeyValue] = parts
                        .resource
                        .as_ref()
                        .map(|r| &r.attributes[..])
                        .unwrap_or(&[]);
                    let scope = parts.scope.and_then(|(s, _)| s.as_ref());
                    let record = item.item;
                    let format = item.attrs.read(|a| {
                        let format = self.format_of(resource, a);
                        if format == LineFormat::Raw {
                            t.add(resource, scope, record, a, format);
                        }
                        format
                    });
                    if format != LineFormat::Raw {
                        // a json or logfmt line holds the attributes: decode them
                        record.attributes = item.attrs.decode_all();
                        t.add(resource, scope, record, &record.attributes[..], format);
                    }
                    Ok(())
                },
            );
            if walked.is_err() {
                // the guard has seen this batch's labels: its warnings stand
                t.abandon();
                return Ok(None);
            }
        }
        Ok(Some(t.finish()))
    }

    /// Turn a batch into one push request per tenant. A record with neither time nor
    /// observed time is stamped `now`, as Go stamps it with the time of the export.
    pub fn translate(
        &self,
        logs: &ExportLogsServiceRequest,
        context: &RequestContext,
        now: SystemTime,
    ) -> Result<Translated, ConsumeError> {
        let mut t = Translation::new(self, self.context_tenant(context)?, now);
        for rl in &logs.resource_logs {
            let resource: &[KeyValue] = rl
                .resource
                .as_ref()
                .map(|r| &r.attributes[..])
                .unwrap_or(&[]);
            for sl in &rl.scope_logs {
                for record in &sl.log_records {
                    let attrs = &record.attributes[..];
                    let format = self.format_of(resource, attrs);
                    t.add(resource, sl.scope.as_ref(), record, attrs, format);
                }
            }
        }
        Ok(t.finish())
    }

    async fn send(&self, tenant: &str, request: &PushRequest) -> Result<(), ConsumeError> {
        let body = push::encode(request)?;
        // Go's order: configured headers (the client's, on every request), then the content
        // type, then the tenant (each replacing what was set before).
        let mut headers = http::HeaderMap::with_capacity(2);
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        if !tenant.is_empty() {
            let value = http::HeaderValue::from_str(tenant).map_err(|_| {
                ConsumeError::permanent(format!(
                    "tenant {tenant:?} is not a valid X-Scope-OrgID header value"
                ))
            })?;
            headers.insert(http::HeaderName::from_static("x-scope-orgid"), value);
        }
        let req = self.client.post(&self.endpoint).headers(headers);
        let resp = self.client.send(req.body(body)).await.map_err(|e| {
            ConsumeError::retryable(format!(
                "failed to push to Loki at {}: {}",
                self.endpoint,
                error_chain(&e)
            ))
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_limited(resp).await;
        Err(push::classify(
            status,
            retry_after.as_deref(),
            &body,
            tenant,
            SystemTime::now(),
        ))
    }
}

/// A stream's labels by name, names borrowed from the exporter's rules where written there.
type LabelSet<'e> = BTreeMap<Cow<'e, str>, String>;

/// One batch's translation under way: the streams of each tenant so far, and what the
/// warnings after it need.
struct Translation<'e> {
    exporter: &'e LokiExporter,
    context_tenant: String,
    now_ns: u64,
    now: Instant,
    out: Translated,
    /// tenant → label set → entries
    tenants: BTreeMap<String, BTreeMap<LabelSet<'e>, Vec<EntryAdapter>>>,
    explosions: Vec<Explosion>,
    truncated: u64,
    truncated_first: Option<(usize, Vec<String>)>,
    guard: MutexGuard<'e, CardinalityGuard>,
}

impl<'e> Translation<'e> {
    fn new(exporter: &'e LokiExporter, context_tenant: String, now: SystemTime) -> Translation<'e> {
        Translation {
            exporter,
            context_tenant,
            now_ns: now
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            now: Instant::now(),
            out: Translated::default(),
            tenants: BTreeMap::new(),
            explosions: Vec::new(),
            truncated: 0,
            truncated_first: None,
            guard: exporter.guard.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// One record into its stream. `attrs` are its attributes: `record.attributes` for a
    /// json or logfmt line (which writes them), else possibly the wire form's with the
    /// record's list left empty.
    fn add<A: Attrs + ?Sized>(
        &mut self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        record: &LogRecord,
        attrs: &A,
        format: LineFormat,
    ) {
        let e = self.exporter;
        let labels = e.rules.labels(resource, record, attrs);
        if labels.labels.is_empty() {
            self.out.missing_labels += 1;
            return;
        }
        if !labels.truncated.is_empty() {
            self.truncated += 1;
            if self.truncated_first.is_none() {
                self.truncated_first = Some((labels.wanted, labels.truncated.clone()));
            }
        }
        // the attributes that did not become labels, for a json or logfmt line
        let parts = || LineParts {
            record,
            attributes: record
                .attributes
                .iter()
                .filter(|kv| !labels.is_removed(Source::Record, &kv.key))
                .collect(),
            resource: resource
                .iter()
                .filter(|kv| !labels.is_removed(Source::Resource, &kv.key))
                .collect(),
            scope,
        };
        let line = match format {
            LineFormat::Json => format::json_line(&parts()),
            LineFormat::Logfmt => format::logfmt_line(&parts()),
            LineFormat::Raw => format::raw_line(record),
        };
        let time_ns = if record.time_unix_nano != 0 {
            record.time_unix_nano
        } else if record.observed_time_unix_nano != 0 {
            record.observed_time_unix_nano
        } else {
            self.now_ns
        };
        let entry = EntryAdapter {
            timestamp: Some(Timestamp::from_unix_nanos(time_ns)),
            line,
            structured_metadata: e.metadata_of(resource, record, attrs),
            parsed: Vec::new(),
        };
        let tenant = e.tenant_of(resource, attrs, &self.context_tenant);
        match self.tenants.entry(tenant).or_default().entry(labels.labels) {
            btree_map::Entry::Occupied(stream) => stream.into_mut().push(entry),
            btree_map::Entry::Vacant(stream) => {
                // a label's values are counted once a stream: the batch's other records
                // of the stream bring none
                let observed = self.guard.observe(stream.key(), self.now);
                self.explosions.extend(observed);
                stream.insert(vec![entry]);
            }
        }
    }

    /// Given up for the decoded path, which translates the batch again.
    fn abandon(self) {
        let e = self.exporter;
        drop(self.guard);
        warn_explosions(e, self.explosions);
    }

    /// The push requests, after the warnings the batch called for.
    fn finish(self) -> Translated {
        let Translation {
            exporter: e,
            mut out,
            tenants,
            explosions,
            truncated,
            truncated_first,
            guard,
            ..
        } = self;
        drop(guard);
        e.truncated.inc_by(truncated);
        warn_explosions(e, explosions);
        if let Some((wanted, dropped)) = truncated_first {
            if !e.warned_truncation.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    exporter = %e.id,
                    labels = wanted,
                    max_label_count = e.max_label_count,
                    dropped = %dropped.join(", "),
                    "A log stream would have {wanted} labels, more than max_label_count ({}); the lowest-priority labels were left out ({}), their attributes stay in the log line. Further cuts are counted in {METRIC_TRUNCATED}.",
                    e.max_label_count,
                    dropped.join(", "),
                );
            } else {
                tracing::debug!(exporter = %e.id, dropped = %dropped.join(", "), "Labels cut to max_label_count.");
            }
        }
        for (tenant, streams) in tenants {
            let mut streams: Vec<StreamAdapter> = streams
                .into_iter()
                .map(|(set, mut entries)| {
                    // stable: entries of one time keep their order
                    entries.sort_by_key(|e| e.timestamp.unwrap_or_default());
                    StreamAdapter {
                        labels: labels::label_string(&set),
                        entries,
                        hash: 0,
                    }
                })
                .collect();
            streams.sort_by(|a, b| a.labels.cmp(&b.labels));
            out.requests.insert(
                tenant,
                PushRequest {
                    streams,
                    format: String::new(),
                },
            );
        }
        out
    }
}

/// Say which labels just went over the cardinality limit.
fn warn_explosions(e: &LokiExporter, explosions: Vec<Explosion>) {
    for x in explosions {
        tracing::warn!(
            exporter = %e.id,
            label = %x.label,
            distinct_values = x.values,
            "Loki label {:?} took {} distinct values within {} (cardinality_warning::max_values is {}). Every value makes a new stream, which slows Loki down and runs into its stream limits. Keep per-request values such as trace or request ids out of labels: list them in structured_metadata::attributes instead.",
            x.label,
            x.values,
            format_go_duration(x.within),
            e.cardinality_max,
        );
    }
}

/// At most [`push::MAX_ERROR_BODY`] bytes of the answer.
async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < push::MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = push::MAX_ERROR_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

#[async_trait]
impl Exporter for LokiExporter {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let Some(translated) = self.translate_batch(&batch)? else {
            return Ok(());
        };
        if translated.missing_labels > 0 {
            self.missing_labels.inc_by(translated.missing_labels as u64);
            tracing::warn!(
                exporter = %self.id,
                dropped_log_records = translated.missing_labels,
                "Dropped log records without any label: Loki refuses a stream without labels. Turn on default_labels_enabled or configure labels."
            );
        }
        if translated.requests.is_empty() {
            return Err(ConsumeError::permanent(
                "failed to transform logs into Loki log streams: no record has a label",
            ));
        }
        let mut errors = Vec::new();
        for (tenant, request) in &translated.requests {
            if let Err(e) = self.send(tenant, request).await {
                errors.push(e);
            }
        }
        match ConsumeError::combine(errors) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}
