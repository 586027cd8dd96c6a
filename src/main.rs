//! `ferrotel`: parse the command line, build the registry of every component, hand over to
//! the runtime.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pipeline::config::ProcessEnv;
use pipeline::service::{self, Options};
use pipeline::Registry;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Ferrotel: an OpenTelemetry Collector distribution in Rust.
///
/// Run with no --config to use the embedded default config (OTLP gRPC 4317 and HTTP 4318 →
/// batch → debug; health check on 13133; own metrics on 8888).
#[derive(Parser, Debug)]
#[command(name = "ferrotel", version, about, long_about = None)]
struct Cli {
    /// Locations of the config, merged in order: a file path, `file:PATH`, `env:VAR` or
    /// `yaml:key::sub: value`. Repeat the flag for several.
    #[arg(long = "config", global = true, value_name = "URI")]
    config: Vec<String>,

    /// Set a config property, applied after every --config, e.g.
    /// `--set=processors.batch.timeout=2s`.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,

    /// Accepted for compatibility with the Go collector; Ferrotel has no feature gates yet.
    #[arg(long = "feature-gates", global = true, value_name = "GATES")]
    feature_gates: Vec<String>,

    /// Bound on the data held in memory on its way through (batch buffers and in-memory
    /// sending queues together), e.g. `256MiB` or `10%` of the memory limit. Default:
    /// `FERROTEL_MEMORY_BUDGET`, else a quarter of the cgroup (or machine) memory limit,
    /// between 16 MiB and 256 MiB.
    #[arg(long = "memory-budget", global = true, value_name = "SIZE")]
    memory_budget: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate the config (parse, resolve, check the whole graph) without starting anything.
    Validate,
    /// List the components this build contains.
    Components,
    /// Print the resolved config.
    PrintConfig {
        /// `redacted` (default) hides headers, passwords and tokens.
        #[arg(long, default_value = "redacted", value_parser = ["redacted", "unredacted"])]
        mode: String,
        /// `yaml` or `json`.
        #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
        format: String,
    },
    /// Exit 0 if the health_check endpoint answers 200 (for Compose `healthcheck:`).
    Healthcheck {
        #[arg(long, default_value = "http://localhost:13133/")]
        endpoint: String,
    },
}

fn registry() -> Registry {
    Registry {
        receivers: receivers::factories(),
        processors: processors::factories(),
        exporters: exporters::factories(),
        extensions: vec![
            pipeline::extensions::health_check::factory(),
            pipeline::extensions::file_storage::factory(),
            pipeline::extensions::pprof::factory(),
            pipeline::extensions::zpages::factory(),
        ],
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.feature_gates.is_empty() {
        eprintln!(
            "Warning: --feature-gates is accepted and ignored: Ferrotel has no feature gates"
        );
    }
    let opts = Options {
        configs: cli.config,
        sets: cli.set,
        version: VERSION.to_string(),
        memory_budget: cli.memory_budget,
    };
    let registry = registry();
    match cli.command {
        Some(Command::Validate) => exit(service::validate(&opts, &ProcessEnv, &registry)),
        Some(Command::Components) => {
            print!("{}", registry.components_yaml(VERSION));
            ExitCode::SUCCESS
        }
        Some(Command::PrintConfig { mode, format }) => exit(service::print_config(
            &opts,
            &ProcessEnv,
            &registry,
            mode == "redacted",
            format == "json",
        )),
        Some(Command::Healthcheck { endpoint }) => exit(healthcheck(&endpoint)),
        None => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("Error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let code = runtime.block_on(service::run(opts, Box::new(ProcessEnv), registry));
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            exit(code)
        }
    }
}

/// GET the health endpoint; 0 on HTTP 200. Plain HTTP/1.1 over TCP: the image has no shell
/// or curl, and this needs nothing else.
fn healthcheck(endpoint: &str) -> i32 {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let Some(rest) = endpoint.strip_prefix("http://") else {
        eprintln!("healthcheck: endpoint must start with http:// (got {endpoint:?})");
        return 2;
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let hostport = if hostport.contains(':') && !hostport.ends_with(']') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let addr = match hostport.to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(a) => a,
        None => {
            eprintln!("healthcheck: cannot resolve {hostport}");
            return 1;
        }
    };
    let result = (|| -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    })();
    match result {
        Ok(resp) => {
            let status = resp.split_whitespace().nth(1).unwrap_or("");
            if status == "200" {
                0
            } else {
                eprintln!("healthcheck: {endpoint} answered {status}");
                1
            }
        }
        Err(e) => {
            eprintln!("healthcheck: {endpoint}: {e}");
            1
        }
    }
}
