//! The collector's life: load, build, start, serve, reload on SIGHUP, drain on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::ConfigError;
use pipeline_api::memory;
use pipeline_api::telemetry::Telemetry;
use pipeline_api::MemoryBudget;
use tracing::{error, info, warn};

use crate::config::{self, Environment, Loaded, Plan};
use crate::graph::{Graph, Reloaded};
use crate::own_logs;
use crate::own_push::{self, PeriodicReader};
use crate::own_telemetry::{self, MetricsServer};
use crate::own_traces::{self, OwnTraces};
use crate::registry::Registry;

/// How long a shutdown may take before the components still running are named and left.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Options {
    pub configs: Vec<String>,
    pub sets: Vec<String>,
    pub version: String,
    /// `--memory-budget`: bytes with a unit, or a share of the memory limit (`10%`); `None`:
    /// `FERROTEL_MEMORY_BUDGET`, else [`MemoryBudget::default_limit`].
    pub memory_budget: Option<String>,
}

/// The environment variable read when `--memory-budget` is not given.
pub const MEMORY_BUDGET_ENV: &str = "FERROTEL_MEMORY_BUDGET";

/// The process-wide memory budget from the flag, the environment or the default.
pub fn memory_budget(flag: Option<&str>, env: &dyn Environment) -> Result<MemoryBudget, String> {
    let from_env = env.var(MEMORY_BUDGET_ENV).filter(|v| !v.trim().is_empty());
    let (text, origin) = match (flag, from_env.as_deref()) {
        (Some(f), _) => (f.to_string(), "--memory-budget"),
        (None, Some(e)) => (e.to_string(), MEMORY_BUDGET_ENV),
        (None, None) => return Ok(MemoryBudget::new(MemoryBudget::default_limit())),
    };
    memory::parse_size(&text, memory::memory_limit)
        .map(MemoryBudget::new)
        .map_err(|e| format!("{origin}: {e}"))
}

/// Print every config error with its path, as `validate` and start-up do.
pub fn format_errors(errors: &[ConfigError]) -> String {
    let mut out = format!(
        "Error: invalid configuration ({} problem{}):\n",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for e in errors {
        out.push_str(&format!("  {e}\n"));
    }
    out
}

/// The `validate` subcommand: 0 when the config is valid, 1 otherwise (errors on stderr).
pub fn validate(opts: &Options, env: &dyn Environment, registry: &Registry) -> i32 {
    match config::load(&opts.configs, &opts.sets, env, registry) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("Warning: {w}");
            }
            // one line on success (Go prints nothing): what would run
            let plan = &loaded.plan;
            let list = |ids: Vec<String>| {
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            };
            let pipelines: Vec<String> = plan.pipelines.keys().map(|p| p.to_string()).collect();
            let used = |ids: Vec<String>| {
                let set: std::collections::BTreeSet<String> = ids.into_iter().collect();
                list(set.into_iter().collect())
            };
            let of = |pick: &dyn Fn(&config::PipelinePlan) -> Vec<String>| {
                used(plan.pipelines.values().flat_map(pick).collect())
            };
            println!(
                "Config is valid: {} pipeline(s) ({}); receivers: {}; processors: {}; exporters: {}; extensions: {}",
                pipelines.len(),
                list(pipelines.clone()),
                of(&|p| p.receivers.iter().map(|c| c.to_string()).collect()),
                of(&|p| p.processors.iter().map(|c| c.to_string()).collect()),
                of(&|p| p.exporters.iter().map(|c| c.to_string()).collect()),
                list(plan.service_extensions.iter().map(|c| c.to_string()).collect()),
            );
            0
        }
        Err(errors) => {
            eprint!("{}", format_errors(&errors));
            1
        }
    }
}

/// The `print-config` subcommand.
pub fn print_config(
    opts: &Options,
    env: &dyn Environment,
    registry: &Registry,
    redacted: bool,
    json: bool,
) -> i32 {
    match config::load(&opts.configs, &opts.sets, env, registry) {
        Ok(loaded) => {
            let tree = if redacted {
                config::redact(&loaded.tree)
            } else {
                loaded.tree
            };
            let text = if json {
                serde_json::to_string_pretty(&tree).unwrap_or_default() + "\n"
            } else {
                serde_yaml_ng::to_string(&tree).unwrap_or_default()
            };
            print!("{text}");
            0
        }
        Err(errors) => {
            eprint!("{}", format_errors(&errors));
            1
        }
    }
}

struct Running {
    graph: Graph,
    metrics: Option<MetricsServer>,
    push: Pushers,
}

/// What pushes the collector's own telemetry out: periodic metric readers and the
/// own-traces export.
struct Pushers {
    readers: Vec<PeriodicReader>,
    traces: OwnTraces,
}

/// Start the plan's periodic readers (own metrics pushed over OTLP) and its own-traces
/// export.
fn push_readers(plan: &Plan, telemetry: &Arc<Telemetry>, version: &str) -> Pushers {
    let resource = own_telemetry::resource_attributes(&plan.service.telemetry, version);
    let readers = plan
        .service
        .telemetry
        .metrics
        .readers
        .iter()
        .filter_map(|r| r.periodic.as_ref())
        .filter_map(|p| own_push::parse(p).ok())
        .map(|cfg| PeriodicReader::start(&cfg, telemetry.clone(), resource.clone()))
        .collect();
    let traces = own_traces::parse(&plan.service.telemetry.traces).unwrap_or_default();
    Pushers {
        readers,
        traces: OwnTraces::start(&traces, telemetry.clone(), resource),
    }
}

async fn stop_push(push: Pushers) {
    for r in push.readers {
        r.stop().await;
    }
    push.traces.stop().await;
}

/// The own-metrics server a plan asks for: the running one if its address did not change.
async fn metrics_server(
    plan: &Plan,
    telemetry: &Arc<Telemetry>,
    running: Option<MetricsServer>,
    version: &str,
) -> Result<Option<MetricsServer>, String> {
    let wanted = plan.service.telemetry.metrics.pull_address();
    match (running, &wanted) {
        (Some(m), Some(w)) if m.address == *w || addresses_same(&m.address, w) => Ok(Some(m)),
        (old, _) => {
            if let Some(m) = old {
                m.stop().await;
            }
            match &wanted {
                Some(addr) => Ok(Some(
                    MetricsServer::start(addr, telemetry.clone(), &plan.service.telemetry, version)
                        .map_err(|e| e.to_string())?,
                )),
                None => Ok(None),
            }
        }
    }
}

async fn start(
    plan: &Plan,
    telemetry: &Arc<Telemetry>,
    memory: &MemoryBudget,
    version: &str,
) -> Result<Running, String> {
    let metrics = metrics_server(plan, telemetry, None, version).await?;
    let push = push_readers(plan, telemetry, version);
    let graph = match Graph::start_plan(plan, telemetry, memory, SHUTDOWN_TIMEOUT).await {
        Ok(g) => g,
        Err(e) => {
            stop_push(push).await;
            return Err(e);
        }
    };
    Ok(Running {
        graph,
        metrics,
        push,
    })
}

fn addresses_same(bound: &str, wanted: &str) -> bool {
    // `localhost:8888` binds as `127.0.0.1:8888`: compare ports and let a rebind decide
    bound.rsplit(':').next() == wanted.rsplit(':').next() && wanted.rsplit(':').next() != Some("0")
}

/// Run until SIGTERM/SIGINT. Returns the process exit code.
pub async fn run(
    opts: Options,
    env: Box<dyn Environment + Send + Sync>,
    registry: Registry,
) -> i32 {
    let loaded: Loaded = match config::load(&opts.configs, &opts.sets, &*env, &registry) {
        Ok(l) => l,
        Err(errors) => {
            eprint!("{}", format_errors(&errors));
            return 1;
        }
    };
    let memory = match memory_budget(opts.memory_budget.as_deref(), &*env) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let log_resource =
        own_telemetry::resource_attributes(&loaded.plan.service.telemetry, &opts.version);
    if let Err(e) = own_logs::init_logs(&loaded.plan.service.telemetry.logs, &log_resource) {
        eprintln!("Error: {e}");
        return 1;
    }
    for w in &loaded.warnings {
        warn!("{w}");
    }
    info!(version = %opts.version, "Starting ferrotel");
    info!(
        memory_budget_bytes = memory.limit(),
        "Memory budget for buffered data (batch processors and in-memory sending queues)"
    );
    let telemetry = Telemetry::new(loaded.plan.service.telemetry.metrics.level);
    let mut plan = loaded.plan;
    let mut running = match start(&plan, &telemetry, &memory, &opts.version).await {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "Cannot start the collector");
            return 1;
        }
    };
    info!("Everything is ready. Begin running and processing data.");

    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut term, mut int, mut hup) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(t), Ok(i), Ok(h)) => (t, i, h),
            _ => {
                error!("Cannot install signal handlers");
                return 1;
            }
        };
        loop {
            tokio::select! {
                _ = term.recv() => { info!("Received signal from OS: terminated"); break; }
                _ = int.recv() => { info!("Received signal from OS: interrupt"); break; }
                _ = hup.recv() => {
                    info!("Received SIGHUP: reloading the config");
                    match config::load(&opts.configs, &opts.sets, &*env, &registry) {
                        Err(errors) => {
                            error!(
                                errors = %format_errors(&errors).trim_end(),
                                "Config reload failed; the running config stays in place"
                            );
                        }
                        Ok(new) => {
                            for w in &new.warnings {
                                warn!("{w}");
                            }
                            let Running { graph, metrics, push } = running;
                            stop_push(push).await;
                            let metrics = match metrics_server(&new.plan, &telemetry, metrics, &opts.version).await {
                                Ok(m) => m,
                                Err(e) => {
                                    error!(error = %e, "Cannot serve the own metrics at the new address");
                                    None
                                }
                            };
                            match graph.reload(&plan, &new.plan, SHUTDOWN_TIMEOUT).await {
                                Reloaded::New(graph, summary) => {
                                    let push = push_readers(&new.plan, &telemetry, &opts.version);
                                    running = Running { graph, metrics, push };
                                    plan = new.plan;
                                    info!(%summary, "Config reloaded. Everything is ready.");
                                }
                                Reloaded::Previous(graph, e) => {
                                    error!(error = %e, "Cannot start the new config; the previous one runs again");
                                    let push = push_readers(&plan, &telemetry, &opts.version);
                                    running = Running { graph, metrics, push };
                                }
                                Reloaded::Failed(e) => {
                                    error!(error = %e, "Cannot start the new config, nor the previous one");
                                    if let Some(m) = metrics {
                                        m.stop().await;
                                    }
                                    return 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }

    info!("Starting shutdown...");
    let missed = running.graph.shutdown(SHUTDOWN_TIMEOUT).await;
    stop_push(running.push).await;
    if let Some(m) = running.metrics {
        m.stop().await;
    }
    if missed.is_empty() {
        0
    } else {
        1
    }
}
