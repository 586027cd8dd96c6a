//! Ferrotel's exporters, one folder per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ExporterFactory;

pub mod common;
pub mod debug;
pub mod file;
pub mod jaeger;
pub mod loki;
pub mod nop;
pub mod otlp;
pub mod otlphttp;
pub mod prometheus;
pub mod prometheusremotewrite;
pub mod promtranslate;
pub mod zipkin;

/// Every exporter factory of this crate.
pub fn factories() -> Vec<Arc<dyn ExporterFactory>> {
    vec![
        debug::factory(),
        otlp::factory(),
        otlphttp::factory(),
        jaeger::factory(),
        prometheus::factory(),
        prometheusremotewrite::factory(),
        nop::factory(),
        loki::factory(),
        file::factory(),
        zipkin::factory(),
    ]
}
