//! The stanza operator chain (`operators:`), run synchronously on the entries a receiver reads.
//!
//! Go facts (`pkg/stanza/operator/helper/{writer,transformer,parser}.go`,
//! `pkg/stanza/pipeline`):
//! - every operator has `type`, optional `id` (default: the type; ids must be unique) and
//!   `output` (one id or a list; default: the next operator in the list, the last one
//!   emits from the receiver);
//! - transformers and parsers have `on_error` (`send`, the default, `send_quiet`, `drop`,
//!   `drop_quiet`: the quiet ones log at debug level) and `if` (an expression; an entry for
//!   which it is false passes through unchanged);
//! - parsers have `parse_from` (default `body`), `parse_to` (default `attributes`; a map
//!   result is merged there), `body` (a field copied to the body after parsing; not with
//!   `parse_to: body`), and embedded `timestamp`, `severity`, `trace`, `scope_name` blocks
//!   run after the parse; all of them run, then the first error is handled by `on_error`.

mod container;
mod docker;
mod dockerline;
mod parsers;
mod recombine;
mod regex_replace;
mod router;
pub mod syslog;
mod transformers;
mod unquote;

pub use dockerline::fields_both_ways as docker_line_fields_both_ways;
pub use parsers::{json_fields, parse_json, parse_json_via_serde_value};

use std::collections::HashMap;
use std::time::Instant;

use pipeline_api::config::{parse_typed, ConfigError, ConfigValue};
use serde::Deserialize;

use crate::entry::{Entry, Field, RootableField, Value};
use crate::expr::Expr;
use crate::severity::{
    ScopeNameConfig, ScopeNameParser, SeverityConfig, SeverityParser, TraceConfig, TraceParser,
};
use crate::timeparse::{TimeConfig, TimeParser};

/// What a build is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMode {
    /// Check the config: no I/O (a time zone is checked for its shape, not loaded).
    Validate,
    /// Build to run: time zones are loaded from the time zone database.
    Run,
}

/// `on_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    #[default]
    Send,
    SendQuiet,
    Drop,
    DropQuiet,
}

/// `output`: one id or a list.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Outputs {
    One(String),
    Many(Vec<String>),
}

impl Outputs {
    pub fn ids(&self) -> Vec<String> {
        match self {
            Outputs::One(s) => vec![s.clone()],
            Outputs::Many(v) => v.clone(),
        }
    }
}

/// Declare an operator's config struct with the keys every operator has.
macro_rules! op_config {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub id: Option<String>,
            pub output: Option<$crate::operators::Outputs>,
            pub on_error: $crate::operators::OnError,
            #[serde(rename = "if")]
            pub if_expr: Option<String>,
            $($(#[$fm])* pub $f: $t,)*
        }
        impl pipeline_api::config::Validate for $name {}
    };
}

/// Declare a parser's config struct: the common keys plus the parser keys.
macro_rules! parser_config {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $crate::operators::op_config!($(#[$m])* $name {
            parse_from: Option<$crate::entry::Field>,
            parse_to: Option<$crate::entry::RootableField>,
            body: Option<$crate::entry::Field>,
            timestamp: Option<$crate::timeparse::TimeConfig>,
            severity: Option<$crate::severity::SeverityConfig>,
            trace: Option<$crate::severity::TraceConfig>,
            scope_name: Option<$crate::severity::ScopeNameConfig>,
            $($(#[$fm])* $f: $t,)*
        });
        impl $crate::operators::ParserKeys for $name {
            fn parser_keys(&self) -> $crate::operators::ParserKeysRef<'_> {
                $crate::operators::ParserKeysRef {
                    parse_from: &self.parse_from,
                    parse_to: &self.parse_to,
                    body: &self.body,
                    timestamp: &self.timestamp,
                    severity: &self.severity,
                    trace: &self.trace,
                    scope_name: &self.scope_name,
                }
            }
        }
    };
}
pub(crate) use op_config;
pub(crate) use parser_config;

/// The parser keys of a parser config.
pub struct ParserKeysRef<'a> {
    pub parse_from: &'a Option<Field>,
    pub parse_to: &'a Option<RootableField>,
    pub body: &'a Option<Field>,
    pub timestamp: &'a Option<TimeConfig>,
    pub severity: &'a Option<SeverityConfig>,
    pub trace: &'a Option<TraceConfig>,
    pub scope_name: &'a Option<ScopeNameConfig>,
}

pub trait ParserKeys {
    fn parser_keys(&self) -> ParserKeysRef<'_>;
}

/// What an operator hands on: entries for its output ports, and what went wrong.
#[derive(Default)]
pub struct Out {
    pub items: Vec<(usize, Entry)>,
    pub errors: u64,
    pub dropped: u64,
    /// The failures behind `errors`, for the pipeline to log (a bounded sample of them).
    pub failures: Vec<Failure>,
}

/// One entry an operator failed on: why (cut to [`MAX_ERROR_TEXT`]) and what `on_error` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: String,
    pub action: OnError,
}

/// At most this many bytes of an error are logged: errors quote their input, and an input
/// line may be megabytes long (or a log line of the collector's own, which quoting again
/// would grow without end).
pub const MAX_ERROR_TEXT: usize = 256;

/// `text` cut to at most `max` bytes (at a character boundary), saying how long it was.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..end], text.len())
}

/// How many failures of one operator are logged per [`ERROR_LOG_INTERVAL`]; the others are
/// counted and summed up in one line when the interval ends.
pub const ERROR_LOG_SAMPLE: u64 = 3;
pub const ERROR_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// The failures of one operator in the current interval.
#[derive(Debug, Default)]
pub struct ErrorLog {
    window_start: Option<Instant>,
    failed: u64,
    logged: u64,
    quiet: bool,
    /// Every failure ever (tests).
    pub total: u64,
    /// Lines written (tests).
    pub lines: u64,
}

impl ErrorLog {
    /// Count a failure; log it when it is among the first [`ERROR_LOG_SAMPLE`] of its
    /// interval.
    pub fn record(&mut self, operator: &str, f: &Failure, now: Instant) {
        self.end_interval(operator, now, false);
        self.window_start.get_or_insert(now);
        self.failed += 1;
        self.total += 1;
        let quiet = matches!(f.action, OnError::SendQuiet | OnError::DropQuiet);
        self.quiet = quiet;
        if self.logged >= ERROR_LOG_SAMPLE {
            return;
        }
        self.logged += 1;
        self.lines += 1;
        let action = match f.action {
            OnError::Send => "send",
            OnError::SendQuiet => "send_quiet",
            OnError::Drop => "drop",
            OnError::DropQuiet => "drop_quiet",
        };
        let more = if self.logged == ERROR_LOG_SAMPLE {
            " Further failures of this operator are counted and reported every 10s."
        } else {
            ""
        };
        if quiet {
            tracing::debug!(operator = %operator, action, error = %f.error, "Failed to process entry.{more}");
        } else {
            tracing::warn!(operator = %operator, action, error = %f.error, "Failed to process entry.{more}");
        }
    }

    /// When the interval is over (or `force`), say how many failures were not logged one by
    /// one, and start a new interval.
    pub fn end_interval(&mut self, operator: &str, now: Instant, force: bool) {
        let Some(start) = self.window_start else {
            return;
        };
        if !force && now.duration_since(start) < ERROR_LOG_INTERVAL {
            return;
        }
        if self.failed > self.logged {
            self.lines += 1;
            let secs = now.duration_since(start).as_secs();
            if self.quiet {
                tracing::debug!(operator = %operator, failed = self.failed, logged = self.logged, "{} entries failed in the last {secs}s.", self.failed);
            } else {
                tracing::warn!(operator = %operator, failed = self.failed, logged = self.logged, "{} entries failed in the last {secs}s.", self.failed);
            }
        }
        self.window_start = None;
        self.failed = 0;
        self.logged = 0;
    }
}

impl Out {
    pub fn send(&mut self, e: Entry) {
        self.items.push((0, e));
    }
}

/// A built operator.
pub trait Operator: Send {
    fn process(&mut self, e: Entry, out: &mut Out);

    /// Flush what has been held longer than the operator's flush period.
    fn flush_expired(&mut self, _now: Instant, _out: &mut Out) {}

    /// Flush everything held (shutdown).
    fn flush_all(&mut self, _out: &mut Out) {}

    /// Flush what is held at a shutdown after which the checkpoint is kept (a `storage`
    /// is configured): what was read from a file stays held, so the file's checkpoint stays
    /// at its start and the next start reads it again whole, instead of sending it cut short
    /// now and the rest as a record of its own. Entries read from no file are flushed.
    fn flush_unread(&mut self, out: &mut Out) {
        self.flush_all(out)
    }

    /// For each reader, the smallest start offset of an entry this operator still holds.
    fn held(&self, _acc: &mut HashMap<u64, u64>) {}
}

/// The keys every transformer shares at run time: `id`, `on_error`, `if`.
#[derive(Debug, Clone)]
pub struct Base {
    pub id: String,
    pub on_error: OnError,
    pub cond: Option<Expr>,
}

impl Base {
    pub fn new(id: &str, on_error: OnError, if_expr: &Option<String>) -> Result<Base, String> {
        let cond = match if_expr.as_deref() {
            Some(s) if !s.trim().is_empty() => Some(Expr::compile(s)?),
            _ => None,
        };
        Ok(Base {
            id: id.to_string(),
            on_error,
            cond,
        })
    }

    /// Go `Skip`: true when the `if` condition is false.
    pub fn skip(&self, e: &Entry) -> Result<bool, String> {
        match &self.cond {
            None => Ok(false),
            Some(c) => c.eval_bool(e).map(|b| !b),
        }
    }

    /// Go `HandleEntryError`: count, then send or drop the entry. The pipeline logs a
    /// bounded sample of the failures ([`ErrorLog`]), each error cut to [`MAX_ERROR_TEXT`].
    pub fn fail(&self, e: Entry, err: &str, out: &mut Out) {
        out.errors += 1;
        out.failures.push(Failure {
            error: bounded(err, MAX_ERROR_TEXT),
            action: self.on_error,
        });
        match self.on_error {
            OnError::Send | OnError::SendQuiet => out.send(e),
            OnError::Drop | OnError::DropQuiet => out.dropped += 1,
        }
    }

    /// Go `TransformerOperator.ProcessWith`.
    pub fn transform(
        &self,
        mut e: Entry,
        out: &mut Out,
        f: impl FnOnce(&mut Entry) -> Result<(), String>,
    ) {
        match self.skip(&e) {
            Err(err) => return self.fail(e, &err, out),
            Ok(true) => return out.send(e),
            Ok(false) => {}
        }
        match f(&mut e) {
            Ok(()) => out.send(e),
            Err(err) => self.fail(e, &err, out),
        }
    }
}

/// A failed parse: the entry as it was left, and why.
pub type ParseFailure = Box<(Entry, String)>;

/// The run-time parser part (Go `ParserOperator`).
#[derive(Debug, Clone)]
pub struct ParserBase {
    pub base: Base,
    pub parse_from: Field,
    pub parse_to: Field,
    pub body: Option<Field>,
    pub time: Option<TimeParser>,
    pub severity: Option<SeverityParser>,
    pub trace: Option<TraceParser>,
    pub scope: Option<ScopeNameParser>,
}

impl ParserBase {
    pub fn build<C: ParserKeys>(
        id: &str,
        on_error: OnError,
        if_expr: &Option<String>,
        cfg: &C,
        mode: BuildMode,
    ) -> Result<ParserBase, String> {
        let k = cfg.parser_keys();
        let parse_to = k.parse_to.clone().map(|r| r.0).unwrap_or(Field {
            root: crate::entry::Root::Attributes,
            keys: vec![],
        });
        if k.body.is_some() && parse_to == Field::body() {
            return Err("`parse_to: body` not allowed when `body` is configured".into());
        }
        Ok(ParserBase {
            base: Base::new(id, on_error, if_expr)?,
            parse_from: k.parse_from.clone().unwrap_or_else(Field::body),
            parse_to,
            body: k.body.clone(),
            time: k
                .timestamp
                .as_ref()
                .map(|t| TimeParser::build_with(t, mode))
                .transpose()?,
            severity: k.severity.as_ref().map(SeverityParser::build).transpose()?,
            trace: k.trace.as_ref().map(TraceParser::build),
            scope: k
                .scope_name
                .as_ref()
                .map(ScopeNameParser::build)
                .transpose()?,
        })
    }

    /// Whether the parse result simply merges into the attributes root (`parse_to` is
    /// `attributes`) with nothing else to run after it (no `body`, `timestamp`, `severity`,
    /// `trace` or `scope_name`): a parser may then insert its fields into the attributes
    /// directly, which is what merging its map there does.
    pub fn merges_into_attributes_only(&self) -> bool {
        self.parse_to.root == crate::entry::Root::Attributes
            && self.parse_to.keys.is_empty()
            && self.body.is_none()
            && self.time.is_none()
            && self.severity.is_none()
            && self.trace.is_none()
            && self.scope.is_none()
    }

    /// Whether the parse result merges into the attributes root (`parse_to` is
    /// `attributes`): a parser may then insert its fields into the attributes directly (and
    /// run [`ParserBase::after_parse`]), which is what merging its map there does.
    pub fn parses_into_attributes(&self) -> bool {
        self.parse_to.root == crate::entry::Root::Attributes && self.parse_to.keys.is_empty()
    }

    /// Go `ParserOperator.ProcessWith`: `if`, parse, set, then the embedded parsers.
    pub fn process(
        &self,
        e: Entry,
        out: &mut Out,
        parse: impl FnOnce(&Value) -> Result<Value, String>,
    ) {
        self.process_by(e, out, |e| self.parse_with(e, parse));
    }

    /// [`ParserBase::process`] for a parser whose `parse_to` is `attributes`: the parsed
    /// fields are inserted into the attributes one by one (later ones win, as in the map they
    /// would otherwise form and merge there), without building that map.
    pub fn process_into_attributes<I>(
        &self,
        e: Entry,
        out: &mut Out,
        parse: impl FnOnce(&Value) -> Result<I, String>,
    ) where
        I: IntoIterator<Item = (String, Value)>,
    {
        self.process_by(e, out, |e| {
            self.parse_and_store(e, parse, |e, fields| {
                e.attributes.extend(fields);
                Ok(())
            })
        });
    }

    /// `if`, then `parse` the entry: what passes goes on, a failure goes to `on_error`.
    fn process_by(
        &self,
        e: Entry,
        out: &mut Out,
        parse: impl FnOnce(Entry) -> Result<Entry, ParseFailure>,
    ) {
        match self.base.skip(&e) {
            Err(err) => return self.base.fail(e, &err, out),
            Ok(true) => return out.send(e),
            Ok(false) => {}
        }
        match parse(e) {
            Ok(e) => out.send(e),
            Err(f) => {
                let (e, err) = *f;
                self.base.fail(e, &err, out)
            }
        }
    }

    /// Go `ParseWith`, returning the entry with the first error.
    pub fn parse_with(
        &self,
        e: Entry,
        parse: impl FnOnce(&Value) -> Result<Value, String>,
    ) -> Result<Entry, ParseFailure> {
        self.parse_and_store(e, parse, |e, parsed| {
            self.parse_to
                .set(e, parsed)
                .map_err(|err| format!("set parse_to: {err}"))
        })
    }

    /// Parse the `parse_from` field, `store` the result in the entry, then the embedded
    /// parsers; the entry with the first error.
    fn parse_and_store<T>(
        &self,
        mut e: Entry,
        parse: impl FnOnce(&Value) -> Result<T, String>,
        store: impl FnOnce(&mut Entry, T) -> Result<(), String>,
    ) -> Result<Entry, ParseFailure> {
        let Some(value) = self.parse_from.get(&e) else {
            let msg = format!(
                "Entry is missing the expected parse_from field {}",
                self.parse_from
            );
            return Err(Box::new((e, msg)));
        };
        let parsed = match parse(value) {
            Ok(v) => v,
            Err(err) => return Err(Box::new((e, err))),
        };
        if let Err(err) = store(&mut e, parsed) {
            return Err(Box::new((e, err)));
        }
        self.after_parse(e)
    }

    /// The `body` copy and the embedded timestamp/severity/trace/scope parsers.
    pub fn after_parse(&self, mut e: Entry) -> Result<Entry, ParseFailure> {
        if let Some(b) = &self.body {
            if let Some(v) = b.get(&e).cloned() {
                e.body = Some(v);
            }
        }
        let t = self.time.as_ref().map(|p| p.parse(&mut e));
        let s = self.severity.as_ref().map(|p| p.parse(&mut e));
        let tr = self.trace.as_ref().map(|p| p.parse(&mut e));
        let sc = self.scope.as_ref().map(|p| p.parse(&mut e));
        for (what, r) in [
            ("time parser", t),
            ("severity parser", s),
            ("trace parser", tr),
            ("scope_name parser", sc),
        ] {
            if let Some(Err(err)) = r {
                return Err(Box::new((e, format!("{what}: {err}"))));
            }
        }
        Ok(e)
    }
}

/// The operator table: every operator type once, as `Variant => "type name", config type,
/// builder`. The builder is `fn(id, &config, BuildMode) -> Result<Box<dyn Operator>, (key,
/// message)>`; the config type is read with [`parse_typed`] (every config declares the common
/// keys `id` and `output` through [`op_config!`]). From the table come the
/// [`OperatorConfig`] enum, [`OPERATOR_TYPES`], and parsing, naming and building by type.
macro_rules! operator_table {
    ($($variant:ident => $name:literal, $config:ty, $build:path;)*) => {
        /// One operator's parsed config.
        #[derive(Debug, Clone)]
        pub enum OperatorConfig {
            $($variant($config),)*
        }

        /// Every operator type this crate knows.
        pub const OPERATOR_TYPES: &[&str] = &[$($name,)*];

        impl OperatorConfig {
            /// Read the keys of an operator of type `ty` (`None`: no such type).
            fn parse_as(
                ty: &str,
                rest: &ConfigValue,
            ) -> Option<Result<OperatorConfig, Vec<ConfigError>>> {
                Some(match ty {
                    $($name => parse_typed::<$config>(rest).map(OperatorConfig::$variant),)*
                    _ => return None,
                })
            }

            pub fn type_name(&self) -> &'static str {
                match self {
                    $(OperatorConfig::$variant(_) => $name,)*
                }
            }

            /// `(id, output)` of any operator.
            fn common(&self) -> (Option<&String>, Option<&Outputs>) {
                match self {
                    $(OperatorConfig::$variant(c) => (c.id.as_ref(), c.output.as_ref()),)*
                }
            }

            /// Build the operator. Errors are `(key, message)` relative to the operator.
            fn build(
                &self,
                id: &str,
                mode: BuildMode,
            ) -> Result<Box<dyn Operator>, (String, String)> {
                match self {
                    $(OperatorConfig::$variant(c) => $build(id, c, mode),)*
                }
            }
        }
    };
}

operator_table! {
    JsonParser => "json_parser", parsers::JsonParserConfig, parsers::build_json;
    RegexParser => "regex_parser", parsers::RegexParserConfig, parsers::build_regex;
    KeyValueParser => "key_value_parser", parsers::KeyValueParserConfig, parsers::build_key_value;
    SeverityParser => "severity_parser", parsers::SeverityParserConfig, parsers::build_severity;
    TimeParser => "time_parser", parsers::TimeParserConfig, parsers::build_time;
    TraceParser => "trace_parser", parsers::TraceParserConfig, parsers::build_trace;
    ScopeNameParser => "scope_name_parser",
        parsers::ScopeNameParserConfig, parsers::build_scope_name;
    SyslogParser => "syslog_parser", syslog::SyslogParserConfig, syslog::build;
    Container => "container", container::ContainerConfig, container::build;
    Move => "move", transformers::MoveConfig, transformers::build_move;
    Copy => "copy", transformers::CopyConfig, transformers::build_copy;
    Remove => "remove", transformers::RemoveConfig, transformers::build_remove;
    Add => "add", transformers::AddConfig, transformers::build_add;
    Flatten => "flatten", transformers::FlattenConfig, transformers::build_flatten;
    Retain => "retain", transformers::RetainConfig, transformers::build_retain;
    Noop => "noop", transformers::NoopConfig, transformers::build_noop;
    Filter => "filter", transformers::FilterConfig, transformers::build_filter;
    RegexReplace => "regex_replace", regex_replace::RegexReplaceConfig, regex_replace::build;
    Unquote => "unquote", unquote::UnquoteConfig, unquote::build;
    Recombine => "recombine", recombine::RecombineConfig, recombine::build;
    Router => "router", router::RouterConfig, router::build;
}

impl OperatorConfig {
    /// Parse one `operators:` item; errors carry paths relative to the item.
    pub fn parse(value: &ConfigValue) -> Result<OperatorConfig, Vec<ConfigError>> {
        let ConfigValue::Mapping(map) = value else {
            return Err(vec![ConfigError::new(
                &[],
                "an operator must be a map with a `type`",
            )]);
        };
        let ty = match map.get("type") {
            Some(ConfigValue::String(s)) => s.clone(),
            Some(_) => return Err(vec![ConfigError::new(&["type"], "must be a string")]),
            None => {
                return Err(vec![ConfigError::new(
                    &["type"],
                    "missing required key `type`",
                )])
            }
        };
        let mut rest = map.clone();
        rest.remove("type");
        let rest = ConfigValue::Mapping(rest);
        if let Some(parsed) = OperatorConfig::parse_as(&ty, &rest) {
            return parsed;
        }
        let valid: Vec<String> = OPERATOR_TYPES.iter().map(|s| s.to_string()).collect();
        let mut msg = format!("unsupported operator type {ty:?}");
        match pipeline_api::config::nearest(&ty, &valid) {
            Some(n) => msg.push_str(&format!("; did you mean {n:?}?")),
            None => msg.push_str(&format!("; supported: {}", OPERATOR_TYPES.join(", "))),
        }
        Err(vec![ConfigError::new(&["type"], msg)])
    }

    pub fn id(&self) -> String {
        self.common()
            .0
            .cloned()
            .unwrap_or_else(|| self.type_name().to_string())
    }

    /// Output ports: the default outputs, or a router's route outputs then its default.
    fn ports(&self) -> Option<Vec<Option<Vec<String>>>> {
        match self {
            OperatorConfig::Router(r) => Some(
                r.routes
                    .iter()
                    .map(|route| Some(route.output.ids()))
                    .chain(std::iter::once(r.default.as_ref().map(Outputs::ids)))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Where an output goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dest {
    Node(usize),
    Emit,
}

struct Node {
    id: String,
    op: Box<dyn Operator>,
    ports: Vec<Vec<Dest>>,
    errors: ErrorLog,
    failed: Option<pipeline_api::IntCounter>,
}

/// Counters of operator problems.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub errors: u64,
    pub dropped: u64,
}

/// Operator ids, with the operators whose id is their type (none given) after the first of
/// that type renamed `type1`, `type2`, … skipping ids already taken (Go
/// `dedeplucateIDs`). Ids given twice stay duplicates (an error).
fn dedup_ids(configs: &[OperatorConfig]) -> Vec<String> {
    let mut ids: Vec<String> = configs.iter().map(OperatorConfig::id).collect();
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    for (i, c) in configs.iter().enumerate() {
        let kind = c.type_name();
        if ids[i] != kind {
            continue;
        }
        let n = seen.entry(kind).or_insert(0);
        if *n == 0 {
            *n = 1;
            continue;
        }
        let mut candidate = format!("{kind}{n}");
        while ids.contains(&candidate) {
            *n += 1;
            candidate = format!("{kind}{n}");
        }
        *n += 1;
        ids[i] = candidate;
    }
    ids
}

/// The built chain.
#[derive(Default)]
pub struct Pipeline {
    nodes: Vec<Node>,
    /// Emptied `Out`s kept for reuse (one per depth of the chain).
    spare: Vec<Out>,
}

impl Pipeline {
    /// Build from raw `operators:` items; errors carry paths relative to `operators`.
    pub fn build(raw: &[ConfigValue], mode: BuildMode) -> Result<Pipeline, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut configs = Vec::new();
        for (i, v) in raw.iter().enumerate() {
            let idx = i.to_string();
            match OperatorConfig::parse(v) {
                Ok(c) => configs.push(Some(c)),
                Err(es) => {
                    errors.extend(es.into_iter().map(|e| e.prefixed(&[&idx])));
                    configs.push(None);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let configs: Vec<OperatorConfig> = configs.into_iter().flatten().collect();
        let ids = dedup_ids(&configs);
        let mut index = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            if index.insert(id.clone(), i).is_some() {
                errors.push(ConfigError::new(
                    &[&i.to_string(), "id"],
                    format!("operator id {id:?} is used more than once; give each operator of the same type its own `id`"),
                ));
            }
        }
        let resolve = |list: &[String], i: usize, key: &str, errors: &mut Vec<ConfigError>| {
            list.iter()
                .filter_map(|id| match index.get(id) {
                    Some(&j) => Some(Dest::Node(j)),
                    None => {
                        let idx = i.to_string();
                        let path: Vec<&str> = match key {
                            "output" | "default" => vec![&idx, key],
                            route => vec![&idx, "routes", route, "output"],
                        };
                        errors.push(ConfigError::new(
                            &path,
                            format!("operator {id:?} does not exist"),
                        ));
                        None
                    }
                })
                .collect::<Vec<Dest>>()
        };
        let mut nodes = Vec::new();
        for (i, c) in configs.iter().enumerate() {
            let default_next = if i + 1 < configs.len() {
                vec![Dest::Node(i + 1)]
            } else {
                vec![Dest::Emit]
            };
            let ports = match c.ports() {
                Some(ports) => {
                    let last = ports.len().saturating_sub(1);
                    ports
                        .into_iter()
                        .enumerate()
                        .map(|(p, ids)| match ids {
                            Some(ids) => {
                                let key = if p == last {
                                    "default".to_string()
                                } else {
                                    p.to_string()
                                };
                                resolve(&ids, i, &key, &mut errors)
                            }
                            // a router without `default` drops unmatched entries (Go router)
                            None => Vec::new(),
                        })
                        .collect()
                }
                None => vec![match c.common().1 {
                    Some(o) => resolve(&o.ids(), i, "output", &mut errors),
                    None => default_next,
                }],
            };
            match c.build(&ids[i], mode) {
                Ok(op) => nodes.push(Node {
                    id: ids[i].clone(),
                    op,
                    ports,
                    errors: ErrorLog::default(),
                    failed: None,
                }),
                Err((key, msg)) => {
                    let idx = i.to_string();
                    let mut path: Vec<&str> = vec![&idx];
                    path.extend(key.split("::").filter(|k| !k.is_empty()));
                    errors.push(ConfigError::new(&path, msg));
                }
            }
        }
        if errors.is_empty() {
            // the graph must not loop
            for start in 0..nodes.len() {
                let mut seen = vec![false; nodes.len()];
                let mut stack = vec![(start, 0usize)];
                while let Some((n, depth)) = stack.pop() {
                    if depth > nodes.len() {
                        errors.push(ConfigError::new(
                            &[&start.to_string(), "output"],
                            "the operators' outputs form a loop",
                        ));
                        break;
                    }
                    seen[n] = true;
                    for d in nodes[n].ports.iter().flatten() {
                        if let Dest::Node(m) = d {
                            stack.push((*m, depth + 1));
                        }
                    }
                }
                if !errors.is_empty() {
                    break;
                }
            }
        }
        if errors.is_empty() {
            Ok(Pipeline {
                nodes,
                spare: Vec::new(),
            })
        } else {
            Err(errors)
        }
    }

    /// Check the config without I/O (time zones are not loaded).
    pub fn validate(raw: &[ConfigValue]) -> Result<(), Vec<ConfigError>> {
        Pipeline::build(raw, BuildMode::Validate).map(|_| ())
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Run entries through the chain; what reaches the end is returned, in order.
    pub fn process(&mut self, entries: Vec<Entry>, stats: &mut Stats) -> Vec<Entry> {
        if self.nodes.is_empty() {
            return entries;
        }
        let mut result = Vec::with_capacity(entries.len());
        for e in entries {
            self.run(0, e, &mut result, stats);
        }
        result
    }

    /// Run one entry through the chain; what reaches the end is appended to `result`.
    pub fn process_one(&mut self, e: Entry, result: &mut Vec<Entry>, stats: &mut Stats) {
        if self.nodes.is_empty() {
            result.push(e);
        } else {
            self.run(0, e, result, stats);
        }
    }

    fn run(&mut self, node: usize, e: Entry, result: &mut Vec<Entry>, stats: &mut Stats) {
        let mut out = self.spare.pop().unwrap_or_default();
        if let Some(n) = self.nodes.get_mut(node) {
            n.op.process(e, &mut out);
        }
        self.route(node, &mut out, result, stats);
        self.spare.push(out);
    }

    /// Hand on what `out` holds (leaving it empty).
    fn route(&mut self, node: usize, out: &mut Out, result: &mut Vec<Entry>, stats: &mut Stats) {
        let errors = std::mem::take(&mut out.errors);
        stats.errors += errors;
        stats.dropped += std::mem::take(&mut out.dropped);
        if errors > 0 || !out.failures.is_empty() {
            if let Some(n) = self.nodes.get_mut(node) {
                if let Some(c) = &n.failed {
                    c.inc_by(errors);
                }
                let now = Instant::now();
                for f in out.failures.drain(..) {
                    n.errors.record(&n.id, &f, now);
                }
            }
            out.failures.clear();
        }
        for (port, e) in out.items.drain(..) {
            let n = self
                .nodes
                .get(node)
                .and_then(|n| n.ports.get(port))
                .map_or(0, Vec::len);
            let mut e = Some(e);
            for k in 0..n {
                let d = self.nodes[node].ports[port][k];
                let item = if k + 1 == n { e.take() } else { e.clone() };
                let Some(item) = item else { continue };
                match d {
                    Dest::Emit => result.push(item),
                    Dest::Node(j) => self.run(j, item, result, stats),
                }
            }
        }
    }

    /// Flush operators' entries held longer than their flush period.
    /// Count each operator's failed entries in `otelcol_filelog_operator_errors`.
    pub fn count_errors_in(&mut self, telemetry: &pipeline_api::telemetry::ComponentTelemetry) {
        for n in &mut self.nodes {
            n.failed = Some(telemetry.counter(
                "otelcol_filelog_operator_errors",
                "Entries an operator failed to process (handled by its on_error)",
                &[("operator", &n.id)],
            ));
        }
    }

    /// Each operator's failures so far (tests).
    pub fn error_logs(&self) -> Vec<(&str, &ErrorLog)> {
        self.nodes
            .iter()
            .map(|n| (n.id.as_str(), &n.errors))
            .collect()
    }

    /// End the error-log intervals that are over (`force`: all of them, at shutdown).
    pub fn report_errors(&mut self, now: Instant, force: bool) {
        for n in &mut self.nodes {
            n.errors.end_interval(&n.id, now, force);
        }
    }

    pub fn flush_expired(&mut self, now: Instant, stats: &mut Stats) -> Vec<Entry> {
        self.report_errors(now, false);
        let mut result = Vec::new();
        for i in 0..self.nodes.len() {
            let mut out = Out::default();
            self.nodes[i].op.flush_expired(now, &mut out);
            self.route(i, &mut out, &mut result, stats);
        }
        result
    }

    /// Flush everything held (shutdown).
    pub fn flush_all(&mut self, stats: &mut Stats) -> Vec<Entry> {
        self.shutdown_flush(stats, false)
    }

    /// Shutdown: flush what the operators hold; with `keep_read`, what was read from a file
    /// stays held (see [`Operator::flush_unread`]).
    pub fn shutdown_flush(&mut self, stats: &mut Stats, keep_read: bool) -> Vec<Entry> {
        let mut result = Vec::new();
        for i in 0..self.nodes.len() {
            let mut out = Out::default();
            if keep_read {
                self.nodes[i].op.flush_unread(&mut out);
            } else {
                self.nodes[i].op.flush_all(&mut out);
            }
            self.route(i, &mut out, &mut result, stats);
        }
        self.report_errors(Instant::now(), true);
        result
    }

    /// Per reader, the smallest start offset of an entry still held by an operator.
    pub fn held(&self) -> HashMap<u64, u64> {
        let mut acc = HashMap::new();
        for n in &self.nodes {
            n.op.held(&mut acc);
        }
        acc
    }
}

/// Record an entry's origin in `acc` (keeping the smallest start per reader).
pub fn hold(acc: &mut HashMap<u64, u64>, e: &Entry) {
    if let Some(o) = &e.origin {
        acc.entry(o.reader)
            .and_modify(|s| *s = (*s).min(o.start))
            .or_insert(o.start);
    }
}
