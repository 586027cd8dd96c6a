//! The `ferrotel` distribution: the registry of every component this build contains. The
//! binary (`src/main.rs`) runs it; the conformance suite (`tests/e2e/conformance.rs`) checks
//! every entry of it against the component contract.
#![forbid(unsafe_code)]

use pipeline::Registry;

/// Every component factory of this build.
pub fn registry() -> Registry {
    Registry {
        receivers: receivers::factories(),
        processors: processors::factories(),
        exporters: exporters::factories(),
        connectors: connectors::factories(),
        extensions: vec![
            pipeline::extensions::health_check::factory(),
            pipeline::extensions::auth::basicauth::factory(),
            pipeline::extensions::auth::bearertokenauth::factory(),
            pipeline::extensions::file_storage::factory(),
            pipeline::extensions::memory_ballast::factory(),
            pipeline::extensions::pprof::factory(),
            pipeline::extensions::zpages::factory(),
        ],
    }
}
