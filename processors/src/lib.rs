//! Ferrotel's processors, one folder per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ProcessorFactory;

pub mod attraction;
pub mod attributes;
pub mod batch;
pub mod filter;
pub mod memory_limiter;
pub mod probabilistic_sampler;
pub mod resource;
pub mod tail_sampling;
#[cfg(test)]
mod testutil;

/// Every processor factory of this crate.
pub fn factories() -> Vec<Arc<dyn ProcessorFactory>> {
    vec![
        Arc::new(batch::BatchFactory),
        Arc::new(memory_limiter::MemoryLimiterFactory::default()),
        Arc::new(attributes::AttributesFactory),
        Arc::new(resource::ResourceFactory),
        Arc::new(probabilistic_sampler::ProbabilisticSamplerFactory),
        Arc::new(tail_sampling::TailSamplingFactory),
    ]
}
