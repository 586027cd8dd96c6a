//! Compilation of parsed statements and conditions into trees of getters, conditions and
//! closures, once at load time.

use crate::context::{ContextKind, Ctx};
use crate::parser::{self, BoolExpr, Call, CmpOp, Key, MathOp};
use crate::paths::{resolve, CKey, CPath, KeyVal, MapT, Target};
use crate::value::{compare, math, Value};

/// Load errors travel as strings through the function factories; the innermost part that
/// knows where it is in the statement (a call, an argument, a path, an enum symbol) marks the
/// message with its column, and the statement's compile takes the mark out
/// ([`take_column`]). Outer parts may add words around a marked message; the first mark wins.
const COLUMN_MARK: char = '\u{1}';

/// `msg` marked with `column`, unless a part inside already marked it.
pub(crate) fn at(column: usize, msg: String) -> String {
    if msg.contains(COLUMN_MARK) {
        msg
    } else {
        format!("{COLUMN_MARK}{column}{COLUMN_MARK}{msg}")
    }
}

/// The column a message was marked with, and the message without the mark.
pub(crate) fn take_column(msg: &str) -> (Option<usize>, String) {
    let Some(start) = msg.find(COLUMN_MARK) else {
        return (None, msg.to_string());
    };
    let rest = &msg[start + COLUMN_MARK.len_utf8()..];
    let Some(end) = rest.find(COLUMN_MARK) else {
        return (None, msg.to_string());
    };
    let column = rest[..end].parse().ok();
    let text = format!("{}{}", &msg[..start], &rest[end + COLUMN_MARK.len_utf8()..]);
    (column, text)
}

/// A converter's compiled body.
pub type ConverterFn = Box<dyn Fn(&Ctx<'_>) -> Result<Value, String> + Send + Sync>;
/// An editor's compiled body.
pub type EditorFn = Box<dyn Fn(&mut Ctx<'_>) -> Result<(), String> + Send + Sync>;

/// Something that yields a value.
pub enum Getter {
    Lit(Value),
    Path(CPath),
    Func(ConverterFn),
    List(Vec<Getter>),
    Map(Vec<(String, Getter)>),
    Math(Box<Getter>, MathOp, Box<Getter>),
    Keyed(Box<Getter>, Vec<CKey>),
}

impl Getter {
    pub fn get(&self, ctx: &Ctx<'_>) -> Result<Value, String> {
        match self {
            Getter::Lit(v) => Ok(v.clone()),
            Getter::Path(p) => p.get(ctx),
            Getter::Func(f) => f(ctx),
            Getter::List(items) => Ok(Value::List(
                items
                    .iter()
                    .map(|g| g.get(ctx).map(Value::into_any_or_empty))
                    .collect::<Result<_, _>>()?,
            )),
            Getter::Map(items) => Ok(Value::Map(
                items
                    .iter()
                    .map(|(k, g)| {
                        g.get(ctx)
                            .map(|v| pipeline_api::proto::tonic::common::v1::KeyValue {
                                key: k.clone(),
                                value: Some(v.into_any_or_empty()),
                                ..Default::default()
                            })
                    })
                    .collect::<Result<_, _>>()?,
            )),
            Getter::Math(a, op, b) => math(&a.get(ctx)?, *op, &b.get(ctx)?),
            Getter::Keyed(g, keys) => {
                let mut v = g.get(ctx)?;
                for k in keys {
                    let k = match k {
                        CKey::Str(s) => KeyVal::Str(s.clone()),
                        CKey::Int(i) => KeyVal::Int(*i),
                        CKey::Expr(e) => match e.get(ctx)? {
                            Value::Str(s) => KeyVal::Str(s),
                            Value::Int(i) => KeyVal::Int(i),
                            o => return Err(format!("invalid key type {}", o.type_name())),
                        },
                    };
                    v = match (k, v) {
                        (KeyVal::Str(s), Value::Map(m)) => {
                            Value::from_any_opt(crate::context::map_get(&m, &s))
                        }
                        (KeyVal::Int(i), Value::List(l)) => {
                            if i < 0 || i as usize >= l.len() {
                                return Err(format!("index {i} out of bounds"));
                            }
                            Value::from_any(&l[i as usize])
                        }
                        (KeyVal::Str(_), o) => {
                            return Err(format!(
                                "type {} does not support string indexing",
                                o.type_name()
                            ))
                        }
                        (KeyVal::Int(_), o) => {
                            return Err(format!(
                                "type {} does not support int indexing",
                                o.type_name()
                            ))
                        }
                    };
                }
                Ok(v)
            }
        }
    }

    /// The literal value, when the getter is one.
    pub fn literal(&self) -> Option<&Value> {
        match self {
            Getter::Lit(v) => Some(v),
            _ => None,
        }
    }
}

/// A compiled boolean expression.
pub enum Cond {
    Const(bool),
    Or(Vec<Cond>),
    And(Vec<Cond>),
    Not(Box<Cond>),
    Compare(Getter, CmpOp, Getter),
    Converter(Getter),
}

impl Cond {
    pub fn eval(&self, ctx: &Ctx<'_>) -> Result<bool, String> {
        match self {
            Cond::Const(b) => Ok(*b),
            Cond::Or(v) => {
                for c in v {
                    if c.eval(ctx)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Cond::And(v) => {
                for c in v {
                    if !c.eval(ctx)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Cond::Not(c) => Ok(!c.eval(ctx)?),
            Cond::Compare(a, op, b) => {
                // The common `attributes["k"] == "literal"` reads in place, copying nothing.
                if let (Getter::Path(p), Getter::Lit(l)) = (a, b) {
                    if let Some(r) = p.compare_in_place(ctx, *op, l) {
                        return Ok(r);
                    }
                }
                Ok(compare(&a.get(ctx)?, *op, &b.get(ctx)?))
            }
            Cond::Converter(g) => match g.get(ctx)? {
                Value::Bool(b) => Ok(b),
                o => Err(format!(
                    "value returned from Converter in constant expression must be bool but got {}",
                    o.type_name()
                )),
            },
        }
    }
}

/// How paths without a context name are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStyle {
    /// Paths must start with a context name (the flat, inferred form).
    Prefixed,
    /// Paths without a context name belong to the statement's context (`context:` given).
    Contextual,
}

/// Compiles expressions for one context.
pub struct Compiler {
    pub ctx: ContextKind,
    pub style: PathStyle,
    /// Set when what was compiled reads or changes a metric's data beyond its kind and
    /// header, or changes the header: it cannot run over a metric in the wire form.
    metric_data: std::cell::Cell<bool>,
}

const SPAN_ENUMS: &[(&str, i64)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

const LOG_ENUMS: &[(&str, i64)] = &[
    ("SEVERITY_NUMBER_UNSPECIFIED", 0),
    ("SEVERITY_NUMBER_TRACE", 1),
    ("SEVERITY_NUMBER_TRACE2", 2),
    ("SEVERITY_NUMBER_TRACE3", 3),
    ("SEVERITY_NUMBER_TRACE4", 4),
    ("SEVERITY_NUMBER_DEBUG", 5),
    ("SEVERITY_NUMBER_DEBUG2", 6),
    ("SEVERITY_NUMBER_DEBUG3", 7),
    ("SEVERITY_NUMBER_DEBUG4", 8),
    ("SEVERITY_NUMBER_INFO", 9),
    ("SEVERITY_NUMBER_INFO2", 10),
    ("SEVERITY_NUMBER_INFO3", 11),
    ("SEVERITY_NUMBER_INFO4", 12),
    ("SEVERITY_NUMBER_WARN", 13),
    ("SEVERITY_NUMBER_WARN2", 14),
    ("SEVERITY_NUMBER_WARN3", 15),
    ("SEVERITY_NUMBER_WARN4", 16),
    ("SEVERITY_NUMBER_ERROR", 17),
    ("SEVERITY_NUMBER_ERROR2", 18),
    ("SEVERITY_NUMBER_ERROR3", 19),
    ("SEVERITY_NUMBER_ERROR4", 20),
    ("SEVERITY_NUMBER_FATAL", 21),
    ("SEVERITY_NUMBER_FATAL2", 22),
    ("SEVERITY_NUMBER_FATAL3", 23),
    ("SEVERITY_NUMBER_FATAL4", 24),
];

const METRIC_ENUMS: &[(&str, i64)] = &[
    ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
    ("AGGREGATION_TEMPORALITY_DELTA", 1),
    ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2),
    ("METRIC_DATA_TYPE_NONE", 0),
    ("METRIC_DATA_TYPE_GAUGE", 1),
    ("METRIC_DATA_TYPE_SUM", 2),
    ("METRIC_DATA_TYPE_HISTOGRAM", 3),
    ("METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4),
    ("METRIC_DATA_TYPE_SUMMARY", 5),
    ("FLAG_NONE", 0),
    ("FLAG_NO_RECORDED_VALUE", 1),
];

impl Compiler {
    pub fn new(ctx: ContextKind, style: PathStyle) -> Compiler {
        Compiler {
            ctx,
            style,
            metric_data: std::cell::Cell::new(false),
        }
    }

    /// Whether anything compiled so far reads or changes a metric's data points, sets its
    /// header, or (in the data point context) changes the metric ([`Compiler::metric_data`]).
    pub fn reads_metric_data(&self) -> bool {
        self.metric_data.get()
    }

    /// Note that what is being compiled needs the metric's data.
    pub(crate) fn needs_metric_data(&self) {
        self.metric_data.set(true);
    }

    pub fn enum_value(&self, name: &str) -> Option<i64> {
        let table: &[(&str, i64)] = match self.ctx {
            ContextKind::Span | ContextKind::SpanEvent => SPAN_ENUMS,
            ContextKind::Log => LOG_ENUMS,
            ContextKind::Metric | ContextKind::DataPoint => METRIC_ENUMS,
            _ => &[],
        };
        table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn keys(&self, keys: &[Key]) -> Result<Vec<CKey>, String> {
        keys.iter()
            .map(|k| {
                Ok(match k {
                    Key::Str(s) => CKey::Str(s.clone()),
                    Key::Int(i) => CKey::Int(*i),
                    Key::Expr(e) => CKey::Expr(self.getter(e)?),
                })
            })
            .collect()
    }

    /// Resolve a path for this context; errors carry the path's column.
    pub fn path(&self, p: &parser::Path) -> Result<CPath, String> {
        self.path_at(p).map_err(|e| at(p.column, e))
    }

    fn path_at(&self, p: &parser::Path) -> Result<CPath, String> {
        let text = p.to_string();
        let first = &p.fields[0];
        let (ctx, rest) = if first.name == "cache" {
            (None, &p.fields[..])
        } else if first.name == "profile" {
            return Err(format!(
                "path {text:?}: the profile context is not supported by Ferrotel"
            ));
        } else if let (Some(c), true) = (
            ContextKind::from_name(&first.name),
            p.fields.len() > 1 && first.keys.is_empty(),
        ) {
            (Some(c), &p.fields[1..])
        } else if self.style == PathStyle::Prefixed {
            return Err(format!(
                "missing context name for path {text:?}, possibly valid options are: {}",
                [
                    "resource",
                    "scope",
                    "span",
                    "spanevent",
                    "metric",
                    "datapoint",
                    "log"
                ]
                .iter()
                .filter(|c| ContextKind::from_name(c).is_some_and(|k| self.ctx.can_read(k)))
                .map(|c| format!("{c}.{text}"))
                .collect::<Vec<_>>()
                .join(", ")
            ));
        } else {
            (Some(self.ctx), &p.fields[..])
        };
        if let Some(c) = ctx {
            if !self.ctx.can_read(c) {
                return Err(format!(
                    "context \"{c}\" from path {text:?} is not valid in the \"{}\" context",
                    self.ctx
                ));
            }
        }
        for f in &rest[..rest.len() - 1] {
            if !f.keys.is_empty() {
                return Err(format!(
                    "path {text:?}: keys are only supported on the last field"
                ));
            }
        }
        let last = &rest[rest.len() - 1];
        let names: Vec<&str> = rest.iter().map(|f| f.name.as_str()).collect();
        let target = if names == ["cache"] && ctx.is_none_or(|c| c == self.ctx) {
            Target::Map(MapT::Cache)
        } else {
            let c = ctx.unwrap_or(self.ctx);
            resolve(c, &names).ok_or_else(|| {
                format!(
                    "segment {:?} from path {text:?} is not a valid path nor a valid OTTL keyword for the {} context",
                    names.join("."),
                    c
                )
            })?
        };
        Ok(CPath {
            target,
            keys: self.keys(&last.keys)?,
            text,
        })
    }

    /// Compile a value.
    pub fn getter(&self, v: &parser::Value) -> Result<Getter, String> {
        use parser::Value as V;
        Ok(match v {
            V::Nil => Getter::Lit(Value::Nil),
            V::Str(s) => Getter::Lit(Value::Str(s.clone())),
            V::Int(i) => Getter::Lit(Value::Int(*i)),
            V::Float(f) => Getter::Lit(Value::Double(*f)),
            V::Bool(b) => Getter::Lit(Value::Bool(*b)),
            V::Bytes(b) => Getter::Lit(Value::Bytes(b.clone())),
            V::Enum(name, col) => {
                Getter::Lit(Value::Int(self.enum_value(name).ok_or_else(|| {
                    at(*col, format!("enum symbol, {name}, not found"))
                })?))
            }
            V::Path(p) => Getter::Path(self.path(p)?),
            V::Converter(c) => {
                let f = crate::funcs::converter(self, c)?;
                if c.keys.is_empty() {
                    Getter::Func(f)
                } else {
                    Getter::Keyed(Box::new(Getter::Func(f)), self.keys(&c.keys)?)
                }
            }
            V::List(items) => {
                let gs = items
                    .iter()
                    .map(|i| self.getter(i))
                    .collect::<Result<Vec<_>, _>>()?;
                if gs.iter().all(|g| g.literal().is_some()) {
                    Getter::Lit(Value::List(
                        gs.into_iter()
                            .map(|g| match g {
                                Getter::Lit(v) => v.into_any_or_empty(),
                                _ => Default::default(),
                            })
                            .collect(),
                    ))
                } else {
                    Getter::List(gs)
                }
            }
            V::Map(items) => Getter::Map(
                items
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.getter(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            V::Math(a, op, b) => {
                let (a, b) = (self.getter(a)?, self.getter(b)?);
                for side in [&a, &b] {
                    if let Some(l) = side.literal() {
                        if !matches!(l, Value::Int(_) | Value::Double(_)) {
                            return Err(format!(
                                "invalid math expression: {} literal",
                                l.type_name()
                            ));
                        }
                    }
                }
                if let (Some(x), Some(y)) = (a.literal(), b.literal()) {
                    Getter::Lit(math(x, *op, y)?)
                } else {
                    Getter::Math(Box::new(a), *op, Box::new(b))
                }
            }
        })
    }

    /// Compile a boolean expression.
    pub fn cond(&self, e: &BoolExpr) -> Result<Cond, String> {
        Ok(match e {
            BoolExpr::Or(v) => Cond::Or(v.iter().map(|e| self.cond(e)).collect::<Result<_, _>>()?),
            BoolExpr::And(v) => {
                Cond::And(v.iter().map(|e| self.cond(e)).collect::<Result<_, _>>()?)
            }
            BoolExpr::Not(e) => Cond::Not(Box::new(self.cond(e)?)),
            BoolExpr::Compare(a, op, b) => Cond::Compare(self.getter(a)?, *op, self.getter(b)?),
            BoolExpr::Const(parser::Value::Bool(b)) => Cond::Const(*b),
            BoolExpr::Const(v) => Cond::Converter(self.getter(v)?),
        })
    }

    /// Compile an editor call.
    pub fn editor(&self, c: &Call) -> Result<EditorFn, String> {
        crate::funcs::editor(self, c)
    }
}
