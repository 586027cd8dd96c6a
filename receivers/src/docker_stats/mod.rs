//! The `docker_stats` receiver (Go's `receiver/dockerstatsreceiver`): every
//! `collection_interval` it lists the running containers through the Docker Engine API
//! (`endpoint`: a Unix socket, default `/var/run/docker.sock`, or `tcp://host:port`),
//! inspects each and reads its one-shot stats, and records Go's `container.*` metrics (names,
//! units, attributes and `metrics:` toggles of Go's generated metadata) with one resource
//! per container (`container.id`, `container.name`, `container.image.name`, …, plus the
//! configured container labels and environment variables).
//!
//! An engine that is down or answers an error is logged (with the endpoint) and tried again
//! at the next interval; the receiver keeps running.

pub mod engine;
pub mod metadata;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Meta, Receiver, ReceiverFactory, SharedConsumer, Signal, SignalConsumers,
    Stability,
};
use serde::Deserialize;
use serde_json::Value;

use crate::hostmetrics::builder::{kv, resource_metrics_scoped, AttrValue, MetricsBuilder};
use crate::hostmetrics::config::{check_resource_attributes, resource_on, toggles, MetricToggles};
use crate::hostmetrics::scrapers::now_nanos;
use crate::scraping::{self, Rounds};
use engine::Engine;

pub const META: Meta = Meta::new("docker_stats").metrics(Stability::Alpha);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<DockerStatsConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(DockerStatsReceiver::build(ctx, cfg, next)?))
    })
}

pub use crate::hostmetrics::config::ResourceToggle;

/// The receiver's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerStatsConfig {
    /// `unix:///path` or `tcp://host:port`.
    pub endpoint: String,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// Per Engine API request (default 5s).
    pub timeout: GoDuration,
    /// Empty (default): the engine's own version (Go negotiates); else at least 1.25.
    pub api_version: String,
    /// Images whose containers are skipped: literals, globs (`*`), or `/regex/`; `!`
    /// negates.
    pub excluded_images: Vec<String>,
    /// Container label → resource attribute name.
    pub container_labels_to_metric_labels: BTreeMap<String, String>,
    /// Container environment variable → resource attribute name.
    pub env_vars_to_metric_labels: BTreeMap<String, String>,
    pub metrics: MetricToggles,
    pub resource_attributes: BTreeMap<String, ResourceToggle>,
    /// Go: TLS to a `tcp://` engine; accepted, not acted on.
    pub tls: Option<ConfigValue>,
}

impl Default for DockerStatsConfig {
    fn default() -> Self {
        DockerStatsConfig {
            endpoint: "unix:///var/run/docker.sock".into(),
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::from_secs(5),
            api_version: String::new(),
            excluded_images: Vec::new(),
            container_labels_to_metric_labels: BTreeMap::new(),
            env_vars_to_metric_labels: BTreeMap::new(),
            metrics: MetricToggles::new(),
            resource_attributes: BTreeMap::new(),
            tls: None,
        }
    }
}

fn api_version_ok(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.trim().split('.').collect();
    let nums: Option<Vec<u32>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
    match nums.as_deref() {
        Some([maj]) | Some([maj, _]) if *maj == 0 => Err(format!("invalid version {v:?}")),
        Some([maj, min]) => {
            if (*maj, *min) < (1, 25) {
                Err(format!("\"api_version\" {v} must be at least 1.25"))
            } else {
                Ok(())
            }
        }
        Some([_]) => Ok(()),
        _ => Err(format!("invalid version {v:?}")),
    }
}

impl Validate for DockerStatsConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.endpoint.is_empty() {
            errors.push(ConfigError::new(
                &["endpoint"],
                "endpoint must be specified",
            ));
        } else if let Err(e) = engine::Target::parse(&self.endpoint) {
            errors.push(ConfigError::new(&["endpoint"], e));
        }
        if !self.api_version.is_empty() {
            if let Err(e) = api_version_ok(&self.api_version) {
                errors.push(ConfigError::new(&["api_version"], e));
            }
        }
        if self.collection_interval.is_zero() {
            errors.push(ConfigError::new(
                &["collection_interval"],
                "requires positive value",
            ));
        }
        for name in self.metrics.keys() {
            if !metadata::DEFS.iter().any(|d| d.name == name)
                && !metadata::GO_ONLY.contains(&name.as_str())
            {
                errors.push(ConfigError::new(
                    &["metrics"],
                    format!("has invalid keys: {name}"),
                ));
            }
        }
        check_resource_attributes(&self.resource_attributes, metadata::RESOURCE, &mut errors);
        for (i, p) in self.excluded_images.iter().enumerate() {
            if let Err(e) = ImageMatcher::new(std::slice::from_ref(p)) {
                errors.push(ConfigError::new(&["excluded_images", &i.to_string()], e));
            }
        }
        errors
    }
}

impl ComponentConfig for DockerStatsConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.tls.is_some() {
            out.push(("tls".into(), "TLS to the engine is not implemented".into()));
        }
        for (name, t) in &self.metrics {
            if metadata::GO_ONLY.contains(&name.as_str()) && t.enabled == Some(true) {
                out.push((
                    format!("metrics::{name}"),
                    "a cgroup v1 metric Ferrotel does not produce".into(),
                ));
            }
        }
        out
    }
}

/// Go's `excluded_images` matcher: literals, globs, `/regex/`, each negatable with `!`.
#[derive(Debug)]
pub struct ImageMatcher {
    rules: Vec<(bool, regex::Regex)>,
}

impl ImageMatcher {
    pub fn new(patterns: &[String]) -> Result<ImageMatcher, String> {
        let mut rules = Vec::new();
        for p in patterns {
            let (neg, body) = match p.strip_prefix('!') {
                Some(b) => (true, b),
                None => (false, p.as_str()),
            };
            let re = if body.len() >= 2 && body.starts_with('/') && body.ends_with('/') {
                body[1..body.len() - 1].to_string()
            } else {
                let mut r = String::from("^");
                for c in body.chars() {
                    match c {
                        '*' => r.push_str(".*"),
                        '?' => r.push('.'),
                        c => r.push_str(&regex::escape(&c.to_string())),
                    }
                }
                r.push('$');
                r
            };
            let re = regex::Regex::new(&re).map_err(|e| format!("invalid pattern {p:?}: {e}"))?;
            rules.push((neg, re));
        }
        Ok(ImageMatcher { rules })
    }

    /// Excluded: matched by a positive rule, or (with negative rules only) not matched by
    /// any of them.
    pub fn excludes(&self, image: &str) -> bool {
        let positives: Vec<_> = self.rules.iter().filter(|(n, _)| !n).collect();
        let negatives: Vec<_> = self.rules.iter().filter(|(n, _)| *n).collect();
        if positives.iter().any(|(_, r)| r.is_match(image)) {
            return true;
        }
        !negatives.is_empty() && !negatives.iter().any(|(_, r)| r.is_match(image))
    }
}

/// A built receiver.
pub struct DockerStatsReceiver {
    id: ComponentId,
    cfg: DockerStatsConfig,
    engine: Engine,
    excluded: ImageMatcher,
    next: SharedConsumer,
    obs: ReceiverObs,
}

impl DockerStatsReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &DockerStatsConfig,
        next: SignalConsumers,
    ) -> Result<DockerStatsReceiver, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the docker_stats receiver produces metrics only"))?;
        let engine = Engine::new(&cfg.endpoint, &cfg.api_version, cfg.timeout.get())
            .map_err(BuildError::new)?;
        Ok(DockerStatsReceiver {
            obs: ctx.telemetry.receiver_obs(""),
            id: ctx.id,
            excluded: ImageMatcher::new(&cfg.excluded_images).map_err(BuildError::new)?,
            cfg: cfg.clone(),
            engine,
            next,
        })
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn u(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// One scrape: every running container not excluded, its resource metrics. Errors are the
/// problems met (the engine down: nothing else).
pub async fn scrape(
    engine: &Engine,
    cfg: &DockerStatsConfig,
    excluded: &ImageMatcher,
) -> (Vec<ResourceMetrics>, Vec<String>) {
    let list = match engine.get("/containers/json").await {
        Ok(Value::Array(l)) => l,
        Ok(_) => return (vec![], vec!["the container list is not an array".into()]),
        Err(e) => return (vec![], vec![e]),
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let t = toggles(&cfg.metrics);
    for c in list {
        let id = s(&c["Id"]);
        if excluded.excludes(&s(&c["Image"])) {
            continue;
        }
        let inspect = match engine.get(&format!("/containers/{id}/json")).await {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if excluded.excludes(&s(&inspect["Config"]["Image"])) {
            continue;
        }
        let stats = match engine
            .get(&format!("/containers/{id}/stats?stream=false"))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut mb = MetricsBuilder::new(metadata::DEFS, &t);
        mb.begin(0, now_nanos());
        record(&mut mb, &stats, &inspect);
        out.push(resource_metrics_scoped(
            SCOPE,
            resource(cfg, &inspect),
            mb.take_metrics(),
        ));
    }
    (out, errors)
}

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/dockerstatsreceiver";

fn resource(
    cfg: &DockerStatsConfig,
    inspect: &Value,
) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    let on = |k: &str| resource_on(&cfg.resource_attributes, metadata::RESOURCE, k);
    let config = &inspect["Config"];
    let mut attrs = Vec::new();
    let mut put = |k: &str, v: String| {
        if on(k) {
            attrs.push(kv(k, AttrValue::Str(v)));
        }
    };
    put("container.runtime", "docker".into());
    put("container.hostname", s(&config["Hostname"]));
    put("container.id", s(&inspect["Id"]));
    put("container.image.name", s(&config["Image"]));
    put(
        "container.name",
        s(&inspect["Name"]).trim_start_matches('/').to_string(),
    );
    put("container.image.id", s(&inspect["Image"]));
    let cmd: Vec<String> = config["Cmd"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    put("container.command_line", cmd.join(" "));
    let env: HashMap<String, String> = config["Env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().and_then(|e| e.split_once('=')))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    for (var, label) in &cfg.env_vars_to_metric_labels {
        if let Some(v) = env.get(var).filter(|v| !v.is_empty()) {
            attrs.push(kv(label, AttrValue::Str(v.clone())));
        }
    }
    for (l, label) in &cfg.container_labels_to_metric_labels {
        let v = s(&config["Labels"][l]);
        if !v.is_empty() {
            attrs.push(kv(label, AttrValue::Str(v)));
        }
    }
    attrs
}

/// Docker's own `docker stats` CPU percentage (Go copies it from the docker CLI).
fn cpu_percent(stats: &Value) -> f64 {
    let (c, p) = (&stats["cpu_stats"], &stats["precpu_stats"]);
    let cpu_delta = u(&c["cpu_usage"]["total_usage"]) - u(&p["cpu_usage"]["total_usage"]);
    let sys_delta = u(&c["system_cpu_usage"]) - u(&p["system_cpu_usage"]);
    let mut online = u(&c["online_cpus"]);
    if online == 0.0 {
        online = c["cpu_usage"]["percpu_usage"]
            .as_array()
            .map(|a| a.len() as f64)
            .unwrap_or(0.0);
    }
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory in use without the inactive page cache (cgroup v1 `total_inactive_file`, v2
/// `inactive_file`), as Go and the docker CLI compute it.
fn mem_no_cache(m: &Value) -> f64 {
    let usage = u(&m["usage"]);
    if let Some(v) = m["stats"]["total_inactive_file"].as_f64() {
        if v < usage {
            return usage - v;
        }
    }
    let v = u(&m["stats"]["inactive_file"]);
    if v < usage {
        usage - v
    } else {
        usage
    }
}

fn cpu_limit(hc: &Value) -> f64 {
    let nano = u(&hc["NanoCpus"]);
    let cpuset = s(&hc["CpusetCpus"]);
    let quota = u(&hc["CpuQuota"]);
    if nano > 0.0 {
        nano / 1e9
    } else if !cpuset.is_empty() {
        cpuset
            .split(',')
            .map(|p| match p.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (a.parse::<i64>().unwrap_or(0), b.parse::<i64>().unwrap_or(0));
                    (b - a + 1).max(0) as f64
                }
                None => 1.0,
            })
            .sum()
    } else if quota > 0.0 {
        let period = match u(&hc["CpuPeriod"]) {
            p if p > 0.0 => p,
            _ => 100_000.0,
        };
        quota / period
    } else {
        0.0
    }
}

pub fn record(mb: &mut MetricsBuilder, stats: &Value, inspect: &Value) {
    let c = &stats["cpu_stats"];
    mb.record("container.cpu.usage.system", u(&c["system_cpu_usage"]), &[]);
    mb.record(
        "container.cpu.usage.total",
        u(&c["cpu_usage"]["total_usage"]),
        &[],
    );
    mb.record(
        "container.cpu.usage.kernelmode",
        u(&c["cpu_usage"]["usage_in_kernelmode"]),
        &[],
    );
    mb.record(
        "container.cpu.usage.usermode",
        u(&c["cpu_usage"]["usage_in_usermode"]),
        &[],
    );
    let th = &c["throttling_data"];
    mb.record(
        "container.cpu.throttling_data.throttled_periods",
        u(&th["throttled_periods"]),
        &[],
    );
    mb.record(
        "container.cpu.throttling_data.periods",
        u(&th["periods"]),
        &[],
    );
    mb.record(
        "container.cpu.throttling_data.throttled_time",
        u(&th["throttled_time"]),
        &[],
    );
    mb.record("container.cpu.utilization", cpu_percent(stats), &[]);
    if let Some(per) = c["cpu_usage"]["percpu_usage"].as_array() {
        for (i, v) in per.iter().enumerate() {
            mb.record("container.cpu.usage.percpu", u(v), &[&format!("cpu{i}")]);
        }
    }
    mb.record("container.cpu.logical.count", u(&c["online_cpus"]), &[]);

    let m = &stats["memory_stats"];
    let used = mem_no_cache(m);
    let limit = u(&m["limit"]);
    mb.record("container.memory.usage.total", used, &[]);
    mb.record("container.memory.usage.limit", limit, &[]);
    mb.record(
        "container.memory.percent",
        if limit != 0.0 {
            used / limit * 100.0
        } else {
            0.0
        },
        &[],
    );
    mb.record("container.memory.usage.max", u(&m["max_usage"]), &[]);
    if let Some(st) = m["stats"].as_object() {
        for (k, v) in st {
            let name = format!("container.memory.{k}");
            if metadata::DEFS.iter().any(|d| d.name == name) {
                mb.record(&name, u(v), &[]);
            }
        }
    }
    if let Some(fails) = m["failcnt"].as_f64() {
        mb.record("container.memory.fails", fails, &[]);
    }

    // block I/O: cgroup v1 and v2 both fill io_service_bytes_recursive
    if let Some(entries) = stats["blkio_stats"]["io_service_bytes_recursive"].as_array() {
        for e in entries {
            mb.record(
                "container.blockio.io_service_bytes_recursive",
                u(&e["value"]),
                &[
                    &s(&e["major"]),
                    &s(&e["minor"]),
                    &s(&e["op"]).to_lowercase(),
                ],
            );
        }
    }
    if let Some(nets) = stats["networks"].as_object() {
        for (iface, n) in nets {
            let i = [iface.as_str()];
            mb.record("container.network.io.usage.rx_bytes", u(&n["rx_bytes"]), &i);
            mb.record("container.network.io.usage.tx_bytes", u(&n["tx_bytes"]), &i);
            mb.record(
                "container.network.io.usage.rx_dropped",
                u(&n["rx_dropped"]),
                &i,
            );
            mb.record(
                "container.network.io.usage.tx_dropped",
                u(&n["tx_dropped"]),
                &i,
            );
            mb.record(
                "container.network.io.usage.rx_packets",
                u(&n["rx_packets"]),
                &i,
            );
            mb.record(
                "container.network.io.usage.tx_packets",
                u(&n["tx_packets"]),
                &i,
            );
            mb.record(
                "container.network.io.usage.rx_errors",
                u(&n["rx_errors"]),
                &i,
            );
            mb.record(
                "container.network.io.usage.tx_errors",
                u(&n["tx_errors"]),
                &i,
            );
        }
    }
    let pids = &stats["pids_stats"];
    if u(&pids["current"]) != 0.0 {
        mb.record("container.pids.count", u(&pids["current"]), &[]);
        if u(&pids["limit"]) != 0.0 {
            mb.record("container.pids.limit", u(&pids["limit"]), &[]);
        }
    }
    if let Ok(started) = jiff_parse(&s(&inspect["State"]["StartedAt"])) {
        let up = now_nanos() as f64 / 1e9 - started;
        if up > 0.0 {
            mb.record("container.uptime", up, &[]);
        }
    }
    let hc = &inspect["HostConfig"];
    mb.record("container.cpu.limit", cpu_limit(hc), &[]);
    mb.record("container.cpu.shares", u(&hc["CpuShares"]), &[]);
    mb.record("container.restarts", u(&inspect["RestartCount"]), &[]);
}

/// RFC 3339 → seconds since the epoch.
fn jiff_parse(t: &str) -> Result<f64, String> {
    let ts: jiff::Timestamp = t.parse().map_err(|e: jiff::Error| e.to_string())?;
    Ok(ts.as_nanosecond() as f64 / 1e9)
}

#[async_trait]
impl Receiver for DockerStatsReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let cfg = &self.cfg;
        let mut rounds = Rounds::new(cfg.initial_delay.get(), cfg.collection_interval.get());
        while rounds.next(&shutdown).await {
            let (rms, errors) = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = scrape(&self.engine, cfg, &self.excluded) => r,
            };
            if !errors.is_empty() {
                tracing::warn!(
                    receiver = %self.id,
                    endpoint = %cfg.endpoint,
                    errors = errors.len(),
                    first = %errors[0],
                    "Error scraping docker stats; trying again at the next interval."
                );
            }
            scraping::send(&self.id, &self.next, &self.obs, rms).await;
        }
        Ok(())
    }
}
