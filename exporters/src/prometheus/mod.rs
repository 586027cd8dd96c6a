//! `prometheus` exporter: keeps the latest value of every series it receives and serves them
//! on `endpoint` at `/metrics` for Prometheus to scrape (Go `exporter/prometheusexporter`).
//!
//! `export` only updates the in-memory state and never fails. The endpoint is bound at build
//! (so a port in use fails the build), served from `start` and closed by `shutdown`.
//!
//! Go facts relied on: the handler is mounted at exactly `/metrics` on a `http.ServeMux`
//! (`prometheus.go Start`; other paths answer 404 "404 page not found"); `promhttp` compresses
//! with gzip when the scraper accepts it; the `Content-Type` is the negotiated format's.

mod config;
mod exposition;
mod server;
mod store;
#[cfg(test)]
mod tests;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_api::{
    async_trait, Batch, BuildError, CancellationToken, ComponentId, ConsumeError, Exporter,
    ExporterFactory,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::{Config, ResourceToTelemetryConfig, TlsServerConfig, TranslationStrategy};
pub use exposition::{negotiate, Format, TEXT_CONTENT_TYPE};

use crate::promtranslate::{
    config_labels, label_name, translate_batch, ExtraLabels, MetricNamer, ResourceToTelemetry,
    ScopeLabels, TranslateOptions, TARGET_INFO,
};
use store::Store;

pub const TYPE_NAME: &str = "prometheus";

pub const META: Meta = Meta::new(TYPE_NAME).metrics(Stability::Beta);

/// Go `factory.go`: `sending_queue` keeps its zero value (disabled) and no `WithRetry` is
/// passed; `export` only updates memory and never fails, so neither would help.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(PrometheusExporter::new(ctx.id, cfg)?))
    })
    .without_queue_and_retry()
    .into_factory()
}

/// What the HTTP handler needs.
pub(crate) struct Shared {
    store: Mutex<Store>,
    expiration: Duration,
    send_timestamps: bool,
    open_metrics: bool,
    target_info_name: String,
    response_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Shared {
    /// The body of a scrape in `format`.
    pub(crate) fn render(&self, format: Format) -> String {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        store.expire(Instant::now(), self.expiration);
        let snapshot = store.snapshot();
        exposition::render(
            &snapshot,
            &exposition::TargetInfoFamily {
                name: &self.target_info_name,
            },
            exposition::RenderOptions {
                format,
                send_timestamps: self.send_timestamps,
            },
        )
    }
}

pub struct PrometheusExporter {
    id: ComponentId,
    shared: Arc<Shared>,
    opts: TranslateOptions,
    listener: Mutex<Option<TcpListener>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
    server: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    local_addr: std::net::SocketAddr,
}

impl PrometheusExporter {
    pub fn new(id: ComponentId, cfg: &Config) -> Result<PrometheusExporter, BuildError> {
        let listener = transport::net::bind_tcp(&cfg.endpoint, "endpoint")?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BuildError::new(format!("endpoint: {}: {e}", cfg.endpoint)))?;
        let tls = cfg
            .tls
            .as_ref()
            .map(|t| transport::tls::server_acceptor(t, &[b"h2", b"http/1.1"], "tls"))
            .transpose()?;
        if let Some(s) = cfg.translation_strategy {
            if s.settings().1 {
                tracing::warn!(
                    exporter = %id,
                    translation_strategy = ?s,
                    "UTF-8 metric and label names are not supported by Ferrotel; names are escaped with underscores."
                );
            }
        }
        if cfg.resource_to_telemetry_conversion.enabled {
            tracing::info!(exporter = %id, "resource_to_telemetry_conversion is enabled: every resource attribute becomes a label.");
        }
        let namespace_label = label_name(&cfg.namespace).unwrap_or_default();
        let target_info_name = if namespace_label.is_empty() {
            TARGET_INFO.to_string()
        } else {
            format!("{namespace_label}_{TARGET_INFO}")
        };
        let response_headers = cfg
            .response_headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    http::HeaderName::from_bytes(k.as_bytes()).ok()?,
                    http::HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        let opts = TranslateOptions {
            namer: MetricNamer::new(&cfg.namespace, cfg.with_suffixes()),
            scope_labels: if cfg.without_scope_info {
                ScopeLabels::None
            } else {
                ScopeLabels::Full
            },
            resource_to_telemetry: ResourceToTelemetry {
                enabled: cfg.resource_to_telemetry_conversion.enabled,
                exclude_service_attributes: cfg
                    .resource_to_telemetry_conversion
                    .exclude_service_attributes,
            },
            extra: ExtraLabels {
                labels: config_labels(&cfg.const_labels),
                override_data: true,
            },
            drop_reserved: true,
        };
        Ok(PrometheusExporter {
            id,
            shared: Arc::new(Shared {
                store: Mutex::new(Store::default()),
                expiration: cfg.metric_expiration.get(),
                send_timestamps: cfg.send_timestamps,
                open_metrics: cfg.enable_open_metrics,
                target_info_name,
                response_headers,
            }),
            opts,
            listener: Mutex::new(Some(listener)),
            tls,
            shutdown: CancellationToken::new(),
            server: tokio::sync::Mutex::new(None),
            local_addr,
        })
    }

    /// The address the endpoint is bound to (port 0 resolved).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// The scrape body in `format`, as the endpoint would answer now.
    pub fn render(&self, format: Format) -> String {
        self.shared.render(format)
    }
}

#[async_trait]
impl Exporter for PrometheusExporter {
    async fn start(&self) -> Result<(), BuildError> {
        let Some(listener) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return Ok(());
        };
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| BuildError::new(format!("endpoint: {e}")))?;
        let task = tokio::spawn(server::serve(
            listener,
            self.tls.clone(),
            self.shared.clone(),
            self.shutdown.clone(),
            self.id.clone(),
        ));
        *self.server.lock().await = Some(task);
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        let Some((points, dropped)) = translate_batch(&batch, &self.opts) else {
            return Ok(());
        };
        if dropped.invalid_name > 0 || dropped.unspecified_temporality > 0 {
            tracing::debug!(
                exporter = %self.id,
                invalid_name = dropped.invalid_name,
                unspecified_temporality = dropped.unspecified_temporality,
                "Dropped metrics that cannot be translated to Prometheus."
            );
        }
        let now = Instant::now();
        let mut store = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
        store.ingest(points, now);
        store.expire(now, self.shared.expiration);
        Ok(())
    }

    async fn shutdown(&self) {
        self.shutdown.cancel();
        // Never started: release the port.
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = self.server.lock().await.take() {
            if let Err(e) = task.await {
                tracing::warn!(exporter = %self.id, error = %e, "The scrape endpoint task failed.");
            }
        }
    }
}
