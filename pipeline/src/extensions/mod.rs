//! Extensions owned by the runtime.

pub mod auth;
pub mod file_storage;
pub mod health_check;
pub mod memory_ballast;
pub mod pprof;
pub mod zpages;
