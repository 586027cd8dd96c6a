//! Ferrotel's exporters, one folder per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ExporterFactory;

pub mod debug;

/// Every exporter factory of this crate.
pub fn factories() -> Vec<Arc<dyn ExporterFactory>> {
    vec![Arc::new(debug::DebugFactory)]
}
