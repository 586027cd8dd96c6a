//! The `redis` receiver (Go's `receiver/redisreceiver`): every `collection_interval` it
//! sends `INFO all` to one Redis server over a connection it keeps, and records Go's
//! `redis.*` metrics from the answer, with the server's version as a resource attribute.
//!
//! Go facts relied on (contrib `receiver/redisreceiver`: `config.go`, `factory.go`,
//! `redis_scraper.go`, `metric_functions.go`, `keyspace.go`, `latencystats.go`,
//! `metadata.yaml`; the Go module proxy here does not serve it, so the behaviour is taken
//! from its source and tested against a real `redis-server`, not against the Go oracle):
//! - `transport` `tcp`, `collection_interval` 10s, `tls` off (`insecure: true`); no default
//!   `endpoint` (a missing or portless one fails the build: "invalid endpoint").
//! - `AUTH` with `password` (and `username`) when set; then `INFO all`.
//! - The answer's `key:value` lines (exactly one colon), values as they come: an integer
//!   field that does not parse is skipped with a warning. `db0`…`db15` give
//!   `redis.db.keys`/`.expires`/`.avg_ttl` with `db` = the number; `cmdstat_<cmd>` gives
//!   `redis.cmd.calls`/`.usec`; `latency_percentiles_usec_<cmd>` gives `redis.cmd.latency`
//!   in seconds; `role` gives `redis.role` (`primary` for `master`, else `replica`).
//! - No `uptime_in_seconds` fails the scrape. The start time of the cumulative points is the
//!   server's start (now − uptime), set again when the uptime goes back (a restart).

pub mod metadata;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Meta, Receiver, ReceiverFactory, SharedConsumer, Signal, SignalConsumers,
    Stability,
};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use transport::tls::TlsClientConfig;

use crate::hostmetrics::builder::{kv, resource_metrics_scoped, AttrValue, MetricsBuilder};
use crate::hostmetrics::config::ResourceToggle;
use crate::hostmetrics::config::{
    check_metrics, check_resource_attributes, resource_on, toggles, MetricToggles,
};
use crate::hostmetrics::scrapers::now_nanos;
use crate::scraping::{self, Rounds};

pub const META: Meta = Meta::new("redis").metrics(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<RedisConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(RedisReceiver::build(ctx, cfg, next)?))
    })
}

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver";

/// The receiver's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `host:port` (or a socket path with `transport: unix`).
    pub endpoint: String,
    /// `tcp` or `unix`.
    pub transport: String,
    pub username: String,
    pub password: String,
    /// Off by default (`insecure: true`).
    pub tls: TlsClientConfig,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// Each scrape's deadline (connecting included); 0: 10s.
    pub timeout: GoDuration,
    pub metrics: MetricToggles,
    pub resource_attributes: BTreeMap<String, ResourceToggle>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            endpoint: String::new(),
            transport: "tcp".into(),
            username: String::new(),
            password: String::new(),
            tls: TlsClientConfig {
                insecure: true,
                ..Default::default()
            },
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            metrics: MetricToggles::new(),
            resource_attributes: BTreeMap::new(),
        }
    }
}

impl Validate for RedisConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if !matches!(self.transport.as_str(), "tcp" | "tcp4" | "tcp6" | "unix") {
            errors.push(ConfigError::new(
                &["transport"],
                format!(
                    "unsupported transport {:?}; use tcp or unix",
                    self.transport
                ),
            ));
        }
        if self.collection_interval.is_zero() {
            errors.push(ConfigError::new(
                &["collection_interval"],
                "requires positive value",
            ));
        }
        errors.extend(self.tls.validate(&["tls"]));
        check_metrics(
            &self.metrics,
            metadata::DEFS,
            metadata::NOT_PRODUCED,
            &[],
            &mut errors,
        );
        check_resource_attributes(&self.resource_attributes, metadata::RESOURCE, &mut errors);
        errors
    }
}

impl ComponentConfig for RedisConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, t) in &self.metrics {
            if metadata::NOT_PRODUCED.contains(&name.as_str()) && t.enabled == Some(true) {
                out.push((
                    format!("metrics::{name}"),
                    "Ferrotel does not read CLUSTER INFO, sentinel or mode fields".into(),
                ));
            }
        }
        out
    }

    /// Go checks the endpoint when it builds the receiver.
    fn check_when_used(&self) -> Vec<ConfigError> {
        match host_port(self) {
            Ok(_) => Vec::new(),
            Err(e) => vec![ConfigError::new(&["endpoint"], e)],
        }
    }
}

/// The endpoint's host and port (Go `net.SplitHostPort`); a socket path for `unix`.
fn host_port(cfg: &RedisConfig) -> Result<(String, String), String> {
    let e = &cfg.endpoint;
    if cfg.transport == "unix" {
        return if e.is_empty() {
            Err(format!("invalid endpoint {e:?}: missing socket path"))
        } else {
            Ok((e.clone(), String::new()))
        };
    }
    let Some((host, port)) = e.rsplit_once(':') else {
        return Err(format!(
            "invalid endpoint {e:?}: address {e}: missing port in address"
        ));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), port.to_string()))
}

/// A connection to the server.
type Conn = BufReader<Box<dyn Io>>;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Send one command (a RESP array of bulk strings).
async fn send(conn: &mut Conn, args: &[&str]) -> Result<(), String> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let io = conn.get_mut();
    io.write_all(&out).await.map_err(|e| e.to_string())?;
    io.flush().await.map_err(|e| e.to_string())
}

/// Read one reply: a simple string, an error (as `Err`), or a bulk string.
async fn reply(conn: &mut Conn) -> Result<String, String> {
    let mut line = String::new();
    let n = conn.read_line(&mut line).await.map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("the server closed the connection".into());
    }
    let line = line.trim_end_matches(['\r', '\n']);
    match line.as_bytes().first() {
        Some(b'+') => Ok(line[1..].to_string()),
        Some(b'-') => Err(line[1..].to_string()),
        Some(b'$') => {
            let len: i64 = line[1..]
                .parse()
                .map_err(|_| format!("unexpected reply {line:?}"))?;
            let Ok(len) = usize::try_from(len) else {
                return Ok(String::new());
            };
            // the INFO text of a server is some kilobytes; refuse a reply out of proportion
            if len > 64 << 20 {
                return Err(format!("reply of {len} bytes refused"));
            }
            let mut body = vec![0u8; len + 2];
            conn.read_exact(&mut body)
                .await
                .map_err(|e| e.to_string())?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}

/// Connect (TLS when configured) and authenticate.
async fn connect(cfg: &RedisConfig) -> Result<Conn, String> {
    let io: Box<dyn Io> = if cfg.transport == "unix" {
        Box::new(
            tokio::net::UnixStream::connect(&cfg.endpoint)
                .await
                .map_err(|e| format!("dial unix {}: {e}", cfg.endpoint))?,
        )
    } else {
        let tcp = tokio::net::TcpStream::connect(&cfg.endpoint)
            .await
            .map_err(|e| format!("dial tcp {}: {e}", cfg.endpoint))?;
        let _ = tcp.set_nodelay(true);
        match cfg.tls.client_config(&[], false)? {
            None => Box::new(tcp),
            Some(tls) => {
                let (host, _) = host_port(cfg)?;
                let name = if cfg.tls.server_name_override.is_empty() {
                    host
                } else {
                    cfg.tls.server_name_override.clone()
                };
                let name = rustls::pki_types::ServerName::try_from(name)
                    .map_err(|e| format!("TLS server name: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake failed: {e}"))?;
                Box::new(stream)
            }
        }
    };
    let mut conn = BufReader::new(io);
    if !cfg.password.is_empty() {
        if cfg.username.is_empty() {
            send(&mut conn, &["AUTH", &cfg.password]).await?;
        } else {
            send(&mut conn, &["AUTH", &cfg.username, &cfg.password]).await?;
        }
        reply(&mut conn).await?;
    }
    Ok(conn)
}

/// Go `redisSvc.parse`: the `key:value` lines, headers and blank lines left out.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split(':').collect();
        if let [k, v] = parts[..] {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// `keys=1,expires=0,avg_ttl=0`: (keys, expires, avg_ttl).
fn keyspace(value: &str) -> Result<(i64, i64, i64), String> {
    let (mut keys, mut expires, mut ttl) = (0, 0, 0);
    for pair in value.split(',') {
        let parts: Vec<&str> = pair.split('=').collect();
        let [k, v] = parts[..] else {
            return Err(format!("unexpected keyspace pair '{pair}'"));
        };
        let slot = match k {
            "keys" => &mut keys,
            "expires" => &mut expires,
            "avg_ttl" => &mut ttl,
            _ => continue,
        };
        *slot = v.parse().map_err(|e| format!("{v:?}: {e}"))?;
    }
    Ok((keys, expires, ttl))
}

/// Record what one `INFO all` answer holds.
pub fn record(mb: &mut MetricsBuilder, info: &HashMap<String, String>, warn: &mut Vec<String>) {
    for (field, name) in metadata::FIELDS {
        let Some(v) = info.get(*field) else {
            continue;
        };
        let int = metadata::DEFS.iter().any(|d| d.name == *name && d.int);
        let parsed = if int {
            v.parse::<i64>()
                .map(|i| i as f64)
                .map_err(|e| e.to_string())
        } else {
            v.parse::<f64>().map_err(|e| e.to_string())
        };
        match parsed {
            Ok(x) => mb.record(name, x, &[]),
            Err(e) => warn.push(format!("failed to parse info {field}={v:?}: {e}")),
        }
    }
    for (field, state) in metadata::CPU {
        if let Some(v) = info.get(*field) {
            match v.parse::<f64>() {
                Ok(x) => mb.record("redis.cpu.time", x, &[state]),
                Err(e) => warn.push(format!("failed to parse info {field}={v:?}: {e}")),
            }
        }
    }
    for db in 0..16 {
        let Some(v) = info.get(&format!("db{db}")) else {
            continue;
        };
        match keyspace(v) {
            Ok((keys, expires, ttl)) => {
                let d = db.to_string();
                mb.record("redis.db.keys", keys as f64, &[&d]);
                mb.record("redis.db.expires", expires as f64, &[&d]);
                mb.record("redis.db.avg_ttl", ttl as f64, &[&d]);
            }
            Err(e) => warn.push(format!("failed to parse keyspace string db{db}: {e}")),
        }
    }
    if let Some(role) = info.get("role") {
        let r = if role == "master" {
            "primary"
        } else {
            "replica"
        };
        mb.record("redis.role", 1.0, &[r]);
    }
    let mut commands: Vec<(&String, &String)> = info.iter().collect();
    commands.sort();
    for (k, v) in commands {
        if let Some(cmd) = k.strip_prefix("cmdstat_") {
            for pair in v.split(',') {
                match pair.split_once('=') {
                    Some(("calls", n)) => {
                        if let Ok(n) = n.parse::<i64>() {
                            mb.record("redis.cmd.calls", n as f64, &[cmd]);
                        }
                    }
                    Some(("usec", n)) => {
                        if let Ok(n) = n.parse::<i64>() {
                            mb.record("redis.cmd.usec", n as f64, &[cmd]);
                        }
                    }
                    _ => {}
                }
            }
        } else if let Some(cmd) = k.strip_prefix("latency_percentiles_usec_") {
            let parsed: Option<Vec<(&str, f64)>> = v
                .split(',')
                .map(|p| {
                    let (name, us) = p.split_once('=')?;
                    Some((name, us.parse::<f64>().ok()?))
                })
                .collect();
            for (p, us) in parsed.unwrap_or_default() {
                if matches!(p, "p50" | "p99" | "p99.9") {
                    mb.record("redis.cmd.latency", us / 1e6, &[cmd, p]);
                }
            }
        }
    }
}

/// A built receiver.
pub struct RedisReceiver {
    id: ComponentId,
    cfg: RedisConfig,
    /// The server's address and port, for the resource.
    address: (String, String),
    next: SharedConsumer,
    obs: ReceiverObs,
}

impl RedisReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &RedisConfig,
        next: SignalConsumers,
    ) -> Result<RedisReceiver, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the redis receiver produces metrics only"))?;
        let address = host_port(cfg).map_err(|e| BuildError::new(format!("{}: {e}", ctx.id)))?;
        cfg.tls
            .client_config(&[], false)
            .map_err(|e| BuildError::new(format!("{}: failed to load TLS config: {e}", ctx.id)))?;
        Ok(RedisReceiver {
            obs: ctx.telemetry.receiver_obs(""),
            id: ctx.id,
            cfg: cfg.clone(),
            address,
            next,
        })
    }

    fn resource(
        &self,
        info: &HashMap<String, String>,
    ) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
        let on = |k: &str| resource_on(&self.cfg.resource_attributes, metadata::RESOURCE, k);
        let mut attrs = Vec::new();
        if on("redis.version") {
            let v = info
                .get("redis_version")
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            attrs.push(kv("redis.version", AttrValue::Str(v)));
        }
        if on("server.address") {
            attrs.push(kv("server.address", AttrValue::Str(self.address.0.clone())));
        }
        if on("server.port") {
            attrs.push(kv("server.port", AttrValue::Str(self.address.1.clone())));
        }
        attrs
    }
}

/// What the scrape loop keeps between rounds.
#[derive(Default)]
struct State {
    conn: Option<Conn>,
    /// The server's start (ns) and the uptime it was computed from.
    start: Option<(u64, i64)>,
}

impl RedisReceiver {
    /// One round: `INFO all` on the kept connection (made again after an error).
    async fn scrape(&self, state: &mut State) -> Result<ResourceMetrics, String> {
        let mut conn = match state.conn.take() {
            Some(c) => c,
            None => connect(&self.cfg).await?,
        };
        send(&mut conn, &["INFO", "all"]).await?;
        let text = reply(&mut conn).await?;
        state.conn = Some(conn);
        let info = parse_info(&text);
        let uptime: i64 = info
            .get("uptime_in_seconds")
            .ok_or("uptime_in_seconds missing from redis info")?
            .parse()
            .map_err(|e| format!("uptime_in_seconds: {e}"))?;
        let now = now_nanos();
        let start = match state.start {
            Some((start, before)) if uptime >= before => start,
            _ => now.saturating_sub(u64::try_from(uptime).unwrap_or(0) * 1_000_000_000),
        };
        state.start = Some((start, uptime));
        let mut mb = MetricsBuilder::new(metadata::DEFS, &toggles(&self.cfg.metrics));
        mb.begin(start, now);
        let mut warnings = Vec::new();
        record(&mut mb, &info, &mut warnings);
        for w in warnings {
            tracing::warn!(receiver = %self.id, "{w}");
        }
        Ok(resource_metrics_scoped(
            SCOPE,
            self.resource(&info),
            mb.take_metrics(),
        ))
    }
}

#[async_trait]
impl Receiver for RedisReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let cfg = &self.cfg;
        let deadline = match cfg.timeout.get() {
            t if t.is_zero() => Duration::from_secs(10),
            t => t,
        };
        let mut rounds = Rounds::new(cfg.initial_delay.get(), cfg.collection_interval.get());
        let mut state = State::default();
        while rounds.next(&shutdown).await {
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::time::timeout(deadline, self.scrape(&mut state)) => {
                    r.unwrap_or_else(|_| Err(format!("no answer within {}", GoDuration(deadline))))
                }
            };
            match result {
                Ok(rm) => scraping::send(&self.id, &self.next, &self.obs, vec![rm]).await,
                Err(e) => {
                    // a broken or timed-out connection is made again next round
                    state.conn = None;
                    tracing::warn!(receiver = %self.id, endpoint = %cfg.endpoint, error = %e, "Error scraping Redis; trying again at the next interval.");
                }
            }
        }
        Ok(())
    }
}
