//! `filter` processor: Go's `processor/filterprocessor` — drops the spans, span events,
//! metrics, data points, log records or whole resources that OTTL conditions select, or
//! that the legacy `include`/`exclude` match forms leave out.
//!
//! Go facts: conditions of one context are joined by `or`; resources, then items, then
//! sub-items are dropped; scopes and resources left empty go with them, and a batch left
//! empty is not passed on; a metric whose data points were all dropped is dropped; the
//! dropped spans, data points and logs are counted in `otelcol_processor_filter_*`
//! counters with a `filter` attribute naming the processor. The legacy forms and the
//! OTTL forms of one signal cannot be combined, nor the context-inferred lists
//! (`trace_conditions`...) with the per-context keys (`traces.span`...).

#[cfg(test)]
mod tests;

use std::sync::Arc;

use ottl::{exec, Condition, ConditionSeq, ContextKind, Ctx, ErrorMode, PathStyle};
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::telemetry::MetricsLevel;
use pipeline_api::wire_items::{Level, LogParts, MetricParts, SpanParts};
use pipeline_api::{
    async_trait, declare, Batch, BatchData, BuildContext, BuildError, ComponentConfig,
    ConsumeError, Consumer, IntCounter, Meta, Processor, ProcessorFactory, SharedConsumer, Signal,
    Stability,
};
use serde::Deserialize;

use crate::filter::{
    AttributeMatch, LogSeverityNumber, MatchConfig, MatchProperties, MatchType, RegexpConfig,
    SkipExpr,
};
use crate::transform::ErrorModeConfig;

pub const TYPE_NAME: &str = "filter";

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Alpha)
    .metrics(Stability::Alpha)
    .logs(Stability::Alpha);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |ctx, cfg, signal, next| {
        Ok(Arc::new(FilterProcessor::new(&ctx, cfg, signal, next)?))
    })
}

/// `traces`: OTTL conditions per context.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceFilters {
    pub resource: Option<Vec<String>>,
    pub span: Option<Vec<String>>,
    pub spanevent: Option<Vec<String>>,
}

/// Go `filterconfig.MetricMatchProperties`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricMatchProperties {
    pub match_type: Option<String>,
    pub regexp: Option<RegexpConfig>,
    pub metric_names: Vec<String>,
    pub resource_attributes: Vec<AttributeMatch>,
    pub expressions: Vec<String>,
}

/// `metrics`: legacy match forms or OTTL conditions per context.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricFilters {
    pub include: Option<MetricMatchProperties>,
    pub exclude: Option<MetricMatchProperties>,
    pub regexp: Option<RegexpConfig>,
    pub resource: Option<Vec<String>>,
    pub metric: Option<Vec<String>>,
    pub datapoint: Option<Vec<String>>,
}

/// Go `LogMatchProperties`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogMatchProperties {
    pub match_type: Option<MatchType>,
    pub resource_attributes: Vec<AttributeMatch>,
    pub record_attributes: Vec<AttributeMatch>,
    pub severity_texts: Vec<String>,
    pub severity_number: Option<LogSeverityNumber>,
    pub bodies: Vec<String>,
}

/// `logs`: legacy match forms or OTTL conditions per context.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogFilters {
    pub include: Option<LogMatchProperties>,
    pub exclude: Option<LogMatchProperties>,
    pub resource: Option<Vec<String>>,
    pub log_record: Option<Vec<String>>,
}

/// `profiles`: accepted so a Go config loads; Ferrotel has no profiles pipelines.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileFilters {
    pub resource: Option<Vec<String>>,
    pub profile: Option<Vec<String>>,
}

/// One group of the context-inferred lists (Go `condition.ContextConditions`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConditions {
    pub context: Option<String>,
    pub conditions: Vec<String>,
    pub error_mode: Option<ErrorModeConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ConditionsEntry {
    Condition(String),
    Group(ContextConditions),
}

/// Go `createDefaultConfig`: `error_mode: propagate`, nothing to filter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub error_mode: ErrorModeConfig,
    pub spans: MatchConfig,
    pub metrics: MetricFilters,
    pub logs: LogFilters,
    pub traces: TraceFilters,
    pub profiles: ProfileFilters,
    pub trace_conditions: Option<Vec<ConditionsEntry>>,
    pub metric_conditions: Option<Vec<ConditionsEntry>>,
    pub log_conditions: Option<Vec<ConditionsEntry>>,
    pub profile_conditions: Option<Vec<ConditionsEntry>>,
}

/// One compiled drop rule.
pub struct Rule {
    pub context: ContextKind,
    pub conditions: ConditionSeq,
}

/// Everything one signal's filter does.
#[derive(Default)]
pub struct Plan {
    pub skip: Option<SkipExpr>,
    pub rules: Vec<Rule>,
}

fn allowed(signal: Signal) -> &'static [ContextKind] {
    match signal {
        Signal::Traces => &[
            ContextKind::Resource,
            ContextKind::Span,
            ContextKind::SpanEvent,
        ],
        Signal::Metrics => &[
            ContextKind::Resource,
            ContextKind::Metric,
            ContextKind::DataPoint,
        ],
        Signal::Logs => &[ContextKind::Resource, ContextKind::Log],
    }
}

/// The conditions of `list` that load; each that does not goes to `errs` at `key` and its
/// index.
fn compile_conditions(
    list: &[String],
    ctx: ContextKind,
    style: PathStyle,
    key: &[&str],
    errs: &mut Vec<ConfigError>,
) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for (i, c) in list.iter().enumerate() {
        match Condition::compile(c, ctx, style) {
            Ok(c) => conditions.push(c),
            Err(e) => errs.push(ConfigError::new(&[&i.to_string()], e.to_string()).prefixed(key)),
        }
    }
    conditions
}

fn compile_list(
    list: &[String],
    ctx: ContextKind,
    mode: ErrorMode,
    key: &[&str],
) -> Result<Rule, Vec<ConfigError>> {
    let mut errs = Vec::new();
    let conditions = compile_conditions(list, ctx, PathStyle::Contextual, key, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Rule {
        context: ctx,
        conditions: ConditionSeq {
            conditions,
            error_mode: mode,
        },
    })
}

fn compile_entries(
    entries: &[ConditionsEntry],
    signal: Signal,
    mode: ErrorMode,
    key: &str,
) -> Result<Vec<Rule>, Vec<ConfigError>> {
    let mut plain = Vec::new();
    let mut groups = Vec::new();
    for e in entries {
        match e {
            ConditionsEntry::Condition(s) if groups.is_empty() => plain.push(s.clone()),
            ConditionsEntry::Group(g) if plain.is_empty() => groups.push(g.clone()),
            _ => {
                return Err(vec![ConfigError::new(
                    &[key],
                    crate::transform::ERR_MIXED_STYLES,
                )])
            }
        }
    }
    // A plain list (`trace_conditions: ["...", ...]`) is one group, its problems reported at
    // their places in the list.
    let is_plain = !plain.is_empty();
    if is_plain {
        groups.push(ContextConditions {
            conditions: plain,
            ..Default::default()
        });
    }
    let mut rules = Vec::new();
    let mut errs = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let gis = gi.to_string();
        let conditions_key: &[&str] = if is_plain {
            &[key]
        } else {
            &[key, &gis, "conditions"]
        };
        let gmode = g.error_mode.map(ErrorMode::from).unwrap_or(mode);
        let (ctx, style) = match g.context.as_deref() {
            Some(name) => {
                let Some(c) = ContextKind::from_name(name).filter(|c| allowed(signal).contains(c))
                else {
                    errs.push(ConfigError::new(
                        &[key, &gis, "context"],
                        format!("context {name:?} is not valid for {signal} conditions"),
                    ));
                    continue;
                };
                (c, PathStyle::Contextual)
            }
            None => {
                // The context comes from the paths, so every condition must parse first.
                let before = errs.len();
                for (i, c) in g.conditions.iter().enumerate() {
                    if let Some(e) = ottl::syntax_error(c, true) {
                        errs.push(
                            ConfigError::new(&[&i.to_string()], e.to_string())
                                .prefixed(conditions_key),
                        );
                    }
                }
                if errs.len() > before {
                    continue;
                }
                let co: Vec<&str> = g.conditions.iter().map(String::as_str).collect();
                match ottl::infer_context(&[], &co, allowed(signal)) {
                    Ok(c) => (c, PathStyle::Prefixed),
                    Err(e) => {
                        errs.push(ConfigError::new(conditions_key, e));
                        continue;
                    }
                }
            }
        };
        let conditions = compile_conditions(&g.conditions, ctx, style, conditions_key, &mut errs);
        rules.push(Rule {
            context: ctx,
            conditions: ConditionSeq {
                conditions,
                error_mode: gmode,
            },
        });
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(rules)
}

fn log_props(p: &LogMatchProperties) -> MatchProperties {
    // Go needs a match type only to compile string lists: a severity-number-only
    // selection loads without one.
    let lists = !(p.resource_attributes.is_empty()
        && p.record_attributes.is_empty()
        && p.severity_texts.is_empty()
        && p.bodies.is_empty());
    MatchProperties {
        match_type: p.match_type.or((!lists).then_some(MatchType::Strict)),
        resources: p.resource_attributes.clone(),
        attributes: p.record_attributes.clone(),
        log_severity_texts: p.severity_texts.clone(),
        log_severity_number: p.severity_number.clone(),
        log_bodies: p.bodies.clone(),
        ..Default::default()
    }
}

fn metric_props(p: &MetricMatchProperties, key: &str) -> Result<MatchProperties, ConfigError> {
    let match_type = match p.match_type.as_deref() {
        None | Some("") | Some("strict") => Some(MatchType::Strict),
        Some("regexp") => Some(MatchType::Regexp),
        Some("expr") => return Err(ConfigError::new(&["metrics", key, "match_type"], "the expr match type is not supported by Ferrotel; use OTTL conditions (metrics.metric)")),
        Some(o) => return Err(ConfigError::new(&["metrics", key, "match_type"], format!("unrecognized match_type: '{o}', valid types are: [regexp strict expr]"))),
    };
    Ok(MatchProperties {
        match_type,
        regexp: p.regexp.clone(),
        metric_names: p.metric_names.clone(),
        resources: p.resource_attributes.clone(),
        ..Default::default()
    })
}

fn set(v: &Option<Vec<String>>) -> bool {
    v.is_some()
}

impl Config {
    /// What the filter of `signal` does.
    pub fn plan(&self, signal: Signal) -> Result<Plan, Vec<ConfigError>> {
        let mode: ErrorMode = self.error_mode.into();
        let mut plan = Plan::default();
        let err = |e: ConfigError| vec![e];
        // Every list's rules, or every problem of every list.
        let (mut rules, mut errs) = (Vec::new(), Vec::new());
        let mut collect = |r: Result<Vec<Rule>, Vec<ConfigError>>| match r {
            Ok(r) => rules.extend(r),
            Err(e) => errs.extend(e),
        };
        match signal {
            Signal::Traces => {
                let t = &self.traces;
                let ottl_keys = set(&t.resource) || set(&t.span) || set(&t.spanevent);
                let legacy = self.spans.include.is_some() || self.spans.exclude.is_some();
                if ottl_keys && legacy {
                    return Err(err(ConfigError::new(&[], "cannot use \"traces.resource\", \"traces.span\", \"traces.spanevent\" and the span settings \"spans.include\", \"spans.exclude\" at the same time")));
                }
                if self.trace_conditions.is_some() && ottl_keys {
                    return Err(err(ConfigError::new(&[], "cannot use context inferred trace conditions \"trace_conditions\" and the settings \"traces.resource\", \"traces.span\", \"traces.spanevent\" at the same time")));
                }
                if legacy {
                    plan.skip = Some(
                        self.spans
                            .build(Signal::Traces)
                            .map_err(|e| err(ConfigError::new(&["spans"], e)))?,
                    );
                }
                for (key, list, ctx) in [
                    ("resource", &t.resource, ContextKind::Resource),
                    ("span", &t.span, ContextKind::Span),
                    ("spanevent", &t.spanevent, ContextKind::SpanEvent),
                ] {
                    if let Some(l) = list {
                        collect(compile_list(l, ctx, mode, &["traces", key]).map(|r| vec![r]));
                    }
                }
                if let Some(e) = &self.trace_conditions {
                    collect(compile_entries(e, signal, mode, "trace_conditions"));
                }
            }
            Signal::Metrics => {
                let m = &self.metrics;
                let ottl_keys = set(&m.resource) || set(&m.metric) || set(&m.datapoint);
                let legacy = m.include.is_some() || m.exclude.is_some();
                if ottl_keys && legacy {
                    return Err(err(ConfigError::new(&[], "cannot use \"metrics.resource\", \"metrics.metric\", \"metrics.datapoint\" and the settings \"metrics.include\", \"metrics.exclude\" at the same time")));
                }
                if self.metric_conditions.is_some() && (ottl_keys || legacy) {
                    return Err(err(ConfigError::new(&[], "cannot use context inferred metric conditions \"metric_conditions\" and the settings \"metrics.resource\", \"metrics.metric\", \"metrics.datapoint\", \"metrics.include\", \"metrics.exclude\" at the same time")));
                }
                if legacy {
                    let mc = MatchConfig {
                        include: m
                            .include
                            .as_ref()
                            .map(|p| metric_props(p, "include"))
                            .transpose()
                            .map_err(err)?,
                        exclude: m
                            .exclude
                            .as_ref()
                            .map(|p| metric_props(p, "exclude"))
                            .transpose()
                            .map_err(err)?,
                    };
                    let errs = mc.validate();
                    if !errs.is_empty() {
                        return Err(errs.into_iter().map(|e| e.prefixed(&["metrics"])).collect());
                    }
                    plan.skip = Some(
                        mc.build(Signal::Metrics)
                            .map_err(|e| err(ConfigError::new(&["metrics"], e)))?,
                    );
                }
                for (key, list, ctx) in [
                    ("resource", &m.resource, ContextKind::Resource),
                    ("metric", &m.metric, ContextKind::Metric),
                    ("datapoint", &m.datapoint, ContextKind::DataPoint),
                ] {
                    if let Some(l) = list {
                        collect(compile_list(l, ctx, mode, &["metrics", key]).map(|r| vec![r]));
                    }
                }
                if let Some(e) = &self.metric_conditions {
                    collect(compile_entries(e, signal, mode, "metric_conditions"));
                }
            }
            Signal::Logs => {
                let l = &self.logs;
                let ottl_keys = set(&l.resource) || set(&l.log_record);
                let legacy = l.include.is_some() || l.exclude.is_some();
                if ottl_keys && legacy {
                    return Err(err(ConfigError::new(&[], "cannot use \"logs.resource\", \"logs.log\" and the settings \"logs.include\", \"logs.exclude\" at the same time")));
                }
                if self.log_conditions.is_some() && (ottl_keys || legacy) {
                    return Err(err(ConfigError::new(&[], "cannot use context inferred log conditions \"log_conditions\" and the settings \"logs.resource\", \"logs.log\", \"logs.include\", \"logs.exclude\" at the same time")));
                }
                if legacy {
                    let mc = MatchConfig {
                        include: l.include.as_ref().map(log_props),
                        exclude: l.exclude.as_ref().map(log_props),
                    };
                    let errs = mc.validate();
                    if !errs.is_empty() {
                        return Err(errs.into_iter().map(|e| e.prefixed(&["logs"])).collect());
                    }
                    plan.skip = Some(
                        mc.build(Signal::Logs)
                            .map_err(|e| err(ConfigError::new(&["logs"], e)))?,
                    );
                }
                for (key, list, ctx) in [
                    ("resource", &l.resource, ContextKind::Resource),
                    ("log_record", &l.log_record, ContextKind::Log),
                ] {
                    if let Some(list) = list {
                        collect(compile_list(list, ctx, mode, &["logs", key]).map(|r| vec![r]));
                    }
                }
                if let Some(e) = &self.log_conditions {
                    collect(compile_entries(e, signal, mode, "log_conditions"));
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        plan.rules = rules;
        Ok(plan)
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        for s in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            if let Err(e) = self.plan(s) {
                errs.extend(e);
            }
        }
        errs
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.profiles != ProfileFilters::default() || self.profile_conditions.is_some() {
            out.push((
                "profiles".into(),
                "Ferrotel has no profiles pipelines".into(),
            ));
        }
        if self.metrics.regexp.is_some() {
            out.push((
                "metrics.regexp".into(),
                "regexp result caching is not needed by Ferrotel's matcher".into(),
            ));
        }
        out
    }
}

/// One `filter` instance (one per pipeline).
pub struct FilterProcessor {
    signal: Signal,
    plan: Plan,
    dropped: Option<IntCounter>,
    next: SharedConsumer,
}

fn warn(e: &str) {
    tracing::warn!(
        error = e,
        "failed to evaluate an OTTL condition; going on (error_mode ignore)"
    );
}

fn attrs(r: &Option<pipeline_api::proto::tonic::resource::v1::Resource>) -> &[KeyValue] {
    r.as_ref().map(|r| &r.attributes[..]).unwrap_or(&[])
}

impl FilterProcessor {
    pub fn new(
        ctx: &BuildContext,
        cfg: &Config,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<FilterProcessor, BuildError> {
        ottl::set_warn_hook(warn);
        let plan = cfg.plan(signal).map_err(|errs| {
            BuildError::new(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let t = &ctx.telemetry;
        let dropped = (t.level() > MetricsLevel::None).then(|| {
            let (what, help) = match signal {
                Signal::Traces => ("spans", "Number of spans dropped by the filter processor"),
                Signal::Metrics => (
                    "datapoints",
                    "Number of metric data points dropped by the filter processor",
                ),
                Signal::Logs => ("logs", "Number of logs dropped by the filter processor"),
            };
            // Go's counters carry the `filter` label only (no `processor` label).
            t.telemetry()
                .counter_vec(
                    &format!("otelcol_processor_filter_{what}_filtered"),
                    help,
                    &["filter"],
                )
                .with_label_values(&[t.id().to_string().as_str()])
        });
        Ok(FilterProcessor {
            signal,
            plan,
            dropped,
            next,
        })
    }

    /// The legacy match properties, when they select anything.
    fn skip(&self) -> Option<&SkipExpr> {
        self.plan.skip.as_ref().filter(|s| !s.is_noop())
    }

    /// Run the legacy match properties and then the rules over a batch still in its wire
    /// form, keeping it in that form (`exec::filter_wire`), until one cannot be (a span
    /// event or data point rule, a metric rule that reads data points): whether the match
    /// properties ran, the rules that ran and the items dropped.
    pub fn filter_wire(&self, batch: &mut Batch) -> Result<(bool, usize, usize), String> {
        let mut dropped = 0;
        if let Some(skip) = self.skip() {
            // as the decoded form: before the rules, the items the match properties leave
            // out (a span or log record by the entries they read, lent to it; a metric by
            // its name); entries left empty go now rather than after the rules, which
            // changes nothing
            let r = match self.signal {
                Signal::Traces => {
                    batch.filter_items_wire(Level::Item, true, &mut |parts: SpanParts<'_, '_>| {
                        if let Some(mut item) = parts.item {
                            let scope = parts.scope.and_then(|(s, _)| s.as_ref());
                            let res = attrs(parts.resource);
                            *parts.drop =
                                item.with_entries(skip.keys(), |s| skip.skip_span(res, scope, s));
                        }
                        Ok(())
                    })
                }
                Signal::Logs => {
                    batch.filter_items_wire(Level::Item, true, &mut |parts: LogParts<'_, '_>| {
                        if let Some(mut item) = parts.item {
                            let scope = parts.scope.and_then(|(s, _)| s.as_ref());
                            let res = attrs(parts.resource);
                            *parts.drop =
                                item.with_entries(skip.keys(), |l| skip.skip_log(res, scope, l));
                        }
                        Ok(())
                    })
                }
                Signal::Metrics => {
                    batch.filter_items_wire(Level::Item, true, &mut |parts: MetricParts<'_, '_>| {
                        if let Some(item) = parts.item {
                            let res = attrs(parts.resource);
                            *parts.drop = skip.skip_metric(res, &item.item.name);
                        }
                        Ok(())
                    })
                }
            };
            match r {
                Some(n) => dropped += n?,
                None => return Ok((false, 0, 0)),
            }
        }
        let rules = &self.plan.rules;
        for (i, r) in rules.iter().enumerate() {
            // a decoded request is pruned after the last rule
            let prune = i + 1 == rules.len();
            let metric = matches!(r.context, ContextKind::Metric | ContextKind::DataPoint);
            if metric && r.conditions.reads_metric_data() {
                return Ok((self.skip().is_some(), i, dropped));
            }
            let pred = &mut |c: &Ctx<'_>| r.conditions.eval(c);
            match exec::filter_wire(batch, r.context, prune, pred) {
                Some(n) => dropped += n?,
                None => return Ok((self.skip().is_some(), i, dropped)),
            }
        }
        Ok((self.skip().is_some(), rules.len(), dropped))
    }

    /// Drop what the filter selects: over the wire form while the rules allow, the rest over
    /// the decoded form; the number of items dropped.
    pub fn process_batch(&self, batch: &mut Batch) -> Result<usize, String> {
        let (skipped, ran, dropped) = self.filter_wire(batch)?;
        if ran == self.plan.rules.len() && (skipped || self.skip().is_none()) {
            return Ok(dropped);
        }
        Ok(dropped + batch.edit(|data| self.filter(data, !skipped, ran))?)
    }

    /// Drop what the filter selects: with `skip`, what the legacy match properties select,
    /// then the rules from rule `from` on (those before ran over the wire form); the number
    /// of items dropped.
    pub fn filter(&self, data: &mut BatchData, skip: bool, from: usize) -> Result<usize, String> {
        let mut dropped = 0;
        let skip = self.skip().filter(|_| skip);
        let rules = &self.plan.rules[from..];
        match data {
            BatchData::Traces(req) => {
                if let Some(skip) = skip {
                    for rs in &mut req.resource_spans {
                        let res = attrs(&rs.resource);
                        for ss in &mut rs.scope_spans {
                            let before = ss.spans.len();
                            let scope = ss.scope.as_ref();
                            ss.spans.retain(|s| !skip.skip_span(res, scope, s));
                            dropped += before - ss.spans.len();
                        }
                    }
                }
                for r in rules {
                    dropped += exec::filter_traces(req, r.context, &mut |c: &Ctx<'_>| {
                        r.conditions.eval(c)
                    })?;
                }
                req.resource_spans.retain_mut(|rs| {
                    rs.scope_spans.retain(|ss| !ss.spans.is_empty());
                    !rs.scope_spans.is_empty()
                });
            }
            BatchData::Logs(req) => {
                if let Some(skip) = skip {
                    for rl in &mut req.resource_logs {
                        let res = attrs(&rl.resource);
                        for sl in &mut rl.scope_logs {
                            let before = sl.log_records.len();
                            let scope = sl.scope.as_ref();
                            sl.log_records.retain(|l| !skip.skip_log(res, scope, l));
                            dropped += before - sl.log_records.len();
                        }
                    }
                }
                for r in rules {
                    dropped +=
                        exec::filter_logs(req, r.context, &mut |c: &Ctx<'_>| r.conditions.eval(c))?;
                }
                req.resource_logs.retain_mut(|rl| {
                    rl.scope_logs.retain(|sl| !sl.log_records.is_empty());
                    !rl.scope_logs.is_empty()
                });
            }
            BatchData::Metrics(req) => {
                if let Some(skip) = skip {
                    for rm in &mut req.resource_metrics {
                        let res = attrs(&rm.resource);
                        for sm in &mut rm.scope_metrics {
                            sm.metrics.retain(|m| {
                                let s = skip.skip_metric(res, &m.name);
                                if s {
                                    dropped += exec::point_count(m);
                                }
                                !s
                            });
                        }
                    }
                }
                for r in rules {
                    dropped += exec::filter_metrics(req, r.context, &mut |c: &Ctx<'_>| {
                        r.conditions.eval(c)
                    })?;
                }
                req.resource_metrics.retain_mut(|rm| {
                    rm.scope_metrics.retain(|sm| !sm.metrics.is_empty());
                    !rm.scope_metrics.is_empty()
                });
            }
        }
        Ok(dropped)
    }
}

#[async_trait]
impl Consumer for FilterProcessor {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "filter processor of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        if (self.plan.rules.is_empty() && self.skip().is_none()) || batch.is_empty() {
            return self.next.consume(batch).await;
        }
        let dropped = self
            .process_batch(&mut batch)
            .map_err(ConsumeError::permanent)?;
        if let Some(c) = &self.dropped {
            c.inc_by(dropped as u64);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for FilterProcessor {}
