//! The `postgresql` receiver (Go's `receiver/postgresqlreceiver`): every
//! `collection_interval` it reads PostgreSQL's statistics views over connections it keeps
//! (one per database) and records Go's `postgresql.*` metrics, on Go's resources: one per
//! table, database and index, and one for the instance.
//!
//! Go facts relied on (contrib `receiver/postgresqlreceiver`: `config.go`, `factory.go`,
//! `client.go`, `scraper.go`, `metadata.yaml`, near v0.155.0; the Go module proxy here does
//! not serve it, so the behaviour is taken from its source and tested against a real
//! PostgreSQL server, not against the Go oracle):
//! - `endpoint` `localhost:5432`, `transport` `tcp`, `collection_interval` 10s; `username`
//!   and `password` required. TLS on by default without verifying the server
//!   (`insecure_skip_verify: true`, lib/pq's `sslmode=require`); `insecure: true` is
//!   `sslmode=disable`; `insecure_skip_verify: false` verifies (`verify-full`).
//! - The databases: `databases`, else every non-template database of `pg_database` (read on
//!   a connection to `postgres`), less `exclude_databases`.
//! - On the `postgres` connection: `pg_stat_activity` (backends), `pg_database_size`,
//!   `pg_stat_database`, then `pg_stat_bgwriter` (with `pg_stat_checkpointer` from version
//!   17), `pg_stat_archiver`, `pg_stat_replication`, `max_connections` and `pg_locks`. On
//!   each database's own connection: `pg_stat_user_tables`, `pg_statio_user_tables`,
//!   `pg_stat_user_indexes`, `pg_stat_user_functions`.
//! - A query that fails loses what it would have recorded and the rest goes on (Go's
//!   partial scrape errors); no connection to `postgres`, or no database list, loses the
//!   round.
//! - Go's default feature gates: lag as `postgresql.wal.delay` (`preciselagmetrics`), kept
//!   connections (`connectionPool`), the schema in `postgresql.table.name`
//!   (`separateSchemaAttr` off).

pub mod metadata;
mod tls;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Meta, Receiver, ReceiverFactory, SharedConsumer, Signal, SignalConsumers,
    Stability,
};
use serde::Deserialize;
use tokio_postgres::{Client, SimpleQueryMessage};
use transport::tls::TlsClientConfig;

use crate::hostmetrics::builder::{kv, resource_metrics_scoped, AttrValue, MetricsBuilder};
use crate::hostmetrics::config::{
    check_metrics, check_resource_attributes, resource_on, toggles, MetricToggles, ResourceToggles,
};
use crate::hostmetrics::scrapers::now_nanos;
use crate::scraping::{self, Rounds};

pub const META: Meta = Meta::new("postgresql").metrics(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<PostgresqlConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(PostgresqlReceiver::build(ctx, cfg, next)?))
    })
}

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/postgresqlreceiver";

/// The database the receiver lists databases and reads instance statistics from.
const LIST_DATABASE: &str = "postgres";

/// The receiver's config. `Default` = Go's `createDefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresqlConfig {
    /// `host:port`, whatever the transport (for `unix`, the socket is
    /// `/<host>/.s.PGSQL.<port>`).
    pub endpoint: String,
    /// `tcp` or `unix`.
    pub transport: String,
    /// Go `confignet.DialerConfig`: accepted.
    pub dialer: Option<ConfigValue>,
    pub username: String,
    pub password: String,
    /// The databases to read; empty: every non-template database.
    pub databases: Vec<String>,
    pub exclude_databases: Vec<String>,
    pub tls: TlsClientConfig,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// Each scrape's deadline (connecting included); 0: 10s.
    pub timeout: GoDuration,
    /// Go's `database/sql` pool settings: accepted; Ferrotel keeps one connection per
    /// database.
    pub connection_pool: ConnectionPool,
    /// The settings of Go's events (logs), which Ferrotel does not produce.
    pub query_sample_collection: QuerySampleCollection,
    pub top_query_collection: TopQueryCollection,
    pub metrics: MetricToggles,
    pub resource_attributes: ResourceToggles,
    pub events: BTreeMap<String, EventToggle>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionPool {
    pub max_idle_time: Option<GoDuration>,
    pub max_lifetime: Option<GoDuration>,
    pub max_idle: Option<i64>,
    pub max_open: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuerySampleCollection {
    pub max_rows_per_query: i64,
}

impl Default for QuerySampleCollection {
    fn default() -> Self {
        QuerySampleCollection {
            max_rows_per_query: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopQueryCollection {
    pub max_rows_per_query: i64,
    pub top_n_query: i64,
    pub max_explain_each_interval: i64,
    pub query_plan_cache_size: i64,
    pub query_plan_cache_ttl: GoDuration,
    pub collection_interval: GoDuration,
}

impl Default for TopQueryCollection {
    fn default() -> Self {
        TopQueryCollection {
            max_rows_per_query: 1000,
            top_n_query: 200,
            max_explain_each_interval: 1000,
            query_plan_cache_size: 1000,
            query_plan_cache_ttl: GoDuration::from_secs(3600),
            collection_interval: GoDuration::from_secs(60),
        }
    }
}

/// One entry of `events:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventToggle {
    pub enabled: Option<bool>,
}

impl Default for PostgresqlConfig {
    fn default() -> Self {
        PostgresqlConfig {
            endpoint: "localhost:5432".into(),
            transport: "tcp".into(),
            dialer: None,
            username: String::new(),
            password: String::new(),
            databases: Vec::new(),
            exclude_databases: Vec::new(),
            tls: TlsClientConfig {
                insecure: false,
                insecure_skip_verify: true,
                ..Default::default()
            },
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            connection_pool: ConnectionPool::default(),
            query_sample_collection: QuerySampleCollection::default(),
            top_query_collection: TopQueryCollection::default(),
            metrics: MetricToggles::new(),
            resource_attributes: BTreeMap::new(),
            events: BTreeMap::new(),
        }
    }
}

impl Validate for PostgresqlConfig {
    /// Go `Config.Validate` (every problem at once, as its `multierr`), then the generated
    /// checks of `metrics:`, `resource_attributes:` and `events:`.
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut err = |key: &str, msg: &str| {
            errors.push(ConfigError::new(&[key], format!("invalid config: {msg}")));
        };
        if self.username.is_empty() {
            err("username", "missing username");
        }
        if self.password.is_empty() {
            err("password", "missing password");
        }
        if !self.tls.server_name_override.is_empty() {
            err("tls", "field 'ServerName' not supported");
        }
        if !self.tls.max_version.is_empty() {
            err("tls", "field 'MaxVersion' not supported");
        }
        if !self.tls.min_version.is_empty() {
            err("tls", "field 'MinVersion' not supported");
        }
        if !matches!(self.transport.as_str(), "tcp" | "unix") {
            err("transport", "'transport' must be 'tcp' or 'unix'");
        } else if host_port(&self.endpoint).is_none() {
            err(
                "endpoint",
                "'endpoint' must be in the form <host>:<port> no matter what 'transport' is configured",
            );
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
        for name in self.events.keys() {
            if !metadata::EVENTS.contains(&name.as_str()) {
                errors.push(ConfigError::new(
                    &["events"],
                    format!("has invalid keys: {name}"),
                ));
            }
        }
        errors
    }
}

impl ComponentConfig for PostgresqlConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, t) in &self.events {
            if t.enabled == Some(true) {
                out.push((
                    format!("events::{name}"),
                    "Ferrotel does not produce the postgresql receiver's events (query samples and top queries)".into(),
                ));
            }
        }
        for (name, t) in &self.metrics {
            if metadata::NOT_PRODUCED.contains(&name.as_str()) && t.enabled == Some(true) {
                out.push((
                    format!("metrics::{name}"),
                    "recorded only with Go's postgresqlreceiver.preciselagmetrics gate off; the lag is postgresql.wal.delay".into(),
                ));
            }
        }
        out
    }
}

/// Go `net.SplitHostPort`, loosely: the host (brackets removed) and the port.
fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let (host, port) = endpoint.rsplit_once(':')?;
    let host = if let Some(h) = host.strip_prefix('[') {
        h.strip_suffix(']')?
    } else if host.contains(':') {
        return None;
    } else {
        host
    };
    Some((host.to_string(), port.parse().ok()?))
}

/// `service.instance.id`: `host:port`, the machine's name for a loopback host (Go: when
/// `os.Hostname` answers).
fn instance_id(endpoint: &str) -> String {
    let Some((host, port)) = host_port(endpoint) else {
        return "unknown:5432".into();
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    let host = if loopback {
        let name = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        if name.is_empty() {
            host
        } else {
            name
        }
    } else {
        host
    };
    format!("{host}:{port}")
}

/// A string quoted as an SQL literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `datname IN (...)` of the databases read.
fn in_list(databases: &[String]) -> String {
    databases
        .iter()
        .map(|d| literal(d))
        .collect::<Vec<_>>()
        .join(",")
}

/// A client error with its causes (the server's message is the cause of "db error").
fn error_text(e: &tokio_postgres::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

/// The rows of a query, every column as text (`None` for SQL NULL).
async fn rows(client: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let messages = client.simple_query(sql).await.map_err(|e| error_text(&e))?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect())
}

/// A column read as a number; NULL or text that is not one fails, as Go's row scan does.
fn num(row: &[Option<String>], i: usize) -> Result<f64, String> {
    let v = row
        .get(i)
        .and_then(|v| v.as_deref())
        .ok_or_else(|| format!("column {i} is NULL"))?;
    v.parse::<f64>()
        .map_err(|_| format!("column {i}: {v:?} is not a number"))
}

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// One database's row of `pg_stat_database`, by column.
const DATABASE_STATS: &[(&str, &str)] = &[
    ("xact_commit", "postgresql.commits"),
    ("xact_rollback", "postgresql.rollbacks"),
    ("deadlocks", "postgresql.deadlocks"),
    ("temp_files", "postgresql.temp_files"),
    ("temp_bytes", "postgresql.temp.io"),
    ("tup_updated", "postgresql.tup_updated"),
    ("tup_returned", "postgresql.tup_returned"),
    ("tup_fetched", "postgresql.tup_fetched"),
    ("tup_inserted", "postgresql.tup_inserted"),
    ("tup_deleted", "postgresql.tup_deleted"),
    ("blks_hit", "postgresql.blks_hit"),
    ("blks_read", "postgresql.blks_read"),
];

/// `pg_statio_user_tables`' columns as `postgresql.blocks_read`'s `source`.
const BLOCK_SOURCES: &[(&str, &str)] = &[
    ("heap_blks_read", "heap_read"),
    ("heap_blks_hit", "heap_hit"),
    ("idx_blks_read", "idx_read"),
    ("idx_blks_hit", "idx_hit"),
    ("toast_blks_read", "toast_read"),
    ("toast_blks_hit", "toast_hit"),
    ("tidx_blks_read", "tidx_read"),
    ("tidx_blks_hit", "tidx_hit"),
];

/// A built receiver.
pub struct PostgresqlReceiver {
    id: ComponentId,
    cfg: PostgresqlConfig,
    /// The rustls config when TLS is on.
    tls: Option<Arc<rustls::ClientConfig>>,
    instance_id: String,
    next: SharedConsumer,
    obs: ReceiverObs,
}

/// What the scrape loop keeps between rounds: a connection per database (Go's default
/// `connectionPool` gate) and the start of the cumulative points.
struct State {
    clients: HashMap<String, Client>,
    start: u64,
}

/// What one round read before it is recorded.
#[derive(Default)]
struct Round {
    warnings: Vec<String>,
}

impl Round {
    fn partial(&mut self, what: &str, e: String) {
        self.warnings.push(format!("{what}: {e}"));
    }
}

impl PostgresqlReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &PostgresqlConfig,
        next: SignalConsumers,
    ) -> Result<PostgresqlReceiver, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the postgresql receiver produces metrics only"))?;
        let tls = if cfg.tls.insecure {
            None
        } else {
            let mut tls = cfg.tls.clone();
            // `insecure` is what turns TLS off here, not whether a CA is set
            tls.insecure = false;
            tls.client_config(&[], false)
                .map_err(|e| {
                    BuildError::new(format!("{}: failed to load TLS config: {e}", ctx.id))
                })?
                .map(Arc::new)
        };
        Ok(PostgresqlReceiver {
            obs: ctx.telemetry.receiver_obs(""),
            id: ctx.id,
            instance_id: instance_id(&cfg.endpoint),
            tls,
            cfg: cfg.clone(),
            next,
        })
    }

    fn resource_on(&self, name: &str) -> bool {
        resource_on(&self.cfg.resource_attributes, metadata::RESOURCE, name)
    }

    /// A resource's attributes from `(name, value)` pairs, then `service.instance.id`;
    /// those turned off left out.
    fn resource(&self, pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        let mut out: Vec<KeyValue> = pairs
            .iter()
            .filter(|(k, _)| self.resource_on(k))
            .map(|(k, v)| kv(k, AttrValue::Str((*v).to_string())))
            .collect();
        if self.resource_on("service.instance.id") {
            out.push(kv(
                "service.instance.id",
                AttrValue::Str(self.instance_id.clone()),
            ));
        }
        out
    }

    /// Connect to `database`.
    async fn connect(&self, database: &str, deadline: Duration) -> Result<Client, String> {
        let (host, port) = host_port(&self.cfg.endpoint)
            .ok_or_else(|| format!("invalid endpoint {:?}", self.cfg.endpoint))?;
        let mut pg = tokio_postgres::Config::new();
        if self.cfg.transport == "unix" {
            pg.host_path(format!("/{host}"));
        } else {
            pg.host(&host);
        }
        pg.port(port)
            .user(&self.cfg.username)
            .password(&self.cfg.password)
            .dbname(database)
            .connect_timeout(deadline)
            .ssl_mode(if self.tls.is_some() {
                tokio_postgres::config::SslMode::Require
            } else {
                tokio_postgres::config::SslMode::Disable
            });
        let make = tls::MakeRustls {
            config: self.tls.clone(),
            server_name: String::new(),
        };
        let (client, connection) = pg.connect(make).await.map_err(|e| error_text(&e))?;
        let id = self.id.clone();
        let db = database.to_string();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(receiver = %id, database = %db, error = %e, "A PostgreSQL connection ended.");
            }
        });
        Ok(client)
    }

    /// The kept connection to `database`, made (again) when there is none or it broke.
    async fn client<'a>(
        &self,
        state: &'a mut State,
        database: &str,
        deadline: Duration,
    ) -> Result<&'a Client, String> {
        let alive = state.clients.get(database).is_some_and(|c| !c.is_closed());
        if !alive {
            let client = self.connect(database, deadline).await?;
            state.clients.insert(database.to_string(), client);
        }
        Ok(&state.clients[database])
    }

    /// One round: every resource with metrics, tables, database and indexes of each
    /// database in turn, then the instance.
    async fn scrape(
        &self,
        state: &mut State,
        deadline: Duration,
    ) -> Result<(Vec<ResourceMetrics>, Vec<String>), String> {
        let now = now_nanos();
        let mut mb = MetricsBuilder::new(metadata::DEFS, &toggles(&self.cfg.metrics));
        mb.begin(state.start, now);
        let mut round = Round::default();
        let mut out = Vec::new();

        let list = self
            .client(state, LIST_DATABASE, deadline)
            .await
            .map_err(|e| format!("failed to connect to the {LIST_DATABASE} database: {e}"))?;
        let mut databases = self.cfg.databases.clone();
        if databases.is_empty() {
            databases = rows(
                list,
                "SELECT datname FROM pg_database WHERE datistemplate = false;",
            )
            .await
            .map_err(|e| format!("failed to list the databases: {e}"))?
            .iter()
            .map(|r| text(r, 0))
            .collect();
        }
        databases.retain(|d| !self.cfg.exclude_databases.contains(d));

        // per database, from the `postgres` connection
        let mut backends = HashMap::new();
        let mut sizes = HashMap::new();
        let mut stats: HashMap<String, Vec<f64>> = HashMap::new();
        if !databases.is_empty() {
            let dbs = in_list(&databases);
            let backends_sql = format!(
                "SELECT datname, count(*) FROM pg_stat_activity WHERE datname IN ({dbs}) GROUP BY datname;"
            );
            let sizes_sql = format!(
                "SELECT datname, pg_database_size(datname) FROM pg_catalog.pg_database WHERE datistemplate = false AND datname IN ({dbs});"
            );
            let columns: Vec<&str> = DATABASE_STATS.iter().map(|(c, _)| *c).collect();
            let stats_sql = format!(
                "SELECT datname, {} FROM pg_stat_database WHERE datname IN ({dbs});",
                columns.join(", ")
            );
            let (b, s, st) = tokio::join!(
                rows(list, &backends_sql),
                rows(list, &sizes_sql),
                rows(list, &stats_sql)
            );
            // a query that fails, or a row that does not read, loses the whole query's
            // numbers, as in Go
            let per_db = |r: Result<Vec<Vec<Option<String>>>, String>| {
                r.and_then(|rows| {
                    rows.iter()
                        .map(|row| {
                            let values =
                                (1..row.len())
                                    .map(|i| num(row, i))
                                    .collect::<Result<Vec<f64>, String>>()?;
                            Ok((text(row, 0), values))
                        })
                        .collect::<Result<HashMap<String, Vec<f64>>, String>>()
                })
            };
            match per_db(b) {
                Ok(m) => backends = m,
                Err(e) => round.partial("unable to query pg_stat_activity", e),
            }
            match per_db(s) {
                Ok(m) => sizes = m,
                Err(e) => round.partial("unable to query pg_database_size", e),
            }
            match per_db(st) {
                Ok(m) => stats = m,
                Err(e) => round.partial("unable to query pg_stat_database", e),
            }
        }

        for db in &databases {
            let client = match self.client(state, db, deadline).await {
                Ok(c) => c,
                Err(e) => {
                    round.partial(&format!("failed to connect to database {db}"), e);
                    continue;
                }
            };
            let tables = self.tables(client, db, &mut mb, &mut round, &mut out).await;
            mb.record("postgresql.table.count", tables as f64, &[]);
            if let Some(v) = backends.get(db) {
                mb.record("postgresql.backends", v[0], &[]);
            }
            if let Some(v) = sizes.get(db) {
                mb.record("postgresql.db_size", v[0], &[]);
            }
            if let Some(v) = stats.get(db) {
                for ((_, metric), x) in DATABASE_STATS.iter().zip(v) {
                    mb.record(metric, *x, &[]);
                }
            }
            self.emit(&mut mb, &[("postgresql.database.name", db)], &mut out);
            self.indexes(client, db, &mut mb, &mut round, &mut out)
                .await;
            self.functions(client, db, &mut mb, &mut round, &mut out)
                .await;
        }

        // the instance, from the `postgres` connection
        let list = self
            .client(state, LIST_DATABASE, deadline)
            .await
            .map_err(|e| format!("failed to connect to the {LIST_DATABASE} database: {e}"))?;
        mb.record("postgresql.database.count", databases.len() as f64, &[]);
        self.bgwriter(list, &mut mb, &mut round).await;
        self.wal_age(list, &mut mb, &mut round).await;
        self.replication(list, &mut mb, &mut round).await;
        match rows(list, "SHOW max_connections;").await {
            Ok(r) => match r.first().map(|row| num(row, 0)) {
                Some(Ok(v)) => mb.record("postgresql.connection.max", v, &[]),
                Some(Err(e)) => round.partial("unable to read max_connections", e),
                None => {}
            },
            Err(e) => round.partial("unable to query max_connections", e),
        }
        if mb.enabled("postgresql.database.locks") {
            self.locks(list, &mut mb, &mut round).await;
        }
        self.emit(&mut mb, &[], &mut out);
        Ok((out, round.warnings))
    }

    /// The recorded metrics as one resource (none without metrics, as in Go).
    fn emit(
        &self,
        mb: &mut MetricsBuilder,
        pairs: &[(&str, &str)],
        out: &mut Vec<ResourceMetrics>,
    ) {
        let metrics = mb.take_metrics();
        if !metrics.is_empty() {
            out.push(resource_metrics_scoped(
                SCOPE,
                self.resource(pairs),
                metrics,
            ));
        }
    }

    /// Each user table of `db` as its own resource; the number of tables.
    async fn tables(
        &self,
        client: &Client,
        db: &str,
        mb: &mut MetricsBuilder,
        round: &mut Round,
        out: &mut Vec<ResourceMetrics>,
    ) -> usize {
        let columns: Vec<String> = BLOCK_SOURCES
            .iter()
            .map(|(c, _)| format!("coalesce({c}, 0)"))
            .collect();
        let statio_sql = format!(
            "SELECT schemaname, relname, {} FROM pg_statio_user_tables;",
            columns.join(", ")
        );
        let mut blocks: HashMap<(String, String), Vec<Option<f64>>> = HashMap::new();
        match rows(client, &statio_sql).await {
            Ok(r) => {
                for row in r {
                    let values = (2..row.len()).map(|i| num(&row, i).ok()).collect();
                    blocks.insert((text(&row, 0), text(&row, 1)), values);
                }
            }
            Err(e) => round.partial(&format!("unable to query pg_statio_user_tables in {db}"), e),
        }
        let stats_sql = "SELECT schemaname, relname, n_live_tup, n_dead_tup, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, seq_scan, pg_relation_size(relid), vacuum_count FROM pg_stat_user_tables;";
        let tables = match rows(client, stats_sql).await {
            Ok(r) => r,
            Err(e) => {
                round.partial(&format!("unable to query pg_stat_user_tables in {db}"), e);
                return 0;
            }
        };
        for row in &tables {
            let (schema, table) = (text(row, 0), text(row, 1));
            let mut put = |metric: &str, i: usize, attrs: &[&str]| {
                if let Ok(v) = num(row, i) {
                    mb.record(metric, v, attrs);
                }
            };
            put("postgresql.rows", 2, &["live"]);
            put("postgresql.rows", 3, &["dead"]);
            put("postgresql.operations", 4, &["ins"]);
            put("postgresql.operations", 5, &["upd"]);
            put("postgresql.operations", 6, &["del"]);
            put("postgresql.operations", 7, &["hot_upd"]);
            put("postgresql.sequential_scans", 8, &[]);
            put("postgresql.table.size", 9, &[]);
            put("postgresql.table.vacuum.count", 10, &[]);
            if let Some(values) = blocks.get(&(schema.clone(), table.clone())) {
                for ((_, source), v) in BLOCK_SOURCES.iter().zip(values) {
                    if let Some(v) = v {
                        mb.record("postgresql.blocks_read", *v, &[source]);
                    }
                }
            }
            let name = format!("{schema}.{table}");
            self.emit(
                mb,
                &[
                    ("postgresql.database.name", db),
                    ("postgresql.table.name", &name),
                ],
                out,
            );
        }
        tables.len()
    }

    /// Each user index of `db` as its own resource (its table's name without the schema,
    /// as Go names it); nothing of them when the query fails.
    async fn indexes(
        &self,
        client: &Client,
        db: &str,
        mb: &mut MetricsBuilder,
        round: &mut Round,
        out: &mut Vec<ResourceMetrics>,
    ) {
        let sql = "SELECT relname, indexrelname, pg_relation_size(indexrelid), idx_scan FROM pg_stat_user_indexes;";
        let read = rows(client, sql).await.and_then(|r| {
            r.iter()
                .map(|row| Ok((text(row, 0), text(row, 1), num(row, 2)?, num(row, 3)?)))
                .collect::<Result<Vec<_>, String>>()
        });
        let indexes = match read {
            Ok(i) => i,
            Err(e) => {
                round.partial(&format!("unable to query pg_stat_user_indexes in {db}"), e);
                return;
            }
        };
        for (table, index, size, scans) in indexes {
            mb.record("postgresql.index.scans", scans, &[]);
            mb.record("postgresql.index.size", size, &[]);
            self.emit(
                mb,
                &[
                    ("postgresql.database.name", db),
                    ("postgresql.table.name", &table),
                    ("postgresql.index.name", &index),
                ],
                out,
            );
        }
    }

    /// `postgresql.function.calls` of `db` (when on), one resource a function as in Go;
    /// an overloaded name with argument names gets them appended.
    async fn functions(
        &self,
        client: &Client,
        db: &str,
        mb: &mut MetricsBuilder,
        round: &mut Round,
        out: &mut Vec<ResourceMetrics>,
    ) {
        if !mb.enabled("postgresql.function.calls") {
            return;
        }
        let sql = "SELECT CASE WHEN (SELECT count(*) FROM pg_stat_user_functions o WHERE o.funcname = f.funcname) > 1 AND p.proargnames IS NOT NULL \
                   THEN p.proname || '_' || array_to_string(p.proargnames, '_') ELSE p.proname END, f.calls \
                   FROM pg_stat_user_functions f JOIN pg_proc p ON p.oid = f.funcid;";
        let read = rows(client, sql).await.and_then(|r| {
            r.iter()
                .map(|row| Ok((text(row, 0), num(row, 1)?)))
                .collect::<Result<Vec<_>, String>>()
        });
        match read {
            Ok(functions) => {
                for (name, calls) in functions {
                    mb.record("postgresql.function.calls", calls, &[&name]);
                    self.emit(mb, &[("postgresql.database.name", db)], out);
                }
            }
            Err(e) => round.partial(
                &format!("unable to query pg_stat_user_functions in {db}"),
                e,
            ),
        }
    }

    /// The background writer's and checkpointer's counters (`pg_stat_checkpointer` from
    /// version 17, which has no backend writes).
    async fn bgwriter(&self, client: &Client, mb: &mut MetricsBuilder, round: &mut Round) {
        let version = match rows(client, "SHOW server_version;").await {
            Ok(r) => r.first().map(|row| text(row, 0)).unwrap_or_default(),
            Err(e) => return round.partial("unable to query the server version", e),
        };
        let major = match version.split('.').collect::<Vec<_>>()[..] {
            [major, _, ..] => major.trim().parse::<u32>().ok(),
            _ => None,
        };
        let Some(major) = major else {
            return round.partial(
                "unable to read the server version",
                format!("unexpected version string: {version}"),
            );
        };
        let sql = if major < 17 {
            "SELECT checkpoints_req, checkpoints_timed, checkpoint_write_time, checkpoint_sync_time, \
             buffers_checkpoint, buffers_clean, buffers_alloc, maxwritten_clean, buffers_backend, \
             buffers_backend_fsync FROM pg_stat_bgwriter;"
        } else {
            "SELECT c.num_requested, c.num_timed, c.write_time, c.sync_time, c.buffers_written, \
             b.buffers_clean, b.buffers_alloc, b.maxwritten_clean FROM pg_stat_bgwriter b, \
             pg_stat_checkpointer c;"
        };
        let read = rows(client, sql).await.and_then(|r| {
            let row = r.first().ok_or("no row")?;
            (0..row.len())
                .map(|i| num(row, i))
                .collect::<Result<Vec<f64>, String>>()
        });
        let v = match read {
            Ok(v) if v.len() >= 8 => v,
            Ok(_) => {
                return round.partial("unable to query pg_stat_bgwriter", "too few columns".into())
            }
            Err(e) => return round.partial("unable to query pg_stat_bgwriter", e),
        };
        mb.record("postgresql.bgwriter.buffers.allocated", v[6], &[]);
        if let Some(backend) = v.get(8) {
            mb.record("postgresql.bgwriter.buffers.writes", *backend, &["backend"]);
        }
        if let Some(fsync) = v.get(9) {
            mb.record(
                "postgresql.bgwriter.buffers.writes",
                *fsync,
                &["backend_fsync"],
            );
        }
        mb.record("postgresql.bgwriter.buffers.writes", v[4], &["checkpoints"]);
        mb.record("postgresql.bgwriter.buffers.writes", v[5], &["bgwriter"]);
        mb.record("postgresql.bgwriter.checkpoint.count", v[0], &["requested"]);
        mb.record("postgresql.bgwriter.checkpoint.count", v[1], &["scheduled"]);
        mb.record("postgresql.bgwriter.duration", v[3], &["sync"]);
        mb.record("postgresql.bgwriter.duration", v[2], &["write"]);
        mb.record("postgresql.bgwriter.maxwritten", v[7], &[]);
    }

    /// The age of the last archived WAL file in whole seconds; nothing before the first.
    async fn wal_age(&self, client: &Client, mb: &mut MetricsBuilder, round: &mut Round) {
        let sql = "SELECT trunc(extract(epoch FROM (CURRENT_TIMESTAMP - last_archived_time))) FROM pg_stat_archiver;";
        match rows(client, sql).await {
            Ok(r) => {
                if let Some(Ok(age)) = r.first().map(|row| num(row, 0)) {
                    if age != 0.0 {
                        mb.record("postgresql.wal.age", age, &[]);
                    }
                }
            }
            Err(e) => round.partial("unable to determine latest WAL age", e),
        }
    }

    /// Per replica: the bytes not yet replayed, and the write, replay and flush lags in
    /// seconds (those PostgreSQL knows).
    async fn replication(&self, client: &Client, mb: &mut MetricsBuilder, round: &mut Round) {
        let sql = "SELECT coalesce(cast(client_addr AS varchar), 'unix'), \
                   coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1), \
                   extract(epoch FROM coalesce(write_lag, '-1 seconds')), \
                   extract(epoch FROM coalesce(replay_lag, '-1 seconds')), \
                   extract(epoch FROM coalesce(flush_lag, '-1 seconds')) FROM pg_stat_replication;";
        let replicas = match rows(client, sql).await {
            Ok(r) => r,
            Err(e) => return round.partial("unable to query pg_stat_replication", e),
        };
        for row in replicas {
            let client_addr = text(&row, 0);
            if let Ok(delay) = num(&row, 1) {
                if delay >= 0.0 {
                    mb.record("postgresql.replication.data_delay", delay, &[&client_addr]);
                }
            }
            for (i, op) in [(2, "write"), (3, "replay"), (4, "flush")] {
                if let Ok(lag) = num(&row, i) {
                    if lag >= 0.0 {
                        mb.record("postgresql.wal.delay", lag, &[op, &client_addr]);
                    }
                }
            }
        }
    }

    /// Locks on relations, by relation, mode and type (as Go reads them at v0.155: on the
    /// `postgres` connection, relations named through its `pg_class`).
    async fn locks(&self, client: &Client, mb: &mut MetricsBuilder, round: &mut Round) {
        let sql = "SELECT relname, mode, locktype, count(pid) FROM pg_locks JOIN pg_class ON pg_locks.relation = pg_class.oid GROUP BY relname, mode, locktype;";
        match rows(client, sql).await {
            Ok(r) => {
                for row in r {
                    if let Ok(n) = num(&row, 3) {
                        mb.record(
                            "postgresql.database.locks",
                            n,
                            &[&text(&row, 0), &text(&row, 1), &text(&row, 2)],
                        );
                    }
                }
            }
            Err(e) => round.partial("unable to query pg_locks and pg_locks.relation", e),
        }
    }
}

#[async_trait]
impl Receiver for PostgresqlReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let cfg = &self.cfg;
        let deadline = match cfg.timeout.get() {
            t if t.is_zero() => Duration::from_secs(10),
            t => t,
        };
        let mut rounds = Rounds::new(cfg.initial_delay.get(), cfg.collection_interval.get());
        let mut state = State {
            clients: HashMap::new(),
            start: now_nanos(),
        };
        while rounds.next(&shutdown).await {
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::time::timeout(deadline, self.scrape(&mut state, deadline)) => {
                    r.unwrap_or_else(|_| Err(format!("no answer within {}", GoDuration(deadline))))
                }
            };
            match result {
                Ok((resources, warnings)) => {
                    for w in warnings {
                        tracing::warn!(receiver = %self.id, error = %w, "Error scraping PostgreSQL; the rest of the round is sent.");
                    }
                    scraping::send(&self.id, &self.next, &self.obs, resources).await;
                }
                Err(e) => {
                    // a timed-out round may have left a connection mid-query
                    state.clients.clear();
                    tracing::warn!(receiver = %self.id, endpoint = %cfg.endpoint, error = %e, "Error scraping PostgreSQL; trying again at the next interval.");
                }
            }
        }
        Ok(())
    }
}
