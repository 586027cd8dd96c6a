//! `pprof` extension: Go's `net/http/pprof` endpoints for Ferrotel (Go contrib
//! `extension/pprofextension`).
//!
//! Supported: `/debug/pprof/profile?seconds=N`, a CPU profile of the whole process in pprof
//! protobuf, gzipped as Go serves it (`go tool pprof`, Grafana Pyroscope and speedscope read
//! it); `/debug/pprof/cmdline`; and the index `/debug/pprof/`. The CPU profile is sampled by
//! the `pprof` crate (SIGPROF at 100 Hz, the Go runtime's rate) and symbolized in process.
//! Not supported: heap/allocs (Ferrotel runs on the system allocator, which keeps no
//! allocation profile), goroutine, block, mutex, threadcreate and trace (Go runtime notions);
//! those paths answer 404 naming what is available. `save_to_file` profiles the CPU from
//! start to shutdown, as Go does.

mod config;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
pub use config::{PprofConfig, DEFAULT_ENDPOINT};
use pipeline_api::{async_trait, BuildError, ComponentId, Extension, ExtensionFactory};
use pipeline_api::{declare, Meta, Stability};
use pprof::protos::Message;
use tokio_util::sync::CancellationToken;

use crate::server;

/// Samples per second, the Go runtime's CPU profiling rate.
pub const PROFILE_HZ: i32 = 100;

/// Go `net/http/pprof`: a missing, invalid or non-positive `seconds` means 30.
pub const DEFAULT_SECONDS: u64 = 30;

/// What `/debug/pprof/` lists: (name, description, supported).
pub const PROFILES: &[(&str, &str, bool)] = &[
    ("profile", "CPU profile. Add ?seconds=N (default 30). The response is a gzipped pprof protobuf: go tool pprof http://HOST/debug/pprof/profile?seconds=30", true),
    ("cmdline", "The command line of this process, arguments separated by NUL bytes.", true),
    ("heap", "Not available: Ferrotel uses the system allocator, which keeps no allocation profile. Watch otelcol_process_memory_rss instead.", false),
    ("allocs", "Not available, for the same reason as heap.", false),
    ("goroutine", "Not available: a Go runtime notion. Use a CPU profile, or zpages /debug/pipelinez for the graph.", false),
    ("block", "Not available (block_profile_fraction is accepted and ignored).", false),
    ("mutex", "Not available (mutex_profile_fraction is accepted and ignored).", false),
    ("threadcreate", "Not available: a Go runtime notion.", false),
    ("trace", "Not available: a Go runtime execution trace.", false),
];

pub const META: Meta = Meta::new("pprof").extension(Stability::Beta);

pub fn factory() -> Arc<dyn ExtensionFactory> {
    declare::extension::<PprofConfig>(META, |ctx, cfg| {
        let listener = server::bind(&cfg.endpoint, &format!("extensions::{}", ctx.id))?;
        let addr = listener.local_addr().ok();
        Ok(Arc::new(Pprof {
            id: ctx.id,
            addr,
            cfg: cfg.clone(),
            listener: Mutex::new(Some(listener)),
            token: CancellationToken::new(),
            task: Mutex::new(None),
            saver: Mutex::new(None),
        }))
    })
}

/// Why a CPU profile could not be taken.
#[derive(Debug)]
pub enum ProfileError {
    /// Another CPU profile is running (the profiler is process-wide).
    InUse,
    Failed(String),
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Go's text
            ProfileError::InUse => f.write_str("cpu profiling already in use"),
            ProfileError::Failed(e) => f.write_str(e),
        }
    }
}

/// Profile the CPU of the whole process while `wait` runs, and return the profile as Go
/// writes it: a gzipped pprof `Profile` protobuf. Blocking: call from a blocking thread.
/// `started` is called once the profiler runs (or failed to start), before `wait`.
pub fn cpu_profile(
    wait: impl FnOnce(),
    started: impl FnOnce(Result<(), &ProfileError>),
) -> Result<Vec<u8>, ProfileError> {
    let guard = match pprof::ProfilerGuardBuilder::default()
        .frequency(PROFILE_HZ)
        // unwinding inside these libraries from a signal handler can deadlock (pprof-rs docs)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
    {
        Ok(g) => g,
        Err(pprof::Error::Running) => {
            started(Err(&ProfileError::InUse));
            return Err(ProfileError::InUse);
        }
        Err(e) => {
            let e = ProfileError::Failed(format!("cannot start the CPU profiler: {e}"));
            started(Err(&e));
            return Err(e);
        }
    };
    started(Ok(()));
    wait();
    let report = guard
        .report()
        .build()
        .map_err(|e| ProfileError::Failed(format!("cannot build the CPU profile: {e}")))?;
    drop(guard);
    let profile = report
        .pprof()
        .map_err(|e| ProfileError::Failed(format!("cannot encode the CPU profile: {e}")))?;
    let mut encoded = Vec::with_capacity(profile.encoded_len());
    profile
        .encode(&mut encoded)
        .map_err(|e| ProfileError::Failed(format!("cannot encode the CPU profile: {e}")))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&encoded)
        .and_then(|_| gz.finish())
        .map_err(|e| ProfileError::Failed(format!("cannot compress the CPU profile: {e}")))
}

/// Sleep `duration`, waking early when `stop` fires.
fn wait_for(duration: Duration, stop: &CancellationToken) {
    let end = Instant::now() + duration;
    while !stop.is_cancelled() {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// `seconds` of a query string, as Go's `net/http/pprof` reads it.
pub fn seconds_param(query: Option<&str>) -> u64 {
    query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("seconds="))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|s| *s > 0)
        .map(|s| s as u64)
        .unwrap_or(DEFAULT_SECONDS)
}

fn text(code: StatusCode, body: String) -> Response {
    (
        code,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn profile(uri: Uri, stop: CancellationToken) -> Response {
    let seconds = seconds_param(uri.query());
    tracing::info!(seconds, "Taking a CPU profile");
    let result = tokio::task::spawn_blocking(move || {
        cpu_profile(|| wait_for(Duration::from_secs(seconds), &stop), |_| {})
    })
    .await;
    match result {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"profile\"",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Could not enable CPU profiling: {e}\n"),
        ),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("CPU profile failed: {e}\n"),
        ),
    }
}

async fn cmdline() -> Response {
    let args: Vec<String> = std::env::args().collect();
    text(StatusCode::OK, args.join("\0"))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `/debug/pprof/` page: what is served and what is not.
pub fn index_html() -> String {
    let mut rows = String::new();
    for (name, description, supported) in PROFILES {
        let link = if *supported {
            format!("<a href=\"{name}\">{name}</a>")
        } else {
            name.to_string()
        };
        rows.push_str(&format!(
            "<tr><td>{link}</td><td>{}</td><td>{}</td></tr>\n",
            if *supported { "yes" } else { "no" },
            html_escape(description)
        ));
    }
    format!(
        "<html>\n<head><title>/debug/pprof/</title></head>\n<body>\n/debug/pprof/\n<br>\n\
         <p>Ferrotel {}: profiles from the running process.</p>\n\
         <table>\n<thead><td>Profile</td><td>Available</td><td>Description</td></thead>\n{rows}</table>\n\
         </body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

async fn index() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        index_html(),
    )
        .into_response()
}

async fn unknown(uri: Uri) -> Response {
    let name = uri.path().trim_start_matches("/debug/pprof/");
    let available: Vec<&str> = PROFILES.iter().filter(|p| p.2).map(|p| p.0).collect();
    text(
        StatusCode::NOT_FOUND,
        format!(
            "Unknown profile: {name}. Ferrotel serves {} (see /debug/pprof/).\n",
            available.join(", ")
        ),
    )
}

/// The profile written to `save_to_file` at shutdown.
struct FileProfile {
    stop: CancellationToken,
    thread: std::thread::JoinHandle<()>,
}

pub struct Pprof {
    id: ComponentId,
    addr: Option<std::net::SocketAddr>,
    cfg: PprofConfig,
    listener: Mutex<Option<std::net::TcpListener>>,
    token: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    saver: Mutex<Option<FileProfile>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pprof {
    /// The address the endpoints listen on.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.addr
    }

    /// Start the whole-run CPU profile of `save_to_file` (Go creates the file at start, so a
    /// path that cannot be written fails the start).
    fn start_file_profile(&self) -> Result<(), BuildError> {
        let path = std::path::PathBuf::from(&self.cfg.save_to_file);
        let mut file = std::fs::File::create(&path).map_err(|e| {
            BuildError::new(format!(
                "save_to_file: cannot create {}: {e}",
                path.display()
            ))
        })?;
        let stop = CancellationToken::new();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let token = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pprof-save".into())
            .spawn(move || {
                let result = cpu_profile(
                    || {
                        while !token.is_cancelled() {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    },
                    |r| {
                        let _ = started_tx.send(r.map_err(|e| e.to_string()));
                    },
                );
                match result.map_err(|e| e.to_string()).and_then(|bytes| {
                    file.write_all(&bytes)
                        .and_then(|_| file.sync_all())
                        .map_err(|e| e.to_string())
                }) {
                    Ok(()) => tracing::info!(file = %path.display(), "CPU profile saved"),
                    Err(e) => {
                        tracing::error!(file = %path.display(), error = %e, "Cannot save the CPU profile")
                    }
                }
            })
            .map_err(|e| BuildError::new(format!("save_to_file: cannot start: {e}")))?;
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(BuildError::new(format!(
                    "save_to_file: could not enable CPU profiling: {e}"
                )));
            }
            Err(_) => {
                return Err(BuildError::new(
                    "save_to_file: the profiling thread stopped",
                ))
            }
        }
        *lock(&self.saver) = Some(FileProfile { stop, thread });
        Ok(())
    }
}

#[async_trait]
impl Extension for Pprof {
    async fn start(&self) -> Result<(), BuildError> {
        let Some(listener) = lock(&self.listener).take() else {
            return Err(BuildError::new("pprof started twice"));
        };
        for (key, value) in [
            ("block_profile_fraction", self.cfg.block_profile_fraction),
            ("mutex_profile_fraction", self.cfg.mutex_profile_fraction),
        ] {
            if value != 0 {
                tracing::info!(extension = %self.id, "{key} is accepted but has no effect: Ferrotel has no such profile");
            }
        }
        if !self.cfg.save_to_file.is_empty() {
            self.start_file_profile()?;
        }
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let stop = self.token.clone();
        let router = Router::new()
            .route("/debug/pprof", axum::routing::get(index))
            .route("/debug/pprof/", axum::routing::get(index))
            .route(
                "/debug/pprof/profile",
                axum::routing::get(move |uri: Uri| profile(uri, stop.clone())),
            )
            .route("/debug/pprof/cmdline", axum::routing::get(cmdline))
            .route("/debug/pprof/{name}", axum::routing::get(unknown));
        tracing::info!(extension = %self.id, endpoint = %addr, "Starting net/http/pprof server");
        *lock(&self.task) = Some(server::serve(listener, router, self.token.clone())?);
        Ok(())
    }

    async fn shutdown(&self) {
        self.token.cancel();
        let task = lock(&self.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
        let saver = lock(&self.saver).take();
        if let Some(s) = saver {
            s.stop.cancel();
            let _ = tokio::task::spawn_blocking(move || s.thread.join()).await;
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
