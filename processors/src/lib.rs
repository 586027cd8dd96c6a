//! Ferrotel's processors, one folder per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ProcessorFactory;

pub mod batch;
pub mod memory_limiter;

/// Every processor factory of this crate.
pub fn factories() -> Vec<Arc<dyn ProcessorFactory>> {
    vec![
        Arc::new(batch::BatchFactory),
        Arc::new(memory_limiter::MemoryLimiterFactory::default()),
    ]
}
