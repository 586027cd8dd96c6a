//! `service.telemetry.traces`: the collector's own spans (see `pipeline_api::own_spans`)
//! exported over OTLP, configured as Go's declarative telemetry config (otelconf v0.3):
//! `level`, `propagators` (`tracecontext`, `b3`) and `processors`, each a `batch` or a
//! `simple` span processor with an `exporter` (`otlp` with `protocol`, `otlp_http`,
//! `otlp_grpc`, `console`). As in Go, nothing is traced at `level: none` or without a
//! processor, and the default sampler keeps every span (parent-based, always on).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigError, ConfigValue, Validate};
use pipeline_api::own_spans::{Propagators, SpanSink};
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::InstrumentationScope;
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::telemetry::{MetricsLevel, Telemetry};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::own_push::{self, PushExporterConfig, Request, Target};

/// `service.telemetry.traces` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracesConfig {
    /// `none`, `basic` (the default), `normal`, `detailed`; only `none` changes anything.
    pub level: Option<MetricsLevel>,
    pub propagators: Vec<String>,
    pub processors: Vec<SpanProcessorConfig>,
    /// Go's sampler settings; the default (parent-based, always on) is what runs.
    pub sampler: ConfigValue,
    pub limits: ConfigValue,
    #[serde(rename = "tracer_configurator/development")]
    pub tracer_configurator: ConfigValue,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpanProcessorConfig {
    pub batch: Option<BatchSpanProcessor>,
    pub simple: Option<SimpleSpanProcessor>,
}

/// otelconf `BatchSpanProcessor`: milliseconds and counts, with the SDK's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchSpanProcessor {
    /// Milliseconds between exports (default 5000).
    pub schedule_delay: Option<u64>,
    /// Milliseconds an export may take (default 30000).
    pub export_timeout: Option<u64>,
    /// Spans held before new ones are dropped (default 2048).
    pub max_queue_size: Option<usize>,
    /// Spans per export (default 512).
    pub max_export_batch_size: Option<usize>,
    pub exporter: PushExporterConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimpleSpanProcessor {
    pub exporter: PushExporterConfig,
}

impl Validate for TracesConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (i, p) in self.propagators.iter().enumerate() {
            if !matches!(p.as_str(), "tracecontext" | "b3") {
                errors.push(ConfigError::new(
                    &["propagators", &i.to_string()],
                    format!("unsupported trace propagator {p:?} (tracecontext, b3)"),
                ));
            }
        }
        for (i, p) in self.processors.iter().enumerate() {
            let at = |e: ConfigError, kind: &str| e.prefixed(&["processors", &i.to_string(), kind]);
            match (&p.batch, &p.simple) {
                (Some(b), None) => {
                    errors.extend(
                        b.exporter
                            .validate()
                            .into_iter()
                            .map(|e| at(e.prefixed(&["exporter"]), "batch")),
                    );
                    if b.max_export_batch_size.unwrap_or(512) > b.max_queue_size.unwrap_or(2048) {
                        errors.push(ConfigError::new(
                            &[
                                "processors",
                                &i.to_string(),
                                "batch",
                                "max_export_batch_size",
                            ],
                            "must not be larger than max_queue_size",
                        ));
                    }
                }
                (None, Some(s)) => errors.extend(
                    s.exporter
                        .validate()
                        .into_iter()
                        .map(|e| at(e.prefixed(&["exporter"]), "simple")),
                ),
                _ => errors.push(ConfigError::new(
                    &["processors", &i.to_string()],
                    "set exactly one of batch, simple",
                )),
            }
        }
        errors
    }
}

/// Parse `service.telemetry.traces`; errors relative to it.
pub fn parse(value: &ConfigValue) -> Result<TracesConfig, Vec<ConfigError>> {
    if value.is_null() {
        return Ok(TracesConfig::default());
    }
    parse_typed(value)
}

/// One finished span, with its scope.
type Finished = (Arc<InstrumentationScope>, Span);

/// The sink the span hub sends to: one bounded channel per processor.
struct Sinks(Vec<Processor>);

struct Processor {
    tx: mpsc::Sender<Finished>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl SpanSink for Sinks {
    fn emit(&self, scope: &Arc<InstrumentationScope>, span: Span) {
        for p in &self.0 {
            if p.tx.try_send((scope.clone(), span.clone())).is_err() {
                // the SDK's batch processor drops when its queue is full; so do we, counted
                p.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// The running own-traces export: one task per span processor.
pub struct OwnTraces {
    tasks: Vec<JoinHandle<()>>,
    telemetry: Arc<Telemetry>,
}

impl OwnTraces {
    /// Start exporting the process's own spans as `cfg` says, or nothing (and tracing off)
    /// at `level: none` or without processors.
    pub fn start(
        cfg: &TracesConfig,
        telemetry: Arc<Telemetry>,
        resource: Vec<(String, String)>,
    ) -> OwnTraces {
        if cfg.level == Some(MetricsLevel::None) || cfg.processors.is_empty() {
            telemetry.spans().set_sink(None, Propagators::default());
            return OwnTraces {
                tasks: Vec::new(),
                telemetry,
            };
        }
        let resource = Arc::new(Resource {
            attributes: resource
                .iter()
                .map(|(k, v)| (k, v))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .map(|(k, v)| own_push::string_kv(k, v))
                .collect(),
            ..Default::default()
        });
        let mut processors = Vec::new();
        let mut tasks = Vec::new();
        for p in &cfg.processors {
            let (exporter, delay, timeout, queue, batch) = match (&p.batch, &p.simple) {
                (Some(b), _) => (
                    &b.exporter,
                    Duration::from_millis(b.schedule_delay.unwrap_or(5000).max(1)),
                    Duration::from_millis(b.export_timeout.unwrap_or(30_000).max(1)),
                    b.max_queue_size.unwrap_or(2048).max(1),
                    b.max_export_batch_size.unwrap_or(512).max(1),
                ),
                (None, Some(s)) => (
                    &s.exporter,
                    Duration::ZERO,
                    Duration::from_secs(30),
                    2048,
                    1,
                ),
                _ => continue,
            };
            let target = Arc::new(own_push::exporter_target(exporter, "/v1/traces"));
            let (tx, rx) = mpsc::channel(queue);
            let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
            tasks.push(tokio::spawn(export_loop(
                rx,
                target,
                resource.clone(),
                delay,
                timeout,
                batch,
                dropped.clone(),
            )));
            processors.push(Processor { tx, dropped });
        }
        let propagators = Propagators {
            tracecontext: cfg.propagators.iter().any(|p| p == "tracecontext"),
            b3: cfg.propagators.iter().any(|p| p == "b3"),
        };
        telemetry
            .spans()
            .set_sink(Some(Arc::new(Sinks(processors))), propagators);
        info!(
            processors = tasks.len(),
            "Exporting the collector's own spans"
        );
        OwnTraces { tasks, telemetry }
    }

    /// Stop tracing, export what is held, and stop.
    pub async fn stop(self) {
        // dropping the sink closes every channel; each task sends what it holds and ends
        self.telemetry
            .spans()
            .set_sink(None, Propagators::default());
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

async fn export_loop(
    mut rx: mpsc::Receiver<Finished>,
    target: Arc<Target>,
    resource: Arc<Resource>,
    delay: Duration,
    timeout: Duration,
    batch: usize,
    dropped: Arc<std::sync::atomic::AtomicU64>,
) {
    let client = reqwest::Client::builder().timeout(timeout).build().ok();
    let mut held: Vec<Finished> = Vec::new();
    let mut open = true;
    // a batch goes out `delay` after its first span, or when it is full
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let flush = if !open || held.len() >= batch {
            true
        } else {
            let received = match deadline {
                Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                None => Some(rx.recv().await),
            };
            match received {
                Some(Some(s)) => {
                    if held.is_empty() {
                        deadline = Some(tokio::time::Instant::now() + delay);
                    }
                    held.push(s);
                    held.len() >= batch || delay.is_zero()
                }
                Some(None) => {
                    open = false;
                    true
                }
                None => true,
            }
        };
        if !open && held.is_empty() {
            break;
        }
        if !flush || held.is_empty() {
            continue;
        }
        let take = held.len().min(batch);
        let request = to_request(&resource, held.drain(..take));
        let n = dropped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            warn!(
                dropped_spans = n,
                "The own-traces queue was full; spans were dropped"
            );
        }
        match tokio::time::timeout(
            timeout,
            own_push::push(&target, client.as_ref(), Request::Traces(request)),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "Cannot export the collector's own spans"),
            Err(_) => warn!("Exporting the collector's own spans timed out"),
        }
        deadline = (!held.is_empty()).then(|| tokio::time::Instant::now() + delay);
    }
}

/// Spans grouped by scope under one resource.
fn to_request(
    resource: &Resource,
    spans: impl Iterator<Item = Finished>,
) -> ExportTraceServiceRequest {
    let mut scopes: Vec<ScopeSpans> = Vec::new();
    for (scope, span) in spans {
        match scopes
            .iter_mut()
            .find(|s| s.scope.as_ref() == Some(&*scope))
        {
            Some(s) => s.spans.push(span),
            None => scopes.push(ScopeSpans {
                scope: Some((*scope).clone()),
                spans: vec![span],
                ..Default::default()
            }),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: scopes,
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<String> {
        let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
        match parse(&v) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn go_shaped_traces_configs_parse_and_bad_ones_say_where() {
        assert!(errors(
            "level: basic\npropagators: [tracecontext, b3]\nprocessors:\n  - batch:\n      schedule_delay: 100\n      exporter:\n        otlp:\n          protocol: grpc\n          endpoint: http://127.0.0.1:4317\n  - simple:\n      exporter:\n        console: {}\n"
        )
        .is_empty());
        let e = errors(
            "propagators: [jaeger]\nprocessors:\n  - batch:\n      exporter:\n        otlp: {endpoint: x}\n  - {}\n",
        );
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].contains("propagators::0") && e[0].contains("jaeger"),
            "{e:?}"
        );
        assert!(
            e[1].contains("processors::0::batch::exporter::otlp::protocol"),
            "{e:?}"
        );
        assert!(
            e[2].contains("processors::1") && e[2].contains("batch, simple"),
            "{e:?}"
        );
        let e = errors(
            "processors:\n  - batch:\n      exporter: {otlp_grpc: {endpoint: x}}\n      bogus: 1\n",
        );
        assert!(e.iter().any(|e| e.contains("bogus")), "{e:?}");
    }
}
