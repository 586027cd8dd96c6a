//! Extensions owned by the runtime.

pub mod health_check;
