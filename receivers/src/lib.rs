//! Ferrotel's receivers, one module per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ReceiverFactory;

pub mod filelog;
pub mod nop;
pub mod otlp;

/// Every receiver factory of this crate, for the registry.
pub fn factories() -> Vec<Arc<dyn ReceiverFactory>> {
    vec![
        Arc::new(otlp::OtlpReceiverFactory),
        Arc::new(filelog::FileLogReceiverFactory),
        Arc::new(nop::NopReceiverFactory),
    ]
}
