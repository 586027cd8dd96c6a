//! `move`, `copy`, `remove`, `add`, `flatten`, `retain`, `noop`, `filter`.
//!
//! Go facts (`pkg/stanza/operator/transformer/*`):
//! - `move` and `copy` need `from` and `to`; a missing `from` is an error (the entry is then
//!   handled by `on_error`); moving a map merges it at `to`;
//! - `remove` needs `field`; `attributes` or `resource` alone empties that map, `body`
//!   removes the body; a missing field is an error;
//! - `add` needs `field` and `value` (any YAML value; a string `EXPR(...)` is evaluated per
//!   entry);
//! - `flatten` needs a `field` inside the body holding a map, whose keys move up to the
//!   field's parent;
//! - `retain` needs `fields`: within each of body / attributes / resource that the list
//!   names, every key not listed is removed; the others are untouched;
//! - `filter` drops entries for which `expr` is true (`drop_ratio`, default 1.0).

use super::{op_config, Base, BuildMode, Operator, Out};
use crate::entry::{Entry, Field, Map, Root, RootableField, Value};
use crate::expr::{Expr, ExprString};
use pipeline_api::config::ConfigValue;

pub(super) type BuildResult = Result<Box<dyn Operator>, (String, String)>;

pub(super) fn base(
    id: &str,
    on_error: super::OnError,
    if_expr: &Option<String>,
) -> Result<Base, (String, String)> {
    Base::new(id, on_error, if_expr).map_err(|e| ("if".to_string(), e))
}

pub(super) fn required<T: Clone>(v: &Option<T>, key: &str) -> Result<T, (String, String)> {
    v.clone()
        .ok_or_else(|| (key.to_string(), format!("missing required field '{key}'")))
}

pub(super) struct Transform<F: FnMut(&mut Entry) -> Result<(), String> + Send> {
    pub(super) base: Base,
    pub(super) f: F,
}

impl<F: FnMut(&mut Entry) -> Result<(), String> + Send> Operator for Transform<F> {
    fn process(&mut self, e: Entry, out: &mut Out) {
        let f = &mut self.f;
        self.base.transform(e, out, f);
    }
}

op_config!(MoveConfig {
    from: Option<RootableField>,
    to: Option<RootableField>,
});

pub fn build_move(id: &str, c: &MoveConfig, _mode: BuildMode) -> BuildResult {
    let from = required(&c.from, "from")?.0;
    let to = required(&c.to, "to")?.0;
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| {
            let v = from
                .delete(e)
                .ok_or_else(|| format!("move: field {from} does not exist"))?;
            to.set(e, v)
        },
    }))
}

op_config!(CopyConfig {
    from: Option<RootableField>,
    to: Option<RootableField>,
});

pub fn build_copy(id: &str, c: &CopyConfig, _mode: BuildMode) -> BuildResult {
    let from = required(&c.from, "from")?.0;
    let to = required(&c.to, "to")?.0;
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| {
            let v = from
                .get_value(e)
                .ok_or_else(|| format!("copy: field {from} does not exist"))?;
            to.set(e, v)
        },
    }))
}

op_config!(RemoveConfig {
    field: Option<RootableField>,
});

pub fn build_remove(id: &str, c: &RemoveConfig, _mode: BuildMode) -> BuildResult {
    let field = required(&c.field, "field")?.0;
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| {
            field
                .delete(e)
                .map(|_| ())
                .ok_or_else(|| format!("remove: field {field} does not exist"))
        },
    }))
}

op_config!(AddConfig {
    field: Option<RootableField>,
    value: Option<ConfigValue>,
});

enum AddValue {
    Fixed(Value),
    Expr(Expr),
}

pub fn build_add(id: &str, c: &AddConfig, _mode: BuildMode) -> BuildResult {
    let field = required(&c.field, "field")?.0;
    let raw = required(&c.value, "value")?;
    let value = match &raw {
        ConfigValue::String(s) => {
            match ExprString::compile(s).map_err(|e| ("value".to_string(), e))? {
                ExprString::Expr(x) => AddValue::Expr(x),
                ExprString::Literal(l) => AddValue::Fixed(Value::Str(l)),
            }
        }
        other => AddValue::Fixed(Value::from_config(other)),
    };
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| {
            let v = match &value {
                AddValue::Fixed(v) => v.clone(),
                AddValue::Expr(x) => x.eval(e)?.unwrap_or(Value::Null),
            };
            field.set(e, v)
        },
    }))
}

op_config!(FlattenConfig {
    field: Option<Field>,
});

pub fn build_flatten(id: &str, c: &FlattenConfig, _mode: BuildMode) -> BuildResult {
    let field = required(&c.field, "field")?;
    if field.root != Root::Body || field.keys.is_empty() {
        return Err((
            "field".into(),
            "flatten: field must be a body field below the body root".into(),
        ));
    }
    let parent = field.parent();
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| {
            let v = field
                .delete(e)
                .ok_or_else(|| format!("apply flatten: field {field} does not exist on entry"))?;
            let Value::Map(m) = v else {
                let _ = field.set(e, v);
                return Err(format!("apply flatten: field {field} is not a map"));
            };
            for (k, v) in m {
                parent.child(&k).set(e, v)?;
            }
            Ok(())
        },
    }))
}

op_config!(RetainConfig {
    fields: Vec<RootableField>,
});

pub fn build_retain(id: &str, c: &RetainConfig, _mode: BuildMode) -> BuildResult {
    if c.fields.is_empty() {
        return Err(("fields".into(), "missing required field 'fields'".into()));
    }
    let mut body = Vec::new();
    let mut attrs = Vec::new();
    let mut res = Vec::new();
    for RootableField(f) in &c.fields {
        match f.root {
            Root::Body => body.push(f.clone()),
            Root::Attributes => attrs.push(f.clone()),
            Root::Resource => res.push(f.clone()),
        }
    }
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| {
            let keep = |fields: &[Field], src: &Entry| -> Vec<(Field, Value)> {
                fields
                    .iter()
                    .filter_map(|f| f.get_value(src).map(|v| (f.clone(), v)))
                    .collect()
            };
            let (b, a, r) = (keep(&body, e), keep(&attrs, e), keep(&res, e));
            if !body.is_empty() {
                if body.iter().any(Field::is_root) {
                    // retaining the whole body keeps it as is
                } else {
                    e.body = Some(Value::Map(Map::new()));
                    for (f, v) in b {
                        f.set(e, v)?;
                    }
                }
            }
            if !attrs.is_empty() {
                e.attributes = Map::new();
                for (f, v) in a {
                    f.set(e, v)?;
                }
            }
            if !res.is_empty() {
                e.resource = Map::new();
                for (f, v) in r {
                    f.set(e, v)?;
                }
            }
            Ok(())
        },
    }))
}

op_config!(NoopConfig {});

pub fn build_noop(id: &str, c: &NoopConfig, _mode: BuildMode) -> BuildResult {
    Ok(Box::new(Transform {
        base: base(id, c.on_error, &c.if_expr)?,
        f: |_: &mut Entry| Ok(()),
    }))
}

op_config!(FilterConfig {
    expr: String,
    drop_ratio: Option<f64>,
});

struct Filter {
    base: Base,
    expr: Expr,
    drop_ratio: f64,
    counter: u64,
}

impl Operator for Filter {
    fn process(&mut self, e: Entry, out: &mut Out) {
        match self.expr.eval_bool(&e) {
            Err(err) => self.base.fail(e, &err, out),
            Ok(false) => out.send(e),
            Ok(true) => {
                // deterministic drop ratio: keep 1 - ratio of the matching entries
                self.counter = self.counter.wrapping_add(1);
                let keep_every = if self.drop_ratio >= 1.0 {
                    0
                } else {
                    (1.0 / (1.0 - self.drop_ratio)).round() as u64
                };
                // filtered entries are not failures: not counted as dropped
                if self.counter.checked_rem(keep_every) == Some(0) {
                    out.send(e);
                }
            }
        }
    }
}

pub fn build_filter(id: &str, c: &FilterConfig, _mode: BuildMode) -> BuildResult {
    if c.expr.is_empty() {
        return Err(("expr".into(), "missing required field 'expr'".into()));
    }
    let ratio = c.drop_ratio.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&ratio) {
        return Err((
            "drop_ratio".into(),
            "drop_ratio must be a number between 0 and 1".into(),
        ));
    }
    Ok(Box::new(Filter {
        base: base(id, c.on_error, &c.if_expr)?,
        expr: Expr::compile(&c.expr).map_err(|e| ("expr".to_string(), e))?,
        drop_ratio: ratio,
        counter: 0,
    }))
}
