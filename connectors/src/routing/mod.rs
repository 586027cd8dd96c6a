//! `routing` connector: sends each resource, span, metric, data point or log record to the
//! pipelines of the first route whose OTTL condition it matches, and what no route took to
//! `default_pipelines` — Go's `connector/routingconnector`.
//!
//! Go facts relied on (`config.go`, `router.go`, `logs.go`, `traces.go`, `metrics.go`,
//! `request.go`, `functions.go`):
//! - Keys: `error_mode` (default `propagate`), `default_pipelines`, `table` with, per route,
//!   `context` (`resource` when empty, `span`, `metric`, `datapoint`, `log`, `request`),
//!   `statement` (`route() where <condition>`) or `condition` (one of the two), `action`
//!   (`move` when empty, or `copy`) and `pipelines` (required).
//! - Validation messages: "invalid routing table: the routing table is empty", "invalid route:
//!   no condition or statement provided", "... both condition and statement provided",
//!   "invalid route: no pipelines defined", "invalid routing action: if provided should be one
//!   of move/copy", "invalid context: X", and `"request" context requires a 'condition'`.
//! - Routes are tried in order over what earlier routes left: `move` takes the matching items
//!   out, `copy` sends a copy and leaves them for later routes and the default. What is left
//!   goes to `default_pipelines` (dropped when there are none). A route whose context does not
//!   belong to the signal (a `log` route of a traces connector) matches nothing.
//! - A condition that fails to evaluate counts as no match; with `propagate` the error is
//!   returned and nothing is sent.
//! - Two routes with the same context and statement: the later one's pipelines replace the
//!   earlier one's, with a warning.
//! - `request` conditions are `request["<name>"] == "<value>"` or `!=`, matched against every
//!   value of that client metadata key (gRPC metadata or HTTP headers).
//!
//! A batch still in its wire form is routed in it: each route's condition is evaluated on
//! the item walk (`ottl::exec::filter_wire`), the matching items are filtered into a copy of
//! the bytes, and nothing is decoded but what the conditions read.
//!
//! Ferrotel reads a `request` condition from the metadata the receiver keeps with
//! `include_metadata: true` (Go also reads gRPC metadata without it), and logs a warning, the
//! first time and then once a minute with the count, when data matches no route and there
//! are no `default_pipelines` (Go drops it without a word).

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ottl::exec::{self, filter_logs, filter_metrics, filter_traces, Pred};
use ottl::{Condition, ContextKind, Ctx, ErrorMode, PathStyle};
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::fanout::FanOut;
use pipeline_api::{
    async_trait, declare, Batch, BatchData, BuildError, ComponentConfig, ComponentId,
    ConnectorFactory, ConnectorNext, ConsumeError, Consumer, Meta, PipelineId, Processor,
    RequestContext, SharedConsumer, Signal, Stability,
};
use serde::Deserialize;

pub const META: Meta = Meta::new("routing").pairs(&[
    (Signal::Traces, Signal::Traces, Stability::Alpha),
    (Signal::Metrics, Signal::Metrics, Stability::Alpha),
    (Signal::Logs, Signal::Logs, Stability::Alpha),
]);

/// Go `Config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub error_mode: String,
    pub default_pipelines: Vec<String>,
    pub table: Vec<RouteConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            error_mode: "propagate".into(),
            default_pipelines: Vec::new(),
            table: Vec::new(),
        }
    }
}

/// Go `RoutingTableItem`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    pub context: String,
    pub statement: String,
    pub condition: String,
    pub action: String,
    pub pipelines: Vec<String>,
}

/// What a route matches with.
#[derive(Debug)]
enum Matcher {
    /// `request["name"] == "value"` (or `!=`) over the client metadata.
    Request {
        key: String,
        value: String,
        equal: bool,
    },
    /// An OTTL condition in its context.
    Ottl { kind: ContextKind, cond: Condition },
}

/// A route as loaded, before its pipelines are known.
#[derive(Debug)]
struct Loaded {
    matcher: Matcher,
    copy: bool,
    pipelines: Vec<PipelineId>,
    /// Go's key: context and statement; a later route with the same key takes its place.
    key: String,
}

/// `request["<name>"] == "<value>"` or `!=` (Go `parseRequestCondition`).
fn request_condition(text: &str) -> Result<Matcher, String> {
    if text.is_empty() {
        return Err("condition is empty".into());
    }
    let count = text.matches("==").count() + text.matches("!=").count();
    if count == 0 {
        return Err("condition does not contain a valid comparator".into());
    }
    if count > 1 {
        return Err("condition contains multiple comparators".into());
    }
    let (op, equal) = if text.contains("==") {
        ("==", true)
    } else {
        ("!=", false)
    };
    let (left, right) = text.split_once(op).unwrap_or((text, ""));
    let (left, right) = (left.trim(), right.trim());
    let key = left
        .strip_prefix("request[\"")
        .and_then(|k| k.strip_suffix("\"]"))
        .ok_or_else(|| {
            r#"condition must have format 'request["<name>"] <comparator> <value>'"#.to_string()
        })?;
    if !(right.len() >= 2 && right.starts_with('"') && right.ends_with('"')) {
        return Err(
            r#"condition must have format 'request["<name>"] <comparator> "<value>"'"#.into(),
        );
    }
    Ok(Matcher::Request {
        key: key.to_string(),
        value: right[1..right.len() - 1].to_string(),
        equal,
    })
}

/// The condition of a `route() where <condition>` statement (`true` without `where`).
fn statement_condition(statement: &str) -> Result<String, String> {
    let s = statement.trim();
    let rest = s
        .strip_prefix("route")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('('))
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix(')'))
        .ok_or_else(|| {
            format!("statement {statement:?}: a route's statement is `route() where <condition>`")
        })?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok("true".into());
    }
    match rest.strip_prefix("where") {
        Some(c) if c.starts_with(char::is_whitespace) && !c.trim().is_empty() => {
            Ok(c.trim().to_string())
        }
        _ => Err(format!(
            "statement {statement:?}: a route's statement is `route() where <condition>`"
        )),
    }
}

impl Config {
    fn error_mode(&self) -> Result<ErrorMode, String> {
        ErrorMode::parse(&self.error_mode)
    }

    /// Every route loaded, or every problem with its key path.
    fn load(&self) -> Result<Vec<Loaded>, Vec<ConfigError>> {
        let mut errs = Vec::new();
        if let Err(e) = self.error_mode() {
            errs.push(ConfigError::new(&["error_mode"], e));
        }
        for (i, p) in self.default_pipelines.iter().enumerate() {
            if let Err(e) = PipelineId::parse(p) {
                errs.push(ConfigError::new(
                    &["default_pipelines", &i.to_string()],
                    e.to_string(),
                ));
            }
        }
        if self.table.is_empty() {
            errs.push(ConfigError::new(
                &["table"],
                "invalid routing table: the routing table is empty",
            ));
        }
        let mut routes = Vec::new();
        for (i, item) in self.table.iter().enumerate() {
            let idx = i.to_string();
            let path = |k: &str| -> Vec<String> {
                let mut p = vec!["table".to_string(), idx.clone()];
                if !k.is_empty() {
                    p.push(k.to_string());
                }
                p
            };
            let mut item_errs = Vec::new();
            let err = |k: &str, m: String| ConfigError {
                path: path(k),
                message: m,
            };
            if item.statement.is_empty() && item.condition.is_empty() {
                item_errs.push(err(
                    "",
                    "invalid route: no condition or statement provided".into(),
                ));
            }
            if !item.statement.is_empty() && !item.condition.is_empty() {
                item_errs.push(err(
                    "",
                    "invalid route: both condition and statement provided".into(),
                ));
            }
            if item.pipelines.is_empty() {
                item_errs.push(err(
                    "pipelines",
                    "invalid route: no pipelines defined".into(),
                ));
            }
            let mut pipelines = Vec::new();
            for (j, p) in item.pipelines.iter().enumerate() {
                match PipelineId::parse(p) {
                    Ok(id) => pipelines.push(id),
                    Err(e) => item_errs.push(ConfigError {
                        path: vec![
                            "table".into(),
                            idx.clone(),
                            "pipelines".into(),
                            j.to_string(),
                        ],
                        message: e.to_string(),
                    }),
                }
            }
            let copy = match item.action.as_str() {
                "" | "move" => false,
                "copy" => true,
                _ => {
                    item_errs.push(err(
                        "action",
                        "invalid routing action: if provided should be one of move/copy".into(),
                    ));
                    false
                }
            };
            let kind = match item.context.as_str() {
                "" | "resource" => Some(ContextKind::Resource),
                "span" => Some(ContextKind::Span),
                "metric" => Some(ContextKind::Metric),
                "datapoint" => Some(ContextKind::DataPoint),
                "log" => Some(ContextKind::Log),
                "request" => None,
                other => {
                    item_errs.push(err("context", format!("invalid context: {other}")));
                    None
                }
            };
            // a route with no condition, or both, has nothing (or no one thing) to compile;
            // otherwise its condition is checked too, so every problem shows at once
            let uncompilable = item.statement.is_empty() == item.condition.is_empty();
            let flawed = !item_errs.is_empty();
            errs.extend(item_errs);
            if uncompilable {
                continue;
            }
            let matcher = if item.context == "request" {
                if !item.statement.is_empty() || item.condition.is_empty() {
                    errs.push(err("", "\"request\" context requires a 'condition'".into()));
                    continue;
                }
                match request_condition(&item.condition) {
                    Ok(m) => m,
                    Err(e) => {
                        errs.push(err("condition", e));
                        continue;
                    }
                }
            } else {
                let Some(kind) = kind else { continue };
                let (text, key) = if item.condition.is_empty() {
                    match statement_condition(&item.statement) {
                        Ok(c) => (c, "statement"),
                        Err(e) => {
                            errs.push(err("statement", e));
                            continue;
                        }
                    }
                } else {
                    (item.condition.clone(), "condition")
                };
                match Condition::compile(&text, kind, PathStyle::Contextual) {
                    Ok(cond) => Matcher::Ottl { kind, cond },
                    Err(e) => {
                        errs.push(err(key, e.to_string()));
                        continue;
                    }
                }
            };
            let statement = if item.condition.is_empty() {
                item.statement.clone()
            } else {
                format!("route() where {}", item.condition)
            };
            let key = match item.context.as_str() {
                "" | "resource" => statement,
                "request" => format!("[request] {}", item.condition),
                c => format!("[{c}] {statement}"),
            };
            if flawed {
                continue;
            }
            routes.push(Loaded {
                matcher,
                copy,
                pipelines,
                key,
            });
        }
        if errs.is_empty() {
            Ok(routes)
        } else {
            Err(errs)
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        self.load().err().unwrap_or_default()
    }
}

impl ComponentConfig for Config {}

pub fn factory() -> Arc<dyn ConnectorFactory> {
    declare::connector::<Config>(META, |ctx, cfg, from, to, next| {
        if from != to {
            return Err(BuildError::new(format!(
                "routing connects a signal to itself, not {from} to {to}"
            )));
        }
        Router::new(ctx.id.clone(), cfg, from, &next).map(|r| Arc::new(r) as Arc<dyn Processor>)
    })
}

/// One route, with the consumer of its pipelines.
struct Route {
    matcher: Matcher,
    copy: bool,
    next: SharedConsumer,
}

/// One routing instance (per signal).
pub struct Router {
    id: ComponentId,
    signal: Signal,
    routes: Vec<Route>,
    default: Option<SharedConsumer>,
    error_mode: ErrorMode,
    unrouted: AtomicU64,
    unrouted_logged: Mutex<Option<Instant>>,
}

/// The consumer of a list of pipelines, which the connector must feed (Go: "pipeline not
/// found").
fn consumer_of(
    ids: &[PipelineId],
    next: &ConnectorNext,
    signal: Signal,
) -> Result<SharedConsumer, BuildError> {
    let mut branches = Vec::new();
    for id in ids {
        match next.pipeline(id) {
            Some(c) => branches.push(c.clone()),
            None => {
                return Err(BuildError::new(format!(
                    "pipeline not found: pipeline {id} does not receive {signal} from this connector (list it as a receiver of the pipeline)"
                )))
            }
        }
    }
    Ok(FanOut::consumer(branches))
}

impl Router {
    pub fn new(
        id: ComponentId,
        cfg: &Config,
        signal: Signal,
        next: &ConnectorNext,
    ) -> Result<Router, BuildError> {
        let loaded = cfg.load().map_err(|errs| {
            BuildError::new(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let error_mode = cfg.error_mode().map_err(BuildError::new)?;
        let default = if cfg.default_pipelines.is_empty() {
            None
        } else {
            let ids: Vec<PipelineId> = cfg
                .default_pipelines
                .iter()
                .filter_map(|p| PipelineId::parse(p).ok())
                .collect();
            Some(consumer_of(&ids, next, signal)?)
        };
        let mut routes: Vec<Route> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for l in loaded {
            let consumer = consumer_of(&l.pipelines, next, signal)?;
            if let Some(i) = keys.iter().position(|k| *k == l.key) {
                let names: Vec<String> = l.pipelines.iter().map(|p| p.to_string()).collect();
                tracing::warn!(connector = %id, "Statement {:?} already exists in the routing table, the route with target pipeline(s) {:?} will be ignored.", l.key, names.join(", "));
                // Go keeps the first route's statement and action, with the later pipelines
                routes[i].next = consumer;
                continue;
            }
            keys.push(l.key);
            routes.push(Route {
                matcher: l.matcher,
                copy: l.copy,
                next: consumer,
            });
        }
        Ok(Router {
            id,
            signal,
            routes,
            default,
            error_mode,
            unrouted: AtomicU64::new(0),
            unrouted_logged: Mutex::new(None),
        })
    }

    /// A condition's result under the error mode: an error is no match (`Err` only with
    /// `propagate`).
    fn test(&self, cond: &Condition, ctx: &Ctx<'_>) -> Result<bool, String> {
        match cond.eval(ctx) {
            Ok(m) => Ok(m),
            Err(e) => match self.error_mode {
                ErrorMode::Propagate => Err(e),
                ErrorMode::Ignore => {
                    tracing::warn!(connector = %self.id, error = %e, "failed evaluating the route's condition; it counts as no match");
                    Ok(false)
                }
                ErrorMode::Silent => Ok(false),
            },
        }
    }

    /// Whether a route of `kind` can match anything of this connector's signal.
    fn applies(&self, kind: ContextKind) -> bool {
        match self.signal {
            Signal::Traces => matches!(kind, ContextKind::Resource | ContextKind::Span),
            Signal::Metrics => matches!(
                kind,
                ContextKind::Resource | ContextKind::Metric | ContextKind::DataPoint
            ),
            Signal::Logs => matches!(kind, ContextKind::Resource | ContextKind::Log),
        }
    }

    /// Split what `rest` holds that matches `route` off into its own data (a copy with
    /// `copy`); `Some(Ok(None))` when nothing matched. `None` when `rest` cannot be walked
    /// (a batch that is decoded, or whose bytes do not walk): nothing was changed, and the
    /// caller takes from the decoded form.
    fn take<D: Routable>(
        &self,
        route: &Route,
        rest: &mut D,
        request: &RequestContext,
    ) -> Option<Result<Option<D>, String>> {
        let (kind, cond) = match &route.matcher {
            Matcher::Request { .. } => {
                let hit = request_matches(&route.matcher, request);
                return Some(Ok(hit.then(|| {
                    if route.copy {
                        rest.clone()
                    } else {
                        let empty = D::empty(self.signal, request);
                        std::mem::replace(rest, empty)
                    }
                })));
            }
            Matcher::Ottl { kind, cond } => (*kind, cond),
        };
        if !self.applies(kind) {
            return Some(Ok(None));
        }
        // `matched` keeps what matches; with `move` the same items leave `rest`. Both are
        // the same data visited in the same order, so the second pass replays the first
        // pass's answers instead of evaluating (and logging) each condition again.
        let mut matched = rest.clone();
        let mut answers = Vec::new();
        let mut unmatched = |c: &Ctx<'_>| {
            let m = self.test(cond, c)?;
            answers.push(m);
            Ok(!m)
        };
        if let Err(e) = matched.drop_where(kind, &mut unmatched)? {
            return Some(Err(e));
        }
        if !route.copy && answers.iter().any(|m| *m) {
            let mut replay = answers.into_iter();
            let mut hit = |_: &Ctx<'_>| Ok(replay.next().unwrap_or(false));
            if let Err(e) = rest.drop_where(kind, &mut hit)? {
                return Some(Err(e));
            }
        }
        Some(Ok((!matched.is_void()).then_some(matched)))
    }

    fn note_unrouted(&self, items: usize) {
        let total = self.unrouted.fetch_add(items as u64, Ordering::Relaxed) + items as u64;
        let mut last = self
            .unrouted_logged
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
        if due {
            *last = Some(Instant::now());
            tracing::warn!(connector = %self.id, data_type = %self.signal, items, total_since_start = total,
                "Data matched no route and the routing connector has no default_pipelines: it is not sent anywhere.");
        }
    }
}

/// Whether a `request` route's condition holds for the request's client metadata.
fn request_matches(matcher: &Matcher, request: &RequestContext) -> bool {
    let Matcher::Request { key, value, equal } = matcher else {
        return false;
    };
    let values = request.metadata_values(key);
    values.iter().any(|v| (v == value) == *equal)
}

/// What a route takes from: a batch in its wire form, or decoded data.
trait Routable: Clone {
    fn empty(signal: Signal, request: &RequestContext) -> Self;
    /// Whether it holds no resource entry.
    fn is_void(&self) -> bool;
    /// Leave out the items of `kind` that `pred` selects, as `exec::filter_traces` and its
    /// kin do; `None` when it cannot be walked (nothing was changed).
    fn drop_where(&mut self, kind: ContextKind, pred: &mut Pred<'_>) -> Option<Result<(), String>>;
}

impl Routable for Batch {
    fn empty(signal: Signal, request: &RequestContext) -> Self {
        Batch::new(BatchData::empty(signal), request.clone())
    }
    /// One without items may still hold entries (resources without spans), which a route
    /// sends on as the decoded form does; decoding it costs nothing to speak of.
    fn is_void(&self) -> bool {
        self.items() == 0 && self.data().is_void()
    }
    fn drop_where(&mut self, kind: ContextKind, pred: &mut Pred<'_>) -> Option<Result<(), String>> {
        exec::filter_wire(self, kind, false, pred).map(|r| r.map(drop))
    }
}

impl Routable for BatchData {
    fn empty(signal: Signal, _: &RequestContext) -> Self {
        BatchData::empty(signal)
    }
    fn is_void(&self) -> bool {
        match self {
            BatchData::Traces(r) => r.resource_spans.is_empty(),
            BatchData::Metrics(r) => r.resource_metrics.is_empty(),
            BatchData::Logs(r) => r.resource_logs.is_empty(),
        }
    }
    fn drop_where(&mut self, kind: ContextKind, pred: &mut Pred<'_>) -> Option<Result<(), String>> {
        Some(match self {
            BatchData::Traces(m) => filter_traces(m, kind, pred).map(drop),
            BatchData::Metrics(m) => filter_metrics(m, kind, pred).map(drop),
            BatchData::Logs(m) => filter_logs(m, kind, pred).map(drop),
        })
    }
}

#[async_trait]
impl Consumer for Router {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "routing connector for {} got {}",
                self.signal,
                batch.signal()
            )));
        }
        let request = batch.context().clone();
        let mut rest = batch;
        let mut sends: Vec<(SharedConsumer, Batch)> = Vec::new();
        for route in &self.routes {
            if rest.is_void() {
                break;
            }
            // the wire form while it can be walked, else the decoded form
            let taken = match self.take(route, &mut rest, &request) {
                Some(r) => r,
                None => {
                    let mut data = rest.into_data();
                    let r = self.take(route, &mut data, &request).unwrap_or(Ok(None));
                    rest = Batch::new(data, request.clone());
                    r.map(|d| d.map(|d| Batch::new(d, request.clone())))
                }
            };
            match taken {
                Ok(Some(b)) => sends.push((route.next.clone(), b)),
                Ok(None) => {}
                Err(e) => return Err(ConsumeError::permanent(e)),
            }
        }
        if !rest.is_void() {
            match &self.default {
                Some(d) => sends.push((d.clone(), rest)),
                None => self.note_unrouted(rest.items()),
            }
        }
        let results = futures::future::join_all(
            sends
                .into_iter()
                .map(|(c, b)| async move { c.consume(b).await }),
        )
        .await;
        match ConsumeError::combine(results.into_iter().filter_map(Result::err).collect()) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

impl Processor for Router {}
