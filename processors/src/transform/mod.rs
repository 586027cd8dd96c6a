//! `transform` processor: Go's `processor/transformprocessor` — OTTL statements over traces,
//! metrics and logs, in groups with an optional `context`, `conditions` and `error_mode`.
//!
//! Go facts: a list of plain strings (the flat form) is one group whose context is inferred
//! from the paths; mixing strings and groups in one list is refused; groups run in order,
//! each over the whole batch; a group's conditions are joined by `or`; under `propagate`
//! a failing statement fails the batch, under `ignore` it is logged and the next statement
//! runs, under `silent` it is skipped quietly.
//!
//! A batch still in its wire form stays in it for the resource, scope, span and log groups,
//! and the metric groups that leave data points alone (`ottl::exec::visit_wire`): only what
//! the statements read or write is decoded, and only changed items are re-encoded, with the
//! bytes the decoded path would give.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use ottl::{exec, ConditionSeq, ContextKind, Ctx, ErrorMode, PathStyle, Statement, StatementSeq};
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::{
    async_trait, declare, Batch, BatchData, BuildError, ComponentConfig, ConsumeError, Consumer,
    Meta, Processor, ProcessorFactory, SharedConsumer, Signal, Stability,
};
use serde::Deserialize;

pub const TYPE_NAME: &str = "transform";

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |_ctx, cfg, signal, next| {
        Ok(Arc::new(TransformProcessor::new(cfg, signal, next)?))
    })
}

/// Go's `ottl.ErrorMode` as a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorModeConfig {
    #[default]
    Propagate,
    Ignore,
    Silent,
}

impl From<ErrorModeConfig> for ErrorMode {
    fn from(m: ErrorModeConfig) -> ErrorMode {
        match m {
            ErrorModeConfig::Propagate => ErrorMode::Propagate,
            ErrorModeConfig::Ignore => ErrorMode::Ignore,
            ErrorModeConfig::Silent => ErrorMode::Silent,
        }
    }
}

/// One group of statements (Go `common.ContextStatements`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextStatements {
    pub context: Option<String>,
    pub conditions: Vec<String>,
    pub statements: Vec<String>,
    pub error_mode: Option<ErrorModeConfig>,
    pub shared_cache: bool,
}

/// A list entry: a plain statement (flat form) or a group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum StatementsEntry {
    Statement(String),
    Group(ContextStatements),
}

/// Go `createDefaultConfig`: `error_mode: propagate`, no statements.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub error_mode: ErrorModeConfig,
    pub trace_statements: Vec<StatementsEntry>,
    pub metric_statements: Vec<StatementsEntry>,
    pub log_statements: Vec<StatementsEntry>,
    pub profile_statements: Vec<StatementsEntry>,
    pub flatten_data: bool,
}

/// Go's message when one list mixes plain statements and groups.
pub const ERR_MIXED_STYLES: &str = "configuring multiple configuration styles is not supported, please use only Basic configuration or only Advanced configuration";

/// The groups of a statement list, the flat strings gathered into one group.
fn groups(entries: &[StatementsEntry]) -> Result<Vec<ContextStatements>, String> {
    let mut plain = Vec::new();
    let mut out = Vec::new();
    for e in entries {
        match e {
            // Go refuses a group after a plain statement, but not the other way round: the
            // plain statements then form a last group.
            StatementsEntry::Statement(s) => plain.push(s.clone()),
            StatementsEntry::Group(g) => {
                if !plain.is_empty() {
                    return Err(ERR_MIXED_STYLES.into());
                }
                out.push(g.clone());
            }
        }
    }
    if !plain.is_empty() {
        out.push(ContextStatements {
            statements: plain,
            ..Default::default()
        });
    }
    Ok(out)
}

fn allowed(signal: Signal) -> &'static [ContextKind] {
    match signal {
        Signal::Traces => &[
            ContextKind::Resource,
            ContextKind::Scope,
            ContextKind::Span,
            ContextKind::SpanEvent,
        ],
        Signal::Metrics => &[
            ContextKind::Resource,
            ContextKind::Scope,
            ContextKind::Metric,
            ContextKind::DataPoint,
        ],
        Signal::Logs => &[ContextKind::Resource, ContextKind::Scope, ContextKind::Log],
    }
}

/// A compiled group.
pub struct Group {
    pub context: ContextKind,
    pub conditions: ConditionSeq,
    pub statements: StatementSeq,
}

impl Group {
    /// Whether the group can run over a batch in the wire form: a metric group only when it
    /// leaves the metrics' data points alone, a data point group only when it leaves their
    /// metrics alone and reads no other point of the metric.
    fn runs_on_wire(&self) -> bool {
        match self.context {
            ContextKind::Metric | ContextKind::DataPoint => {
                !self.statements.reads_metric_data() && !self.conditions.reads_metric_data()
            }
            _ => true,
        }
    }

    fn run(&self, ctx: &mut Ctx<'_>) -> Result<(), String> {
        if !self.conditions.conditions.is_empty() && !self.conditions.eval(ctx)? {
            return Ok(());
        }
        self.statements.execute(ctx)
    }
}

/// Compile one group for a signal; every problem, each with its key path under the list key.
pub fn compile_group(
    g: &ContextStatements,
    signal: Signal,
    default_mode: ErrorMode,
) -> Result<Group, Vec<ConfigError>> {
    let one = |path: &[&str], m: String| vec![ConfigError::new(path, m)];
    let (context, style) = match g.context.as_deref() {
        Some("profile") => {
            return Err(one(
                &["context"],
                "the profile context is not supported by Ferrotel".into(),
            ))
        }
        Some(name) => {
            let c = ContextKind::from_name(name)
                .ok_or_else(|| one(&["context"], format!("unknown context {name:?}")))?;
            if !allowed(signal).contains(&c) {
                return Err(one(
                    &["context"],
                    format!("context {name:?} is not valid for {signal}"),
                ));
            }
            (c, PathStyle::Contextual)
        }
        None => {
            // The context comes from the paths, so every statement must parse first; each
            // one that does not is reported at its own index.
            let lists = [
                ("statements", &g.statements, false),
                ("conditions", &g.conditions, true),
            ];
            let syntax: Vec<ConfigError> = lists
                .into_iter()
                .flat_map(|(key, list, cond)| {
                    list.iter().enumerate().filter_map(move |(i, text)| {
                        let e = ottl::syntax_error(text, cond)?;
                        Some(ConfigError::new(&[key, &i.to_string()], e.to_string()))
                    })
                })
                .collect();
            if !syntax.is_empty() {
                return Err(syntax);
            }
            let st: Vec<&str> = g.statements.iter().map(String::as_str).collect();
            let co: Vec<&str> = g.conditions.iter().map(String::as_str).collect();
            (
                ottl::infer_context(&st, &co, allowed(signal))
                    .map_err(|e| one(&["statements"], e))?,
                PathStyle::Prefixed,
            )
        }
    };
    let mode = g.error_mode.map(ErrorMode::from).unwrap_or(default_mode);
    let mut errs = Vec::new();
    let mut statements = Vec::new();
    for (i, s) in g.statements.iter().enumerate() {
        match Statement::compile(s, context, style) {
            Ok(s) => statements.push(s),
            Err(e) => errs.push(ConfigError::new(
                &["statements", &i.to_string()],
                e.to_string(),
            )),
        }
    }
    let mut conditions = Vec::new();
    for (i, s) in g.conditions.iter().enumerate() {
        match ottl::Condition::compile(s, context, style) {
            Ok(c) => conditions.push(c),
            Err(e) => errs.push(ConfigError::new(
                &["conditions", &i.to_string()],
                e.to_string(),
            )),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Group {
        context,
        conditions: ConditionSeq {
            conditions,
            error_mode: mode,
        },
        statements: StatementSeq {
            statements,
            error_mode: mode,
        },
    })
}

impl Config {
    fn entries(&self, signal: Signal) -> (&'static str, &[StatementsEntry]) {
        match signal {
            Signal::Traces => ("trace_statements", &self.trace_statements),
            Signal::Metrics => ("metric_statements", &self.metric_statements),
            Signal::Logs => ("log_statements", &self.log_statements),
        }
    }

    /// The compiled groups of one signal.
    pub fn compile(&self, signal: Signal) -> Result<Vec<Group>, Vec<ConfigError>> {
        let (key, entries) = self.entries(signal);
        let gs = groups(entries).map_err(|e| vec![ConfigError::new(&[key], e)])?;
        let mut out = Vec::new();
        let mut errs = Vec::new();
        // Plain statements (`trace_statements: ["set(...)", ...]`) form the last group, and
        // follow every group in the list: a problem in one is reported at its place in the list.
        let plain_from = entries
            .iter()
            .position(|e| matches!(e, StatementsEntry::Statement(_)));
        for (i, g) in gs.iter().enumerate() {
            match compile_group(g, signal, self.error_mode.into()) {
                Ok(g) => out.push(g),
                Err(e) => errs.extend(e.into_iter().map(|mut e| {
                    match plain_from.filter(|_| i + 1 == gs.len()) {
                        Some(from) => {
                            let j = e.path.get(1).and_then(|j| j.parse::<usize>().ok());
                            e.path = vec![key.to_string()];
                            e.path.extend(j.map(|j| (from + j).to_string()));
                            e
                        }
                        None => e.prefixed(&[key, &i.to_string()]),
                    }
                })),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs)
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        for s in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            if let Err(e) = self.compile(s) {
                errs.extend(e);
            }
        }
        if !self.profile_statements.is_empty() {
            errs.push(ConfigError::new(
                &["profile_statements"],
                "profiles are not supported by Ferrotel",
            ));
        }
        errs
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, entries) in [
            ("trace_statements", &self.trace_statements),
            ("metric_statements", &self.metric_statements),
            ("log_statements", &self.log_statements),
        ] {
            for (i, e) in entries.iter().enumerate() {
                if let StatementsEntry::Group(g) = e {
                    if g.shared_cache {
                        out.push((
                            format!("{key}::{i}::shared_cache"),
                            "each group has a cache of its own per item in Ferrotel".into(),
                        ));
                    }
                }
            }
        }
        if self.flatten_data {
            out.push((
                "flatten_data".into(),
                "Ferrotel's transform does not flatten data (a Go feature gate option)".into(),
            ));
        }
        out
    }
}

/// One `transform` instance (one per pipeline).
pub struct TransformProcessor {
    signal: Signal,
    groups: Vec<Group>,
    next: SharedConsumer,
}

fn warn(e: &str) {
    tracing::warn!(
        error = e,
        "failed to execute an OTTL statement or condition; going on (error_mode ignore)"
    );
}

impl TransformProcessor {
    pub fn new(
        cfg: &Config,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<TransformProcessor, BuildError> {
        ottl::set_warn_hook(warn);
        let groups = cfg.compile(signal).map_err(|errs| {
            BuildError::new(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        Ok(TransformProcessor {
            signal,
            groups,
            next,
        })
    }

    /// Run every group over `batch`: while the groups are resource, scope, span, log or
    /// metric groups ([`Group::runs_on_wire`]) over a batch still in its wire form, it stays
    /// in it (only what the statements touch is decoded); the groups from the first other
    /// one run over the decoded form, decoded once.
    pub fn process_batch(&self, batch: &mut Batch) -> Result<(), String> {
        let mut wire = 0;
        for g in &self.groups {
            if !g.runs_on_wire() {
                break;
            }
            let mut f = |ctx: &mut Ctx<'_>| g.run(ctx);
            match exec::visit_wire(batch, g.context, &mut f) {
                Some(r) => r?,
                None => break,
            }
            wire += 1;
        }
        let rest = &self.groups[wire..];
        if rest.is_empty() {
            return Ok(());
        }
        batch.edit(|data| {
            for g in rest {
                let mut f = |ctx: &mut Ctx<'_>| g.run(ctx);
                match data {
                    BatchData::Traces(req) => exec::visit_traces(req, g.context, &mut f)?,
                    BatchData::Metrics(req) => exec::visit_metrics(req, g.context, &mut f)?,
                    BatchData::Logs(req) => exec::visit_logs(req, g.context, &mut f)?,
                }
            }
            Ok(())
        })
    }
}

#[async_trait]
impl Consumer for TransformProcessor {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "transform processor of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        if !self.groups.is_empty() && !batch.is_empty() {
            self.process_batch(&mut batch)
                .map_err(ConsumeError::permanent)?;
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for TransformProcessor {}
