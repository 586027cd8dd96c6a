//! The OpenTelemetry Transformation Language (OTTL), as Go's `pkg/ottl` defines it:
//! statements (`editor(args) where condition`) and conditions, compiled once per context
//! into trees of getters and closures, and run over decoded OTLP data.
//!
//! Public API for OTTL users (the `transform` and `filter` processors; the routing connector
//! and tail sampling can use the same):
//! - [`Statement::compile`] / [`Condition::compile`] for one context;
//! - [`infer_context`] for Go's flat statement lists;
//! - [`exec`]: visiting every resource, scope, span, span event, log, metric or data point
//!   of a request with a [`Ctx`], and dropping the ones a predicate selects.
#![forbid(unsafe_code)]

mod compile;
pub mod context;
pub mod exec;
mod funcs;
pub mod parser;
mod paths;
pub mod value;

use std::fmt;

pub use compile::PathStyle;
pub use context::{ContextKind, Ctx, Item, MetricHeader, Point, WirePoint};
pub use funcs::supported as supported_functions;
pub use value::Value;

use compile::{take_column, Compiler, Cond, EditorFn};

/// A statement or condition that does not load: the text, the 1-based column of the
/// offending token (a syntax error, an unknown or misused function, a bad argument, an
/// unknown path or enum symbol), and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub text: String,
    pub column: Option<usize>,
    pub message: String,
    pub is_condition: bool,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.is_condition {
            "condition"
        } else {
            "statement"
        };
        match self.column {
            Some(c) => write!(
                f,
                "unable to parse OTTL {what} {:?}: 1:{c}: {}",
                self.text, self.message
            ),
            None => write!(
                f,
                "unable to parse OTTL {what} {:?}: {}",
                self.text, self.message
            ),
        }
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    /// A statement's (or condition's) syntax error, at its column.
    fn syntax(text: &str, is_condition: bool, e: parser::ParseError) -> LoadError {
        LoadError {
            text: text.to_string(),
            column: Some(e.column),
            message: e.message,
            is_condition,
        }
    }
}

/// Go's `error_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// The error is returned and the data dropped.
    #[default]
    Propagate,
    /// The error is logged and processing goes on.
    Ignore,
    /// Processing goes on, nothing is logged.
    Silent,
}

impl ErrorMode {
    pub fn parse(s: &str) -> Result<ErrorMode, String> {
        match s {
            "propagate" => Ok(ErrorMode::Propagate),
            "ignore" => Ok(ErrorMode::Ignore),
            "silent" => Ok(ErrorMode::Silent),
            o => Err(format!("unknown error mode {o}")),
        }
    }
}

/// A compiled statement.
pub struct Statement {
    text: String,
    editor: EditorFn,
    condition: Option<Cond>,
    metric_data: bool,
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Statement({:?})", self.text)
    }
}

impl Statement {
    pub fn compile(text: &str, ctx: ContextKind, style: PathStyle) -> Result<Statement, LoadError> {
        let err = |column, message| LoadError {
            text: text.to_string(),
            column,
            message,
            is_condition: false,
        };
        let ast = parser::parse_statement(text).map_err(|e| LoadError::syntax(text, false, e))?;
        let c = Compiler::new(ctx, style);
        let located = |m: String| {
            let (column, message) = take_column(&m);
            err(column, message)
        };
        let editor = c.editor(&ast.editor).map_err(located)?;
        let condition = match &ast.condition {
            Some(w) => Some(c.cond(w).map_err(located)?),
            None => None,
        };
        Ok(Statement {
            text: text.to_string(),
            editor,
            condition,
            metric_data: c.reads_metric_data(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it reads or changes a metric's data points (or sets its temporality or
    /// monotonicity), or, in the data point context, changes the point's metric: it then
    /// needs the decoded metric, not one in the wire form.
    pub fn reads_metric_data(&self) -> bool {
        self.metric_data
    }

    /// Run the statement: the editor, when the `where` clause holds. True when it ran.
    pub fn execute(&self, ctx: &mut Ctx<'_>) -> Result<bool, String> {
        if let Some(c) = &self.condition {
            if !c.eval(ctx).map_err(|e| self.failed(e))? {
                return Ok(false);
            }
        }
        (self.editor)(ctx).map_err(|e| self.failed(e))?;
        Ok(true)
    }

    fn failed(&self, e: String) -> String {
        format!("failed to execute statement: {}, {e}", self.text)
    }
}

/// A compiled condition.
pub struct Condition {
    text: String,
    cond: Cond,
    metric_data: bool,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Condition({:?})", self.text)
    }
}

impl Condition {
    pub fn compile(text: &str, ctx: ContextKind, style: PathStyle) -> Result<Condition, LoadError> {
        let err = |column, message| LoadError {
            text: text.to_string(),
            column,
            message,
            is_condition: true,
        };
        let ast = parser::parse_condition(text).map_err(|e| LoadError::syntax(text, true, e))?;
        let c = Compiler::new(ctx, style);
        let cond = c.cond(&ast).map_err(|m| {
            let (column, message) = take_column(&m);
            err(column, message)
        })?;
        Ok(Condition {
            text: text.to_string(),
            cond,
            metric_data: c.reads_metric_data(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// As [`Statement::reads_metric_data`].
    pub fn reads_metric_data(&self) -> bool {
        self.metric_data
    }

    pub fn eval(&self, ctx: &Ctx<'_>) -> Result<bool, String> {
        self.cond
            .eval(ctx)
            .map_err(|e| format!("failed to eval condition: {}, {e}", self.text))
    }
}

/// Conditions joined by `or`, with an error mode: errors under `ignore`/`silent` read as
/// false (Go's `ConditionSequence`).
pub struct ConditionSeq {
    pub conditions: Vec<Condition>,
    pub error_mode: ErrorMode,
}

impl ConditionSeq {
    /// Whether any condition reads a metric's data points ([`Statement::reads_metric_data`]).
    pub fn reads_metric_data(&self) -> bool {
        self.conditions.iter().any(Condition::reads_metric_data)
    }

    pub fn eval(&self, ctx: &Ctx<'_>) -> Result<bool, String> {
        for c in &self.conditions {
            match c.eval(ctx) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => match self.error_mode {
                    ErrorMode::Propagate => return Err(e),
                    ErrorMode::Ignore => tracing_warn(&e),
                    ErrorMode::Silent => {}
                },
            }
        }
        Ok(false)
    }
}

/// Statements run in order with an error mode (Go's `StatementSequence`).
pub struct StatementSeq {
    pub statements: Vec<Statement>,
    pub error_mode: ErrorMode,
}

impl StatementSeq {
    /// Whether any statement reads or changes a metric's data points
    /// ([`Statement::reads_metric_data`]).
    pub fn reads_metric_data(&self) -> bool {
        self.statements.iter().any(Statement::reads_metric_data)
    }

    pub fn execute(&self, ctx: &mut Ctx<'_>) -> Result<(), String> {
        for s in &self.statements {
            if let Err(e) = s.execute(ctx) {
                match self.error_mode {
                    ErrorMode::Propagate => return Err(e),
                    ErrorMode::Ignore => tracing_warn(&e),
                    ErrorMode::Silent => {}
                }
            }
        }
        Ok(())
    }
}

fn tracing_warn(e: &str) {
    // The crate has no logger dependency: the standard error stream would interleave with
    // the collector's structured logs, so the message goes through a hook the host sets.
    if let Some(h) = WARN_HOOK.get() {
        h(e);
    }
}

static WARN_HOOK: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Where `ignore` mode's errors are reported (set once by the host).
pub fn set_warn_hook(f: fn(&str)) {
    let _ = WARN_HOOK.set(f);
}

/// The context names used as the first segment of the paths of statements and conditions.
fn used_contexts(statements: &[&str], conditions: &[&str]) -> Result<Vec<ContextKind>, LoadError> {
    let mut out = Vec::new();
    let mut note =
        |paths: Vec<&parser::Path>, text: &str, is_condition: bool| -> Result<(), LoadError> {
            for p in paths {
                let first = &p.fields[0].name;
                if first == "profile" {
                    return Err(LoadError {
                        text: text.to_string(),
                        column: Some(p.column),
                        message: "the profile context is not supported by Ferrotel".into(),
                        is_condition,
                    });
                }
                if p.fields.len() > 1 {
                    if let Some(c) = ContextKind::from_name(first) {
                        if !out.contains(&c) {
                            out.push(c);
                        }
                    }
                }
            }
            Ok(())
        };
    for s in statements {
        let ast = parser::parse_statement(s).map_err(|e| LoadError::syntax(s, false, e))?;
        note(parser::statement_paths(&ast), s, false)?;
    }
    for s in conditions {
        let ast = parser::parse_condition(s).map_err(|e| LoadError::syntax(s, true, e))?;
        let mut paths = Vec::new();
        parser::bool_paths(&ast, &mut paths);
        note(paths, s, true)?;
    }
    Ok(out)
}

/// The syntax error of a statement (or, with `is_condition`, a condition), if it has one:
/// what [`Statement::compile`] would report for it in any context. Lets a caller report every
/// statement that does not parse before a context is inferred from them.
pub fn syntax_error(text: &str, is_condition: bool) -> Option<LoadError> {
    let r = if is_condition {
        parser::parse_condition(text).map(drop)
    } else {
        parser::parse_statement(text).map(drop)
    };
    r.err().map(|e| LoadError::syntax(text, is_condition, e))
}

/// Go's context inference: the most specific context the paths name, which must be one of
/// `allowed` and able to read every other context named.
pub fn infer_context(
    statements: &[&str],
    conditions: &[&str],
    allowed: &[ContextKind],
) -> Result<ContextKind, String> {
    let used = used_contexts(statements, conditions).map_err(|e| e.to_string())?;
    let Some(best) = used
        .iter()
        .copied()
        .filter(|c| allowed.contains(c))
        .min_by_key(|c| c.priority())
    else {
        return Err(format!(
            "unable to infer a valid context ({}) from statements {:?} and conditions {:?}: path's first segment must be a valid context name",
            allowed.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
            statements,
            conditions
        ));
    };
    for c in &used {
        if !best.can_read(*c) {
            return Err(format!(
                "inferred context \"{best}\" cannot use paths of the \"{c}\" context (statements {statements:?})"
            ));
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    /// The deepest statement the parser accepts compiles, runs and drops within the stack of
    /// a runtime worker thread (2 MiB), in this unoptimised build whose frames are the largest.
    #[test]
    fn the_deepest_accepted_statements_compile_run_and_drop_on_a_worker_stack() {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                for (shape, make) in parser::tests::nested_shapes() {
                    let deepest = (parser::MAX_NESTING - 3..=parser::MAX_NESTING)
                        .rev()
                        .map(make)
                        .find(|text| parser::parse_statement(text).is_ok())
                        .unwrap_or_else(|| panic!("{shape}: nothing near the limit parses"));
                    let s = match Statement::compile(
                        &deepest,
                        ContextKind::Span,
                        PathStyle::Contextual,
                    ) {
                        Ok(s) => s,
                        // A statement the compiler refuses is fine; it must not overflow.
                        Err(e) => {
                            assert!(!e.message.is_empty(), "{shape}");
                            continue;
                        }
                    };
                    let mut req = ExportTraceServiceRequest {
                        resource_spans: vec![ResourceSpans {
                            scope_spans: vec![ScopeSpans {
                                spans: vec![Span {
                                    name: "x".into(),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                    };
                    let mut ran = 0;
                    let r = exec::visit_traces(&mut req, ContextKind::Span, &mut |c| {
                        ran += 1;
                        s.execute(c).map(|_| ())
                    });
                    assert_eq!(ran, 1, "{shape}: {r:?}");
                    drop(s);
                }
            })
            .expect("spawn")
            .join()
            .expect("no overflow");
    }
}
