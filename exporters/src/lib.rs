//! Ferrotel's exporters, one folder per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ExporterFactory;

pub mod common;
pub mod debug;
pub mod jaeger;
pub mod loki;
pub mod nop;
pub mod otlp;
pub mod otlphttp;
pub mod prometheus;
pub mod prometheusremotewrite;
pub mod promtranslate;

/// Every exporter factory of this crate.
pub fn factories() -> Vec<Arc<dyn ExporterFactory>> {
    vec![
        Arc::new(debug::DebugFactory),
        Arc::new(otlp::OtlpFactory),
        Arc::new(otlphttp::OtlpHttpFactory),
        Arc::new(jaeger::JaegerFactory),
        Arc::new(prometheus::PrometheusFactory),
        Arc::new(prometheusremotewrite::PrometheusRemoteWriteFactory),
        Arc::new(nop::NopExporterFactory),
        Arc::new(loki::LokiFactory),
    ]
}
