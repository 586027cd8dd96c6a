//! `zpages` extension (Go `extension/zpagesextension`): live pages about the running
//! collector.
//!
//! - `/debug/servicez`: build (version, target), runtime (start time, uptime, pid) and a
//!   summary of the running config (components per kind, pipelines).
//! - `/debug/pipelinez`: the running graph, one drawing per pipeline (receivers → processors
//!   → exporters), each component with its item count, errors and rates over the last minute
//!   read from Ferrotel's own metrics.
//!
//! Both answer JSON with `?format=json`. The graph comes from the runtime through
//! `Extension::graph_ready`, so the pages show what runs, not what a file says.

mod config;
pub mod model;
pub mod render;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
pub use config::{ZPagesConfig, DEFAULT_ENDPOINT};
use pipeline_api::telemetry::Telemetry;
use pipeline_api::{async_trait, BuildError, ComponentId, Extension, ExtensionFactory, GraphInfo};
use pipeline_api::{declare, Meta, Stability};
use tokio_util::sync::CancellationToken;

use crate::server;
use model::{RateKeeper, Values};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// When the first zpages of this process was built: the collector's start, kept across
/// reloads (which rebuild the extension).
fn process_start() -> (SystemTime, Instant) {
    static START: OnceLock<(SystemTime, Instant)> = OnceLock::new();
    *START.get_or_init(|| (SystemTime::now(), Instant::now()))
}

pub const META: Meta = Meta::new("zpages").extension(Stability::Beta);

pub fn factory() -> Arc<dyn ExtensionFactory> {
    declare::extension::<ZPagesConfig>(META, |ctx, cfg| {
        let listener = server::bind(&cfg.endpoint, &format!("extensions::{}", ctx.id))?;
        let addr = listener.local_addr().ok();
        process_start();
        Ok(Arc::new(ZPages {
            id: ctx.id,
            addr,
            state: Arc::new(State {
                telemetry: ctx.telemetry.telemetry().clone(),
                graph: Mutex::new(None),
                rates: Mutex::new(RateKeeper::default()),
            }),
            listener: Mutex::new(Some(listener)),
            token: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        }))
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the pages read.
pub struct State {
    telemetry: Arc<Telemetry>,
    graph: Mutex<Option<GraphInfo>>,
    rates: Mutex<RateKeeper>,
}

impl State {
    fn graph(&self) -> GraphInfo {
        lock(&self.graph).clone().unwrap_or_default()
    }

    fn values(&self) -> Values {
        Values::new(self.telemetry.registry().gather())
    }

    fn sample(&self) {
        let Some(graph) = lock(&self.graph).clone() else {
            return;
        };
        let values = self.values();
        lock(&self.rates).record(&graph, &values, Instant::now());
    }

    /// The `/debug/pipelinez` data.
    pub fn pipelinez(&self) -> model::Pipelinez {
        let graph = self.graph();
        let values = self.values();
        let rates = lock(&self.rates);
        model::pipelinez(&graph, &values, &rates, Instant::now(), VERSION)
    }

    /// The `/debug/servicez` data.
    pub fn servicez(&self) -> serde_json::Value {
        let graph = self.graph();
        let (wall, mono) = process_start();
        let mut receivers = Vec::new();
        let mut processors = Vec::new();
        let mut exporters = Vec::new();
        for p in &graph.pipelines {
            receivers.extend(p.receivers.iter().map(ToString::to_string));
            processors.extend(p.processors.iter().map(ToString::to_string));
            exporters.extend(p.exporters.iter().map(ToString::to_string));
        }
        for list in [&mut receivers, &mut processors, &mut exporters] {
            list.sort();
            list.dedup();
        }
        serde_json::json!({
            "command": "ferrotel",
            "description": "Ferrotel, an OpenTelemetry Collector distribution in Rust",
            "version": VERSION,
            "target": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
            "start_time": server::rfc3339_nanos(wall),
            "uptime": pipeline_api::config::format_go_duration(
                std::time::Duration::from_secs(mono.elapsed().as_secs())
            ),
            "uptime_seconds": mono.elapsed().as_secs_f64(),
            "pid": std::process::id(),
            "config": {
                "receivers": receivers,
                "processors": processors,
                "exporters": exporters,
                "extensions": graph.extensions.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "pipelines": graph.pipelines.iter().map(|p| serde_json::json!({
                    "id": p.id.to_string(),
                    "receivers": p.receivers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "processors": p.processors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "exporters": p.exporters.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            },
        })
    }
}

fn wants_json(uri: &Uri) -> bool {
    uri.query()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "format=json")
}

fn json_response(value: &impl serde::Serialize) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(value).unwrap_or_default(),
    )
        .into_response()
}

fn html_response(html: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

async fn servicez(uri: Uri, state: Arc<State>) -> Response {
    let s = state.servicez();
    if wants_json(&uri) {
        json_response(&s)
    } else {
        html_response(render::servicez_html(&s))
    }
}

async fn pipelinez(uri: Uri, state: Arc<State>) -> Response {
    let z = state.pipelinez();
    if wants_json(&uri) {
        json_response(&z)
    } else {
        html_response(render::pipelinez_html(&z))
    }
}

pub struct ZPages {
    id: ComponentId,
    addr: Option<std::net::SocketAddr>,
    state: Arc<State>,
    listener: Mutex<Option<std::net::TcpListener>>,
    token: CancellationToken,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl ZPages {
    /// The address the pages listen on.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.addr
    }

    /// What the pages show (for tests and tools).
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }
}

#[async_trait]
impl Extension for ZPages {
    async fn start(&self) -> Result<(), BuildError> {
        let Some(listener) = lock(&self.listener).take() else {
            return Err(BuildError::new("zpages started twice"));
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let (s1, s2) = (self.state.clone(), self.state.clone());
        let router = Router::new()
            .route(
                "/debug/servicez",
                axum::routing::get(move |uri: Uri| servicez(uri, s1.clone())),
            )
            .route(
                "/debug/pipelinez",
                axum::routing::get(move |uri: Uri| pipelinez(uri, s2.clone())),
            );
        tracing::info!(extension = %self.id, endpoint = %addr, "Starting zPages extension: /debug/servicez, /debug/pipelinez");
        let server = server::serve(listener, router, self.token.clone())?;
        let state = self.state.clone();
        let token = self.token.clone();
        let sampler = tokio::spawn(async move {
            let mut tick = tokio::time::interval(model::SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tick.tick() => state.sample(),
                }
            }
        });
        lock(&self.tasks).extend([server, sampler]);
        Ok(())
    }

    fn graph_ready(&self, graph: &GraphInfo) {
        *lock(&self.state.graph) = Some(graph.clone());
        self.state.sample();
    }

    async fn shutdown(&self) {
        self.token.cancel();
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        for t in tasks {
            let _ = t.await;
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
