//! The attribute action schema shared by the `attributes` and `resource` processors, as Go's
//! `internal/coreinternal/attraction`: actions `insert`, `update`, `upsert`, `delete`,
//! `hash`, `extract` and `convert`, applied in order to one attribute map.
//!
//! Go facts this follows (`attraction.go`, `hasher.go`, `type_converter.go`):
//! - the action name is case-insensitive (`strings.ToLower`);
//! - `delete` and `hash` take `key` and/or `pattern`; every other action needs `key`;
//! - `insert`/`update`/`upsert` need exactly one of `value`, `from_attribute`,
//!   `from_context`, and take neither `pattern` nor `converted_type`;
//! - `extract` needs a `pattern` whose groups are all named, and no value source;
//! - `convert` needs `converted_type` (`int`, `double`, `string`) and nothing else;
//! - `hash` is SHA-256 as lower-case hex over the string bytes, `0x01`/`0x00` for
//!   booleans, little-endian 8 bytes for integers and IEEE-754 doubles; any other type
//!   (and the empty string) becomes "";
//! - `from_context`: `client.address` (the peer IP, "" when unknown), `metadata.<key>`
//!   (values joined with `;`), `auth.<attr>` (no auth data here: never found), any other
//!   key falls back to metadata;
//! - a missing source, a missing key (update) or an existing key (insert) skips the action.

pub mod value;

use pipeline_api::config::{ConfigError, ConfigValue};
use pipeline_api::proto::tonic::common::v1::any_value::Value;
use std::borrow::Cow;

use pipeline_api::attrs::AttrMap;
use pipeline_api::proto::tonic::common::v1::AnyValue;
use pipeline_api::RequestContext;
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One configured action (Go `ActionKeyValue`), as written in YAML.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionKeyValue {
    pub key: String,
    /// Any YAML value: scalars, lists and maps become the matching `AnyValue`.
    pub value: Option<ConfigValue>,
    pub pattern: String,
    pub from_attribute: String,
    pub from_context: String,
    pub converted_type: String,
    pub action: String,
}

impl ActionKeyValue {
    fn value_source_count(&self) -> usize {
        usize::from(self.value.is_some())
            + usize::from(!self.from_attribute.is_empty())
            + usize::from(!self.from_context.is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConvertTo {
    Int,
    Double,
    Str,
}

#[derive(Debug, Clone)]
enum Source {
    Value(AnyValue),
    Attribute(String),
    Context(String),
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Source),
    Update(Source),
    Upsert(Source),
    Delete(Option<Regex>),
    Hash(Option<Regex>),
    /// The regex and the names of its groups (index 0 unused).
    Extract(Regex, Vec<String>),
    Convert(ConvertTo),
}

#[derive(Debug, Clone)]
struct Action {
    key: String,
    op: Op,
}

/// The compiled list of actions (Go `AttrProc`). Regexes are compiled once, here.
#[derive(Debug, Clone)]
pub struct AttrProc {
    actions: Vec<Action>,
    uses_context: bool,
}

impl AttrProc {
    /// Validate and compile `actions`. Errors carry paths relative to the list
    /// (`2::pattern`); the caller prefixes the list's own key.
    pub fn new(actions: &[ActionKeyValue]) -> Result<AttrProc, Vec<ConfigError>> {
        let mut compiled = Vec::with_capacity(actions.len());
        let mut errors = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            match compile(i, a) {
                Ok(action) => compiled.push(action),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let uses_context = compiled.iter().any(|a| {
            matches!(
                &a.op,
                Op::Insert(Source::Context(_))
                    | Op::Update(Source::Context(_))
                    | Op::Upsert(Source::Context(_))
            )
        });
        Ok(AttrProc {
            actions: compiled,
            uses_context,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Whether any action reads the request context (so the caller keeps a copy of it).
    pub fn uses_context(&self) -> bool {
        self.uses_context
    }

    /// Apply every action, in order, to one attribute map (Go `AttrProc.Process`), decoded
    /// or in the wire form.
    pub fn process<M: AttrMap + ?Sized>(&self, ctx: &RequestContext, attrs: &mut M) {
        for action in &self.actions {
            let key = action.key.as_str();
            match &action.op {
                Op::Delete(re) => {
                    attrs.remove(key);
                    for k in matching_keys(re.as_ref(), attrs) {
                        attrs.remove(&k);
                    }
                }
                Op::Insert(src) => {
                    if attrs.contains(key) {
                        continue;
                    }
                    if let Some(v) = source_value(ctx, src, attrs) {
                        attrs.push(key, v);
                    }
                }
                Op::Update(src) => {
                    let Some(i) = attrs.find(key) else {
                        continue;
                    };
                    if let Some(v) = source_value(ctx, src, attrs) {
                        attrs.set_value(i, v);
                    }
                }
                Op::Upsert(src) => {
                    if let Some(v) = source_value(ctx, src, attrs) {
                        attrs.put(key, v);
                    }
                }
                Op::Hash(re) => {
                    hash_attribute(attrs, key);
                    for k in matching_keys(re.as_ref(), attrs) {
                        hash_attribute(attrs, &k);
                    }
                }
                Op::Extract(re, names) => extract(attrs, key, re, names),
                Op::Convert(to) => {
                    if let Some(i) = attrs.find(key) {
                        let mut v = attrs.value(i).into_owned();
                        if convert(&mut v, *to) {
                            attrs.set_value(i, v);
                        }
                    }
                }
            }
        }
    }
}

fn err(i: usize, field: Option<&str>, message: String) -> ConfigError {
    let idx = i.to_string();
    match field {
        Some(f) => ConfigError::new(&[&idx, f], message),
        None => ConfigError::new(&[&idx], message),
    }
}

fn compile(i: usize, a: &ActionKeyValue) -> Result<Action, ConfigError> {
    let action = a.action.to_ascii_lowercase();
    match action.as_str() {
        "delete" | "hash" => {
            if a.key.is_empty() && a.pattern.is_empty() {
                return Err(err(
                    i,
                    None,
                    format!("error creating AttrProc due to missing required field (at least one of \"key\" and \"pattern\" have to be used) at the {i}-th actions"),
                ));
            }
        }
        "insert" | "update" | "upsert" | "extract" | "convert" => {
            if a.key.is_empty() {
                return Err(err(
                    i,
                    Some("key"),
                    format!("error creating AttrProc due to missing required field \"key\" at the {i}-th actions"),
                ));
            }
        }
        _ => {
            return Err(err(
                i,
                Some("action"),
                format!(
                    "error creating AttrProc due to unsupported action {:?} at the {i}-th actions; valid actions: insert, update, upsert, delete, hash, extract, convert",
                    a.action
                ),
            ))
        }
    }
    let no_converted_type = || {
        if a.converted_type.is_empty() {
            Ok(())
        } else {
            Err(err(
                i,
                Some("converted_type"),
                format!("error creating AttrProc. Action \"{action}\" does not use the \"converted_type\" field. This must not be specified for {i}-th action"),
            ))
        }
    };
    let compile_pattern = || {
        Regex::new(&a.pattern).map_err(|e| {
            err(
                i,
                Some("pattern"),
                format!(
                    "error creating AttrProc. Field \"pattern\" has invalid pattern: {:?} to be set at the {i}-th actions: {}",
                    a.pattern,
                    one_line(&e.to_string())
                ),
            )
        })
    };
    let op = match action.as_str() {
        "insert" | "update" | "upsert" => {
            match a.value_source_count() {
                0 => return Err(err(i, None, format!("error creating AttrProc. Either field \"value\", \"from_attribute\" or \"from_context\" setting must be specified for {i}-th action"))),
                1 => {}
                _ => return Err(err(i, None, format!("error creating AttrProc due to multiple value sources being set at the {i}-th actions"))),
            }
            if !a.pattern.is_empty() {
                return Err(err(i, Some("pattern"), format!("error creating AttrProc. Action \"{action}\" does not use the \"pattern\" field. This must not be specified for {i}-th action")));
            }
            no_converted_type()?;
            let src = if let Some(v) = &a.value {
                Source::Value(value::from_config(v))
            } else if !a.from_context.is_empty() {
                Source::Context(a.from_context.clone())
            } else {
                Source::Attribute(a.from_attribute.clone())
            };
            match action.as_str() {
                "insert" => Op::Insert(src),
                "update" => Op::Update(src),
                _ => Op::Upsert(src),
            }
        }
        "delete" | "hash" => {
            if a.value.is_some() || !a.from_attribute.is_empty() {
                return Err(err(i, None, format!("error creating AttrProc. Action \"{action}\" does not use \"value\" or \"from_attribute\" field. These must not be specified for {i}-th action")));
            }
            let re = if a.pattern.is_empty() {
                None
            } else {
                Some(compile_pattern()?)
            };
            no_converted_type()?;
            if action == "delete" {
                Op::Delete(re)
            } else {
                Op::Hash(re)
            }
        }
        "extract" => {
            if a.value_source_count() > 0 {
                return Err(err(i, None, format!("error creating AttrProc. Action \"{action}\" does not use a value source field. These must not be specified for {i}-th action")));
            }
            if a.pattern.is_empty() {
                return Err(err(i, Some("pattern"), format!("error creating AttrProc due to missing required field \"pattern\" for action \"{action}\" at the {i}-th action")));
            }
            no_converted_type()?;
            let re = compile_pattern()?;
            let names: Vec<String> = re
                .capture_names()
                .map(|n| n.unwrap_or("").to_string())
                .collect();
            if names.len() <= 1 {
                return Err(err(i, Some("pattern"), format!("error creating AttrProc. Field \"pattern\" contains no named matcher groups at the {i}-th actions")));
            }
            if names[1..].iter().any(String::is_empty) {
                return Err(err(i, Some("pattern"), format!("error creating AttrProc. Field \"pattern\" contains at least one unnamed matcher group at the {i}-th actions")));
            }
            Op::Extract(re, names)
        }
        _ => {
            // convert
            if a.value_source_count() > 0 || !a.pattern.is_empty() {
                return Err(err(i, None, format!("error creating AttrProc. Action \"{action}\" does not use value sources or \"pattern\" field. These must not be specified for {i}-th action")));
            }
            let to = match a.converted_type.as_str() {
                "int" => ConvertTo::Int,
                "double" => ConvertTo::Double,
                "string" => ConvertTo::Str,
                "" => return Err(err(i, Some("converted_type"), format!("error creating AttrProc due to missing required field \"converted_type\" for action \"{action}\" at the {i}-th action"))),
                other => return Err(err(i, Some("converted_type"), format!("error creating AttrProc due to invalid value \"{other}\" in field \"converted_type\" for action \"{action}\" at the {i}-th action; valid values: int, double, string"))),
            };
            Op::Convert(to)
        }
    };
    Ok(Action {
        key: a.key.clone(),
        op,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn matching_keys<M: AttrMap + ?Sized>(re: Option<&Regex>, attrs: &M) -> Vec<String> {
    match re {
        None => Vec::new(),
        Some(re) => (0..attrs.len())
            .map(|i| attrs.key(i))
            .filter(|k| re.is_match(k))
            .map(str::to_string)
            .collect(),
    }
}

fn source_value<M: AttrMap + ?Sized>(
    ctx: &RequestContext,
    src: &Source,
    attrs: &M,
) -> Option<AnyValue> {
    match src {
        Source::Value(v) => Some(v.clone()),
        Source::Attribute(k) => attrs.get(k).map(Cow::into_owned),
        Source::Context(k) => context_value(ctx, k),
    }
}

/// Go `getAttributeValueFromContext`.
fn context_value(ctx: &RequestContext, key: &str) -> Option<AnyValue> {
    let values: Vec<String> = if key == "client.address" {
        // Go clientutil.Address: the IP without the port, "" when there is no address
        // (which still counts as found).
        vec![ctx
            .client_address
            .map(|a| a.ip().to_string())
            .unwrap_or_default()]
    } else if let Some(md) = key.strip_prefix("metadata.") {
        ctx.metadata_values(md)
            .into_iter()
            .map(str::to_string)
            .collect()
    } else if key.starts_with("auth.") {
        // Ferrotel's authenticators put nothing on the request context yet (Go's basicauth
        // server sets `username` and `raw`); without it Go finds nothing too.
        return None;
    } else {
        // Go: "Fallback to metadata for backwards compatibility."
        ctx.metadata_values(key)
            .into_iter()
            .map(str::to_string)
            .collect()
    };
    if values.is_empty() {
        return None;
    }
    Some(value::str_value(values.join(";")))
}

/// Go `sha2Hasher`: replaces the value by the hex SHA-256 of its bytes.
fn hash_attribute<M: AttrMap + ?Sized>(attrs: &mut M, key: &str) {
    let Some(i) = attrs.find(key) else {
        return;
    };
    let v = attrs.value(i);
    // nothing to hash (an empty string, a map, a list...) gives ""
    let hashed = match value::kind(&v) {
        Some(Value::StringValue(s)) if !s.is_empty() => sha256_hex(s.as_bytes()),
        Some(Value::BoolValue(b)) => sha256_hex(&[u8::from(*b)]),
        Some(Value::IntValue(i)) => sha256_hex(&i.to_le_bytes()),
        Some(Value::DoubleValue(d)) => sha256_hex(&d.to_bits().to_le_bytes()),
        _ => String::new(),
    };
    drop(v);
    attrs.set_value(i, value::str_value(hashed));
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const_hex::encode(Sha256::digest(bytes))
}

/// Go `extractAttributes`: only string values; the first match; every named group is
/// written (an unmatched group as "").
fn extract<M: AttrMap + ?Sized>(attrs: &mut M, key: &str, re: &Regex, names: &[String]) {
    let Some(v) = attrs.get(key) else {
        return;
    };
    let Some(Value::StringValue(s)) = value::kind(&v) else {
        return;
    };
    let Some(caps) = re.captures(s) else {
        return;
    };
    let found: Vec<(String, String)> = (1..names.len())
        .map(|i| {
            (
                names[i].clone(),
                caps.get(i)
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    drop(v);
    for (name, text) in found {
        attrs.put(&name, value::str_value(text));
    }
}

/// Go `convertValue`: values that cannot be converted stay as they are (`false`).
fn convert(v: &mut AnyValue, to: ConvertTo) -> bool {
    let new = match (to, value::kind(v)) {
        (ConvertTo::Str, Some(Value::StringValue(_))) => return false,
        (ConvertTo::Str, _) => Value::StringValue(value::as_string(v)),
        (ConvertTo::Int, Some(Value::IntValue(_))) => return false,
        (ConvertTo::Int, Some(Value::DoubleValue(d))) => Value::IntValue(go_float_to_int(*d)),
        (ConvertTo::Int, Some(Value::BoolValue(b))) => Value::IntValue(i64::from(*b)),
        (ConvertTo::Int, Some(Value::StringValue(s))) => match s.parse::<i64>() {
            Ok(n) => Value::IntValue(n),
            Err(_) => {
                tracing::debug!(value = %s, "String could not be converted to int");
                return false;
            }
        },
        (ConvertTo::Int, _) => return false,
        (ConvertTo::Double, Some(Value::IntValue(i))) => Value::DoubleValue(*i as f64),
        (ConvertTo::Double, Some(Value::DoubleValue(_))) => return false,
        (ConvertTo::Double, Some(Value::BoolValue(b))) => {
            Value::DoubleValue(if *b { 1.0 } else { 0.0 })
        }
        (ConvertTo::Double, Some(Value::StringValue(s))) => match parse_go_float(s) {
            Some(d) => Value::DoubleValue(d),
            None => {
                tracing::debug!(value = %s, "String could not be converted to double");
                return false;
            }
        },
        (ConvertTo::Double, _) => return false,
    };
    v.value = Some(new);
    true
}

/// Go's `int64(f)` on amd64: truncation; NaN and out-of-range values give `i64::MIN`.
fn go_float_to_int(d: f64) -> i64 {
    // 2^63: the first double outside i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || !(-LIMIT..LIMIT).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// Go `strconv.ParseFloat(s, 64)` for decimal input: an out-of-range value is an error;
/// `inf`, `infinity` and `nan` (any case, optionally signed) are accepted.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.contains('_') || s.trim() != s {
        return None;
    }
    let d: f64 = s.parse().ok()?;
    if d.is_infinite() {
        let t = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if t != "inf" && t != "infinity" {
            return None;
        }
    }
    Some(d)
}

#[cfg(test)]
mod tests;
