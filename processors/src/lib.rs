//! Ferrotel's processors, one folder per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ProcessorFactory;

pub mod attraction;
pub mod attributes;
pub mod batch;
pub mod filter;
pub mod filterprocessor;
pub mod k8sattributes;
pub mod memory_limiter;
pub mod probabilistic_sampler;
pub mod resource;
pub mod resourcedetection;
pub mod tail_sampling;
#[cfg(test)]
mod testutil;
pub mod transform;

/// Every processor factory of this crate.
pub fn factories() -> Vec<Arc<dyn ProcessorFactory>> {
    vec![
        batch::factory(),
        memory_limiter::factory(),
        attributes::factory(),
        resource::factory(),
        resourcedetection::factory(),
        probabilistic_sampler::factory(),
        tail_sampling::factory(),
        transform::factory(),
        filterprocessor::factory(),
        k8sattributes::factory(),
    ]
}
