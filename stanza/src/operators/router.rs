//! `router`: send each entry to the first route whose `expr` is true.
//!
//! Go facts (`pkg/stanza/operator/transformer/router`): `routes` is a list of
//! `{output, expr, attributes}`; the first matching route wins and its `attributes` are
//! added; an entry matching no route goes to `default` (one id or a list) or, without a
//! `default`, is dropped; `router` has no `output` of its own.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{op_config, Base, BuildMode, Operator, Out, Outputs};
use crate::entry::Entry;
use crate::expr::{Expr, ExprString};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub output: Outputs,
    pub expr: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

op_config!(RouterConfig {
    routes: Vec<Route>,
    default: Option<Outputs>,
});

struct Router {
    base: Base,
    routes: Vec<(Expr, Vec<(String, ExprString)>)>,
}

impl Operator for Router {
    fn process(&mut self, mut e: Entry, out: &mut Out) {
        for (i, (expr, attrs)) in self.routes.iter().enumerate() {
            match expr.eval_bool(&e) {
                Ok(true) => {
                    for (k, v) in attrs {
                        match v.render(&e) {
                            Ok(val) => {
                                e.attributes.insert(k.clone(), val);
                            }
                            Err(err) => {
                                tracing::debug!(operator = %self.base.id, error = %err, "Failed to render a route attribute.")
                            }
                        }
                    }
                    out.items.push((i, e));
                    return;
                }
                Ok(false) => {}
                Err(err) => {
                    // Go logs the error and tries the next route
                    tracing::debug!(operator = %self.base.id, error = %err, "Route expression failed.");
                }
            }
        }
        let default_port = self.routes.len();
        out.items.push((default_port, e));
    }
}

pub fn build(
    id: &str,
    c: &RouterConfig,
    _mode: BuildMode,
) -> Result<Box<dyn Operator>, (String, String)> {
    let mut routes = Vec::new();
    for (i, r) in c.routes.iter().enumerate() {
        let expr = Expr::compile(&r.expr).map_err(|e| (format!("routes::{i}::expr"), e))?;
        let mut attrs = Vec::new();
        for (k, v) in &r.attributes {
            attrs.push((
                k.clone(),
                ExprString::compile(v).map_err(|e| (format!("routes::{i}::attributes::{k}"), e))?,
            ));
        }
        routes.push((expr, attrs));
    }
    if c.output.is_some() {
        return Err((
            "output".into(),
            "a router has no `output`; use `routes` and `default`".into(),
        ));
    }
    Ok(Box::new(Router {
        base: Base::new(id, c.on_error, &c.if_expr).map_err(|e| ("if".to_string(), e))?,
        routes,
    }))
}
