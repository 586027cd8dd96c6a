//! The `tcp_log` and `udp_log` receivers (aliases `tcplog`, `udplog`; Go's
//! `receiver/tcplogreceiver` and `receiver/udplogreceiver` over stanza's `tcp_input` and
//! `udp_input`): log lines sent over TCP or in UDP datagrams, as log records, through the
//! same `operators` as `filelog`.
//!
//! Go facts relied on (contrib `pkg/stanza/operator/input/tcp` and `.../udp`, the two
//! receivers, near v0.155.0; the Go module proxy here does not serve them, so they are built
//! from their source and tested with real sockets on loopback):
//! - `listen_address` is required. TCP: `max_log_size` 1 MiB (0: the default; under 64 KiB
//!   refused), lines split at `\n` (one `\r` before it dropped) or by `multiline`, trimmed
//!   unless `preserve_*_whitespaces`, and what is left when the connection closes is a
//!   last record. UDP: one datagram (at most 64 KiB) is one record, its trailing control
//!   bytes dropped, split only by a `multiline` pattern; `one_log_per_packet` neither splits
//!   nor trims.
//! - `add_attributes`: `net.transport` (`IP.TCP`/`IP.UDP`), `net.peer.ip`, `.port`, `.name`,
//!   `net.host.ip`, `.port`, `.name`, all strings.
//! - The body is the text; only the observed time is set.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, Batch, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Meta, Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal,
    SignalConsumers, Stability,
};
use serde::Deserialize;
use stanza::entry::{Entry, EntryData, Value};
use stanza::expr::ExprString;
use stanza::operators::{BuildMode, Pipeline, Stats};
use stanza::ByteSize;
use tokio::io::AsyncReadExt;
use transport::tls::TlsServerConfig;

use crate::filelog::config::{MaxLogSizeBehavior, MultilineConfig, RetryConfig};
use crate::filelog::encoding::Encoding;
use crate::filelog::split::{Cut, Splitter};

pub const TCP_META: Meta = Meta::new("tcp_log")
    .aliases(&[("tcplog", true)])
    .logs(Stability::Alpha);
pub const UDP_META: Meta = Meta::new("udp_log")
    .aliases(&[("udplog", true)])
    .logs(Stability::Alpha);

pub fn tcp_factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<TcpLogConfig>(TCP_META, |ctx, cfg, next| {
        Ok(Box::new(NetLog::build(
            ctx,
            Proto::Tcp(Box::new(cfg.clone())),
            next,
        )?))
    })
}

pub fn udp_factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<UdpLogConfig>(UDP_META, |ctx, cfg, next| {
        Ok(Box::new(NetLog::build(
            ctx,
            Proto::Udp(Box::new(cfg.clone())),
            next,
        )?))
    })
}

/// The largest datagram (Go `MaxUDPSize`).
const MAX_UDP: usize = 64 * 1024;
const MIN_TCP_LOG_SIZE: u64 = 64 * 1024;
const DEFAULT_TCP_LOG_SIZE: u64 = 1024 * 1024;

/// `tcp_log`. `Default` = Go's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpLogConfig {
    pub listen_address: String,
    pub max_log_size: ByteSize,
    pub tls: Option<TlsServerConfig>,
    pub add_attributes: bool,
    /// The whole connection as one record (at most `max_log_size`).
    pub one_log_per_packet: bool,
    pub encoding: String,
    pub multiline: Option<MultilineConfig>,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
    pub attributes: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
    pub operators: Vec<ConfigValue>,
    /// Accepted; nothing is kept between restarts (a sender resends what it did not send).
    pub storage: Option<ConfigValue>,
    pub retry_on_failure: RetryConfig,
}

impl Default for TcpLogConfig {
    fn default() -> Self {
        TcpLogConfig {
            listen_address: String::new(),
            max_log_size: ByteSize(0),
            tls: None,
            add_attributes: false,
            one_log_per_packet: false,
            encoding: "utf-8".into(),
            multiline: None,
            preserve_leading_whitespaces: false,
            preserve_trailing_whitespaces: false,
            attributes: BTreeMap::new(),
            resource: BTreeMap::new(),
            operators: Vec::new(),
            storage: None,
            retry_on_failure: RetryConfig::default(),
        }
    }
}

/// `udp_log`. `Default` = Go's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UdpLogConfig {
    pub listen_address: String,
    pub one_log_per_packet: bool,
    pub add_attributes: bool,
    pub encoding: String,
    pub multiline: Option<MultilineConfig>,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
    /// Go's reader and processor goroutines: accepted; one task reads and hands on.
    #[serde(rename = "async")]
    pub async_config: Option<AsyncConfig>,
    pub attributes: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
    pub operators: Vec<ConfigValue>,
    pub storage: Option<ConfigValue>,
    pub retry_on_failure: RetryConfig,
}

impl Default for UdpLogConfig {
    fn default() -> Self {
        UdpLogConfig {
            listen_address: String::new(),
            one_log_per_packet: false,
            add_attributes: false,
            encoding: "utf-8".into(),
            multiline: None,
            preserve_leading_whitespaces: false,
            preserve_trailing_whitespaces: false,
            async_config: None,
            attributes: BTreeMap::new(),
            resource: BTreeMap::new(),
            operators: Vec::new(),
            storage: None,
            retry_on_failure: RetryConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsyncConfig {
    pub readers: i64,
    pub processors: i64,
    pub max_queue_length: i64,
}

/// The checks both share (Go's `Build` of the input and its splitter).
fn check_common(
    listen_address: &str,
    encoding: &str,
    multiline: Option<&MultilineConfig>,
    attributes: &[&BTreeMap<String, String>],
    operators: &[ConfigValue],
    retry: &RetryConfig,
    errors: &mut Vec<ConfigError>,
) {
    if listen_address.is_empty() {
        errors.push(ConfigError::new(
            &["listen_address"],
            "missing required parameter 'listen_address'",
        ));
    }
    let enc = match Encoding::lookup(encoding) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(ConfigError::new(&["encoding"], e));
            None
        }
    };
    if let Some(m) = multiline {
        if !m.line_start_pattern.is_empty() && !m.line_end_pattern.is_empty() {
            errors.push(ConfigError::new(
                &["multiline"],
                "only one of line_start_pattern or line_end_pattern can be set",
            ));
        } else if enc == Some(Encoding::Nop) {
            if !m.line_end_pattern.is_empty() {
                errors.push(ConfigError::new(
                    &["multiline"],
                    "line_end_pattern should not be set when using nop encoding",
                ));
            }
            if !m.line_start_pattern.is_empty() {
                errors.push(ConfigError::new(
                    &["multiline"],
                    "line_start_pattern should not be set when using nop encoding",
                ));
            }
        } else if let Err(e) = Splitter::from_parts(
            encoding,
            Some(m),
            1,
            MaxLogSizeBehavior::Split,
            Duration::ZERO,
            (false, false),
        ) {
            errors.push(ConfigError::new(&["multiline"], e));
        }
    }
    for (key, map) in ["attributes", "resource"].iter().zip(attributes) {
        for (k, v) in map.iter() {
            if let Err(e) = ExprString::compile(v) {
                errors.push(ConfigError::new(&[key, k], e));
            }
        }
    }
    if let Err(es) = Pipeline::validate(operators) {
        errors.extend(es.into_iter().map(|e| e.prefixed(&["operators"])));
    }
    if retry.enabled && retry.initial_interval.is_zero() {
        errors.push(ConfigError::new(
            &["retry_on_failure", "initial_interval"],
            "must be positive",
        ));
    }
    if retry.enabled && retry.max_interval < retry.initial_interval {
        errors.push(ConfigError::new(
            &["retry_on_failure", "max_interval"],
            "must not be less than initial_interval",
        ));
    }
}

impl Validate for TcpLogConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.max_log_size.0 != 0 && self.max_log_size.0 < MIN_TCP_LOG_SIZE {
            errors.push(ConfigError::new(
                &["max_log_size"],
                "invalid value for parameter 'max_log_size', must be equal to or greater than 65536 bytes",
            ));
        }
        check_common(
            &self.listen_address,
            &self.encoding,
            self.multiline.as_ref(),
            &[&self.attributes, &self.resource],
            &self.operators,
            &self.retry_on_failure,
            &mut errors,
        );
        if let Some(tls) = &self.tls {
            transport::tls::check_server(tls, &["tls"], &mut errors);
        }
        errors
    }
}

impl Validate for UdpLogConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        check_common(
            &self.listen_address,
            &self.encoding,
            self.multiline.as_ref(),
            &[&self.attributes, &self.resource],
            &self.operators,
            &self.retry_on_failure,
            &mut errors,
        );
        errors
    }
}

fn storage_not_acted_on(storage: &Option<ConfigValue>) -> Vec<(String, String)> {
    match storage {
        Some(_) => vec![(
            "storage".into(),
            "nothing of a network input is kept across restarts".into(),
        )],
        None => Vec::new(),
    }
}

impl ComponentConfig for TcpLogConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        storage_not_acted_on(&self.storage)
    }
}

impl ComponentConfig for UdpLogConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        storage_not_acted_on(&self.storage)
    }
}

pub enum Proto {
    Tcp(Box<TcpLogConfig>),
    Udp(Box<UdpLogConfig>),
}

/// What both receivers build from their config.
struct Shared {
    id: ComponentId,
    next: SharedConsumer,
    obs: ReceiverObs,
    pipeline: tokio::sync::Mutex<Pipeline>,
    attributes: Vec<(String, ExprString)>,
    resource: Vec<(String, ExprString)>,
    add_attributes: bool,
    enc: Encoding,
    retry: RetryConfig,
}

/// A built receiver: its socket is bound at build, so a taken port fails the start.
pub struct NetLog {
    shared: Arc<Shared>,
    socket: Socket,
}

enum Socket {
    Tcp {
        listener: std::net::TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        splitter: Splitter,
        one_per_connection: bool,
        max: usize,
        /// Frames are `LEN SP MSG` (the `syslog` receiver's octet counting), not lines.
        octets: bool,
    },
    Udp {
        socket: std::net::UdpSocket,
        /// A `multiline` pattern splits a datagram; without one it is one record.
        splitter: Option<Splitter>,
        one_per_packet: bool,
        /// `preserve_leading_whitespaces`, `preserve_trailing_whitespaces`.
        preserve: (bool, bool),
    },
}

impl NetLog {
    pub fn build(
        ctx: BuildContext,
        proto: Proto,
        next: SignalConsumers,
    ) -> Result<NetLog, BuildError> {
        NetLog::build_framed(ctx, proto, next, false)
    }

    /// [`NetLog::build`], with TCP read in octet-counted frames when `octets`.
    pub fn build_framed(
        ctx: BuildContext,
        proto: Proto,
        next: SignalConsumers,
        octets: bool,
    ) -> Result<NetLog, BuildError> {
        let next = next
            .get(Signal::Logs)
            .cloned()
            .ok_or_else(|| BuildError::new("a network log receiver produces logs only"))?;
        let what = format!("receivers::{}::listen_address", ctx.id);
        let err = |e: String| BuildError::new(format!("{}: {e}", ctx.id));
        let compile = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| ExprString::compile(v).map(|e| (k.clone(), e)))
                .collect::<Result<Vec<_>, String>>()
        };
        let retry = match &proto {
            Proto::Tcp(cfg) => cfg.retry_on_failure.clone(),
            Proto::Udp(cfg) => cfg.retry_on_failure.clone(),
        };
        let (operators, attributes, resource, add_attributes, encoding, socket) = match &proto {
            Proto::Tcp(cfg) => {
                let max = if cfg.max_log_size.0 == 0 {
                    DEFAULT_TCP_LOG_SIZE
                } else {
                    cfg.max_log_size.0
                };
                let splitter = Splitter::from_parts(
                    &cfg.encoding,
                    cfg.multiline.as_ref(),
                    max,
                    MaxLogSizeBehavior::Split,
                    Duration::ZERO,
                    (
                        cfg.preserve_leading_whitespaces,
                        cfg.preserve_trailing_whitespaces,
                    ),
                )
                .map_err(err)?;
                let tls = match &cfg.tls {
                    Some(t) => Some(transport::tls::server_acceptor(t, &[], &what)?),
                    None => None,
                };
                let listener = transport::net::bind_tcp(&cfg.listen_address, &what)?;
                (
                    &cfg.operators,
                    &cfg.attributes,
                    &cfg.resource,
                    cfg.add_attributes,
                    &cfg.encoding,
                    Socket::Tcp {
                        listener,
                        tls,
                        splitter,
                        one_per_connection: cfg.one_log_per_packet,
                        max: usize::try_from(max).unwrap_or(usize::MAX),
                        octets,
                    },
                )
            }
            Proto::Udp(cfg) => {
                let splitter = match &cfg.multiline {
                    Some(m)
                        if !m.line_start_pattern.is_empty() || !m.line_end_pattern.is_empty() =>
                    {
                        Some(
                            Splitter::from_parts(
                                &cfg.encoding,
                                Some(m),
                                MAX_UDP as u64,
                                MaxLogSizeBehavior::Split,
                                Duration::ZERO,
                                (
                                    cfg.preserve_leading_whitespaces,
                                    cfg.preserve_trailing_whitespaces,
                                ),
                            )
                            .map_err(err)?,
                        )
                    }
                    _ => None,
                };
                let socket = transport::net::bind_udp(&cfg.listen_address, &what)?;
                (
                    &cfg.operators,
                    &cfg.attributes,
                    &cfg.resource,
                    cfg.add_attributes,
                    &cfg.encoding,
                    Socket::Udp {
                        socket,
                        splitter,
                        one_per_packet: cfg.one_log_per_packet,
                        preserve: (
                            cfg.preserve_leading_whitespaces,
                            cfg.preserve_trailing_whitespaces,
                        ),
                    },
                )
            }
        };
        let mut pipeline = Pipeline::build(operators, BuildMode::Run).map_err(|es| {
            BuildError::new(
                es.into_iter()
                    .map(|e| e.prefixed(&["operators"]).to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        pipeline.count_errors_in(&ctx.telemetry);
        Ok(NetLog {
            shared: Arc::new(Shared {
                obs: ctx.telemetry.receiver_obs(match socket {
                    Socket::Tcp { .. } => "tcp",
                    Socket::Udp { .. } => "udp",
                }),
                id: ctx.id.clone(),
                next,
                pipeline: tokio::sync::Mutex::new(pipeline),
                attributes: compile(attributes).map_err(err)?,
                resource: compile(resource).map_err(err)?,
                add_attributes,
                enc: Encoding::lookup(encoding).map_err(err)?,
                retry,
            }),
            socket,
        })
    }

    /// The address the socket is bound to (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.socket {
            Socket::Tcp { listener, .. } => listener.local_addr(),
            Socket::Udp { socket, .. } => socket.local_addr(),
        }
    }
}

/// Where a record came from.
struct Peer {
    transport: &'static str,
    peer: SocketAddr,
    host: SocketAddr,
}

impl Shared {
    /// One record of `text`.
    fn entry(&self, token: &[u8], peer: &Peer, observed: u64) -> Entry {
        let mut e = EntryData::new(self.enc.decode(token), observed);
        for (k, v) in &self.attributes {
            if let Ok(val) = v.render(&e) {
                e.attributes.insert(k.clone(), val);
            }
        }
        for (k, v) in &self.resource {
            if let Ok(val) = v.render(&e) {
                e.resource.insert(k.clone(), val);
            }
        }
        if self.add_attributes {
            // names: the address itself (Go looks the name up and falls back to it)
            let ip = |a: &SocketAddr| a.ip().to_canonical().to_string();
            for (k, v) in [
                ("net.transport", peer.transport.to_string()),
                ("net.peer.ip", ip(&peer.peer)),
                ("net.peer.port", peer.peer.port().to_string()),
                ("net.peer.name", ip(&peer.peer)),
                ("net.host.ip", ip(&peer.host)),
                ("net.host.port", peer.host.port().to_string()),
                ("net.host.name", ip(&peer.host)),
            ] {
                e.attributes.insert(k.to_string(), Value::Str(v));
            }
        }
        e
    }

    /// Run records through the operators and hand them on as one request; `Err` when
    /// the pipeline refused them (counted).
    async fn send(&self, entries: Vec<Entry>, peer: &Peer) -> Result<(), ()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut stats = Stats::default();
        let out = {
            let mut p = self.pipeline.lock().await;
            let mut out = p.process(entries, &mut stats);
            out.extend(p.flush_expired(Instant::now(), &mut stats));
            out
        };
        if out.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::from_logs(stanza::convert::to_request(out));
        let items = batch.items();
        batch.set_context(RequestContext {
            receiver: Some(self.id.clone()),
            client_address: Some(peer.peer),
            ..Default::default()
        });
        // `retry_on_failure` (Go's consumerretry): a retryable refusal is tried again with
        // backoff (multiplier 1.5) until `max_elapsed_time`; meanwhile nothing more is read
        // from this connection (or socket)
        let r = &self.retry;
        let first = Instant::now();
        let mut wait = r.initial_interval.get().max(Duration::from_millis(1));
        loop {
            let result = self.next.consume(batch.clone()).await;
            let give_up = match &result {
                Ok(()) => true,
                Err(e) => {
                    !r.enabled
                        || !e.is_retryable()
                        || (!r.max_elapsed_time.is_zero()
                            && first.elapsed() + wait > r.max_elapsed_time.get())
                }
            };
            if give_up {
                self.obs.record(Signal::Logs, items, &result);
                return result.map_err(|e| {
                    tracing::warn!(receiver = %self.id, items, error = %e, "The pipeline refused log records received over the network; they are dropped.");
                });
            }
            tracing::debug!(receiver = %self.id, items, "The pipeline refused log records; trying again in {wait:?}.");
            tokio::time::sleep(wait).await;
            wait = wait
                .mul_f64(1.5)
                .min(r.max_interval.get().max(Duration::from_millis(1)));
        }
    }
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// How a TCP connection is cut into records.
#[derive(Clone)]
struct Framing {
    splitter: Splitter,
    one_per_connection: bool,
    max: usize,
    octets: bool,
}

/// Go's syslog `OctetSplitFuncBuilder`: a frame is `^[1-9]\d*\s` and that many bytes after
/// it, prefix included; `None` until a whole frame is there (at the end: the rest).
fn octet_frame(b: &[u8], eof: bool) -> Option<usize> {
    let whole = stanza::operators::syslog::octet_prefix(b)
        .map(|(prefix, len)| prefix.saturating_add(len))
        .filter(|&n| n <= b.len());
    match whole {
        Some(n) => Some(n),
        None if eof && !b.is_empty() => Some(b.len()),
        None => None,
    }
}

/// Read one TCP connection to its end: lines (or frames) as records, a batch per read.
async fn serve_tcp<S: tokio::io::AsyncRead + Unpin>(
    shared: Arc<Shared>,
    mut stream: S,
    peer: Peer,
    framing: Framing,
    shutdown: CancellationToken,
) {
    let Framing {
        splitter,
        one_per_connection,
        max,
        octets,
    } = framing;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            _ = shutdown.cancelled() => 0,
            r = stream.read(&mut chunk) => r.unwrap_or(0),
        };
        let eof = n == 0;
        if one_per_connection {
            if buf.len() < max {
                let take = n.min(max - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            if eof {
                if !buf.is_empty() {
                    let e = shared.entry(&buf, &peer, now_nanos());
                    let _ = shared.send(vec![e], &peer).await;
                }
                return;
            }
            continue;
        }
        buf.extend_from_slice(&chunk[..n]);
        let observed = now_nanos();
        let mut entries = Vec::new();
        let mut at = 0;
        while octets && at < buf.len() {
            let Some(n) = octet_frame(&buf[at..], eof) else {
                break;
            };
            let token = splitter.trim(&buf[at..at + n]);
            if !token.is_empty() {
                entries.push(shared.entry(token, &peer, observed));
            }
            at += n;
        }
        while !octets && at < buf.len() {
            match splitter.cut(&buf[at..], eof) {
                Cut::Token {
                    advance,
                    start,
                    end,
                } => {
                    if advance == 0 {
                        break;
                    }
                    let token = splitter.trim(&buf[at + start..at + end]);
                    if !token.is_empty() {
                        entries.push(shared.entry(token, &peer, observed));
                    }
                    at += advance;
                }
                Cut::More => break,
            }
        }
        // a line that reaches `max_log_size` without its end is cut there (Go fails the
        // connection), so a sender cannot make the buffer grow without bound
        while buf.len() - at >= max {
            let token = splitter.trim(&buf[at..at + max]);
            if !token.is_empty() {
                entries.push(shared.entry(token, &peer, observed));
            }
            at += max;
        }
        // the connection's end flushes what is left (Go's flushAtEOF)
        if eof && at < buf.len() {
            let token = splitter.trim(&buf[at..]);
            if !token.is_empty() {
                entries.push(shared.entry(token, &peer, observed));
            }
            at = buf.len();
        }
        buf.drain(..at);
        // backpressure: the next read waits for the pipeline
        let _ = shared.send(entries, &peer).await;
        if eof {
            return;
        }
    }
}

/// Go's `trim`: `\r`, `\n`, `\t` and spaces off both ends, unless preserved.
fn trim(b: &[u8], (keep_leading, keep_trailing): (bool, bool)) -> &[u8] {
    let ws = |c: &u8| matches!(c, b'\r' | b'\n' | b'\t' | b' ');
    let start = if keep_leading {
        0
    } else {
        b.iter().position(|c| !ws(c)).unwrap_or(b.len())
    };
    let end = if keep_trailing {
        b.len()
    } else {
        b.iter()
            .rposition(|c| !ws(c))
            .map(|i| i + 1)
            .unwrap_or(start)
    };
    &b[start..end.max(start)]
}

/// Drop a datagram's trailing control bytes and NULs (Go strips every byte under 0x20).
fn strip_trailing_control(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|&c| c >= 0x20)
        .map(|i| i + 1)
        .unwrap_or(0);
    &b[..end]
}

#[async_trait]
impl Receiver for NetLog {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let shared = self.shared.clone();
        match self.socket {
            Socket::Tcp {
                listener,
                tls,
                splitter,
                one_per_connection,
                max,
                octets,
            } => {
                let framing = Framing {
                    splitter,
                    one_per_connection,
                    max,
                    octets,
                };
                let listener = tokio::net::TcpListener::from_std(listener)
                    .map_err(|e| BuildError::new(format!("{}: {e}", shared.id)))?;
                let mut tasks = tokio::task::JoinSet::new();
                loop {
                    let (conn, peer) = tokio::select! {
                        _ = shutdown.cancelled() => break,
                        r = listener.accept() => match r {
                            Ok(c) => c,
                            Err(e) => {
                                tracing::warn!(receiver = %shared.id, error = %e, "Failed to accept a connection.");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                continue;
                            }
                        },
                    };
                    let host = conn.local_addr().unwrap_or(peer);
                    let p = Peer {
                        transport: "IP.TCP",
                        peer,
                        host,
                    };
                    let (shared, framing, stop, tls) = (
                        shared.clone(),
                        framing.clone(),
                        shutdown.clone(),
                        tls.clone(),
                    );
                    tasks.spawn(async move {
                        match tls {
                            None => serve_tcp(shared, conn, p, framing, stop).await,
                            Some(acceptor) => match acceptor.accept(conn).await {
                                Ok(s) => serve_tcp(shared, s, p, framing, stop).await,
                                Err(e) => tracing::debug!(receiver = %shared.id, error = %e, "TLS handshake failed."),
                            },
                        }
                    });
                    while tasks.try_join_next().is_some() {}
                }
                // the connections read what they have and end
                while tasks.join_next().await.is_some() {}
            }
            Socket::Udp {
                socket,
                splitter,
                one_per_packet,
                preserve,
            } => {
                let socket = tokio::net::UdpSocket::from_std(socket)
                    .map_err(|e| BuildError::new(format!("{}: {e}", shared.id)))?;
                let host = socket
                    .local_addr()
                    .map_err(|e| BuildError::new(format!("{}: {e}", shared.id)))?;
                let mut buf = vec![0u8; MAX_UDP];
                loop {
                    let (n, peer) = tokio::select! {
                        _ = shutdown.cancelled() => break,
                        r = socket.recv_from(&mut buf) => match r {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::debug!(receiver = %shared.id, error = %e, "Failed to read a datagram.");
                                continue;
                            }
                        },
                    };
                    let p = Peer {
                        transport: "IP.UDP",
                        peer,
                        host,
                    };
                    let packet = strip_trailing_control(&buf[..n]);
                    let observed = now_nanos();
                    let mut entries = Vec::new();
                    match (&splitter, one_per_packet) {
                        (Some(s), false) => {
                            let mut at = 0;
                            while at < packet.len() {
                                match s.cut(&packet[at..], true) {
                                    Cut::Token {
                                        advance,
                                        start,
                                        end,
                                    } if advance > 0 => {
                                        let token = s.trim(&packet[at + start..at + end]);
                                        if !token.is_empty() {
                                            entries.push(shared.entry(token, &p, observed));
                                        }
                                        at += advance;
                                    }
                                    _ => break,
                                }
                            }
                            // the datagram's end flushes what is left
                            if at < packet.len() {
                                let token = s.trim(&packet[at..]);
                                if !token.is_empty() {
                                    entries.push(shared.entry(token, &p, observed));
                                }
                            }
                        }
                        (None, false) => {
                            let token = trim(packet, preserve);
                            if !token.is_empty() {
                                entries.push(shared.entry(token, &p, observed));
                            }
                        }
                        (_, true) => {
                            if !packet.is_empty() {
                                entries.push(shared.entry(packet, &p, observed));
                            }
                        }
                    }
                    let _ = shared.send(entries, &p).await;
                }
            }
        }
        Ok(())
    }
}
