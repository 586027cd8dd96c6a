//! Extensions owned by the runtime.

pub mod file_storage;
pub mod health_check;
pub mod pprof;
pub mod zpages;
