//! The contract every Ferrotel component implements: identifiers, the [`Batch`] that flows
//! through a pipeline, the [`Consumer`] edge, component traits and factories, config parsing
//! helpers and the per-component telemetry handle. Kept small: editing it recompiles everything.
#![forbid(unsafe_code)]

pub mod attrs;
pub mod auth;
mod batch;
pub mod component;
pub mod config;
pub mod declare;
mod encode;
mod error;
pub mod fanout;
pub mod heap;
mod ids;
pub mod memory;
pub mod metric;
pub mod own_spans;
pub mod pending;
pub mod storage;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wire;
pub mod wire_edit;
pub mod wire_items;
mod wire_split;

pub use batch::{Batch, BatchData, BatchDataMut, DataIdentity, RequestContext};
pub use component::*;
pub use declare::{Meta, Stability};
pub use error::{BuildError, ConsumeError, ErrorKind};
pub use ids::{ComponentId, ComponentKind, IdError, PipelineId, Signal};
pub use memory::{MemoryBudget, MemoryPermit};
pub use opentelemetry_proto as proto;
/// The metric handle types a component gets from its `ComponentTelemetry`.
pub use prometheus::{Histogram, IntCounter, IntGauge};
pub use tokio_util::sync::CancellationToken;

/// Re-exported so components name the same trait the runtime does.
pub use async_trait::async_trait;
