//! `servicegraph` connector: the service-to-service edges Tempo's and Grafana's service
//! graph read, as Go's `connector/servicegraphconnector`. A client (or producer) span and
//! the server (or consumer) span whose parent it is make one request between two services;
//! spans wait for their pair in a bounded store (`store.max_items`, `store.ttl`). A client
//! span naming a database (`database_name_attributes`) is an edge to that database at once;
//! a span whose pair never comes becomes an edge to a virtual node (`user`, or the peer
//! named by `virtual_node_peer_attributes`). Per edge (`client`, `server`,
//! `connection_type`, `failed`, and `client_`/`server_` + each of `dimensions`):
//! `traces_service_graph_request_total`, `…_failed_total` (cumulative sums) and
//! `traces_service_graph_request_server` / `…_client` (histograms in seconds), flushed every
//! `metrics_flush_interval` (0: after every batch) and at shutdown.
//!
//! A batch still in its wire form is read in it (`Batch::edit_items_wire`): each span's
//! fields, and of its attributes only the entries a dimension, peer or database key names.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use pipeline_api::proto::tonic::trace::v1::{span, status, Span};
use pipeline_api::wire_items::{Level, SpanParts, WireMap};
use pipeline_api::{
    async_trait, declare, Batch, BuildError, ComponentConfig, ComponentId, ConnectorFactory,
    ConsumeError, Consumer, IntCounter, Meta, Processor, SharedConsumer, Signal, Stability,
};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::error;

use crate::common::{attr, kv, now_nanos, scalar_text, string_value};
use crate::periodic::every;

pub const META: Meta = Meta::new("servicegraph")
    .aliases(&[("service_graph", false)])
    .pairs(&[(Signal::Traces, Signal::Metrics, Stability::Alpha)]);

/// Go's default latency buckets, in seconds.
pub const DEFAULT_BUCKETS_S: [f64; 16] = [
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub max_items: usize,
    pub ttl: GoDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_items: 1000,
            ttl: GoDuration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Deprecated in Go; the pipeline decides where the metrics go.
    pub metrics_exporter: String,
    pub latency_histogram_buckets: Option<Vec<GoDuration>>,
    pub exponential_histogram_max_size: i32,
    pub dimensions: Vec<String>,
    pub store: StoreConfig,
    pub cache_loop: GoDuration,
    pub store_expiration_loop: GoDuration,
    pub virtual_node_peer_attributes: Option<Vec<String>>,
    pub virtual_node_extra_label: bool,
    pub metrics_flush_interval: Option<GoDuration>,
    pub database_name_attribute: String,
    pub database_name_attributes: Vec<String>,
    pub metrics_timestamp_offset: GoDuration,
}

impl Default for Config {
    /// Go `createDefaultConfig` (the connector fills the rest in at build).
    fn default() -> Self {
        Config {
            metrics_exporter: String::new(),
            latency_histogram_buckets: None,
            exponential_histogram_max_size: 0,
            dimensions: Vec::new(),
            store: StoreConfig::default(),
            cache_loop: GoDuration::default(),
            store_expiration_loop: GoDuration::default(),
            virtual_node_peer_attributes: None,
            virtual_node_extra_label: false,
            metrics_flush_interval: None,
            database_name_attribute: String::new(),
            database_name_attributes: Vec::new(),
            metrics_timestamp_offset: GoDuration::default(),
        }
    }
}

impl Config {
    fn bounds(&self) -> Vec<f64> {
        match &self.latency_histogram_buckets {
            Some(b) => b.iter().map(|d| d.get().as_secs_f64()).collect(),
            None => DEFAULT_BUCKETS_S.to_vec(),
        }
    }

    fn peer_attributes(&self) -> Vec<String> {
        self.virtual_node_peer_attributes
            .clone()
            .unwrap_or_else(|| {
                ["peer.service", "db.name", "db.system"]
                    .map(String::from)
                    .to_vec()
            })
    }

    fn database_attributes(&self) -> Vec<String> {
        if !self.database_name_attributes.is_empty() {
            self.database_name_attributes.clone()
        } else if !self.database_name_attribute.is_empty() {
            vec![self.database_name_attribute.clone()]
        } else {
            vec!["db.name".into()]
        }
    }

    fn flush_interval(&self) -> Duration {
        self.metrics_flush_interval
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(60))
    }

    fn expiration_loop(&self) -> Duration {
        if self.store_expiration_loop.is_zero() {
            Duration::from_secs(2)
        } else {
            self.store_expiration_loop.get()
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.latency_histogram_buckets.is_none() && self.exponential_histogram_max_size < 0 {
            errors.push(ConfigError::new(
                &["exponential_histogram_max_size"],
                "`exponential_histogram_max_size` can not be negative",
            ));
        }
        if self.latency_histogram_buckets.is_some() && self.exponential_histogram_max_size > 0 {
            errors.push(ConfigError::new(
                &["latency_histogram_buckets"],
                "use either `latency_histogram_buckets` or `exponential_histogram_max_size`",
            ));
        } else if self.exponential_histogram_max_size > 0 {
            errors.push(ConfigError::new(
                &["exponential_histogram_max_size"],
                "exponential histograms are not supported by Ferrotel yet; use `latency_histogram_buckets`",
            ));
        }
        if self.store.max_items == 0 {
            errors.push(ConfigError::new(
                &["store", "max_items"],
                "must be greater than zero",
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut keys = Vec::new();
        if !self.metrics_exporter.is_empty() {
            keys.push((
                "metrics_exporter".into(),
                "deprecated: the pipeline the connector feeds decides where metrics go".into(),
            ));
        }
        keys
    }
}

pub fn factory() -> Arc<dyn ConnectorFactory> {
    declare::connector::<Config>(META, |ctx, cfg, from, to, next| {
        if (from, to) != (Signal::Traces, Signal::Metrics) {
            return Err(BuildError::new(format!(
                "servicegraph connects traces to metrics, not {from} to {to}"
            )));
        }
        let dropped = ctx.telemetry.counter(
            "otelcol_connector_servicegraph_dropped_spans",
            "Number of spans dropped when trying to add edges",
            &[],
        );
        let expired = ctx.telemetry.counter(
            "otelcol_connector_servicegraph_expired_edges",
            "Number of edges that expired before finding its matching span",
            &[],
        );
        let total = ctx.telemetry.counter(
            "otelcol_connector_servicegraph_total_edges",
            "Total number of unique edges",
            &[],
        );
        Ok(Arc::new(Node(Arc::new(ServiceGraph {
            id: ctx.id,
            bounds: cfg.bounds(),
            peers: cfg.peer_attributes(),
            databases: cfg.database_attributes(),
            cfg: cfg.clone(),
            state: Mutex::new(State::default()),
            next: next.all,
            started: now_nanos(),
            tasks: Mutex::new(None),
            stopped: std::sync::atomic::AtomicBool::new(false),
            dropped,
            expired,
            total,
        }))))
    })
}

fn attr_text(attrs: &[KeyValue], key: &str) -> Option<String> {
    attr(attrs, key).and_then(scalar_text)
}

fn duration_s(span: &Span) -> f64 {
    span.end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / 1e9
}

/// Go `store.ConnectionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Connection {
    #[default]
    Unknown,
    MessagingSystem,
    Database,
    VirtualNode,
}

impl Connection {
    fn as_str(self) -> &'static str {
        match self {
            Connection::Unknown => "",
            Connection::MessagingSystem => "messaging_system",
            Connection::Database => "database",
            Connection::VirtualNode => "virtual_node",
        }
    }
}

/// One request between two services, as far as its spans have told it.
#[derive(Debug, Clone, Default)]
struct Edge {
    /// The parent span id of a server side (empty: a root span).
    span_id_empty: bool,
    connection: Connection,
    client: String,
    server: String,
    client_latency: f64,
    server_latency: f64,
    failed: bool,
    dimensions: BTreeMap<String, String>,
    peer: BTreeMap<String, String>,
    virtual_node: &'static str,
    expires: Option<Instant>,
    /// Its place in `State::order`: an entry there with another number is stale.
    seq: u64,
}

impl Edge {
    fn is_complete(&self) -> bool {
        !self.client.is_empty() && !self.server.is_empty()
    }
}

/// A latency histogram: per-bucket counts, sum, count.
type Hist = (Vec<u64>, f64, u64);

#[derive(Debug, Default)]
struct Series {
    attributes: Vec<KeyValue>,
    total: i64,
    failed: i64,
    server: Hist,
    client: Hist,
    updated: Option<Instant>,
}

/// (trace id, span id) of the client side.
type EdgeKey = (Vec<u8>, Vec<u8>);

#[derive(Default)]
struct State {
    /// Edges waiting for their pair, by (trace id, span id).
    edges: HashMap<EdgeKey, Edge>,
    /// Their keys oldest first, each with its edge's `seq`. A completed edge leaves its
    /// entry behind (removing it would be a walk over every waiting edge); stale entries
    /// are skipped at the head and compacted away once they outnumber the live ones.
    order: VecDeque<(u64, EdgeKey)>,
    next_seq: u64,
    series: BTreeMap<String, Series>,
}

pub struct ServiceGraph {
    id: ComponentId,
    cfg: Config,
    bounds: Vec<f64>,
    peers: Vec<String>,
    databases: Vec<String>,
    state: Mutex<State>,
    next: SharedConsumer,
    started: u64,
    tasks: Mutex<Option<(CancellationToken, Vec<JoinHandle<()>>)>>,
    stopped: std::sync::atomic::AtomicBool,
    dropped: IntCounter,
    expired: IntCounter,
    total: IntCounter,
}

impl ServiceGraph {
    fn dimensions(
        &self,
        kind: &str,
        edge: &mut Edge,
        resource: &[KeyValue],
        span: &dyn Fn(&str) -> Option<String>,
    ) {
        for d in &self.cfg.dimensions {
            if let Some(v) = attr_text(resource, d).or_else(|| span(d)) {
                edge.dimensions.insert(format!("{kind}_{d}"), v);
            }
        }
    }

    /// Update (or create) the edge under `key`; a complete edge is counted and removed.
    fn upsert(&self, state: &mut State, key: EdgeKey, update: impl FnOnce(&mut Edge)) {
        if let Some(edge) = state.edges.get_mut(&key) {
            update(edge);
            if edge.is_complete() {
                let edge = state.edges.remove(&key).expect("present");
                if state.order.len() > 2 * state.edges.len() + 64 {
                    let State { order, edges, .. } = &mut *state;
                    order.retain(|(seq, k)| edges.get(k).is_some_and(|e| e.seq == *seq));
                }
                self.complete(state, &edge);
            }
            return;
        }
        // full: the oldest edge goes if it has expired, else the span is dropped (Go)
        if state.edges.len() >= self.cfg.store.max_items && !self.evict_head(state) {
            self.dropped.inc();
            return;
        }
        let mut edge = Edge {
            span_id_empty: key.1.iter().all(|b| *b == 0),
            expires: Some(Instant::now() + self.cfg.store.ttl.get()),
            seq: state.next_seq,
            ..Default::default()
        };
        update(&mut edge);
        self.total.inc();
        if edge.is_complete() {
            self.complete(state, &edge);
            return;
        }
        state.next_seq += 1;
        state.order.push_back((edge.seq, key.clone()));
        state.edges.insert(key, edge);
    }

    /// Evict the oldest edge if it has expired (Go `tryEvictHead`).
    fn evict_head(&self, state: &mut State) -> bool {
        loop {
            let Some((seq, key)) = state.order.front() else {
                return false;
            };
            match state.edges.get(key) {
                // the edge completed (or its key was taken again later): a stale entry
                Some(e) if e.seq != *seq => {}
                None => {}
                Some(e) => {
                    if e.expires.is_none_or(|t| t > Instant::now()) {
                        return false;
                    }
                    let (_, key) = state.order.pop_front().expect("front");
                    let edge = state.edges.remove(&key).expect("present");
                    self.on_expire(state, edge);
                    return true;
                }
            }
            state.order.pop_front();
        }
    }

    /// An edge whose pair never came: towards a virtual node (Go `onExpire`).
    fn on_expire(&self, state: &mut State, mut edge: Edge) {
        self.expired.inc();
        if self.peers.is_empty() {
            return;
        }
        edge.connection = Connection::VirtualNode;
        if edge.client.is_empty() && edge.span_id_empty {
            edge.client = "user".into();
            if self.cfg.virtual_node_extra_label {
                edge.virtual_node = "client";
            }
            self.complete(state, &edge);
        }
        if edge.server.is_empty() {
            edge.server = self
                .peers
                .iter()
                .find_map(|p| edge.peer.get(p).cloned())
                .unwrap_or_else(|| "unknown".into());
            if self.cfg.virtual_node_extra_label {
                edge.virtual_node = "server";
            }
            self.complete(state, &edge);
        }
    }

    /// Count a request (Go `aggregateMetricsForEdge`).
    fn complete(&self, state: &mut State, edge: &Edge) {
        let mut key = [
            edge.client.as_str(),
            edge.server.as_str(),
            edge.connection.as_str(),
            if edge.failed { "true" } else { "false" },
        ]
        .join("\0");
        for (k, v) in &edge.dimensions {
            key.push('\0');
            key.push_str(k);
            key.push('=');
            key.push_str(v);
        }
        let string = |k: &str, v: &str| kv(k, string_value(v));
        let mut attributes = vec![
            string("client", &edge.client),
            string("server", &edge.server),
            string("connection_type", edge.connection.as_str()),
            KeyValue {
                key: "failed".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BoolValue(edge.failed)),
                }),
                ..Default::default()
            },
        ];
        for (k, v) in &edge.dimensions {
            attributes.push(string(k, v));
        }
        if self.cfg.virtual_node_extra_label {
            attributes.push(string("virtual_node", edge.virtual_node));
        }
        let buckets = self.bounds.len() + 1;
        let s = state.series.entry(key).or_insert_with(|| Series {
            server: (vec![0; buckets], 0.0, 0),
            client: (vec![0; buckets], 0.0, 0),
            ..Default::default()
        });
        s.attributes = attributes;
        s.updated = Some(Instant::now());
        s.total += 1;
        if edge.failed {
            s.failed += 1;
        }
        for (h, v) in [
            (&mut s.server, edge.server_latency),
            (&mut s.client, edge.client_latency),
        ] {
            let i = self.bounds.partition_point(|b| *b < v);
            h.0[i] += 1;
            h.1 += v;
            h.2 += 1;
        }
    }

    /// Aggregate a trace batch: over its wire form while it has one (nothing decoded but
    /// each span's fields and the attributes looked up), else over its decoded form.
    fn aggregate(&self, batch: &mut Batch) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let r = batch.edit_items_wire(Level::Item, &mut |parts: SpanParts<'_, '_>| {
            let Some(item) = parts.item else {
                return Ok(());
            };
            let resource: &[KeyValue] = parts
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            if let Some(service) = attr_text(resource, "service.name") {
                let attrs: &dyn WireMap = item.attrs;
                let text = |k: &str| attrs.get(k).as_ref().and_then(scalar_text);
                self.span(&mut state, &service, resource, item.item, &text);
            }
            Ok(())
        });
        if r.is_some() {
            return;
        }
        let Some(traces) = batch.as_traces() else {
            return;
        };
        for rs in &traces.resource_spans {
            let resource: &[KeyValue] = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            let Some(service) = attr_text(resource, "service.name") else {
                continue;
            };
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let text = |k: &str| attr_text(&span.attributes, k);
                    self.span(&mut state, &service, resource, span, &text);
                }
            }
        }
    }

    /// Count one span of `service` (its resource's attributes `resource`); `text` gives the
    /// text of the span's attribute of a key (`attr_text`).
    fn span(
        &self,
        state: &mut State,
        service: &str,
        resource: &[KeyValue],
        span: &Span,
        text: &dyn Fn(&str) -> Option<String>,
    ) {
        let kind = span::SpanKind::try_from(span.kind).unwrap_or(span::SpanKind::Unspecified);
        let failed = span.status.as_ref().map(|s| s.code) == Some(status::StatusCode::Error as i32);
        let messaging = matches!(kind, span::SpanKind::Producer | span::SpanKind::Consumer);
        let connection = if messaging {
            Connection::MessagingSystem
        } else {
            Connection::Unknown
        };
        match kind {
            span::SpanKind::Client | span::SpanKind::Producer => {
                let key = (span.trace_id.clone(), span.span_id.clone());
                let database = self
                    .databases
                    .iter()
                    .find_map(|d| attr_text(resource, d).or_else(|| text(d)));
                self.upsert(state, key, |e| {
                    e.connection = connection;
                    e.client = service.to_string();
                    e.client_latency = duration_s(span);
                    e.failed = e.failed || failed;
                    self.dimensions("client", e, resource, text);
                    if let Some((p, v)) = self
                        .peers
                        .iter()
                        .find_map(|p| text(p).map(|v| (p.clone(), v)))
                    {
                        e.peer.insert(p, v);
                    }
                    if let Some(db) = database {
                        e.connection = Connection::Database;
                        e.server = db;
                        e.server_latency = duration_s(span);
                    }
                });
            }
            span::SpanKind::Server | span::SpanKind::Consumer => {
                let key = (span.trace_id.clone(), span.parent_span_id.clone());
                self.upsert(state, key, |e| {
                    e.connection = connection;
                    e.server = service.to_string();
                    e.server_latency = duration_s(span);
                    e.failed = e.failed || failed;
                    self.dimensions("server", e, resource, text);
                });
            }
            _ => {}
        }
    }

    /// Expire every edge whose time is up (Go `Expire`).
    fn expire(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while self.evict_head(&mut state) {}
    }

    /// Drop series not updated for 15 minutes (Go `cleanCache`).
    fn clean(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.series.retain(|_, s| {
            s.updated
                .is_some_and(|t| t.elapsed() < Duration::from_secs(15 * 60))
        });
    }

    /// The cumulative metrics of every series (Go `buildMetrics`); `None` when there is none.
    fn build(&self) -> Option<ExportMetricsServiceRequest> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.series.is_empty() {
            return None;
        }
        let now =
            now_nanos().saturating_sub(self.cfg.metrics_timestamp_offset.get().as_nanos() as u64);
        let cumulative = AggregationTemporality::Cumulative as i32;
        let sum = |name: &str, value: &dyn Fn(&Series) -> i64| Metric {
            name: name.into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: state
                    .series
                    .values()
                    .filter(|s| value(s) > 0)
                    .map(|s| NumberDataPoint {
                        attributes: s.attributes.clone(),
                        start_time_unix_nano: self.started,
                        time_unix_nano: now,
                        value: Some(number_data_point::Value::AsInt(value(s))),
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: cumulative,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let histogram = |name: &str, pick: &dyn Fn(&Series) -> &Hist| Metric {
            name: name.into(),
            unit: "s".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: state
                    .series
                    .values()
                    .map(|s| {
                        let (buckets, total, count) = pick(s);
                        HistogramDataPoint {
                            attributes: s.attributes.clone(),
                            start_time_unix_nano: self.started,
                            time_unix_nano: now,
                            count: *count,
                            sum: Some(*total),
                            bucket_counts: buckets.clone(),
                            explicit_bounds: self.bounds.clone(),
                            ..Default::default()
                        }
                    })
                    .collect(),
                aggregation_temporality: cumulative,
            })),
            ..Default::default()
        };
        let mut metrics = vec![sum("traces_service_graph_request_total", &|s| s.total)];
        if state.series.values().any(|s| s.failed > 0) {
            metrics.push(sum("traces_service_graph_request_failed_total", &|s| {
                s.failed
            }));
        }
        metrics.push(histogram("traces_service_graph_request_server", &|s| {
            &s.server
        }));
        metrics.push(histogram("traces_service_graph_request_client", &|s| {
            &s.client
        }));
        Some(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "traces_service_graph".into(),
                        ..Default::default()
                    }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    async fn flush(&self) {
        let Some(request) = self.build() else {
            return;
        };
        if let Err(e) = self.next.consume(Batch::from_metrics(request)).await {
            error!(connector = %self.id, error = %e, "failed to flush metrics");
        }
    }
}

/// The connector as the graph holds it, shared with its timers.
pub struct Node(pub Arc<ServiceGraph>);

#[async_trait]
impl Consumer for Node {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != Signal::Traces {
            return Err(ConsumeError::permanent(format!(
                "servicegraph takes traces, not {}",
                batch.signal()
            )));
        }
        let mut batch = batch;
        self.0.aggregate(&mut batch);
        if self.0.cfg.flush_interval().is_zero()
            || self.0.stopped.load(std::sync::atomic::Ordering::SeqCst)
        {
            self.0.flush().await;
        }
        Ok(())
    }
}

#[async_trait]
impl Processor for Node {
    async fn start(&self) -> Result<(), BuildError> {
        let me = &self.0;
        let token = CancellationToken::new();
        let mut tasks = Vec::new();
        let timer = |period: Duration, what: fn(&ServiceGraph)| {
            every(
                period,
                Arc::downgrade(me),
                token.clone(),
                move |me: Arc<ServiceGraph>| {
                    what(&me);
                    std::future::ready(())
                },
            )
        };
        tasks.push(timer(me.cfg.expiration_loop(), ServiceGraph::expire));
        let cache_loop = if me.cfg.cache_loop.is_zero() {
            Duration::from_secs(60)
        } else {
            me.cfg.cache_loop.get()
        };
        tasks.push(timer(cache_loop, ServiceGraph::clean));
        let flush = me.cfg.flush_interval();
        if !flush.is_zero() {
            tasks.push(every(
                flush,
                Arc::downgrade(me),
                token.clone(),
                |me: Arc<ServiceGraph>| async move { me.flush().await },
            ));
        }
        *me.tasks.lock().unwrap_or_else(|p| p.into_inner()) = Some((token, tasks));
        Ok(())
    }

    async fn shutdown(&self) {
        let me = &self.0;
        me.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        let tasks = me.tasks.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((token, tasks)) = tasks {
            token.cancel();
            for t in tasks {
                let _ = t.await;
            }
        }
        me.flush().await;
    }
}
