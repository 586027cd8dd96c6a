//! `health_check` extension: HTTP 200 with a JSON status while the pipelines run, 503 while
//! starting or shutting down (Go `extension/healthcheckextension`, legacy HTTP mode).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use pipeline_api::config::{ConfigValue, Validate};
use pipeline_api::{async_trait, BuildError, ComponentConfig, Extension, ExtensionFactory};
use pipeline_api::{declare, Meta, Stability};
use serde::Deserialize;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::server;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Go default `localhost:13133`.
    pub endpoint: String,
    /// Go default `/`.
    pub path: String,
    pub response_body: Option<ResponseBody>,
    pub check_collector_pipeline: ConfigValue,
    pub tls: ConfigValue,
    pub cors: ConfigValue,
    pub auth: ConfigValue,
    pub include_metadata: bool,
    pub max_request_body_size: Option<u64>,
    pub response_headers: ConfigValue,
    pub use_v2: bool,
    pub http: ConfigValue,
    pub grpc: ConfigValue,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseBody {
    pub healthy: String,
    pub unhealthy: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            path: "/".into(),
            response_body: None,
            check_collector_pipeline: ConfigValue::Null,
            tls: ConfigValue::Null,
            cors: ConfigValue::Null,
            auth: ConfigValue::Null,
            include_metadata: false,
            max_request_body_size: None,
            response_headers: ConfigValue::Null,
            use_v2: false,
            http: ConfigValue::Null,
            grpc: ConfigValue::Null,
        }
    }
}

impl Validate for HealthCheckConfig {
    fn validate(&self) -> Vec<pipeline_api::config::ConfigError> {
        let mut errors = Vec::new();
        if !self.path.starts_with('/') {
            errors.push(pipeline_api::config::ConfigError::new(
                &["path"],
                "must start with '/'",
            ));
        }
        errors
    }
}

impl ComponentConfig for HealthCheckConfig {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        vec![("endpoint".into(), self.endpoint.clone())]
    }
}

pub const META: Meta = Meta::new("health_check").extension(Stability::Alpha);

pub fn factory() -> Arc<dyn ExtensionFactory> {
    declare::extension::<HealthCheckConfig>(META, |_ctx, cfg| {
        let listener = server::bind(&cfg.endpoint, "extensions::health_check")?;
        Ok(Arc::new(HealthCheck {
            state: Arc::new(State {
                ready: AtomicBool::new(false),
                since: Mutex::new(None),
            }),
            cfg: cfg.clone(),
            listener: Mutex::new(Some(listener)),
            token: CancellationToken::new(),
            task: Mutex::new(None),
        }))
    })
}

struct State {
    ready: AtomicBool,
    since: Mutex<Option<(SystemTime, Instant)>>,
}

pub struct HealthCheck {
    state: Arc<State>,
    cfg: HealthCheckConfig,
    listener: Mutex<Option<std::net::TcpListener>>,
    token: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl HealthCheck {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn status(state: Arc<State>, body: Option<ResponseBody>) -> impl IntoResponse {
    let ready = state.ready.load(Ordering::SeqCst);
    let since = *HealthCheck::lock(&state.since);
    let (code, text) = match (ready, &body) {
        (true, Some(b)) if !b.healthy.is_empty() => (StatusCode::OK, b.healthy.clone()),
        (false, Some(b)) if !b.unhealthy.is_empty() => (StatusCode::SERVICE_UNAVAILABLE, b.unhealthy.clone()),
        (true, _) => {
            let (wall, mono) = since.unwrap_or((SystemTime::now(), Instant::now()));
            (
                StatusCode::OK,
                serde_json::json!({
                    "status": "Server available",
                    "upSince": server::rfc3339_nanos(wall),
                    "uptime": pipeline_api::config::format_go_duration(mono.elapsed()),
                })
                .to_string(),
            )
        }
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "Server not available", "upSince": "0001-01-01T00:00:00Z", "uptime": ""})
                .to_string(),
        ),
    };
    (
        code,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
}

#[async_trait]
impl Extension for HealthCheck {
    async fn start(&self) -> Result<(), BuildError> {
        let Some(listener) = Self::lock(&self.listener).take() else {
            return Err(BuildError::new("health_check started twice"));
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let state = self.state.clone();
        let body = self.cfg.response_body.clone();
        let router = Router::new().route(
            &self.cfg.path,
            axum::routing::get(move || status(state.clone(), body.clone())),
        );
        tracing::info!(endpoint = %addr, path = %self.cfg.path, "Starting health_check extension");
        *Self::lock(&self.task) = Some(server::serve(listener, router, self.token.clone())?);
        Ok(())
    }

    fn ready(&self) {
        *Self::lock(&self.state.since) = Some((SystemTime::now(), Instant::now()));
        self.state.ready.store(true, Ordering::SeqCst);
        tracing::info!("Health Check state change: ready");
    }

    fn not_ready(&self) {
        self.state.ready.store(false, Ordering::SeqCst);
        tracing::info!("Health Check state change: not ready");
    }

    async fn shutdown(&self) {
        self.token.cancel();
        let task = Self::lock(&self.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
