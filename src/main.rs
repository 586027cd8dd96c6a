//! `ferrotel`: parse the command line, build the registry of every component, hand over to
//! the runtime.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferrotel::registry;
use pipeline::config::ProcessEnv;
use pipeline::service::{self, Options};
use pipeline::Registry;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// mimalloc instead of glibc's malloc: decoding and editing requests and parsing log lines
/// allocate many small strings and lists per item, and glibc's allocator (with its free-list
/// consolidation) took about a third of the CPU of a `transform` pipeline. Measured in
/// bench/README.md ("mimalloc").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

    /// Comma-separated feature gate ids to enable (`id` or `+id`) or disable (`-id`), as the
    /// Go collector's; see docs/configuration.md for those Ferrotel knows.
    #[arg(long = "feature-gates", global = true, value_name = "GATES")]
    feature_gates: Vec<String>,

    /// Bound on the data held in memory on its way through (batch buffers and in-memory
    /// sending queues together), e.g. `256MiB` or `10%` of the memory limit. Default:
    /// `FERROTEL_MEMORY_BUDGET`, else a quarter of the cgroup memory limit (at least 16 MiB;
    /// without a limit, a quarter of the machine's memory, at most 64 MiB).
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
    /// Exit 0 if the health_check endpoint answers 200 (for Compose `healthcheck:`). The
    /// endpoint is, in order: --endpoint; the health_check extension of the --config given;
    /// http://localhost:13133/.
    Healthcheck {
        #[arg(long)]
        endpoint: Option<String>,
    },
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match pipeline::feature_gates::apply(&cli.feature_gates) {
        Ok(warnings) => {
            for w in warnings {
                eprintln!("Warning: {w}");
            }
        }
        Err(errors) => {
            for e in errors {
                eprintln!("Error: {e}");
            }
            return ExitCode::from(1);
        }
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
        Some(Command::Healthcheck { endpoint }) => {
            let endpoint = match endpoint {
                Some(e) => e,
                None if opts.configs.is_empty() && opts.sets.is_empty() => {
                    DEFAULT_HEALTH_ENDPOINT.to_string()
                }
                None => match health_endpoint_of(&opts, &registry) {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("healthcheck: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            exit(healthcheck(&endpoint))
        }
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

const DEFAULT_HEALTH_ENDPOINT: &str = "http://localhost:13133/";

/// The URL of the config's health_check extension (the first one `service.extensions`
/// lists), as a client reaches it from the same host: a wildcard or empty host is
/// `localhost`. Without one in the config, the default endpoint.
fn health_endpoint_of(opts: &Options, registry: &Registry) -> Result<String, String> {
    use pipeline::extensions::health_check::HealthCheckConfig;
    let loaded = pipeline::config::load(&opts.configs, &opts.sets, &ProcessEnv, registry).map_err(
        |errors| {
            let n = errors.len();
            let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
            format!("the config is invalid ({n} error(s); first: {first}); run `ferrotel validate`")
        },
    )?;
    let plan = &loaded.plan;
    for id in &plan.service_extensions {
        let Some(planned) = plan.extensions.get(id) else {
            continue;
        };
        if planned.factory.type_name() != "health_check" {
            continue;
        }
        let Ok(cfg) = pipeline_api::config_as::<HealthCheckConfig>(planned.config.as_ref()) else {
            continue;
        };
        if !cfg.tls.is_null() {
            return Err(format!(
                "extensions::{id} serves TLS; give the URL with --endpoint=https://... (not supported by this check)"
            ));
        }
        return Ok(health_url(&cfg.endpoint, &cfg.path));
    }
    Ok(DEFAULT_HEALTH_ENDPOINT.to_string())
}

/// `host:port` as the server binds it → the URL a local client uses.
fn health_url(endpoint: &str, path: &str) -> String {
    let endpoint = if endpoint.contains(':') {
        endpoint.to_string()
    } else {
        format!("{endpoint}:13133")
    };
    format!(
        "http://{}{path}",
        transport::net::local_dial_address(&endpoint)
    )
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
    let addrs: Vec<_> = match hostport.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => Vec::new(),
    };
    if addrs.is_empty() {
        eprintln!("healthcheck: cannot resolve {hostport}");
        return 1;
    }
    let result = (|| -> std::io::Result<String> {
        // `localhost` may resolve to ::1 and 127.0.0.1 while the server listens on one
        let mut last = None;
        let mut stream = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, Duration::from_secs(5)) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(mut s) = stream else {
            return Err(last.unwrap_or_else(|| std::io::Error::other("no address")));
        };
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

#[cfg(test)]
mod tests {
    /// `src/startup.order` names functions by their mangled symbols, whose crate hashes
    /// change with the dependency graph: one dependency added to one crate renamed most of
    /// start-up's functions, and idle RSS went from 7.6 to 14 MB with nothing to show it.
    /// The list records the Cargo.lock it was made for.
    #[test]
    fn the_startup_layout_was_made_for_this_cargo_lock() {
        use sha2::Digest;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let list = std::fs::read_to_string(root.join("src/startup.order")).unwrap();
        let lock = std::fs::read(root.join("Cargo.lock")).unwrap();
        let digest: String = sha2::Sha256::digest(&lock)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let recorded = list
            .lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.strip_prefix("# Cargo.lock sha256 "));
        assert_eq!(
            recorded,
            Some(digest.as_str()),
            "Cargo.lock changed since src/startup.order was made, so most of its names no \
             longer match the release binary's (idle RSS about 14 MB instead of 8): \
             regenerate it with bench/startup-order/generate.sh (its header says how)"
        );
    }

    #[test]
    fn health_urls_reach_wildcard_hosts_on_localhost() {
        let url = super::health_url;
        assert_eq!(url("0.0.0.0:13133", "/"), "http://localhost:13133/");
        assert_eq!(url(":13133", "/"), "http://localhost:13133/");
        assert_eq!(url("[::]:8080", "/x"), "http://localhost:8080/x");
        assert_eq!(url("127.0.0.1:1", "/"), "http://127.0.0.1:1/");
        assert_eq!(url("[::1]:1", "/"), "http://[::1]:1/");
        assert_eq!(url("otel:13133", "/health"), "http://otel:13133/health");
    }
}
