//! Ferrotel's connectors, one folder per component: each is an exporter at the end of some
//! pipelines and a receiver at the start of others.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ConnectorFactory;

mod common;
pub mod count;
pub mod expohisto;
pub mod forward;
mod periodic;
pub mod routing;
pub mod servicegraph;
pub mod spanmetrics;

/// Every connector factory of this crate.
pub fn factories() -> Vec<Arc<dyn ConnectorFactory>> {
    vec![
        forward::factory(),
        spanmetrics::factory(),
        servicegraph::factory(),
        count::factory(),
        routing::factory(),
    ]
}
