//! The log entry that flows through the operator chain, and field references into it.
//!
//! Go: `pkg/stanza/entry` (`entry.go`, `field.go`, `attribute_field.go`, `body_field.go`,
//! `resource_field.go`). Facts relied on:
//! - a field is `body`, `body.a.b`, `attributes.a`, `resource.a`, with bracketed quoted keys
//!   (`attributes["k.with.dots"]`, `body['a']`); any other prefix is "unrecognized prefix";
//!   `attributes`/`resource` alone are only valid where the field is "rootable" (`parse_to`,
//!   `remove`);
//! - `Set` of a map value *merges* it into the map at the field (creating nested maps), any
//!   other value replaces; setting a non-map at the `attributes`/`resource` root is an error;
//!   a missing intermediate map (or a non-map in the way) is replaced by a new map;
//! - `Delete` of a root returns the whole body / map and leaves it empty.

use std::fmt;

pub use crate::map::Map;

/// A value in an entry, as Go's `any` after JSON decoding or operator work.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Map),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value as Go's `fmt.Sprintf("%v", v)` would print it (close enough for ids and
    /// severity text).
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Double(f) => format_float(*f),
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Array(_) | Value::Map(_) => {
                serde_json::to_string(&self.to_json()).unwrap_or_default()
            }
        }
    }

    pub fn from_json(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            // Go's encoding/json decodes every number as float64 unless `parse_ints`.
            serde_json::Value::Number(n) => Value::Double(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => {
                Value::Array(a.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// As `from_json`, but integers stay integers (`json_parser` with `parse_ints: true`).
    pub fn from_json_ints(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Double(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::Array(a) => {
                Value::Array(a.into_iter().map(Value::from_json_ints).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, Value::from_json_ints(v)))
                    .collect(),
            ),
            other => Value::from_json(other),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Double(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Bytes(b) => serde_json::Value::String(String::from_utf8_lossy(b).into_owned()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// A config (YAML) value as an entry value: YAML ints stay ints, floats doubles.
    pub fn from_config(v: &pipeline_api::config::ConfigValue) -> Value {
        use pipeline_api::config::ConfigValue as Y;
        match v {
            Y::Null => Value::Null,
            Y::Bool(b) => Value::Bool(*b),
            Y::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Double(n.as_f64().unwrap_or(0.0)),
            },
            Y::String(s) => Value::Str(s.clone()),
            Y::Sequence(s) => Value::Array(s.iter().map(Value::from_config).collect()),
            Y::Mapping(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Y::String(s) => s.clone(),
                            other => Value::from_config(other).to_text(),
                        };
                        (key, Value::from_config(v))
                    })
                    .collect(),
            ),
            Y::Tagged(t) => Value::from_config(&t.value),
        }
    }
}

/// Go prints whole floats without a fraction (`%v` of `200.0` is `200`).
pub fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Where an entry came from: the reader that produced it and the file offset at which its
/// first byte starts. Used to hold a file's checkpoint back while an operator still holds
/// the entry (so a restart re-reads it: never lost). `path` is the file's path as the reader
/// knows it, whether or not `include_file_path` put it into the attributes (the `container`
/// operator reads the container's metadata from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub reader: u64,
    pub start: u64,
    pub path: Option<std::sync::Arc<str>>,
}

/// A log entry (Go `entry.Entry`), boxed: operators take and hand on entries by value, and
/// each hand-over (into an operator, into its output, out of it to the next) moved the whole
/// struct, about 260 bytes; boxed, it moves a pointer.
pub type Entry = Box<EntryData>;

/// What a log entry holds. Times are nanoseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryData {
    pub observed: u64,
    pub timestamp: Option<u64>,
    pub body: Option<Value>,
    pub attributes: Map,
    pub resource: Map,
    /// OTLP severity number (stanza's `entry.Severity` levels coincide with it).
    pub severity: i32,
    pub severity_text: String,
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<Vec<u8>>,
    pub trace_flags: Option<Vec<u8>>,
    pub scope_name: String,
    pub origin: Option<Origin>,
}

impl EntryData {
    pub fn new(body: Value, observed: u64) -> Entry {
        Box::new(EntryData {
            observed,
            timestamp: None,
            body: Some(body),
            attributes: Map::new(),
            resource: Map::new(),
            severity: 0,
            severity_text: String::new(),
            trace_id: None,
            span_id: None,
            trace_flags: None,
            scope_name: String::new(),
            origin: None,
        })
    }
}

/// Which part of an entry a field points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Body,
    Attributes,
    Resource,
}

/// A reference into an entry (Go `entry.Field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub root: Root,
    pub keys: Vec<String>,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.root {
            Root::Body => "body",
            Root::Attributes => "attributes",
            Root::Resource => "resource",
        };
        f.write_str(prefix)?;
        for k in &self.keys {
            if k.contains('.') || k.contains('[') {
                write!(f, "[\"{k}\"]")?;
            } else {
                write!(f, ".{k}")?;
            }
        }
        Ok(())
    }
}

impl Field {
    pub fn body() -> Field {
        Field {
            root: Root::Body,
            keys: vec![],
        }
    }

    pub fn attr(key: &str) -> Field {
        Field {
            root: Root::Attributes,
            keys: vec![key.to_string()],
        }
    }

    pub fn resource(key: &str) -> Field {
        Field {
            root: Root::Resource,
            keys: vec![key.to_string()],
        }
    }

    pub fn is_root(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parse Go's field syntax. `rootable` allows `attributes` and `resource` alone.
    pub fn parse(s: &str, rootable: bool) -> Result<Field, String> {
        let keys = split_field(s)?;
        let (first, rest) = keys
            .split_first()
            .ok_or_else(|| format!("invalid field {s:?}: empty"))?;
        let root = match first.as_str() {
            "body" => Root::Body,
            "attributes" => Root::Attributes,
            "resource" => Root::Resource,
            _ => {
                return Err(format!(
                    "invalid field {s:?}: unrecognized prefix (use body, attributes or resource)"
                ))
            }
        };
        if !rootable && rest.is_empty() && root != Root::Body {
            return Err(format!(
                "invalid field {s:?}: {first} cannot be referenced without subfield"
            ));
        }
        Ok(Field {
            root,
            keys: rest.to_vec(),
        })
    }

    /// The parent field (the root's parent is the root).
    pub fn parent(&self) -> Field {
        let mut keys = self.keys.clone();
        keys.pop();
        Field {
            root: self.root,
            keys,
        }
    }

    pub fn child(&self, key: &str) -> Field {
        let mut keys = self.keys.clone();
        keys.push(key.to_string());
        Field {
            root: self.root,
            keys,
        }
    }

    pub fn get<'a>(&self, e: &'a Entry) -> Option<&'a Value> {
        match self.root {
            Root::Body => {
                let mut cur = e.body.as_ref()?;
                for k in &self.keys {
                    cur = cur.as_map()?.get(k)?;
                }
                Some(cur)
            }
            Root::Attributes | Root::Resource => {
                let map = if self.root == Root::Attributes {
                    &e.attributes
                } else {
                    &e.resource
                };
                let (last, path) = self.keys.split_last()?;
                let mut cur = map;
                for k in path {
                    cur = cur.get(k)?.as_map()?;
                }
                cur.get(last)
            }
        }
    }

    /// Get, with the roots `attributes`/`resource` as map values (for expressions).
    pub fn get_value(&self, e: &Entry) -> Option<Value> {
        if self.keys.is_empty() {
            return match self.root {
                Root::Body => e.body.clone(),
                Root::Attributes => Some(Value::Map(e.attributes.clone())),
                Root::Resource => Some(Value::Map(e.resource.clone())),
            };
        }
        self.get(e).cloned()
    }

    pub fn set(&self, e: &mut Entry, value: Value) -> Result<(), String> {
        match self.root {
            Root::Body => {
                if let Value::Map(m) = value {
                    let body_is_map = matches!(e.body, Some(Value::Map(_)));
                    if !body_is_map {
                        e.body = Some(Value::Map(Map::new()));
                    }
                    let Some(Value::Map(root)) = e.body.as_mut() else {
                        return Err("body is not a map".into());
                    };
                    nested_map(root, &self.keys)
                        .ok_or("body is not a map")?
                        .extend(m);
                    return Ok(());
                }
                if self.keys.is_empty() {
                    e.body = Some(value);
                    return Ok(());
                }
                if !matches!(e.body, Some(Value::Map(_))) {
                    e.body = Some(Value::Map(Map::new()));
                }
                let Some(Value::Map(root)) = e.body.as_mut() else {
                    return Err("body is not a map".into());
                };
                let (last, path) = self.keys.split_last().ok_or("empty field")?;
                nested_map(root, path)
                    .ok_or("body is not a map")?
                    .insert(last.clone(), value);
                Ok(())
            }
            Root::Attributes | Root::Resource => {
                let map = if self.root == Root::Attributes {
                    &mut e.attributes
                } else {
                    &mut e.resource
                };
                if let Value::Map(m) = value {
                    nested_map(map, &self.keys).ok_or("not a map")?.extend(m);
                    return Ok(());
                }
                let Some((last, path)) = self.keys.split_last() else {
                    return Err(format!(
                        "cannot set a non-map value at the {} root",
                        if self.root == Root::Attributes {
                            "attributes"
                        } else {
                            "resource"
                        }
                    ));
                };
                nested_map(map, path)
                    .ok_or("not a map")?
                    .insert(last.clone(), value);
                Ok(())
            }
        }
    }

    pub fn delete(&self, e: &mut Entry) -> Option<Value> {
        match self.root {
            Root::Body => {
                if self.keys.is_empty() {
                    return e.body.take();
                }
                let (last, path) = self.keys.split_last()?;
                let mut cur = match e.body.as_mut()? {
                    Value::Map(m) => m,
                    _ => return None,
                };
                for k in path {
                    cur = match cur.get_mut(k)? {
                        Value::Map(m) => m,
                        _ => return None,
                    };
                }
                cur.remove(last)
            }
            Root::Attributes | Root::Resource => {
                let map = if self.root == Root::Attributes {
                    &mut e.attributes
                } else {
                    &mut e.resource
                };
                let Some((last, path)) = self.keys.split_last() else {
                    return Some(Value::Map(std::mem::take(map)));
                };
                let mut cur = map;
                for k in path {
                    cur = match cur.get_mut(k)? {
                        Value::Map(m) => m,
                        _ => return None,
                    };
                }
                cur.remove(last)
            }
        }
    }
}

/// The map at `keys` below `map`, creating (or replacing non-maps with) empty maps.
fn nested_map<'a>(map: &'a mut Map, keys: &[String]) -> Option<&'a mut Map> {
    let Some((first, rest)) = keys.split_first() else {
        return Some(map);
    };
    let slot = map.get_or_insert_with(first, || Value::Map(Map::new()));
    if !matches!(slot, Value::Map(_)) {
        *slot = Value::Map(Map::new());
    }
    match slot {
        Value::Map(m) => nested_map(m, rest),
        _ => None,
    }
}

/// Split `a.b["c.d"]['e']` into keys, as Go's `fromJSONDot` state machine.
fn split_field(s: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum St {
        Begin,
        InBracket,
        InQuote(char),
        OutQuote,
        OutBracket,
        Token,
    }
    let mut out = Vec::new();
    let mut st = St::Begin;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match st {
            St::Begin => {
                if c == '[' {
                    st = St::InBracket;
                } else {
                    start = i;
                    st = St::Token;
                }
            }
            St::InBracket => {
                if c == '\'' || c == '"' {
                    st = St::InQuote(c);
                    start = i + 1;
                } else {
                    return Err(format!(
                        "invalid field {s:?}: strings in brackets must be surrounded by quotes"
                    ));
                }
            }
            St::InQuote(q) => {
                if c == q {
                    out.push(s[start..i].to_string());
                    st = St::OutQuote;
                }
            }
            St::OutQuote => {
                if c != ']' {
                    return Err(format!(
                        "invalid field {s:?}: found characters between closed quote and closing bracket"
                    ));
                }
                st = St::OutBracket;
            }
            St::OutBracket => match c {
                '.' => {
                    st = St::Token;
                    start = i + 1;
                }
                '[' => st = St::InBracket,
                _ => {
                    return Err(format!(
                        "invalid field {s:?}: bracketed access must be followed by a dot or another bracketed access"
                    ))
                }
            },
            St::Token => match c {
                '.' => {
                    out.push(s[start..i].to_string());
                    start = i + 1;
                }
                '[' => {
                    out.push(s[start..i].to_string());
                    st = St::InBracket;
                }
                _ => {}
            },
        }
    }
    match st {
        St::Token => out.push(s[start..].to_string()),
        St::OutBracket | St::Begin => {}
        _ => return Err(format!("invalid field {s:?}: found unclosed left bracket")),
    }
    if out.iter().any(String::is_empty) {
        return Err(format!("invalid field {s:?}: empty key"));
    }
    Ok(out)
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Field::parse(&s, false).map_err(serde::de::Error::custom)
    }
}

/// A field that may be a root (`attributes`, `resource`): `parse_to`, `remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootableField(pub Field);

impl<'de> serde::Deserialize<'de> for RootableField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Field::parse(&s, true)
            .map(RootableField)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_syntax_as_go_from_json_dot() {
        let f = Field::parse("attributes[\"k.with.dots\"].x", false).unwrap();
        assert_eq!(f.root, Root::Attributes);
        assert_eq!(f.keys, vec!["k.with.dots", "x"]);
        assert_eq!(Field::parse("body", false).unwrap().keys.len(), 0);
        assert!(Field::parse("attributes", false).is_err());
        assert!(Field::parse("attributes", true).is_ok());
        assert!(Field::parse("foo.bar", false).is_err());
        assert!(Field::parse("body[x]", false).is_err());
        assert_eq!(
            Field::parse("resource['a'].b", false).unwrap().to_string(),
            "resource.a.b"
        );
    }

    #[test]
    fn set_merges_maps_and_replaces_scalars() {
        let mut e = EntryData::new(Value::Str("line".into()), 0);
        let mut m = Map::new();
        m.insert("a".into(), Value::Int(1));
        Field::body().set(&mut e, Value::Map(m.clone())).unwrap();
        assert_eq!(e.body, Some(Value::Map(m.clone())));
        Field::parse("attributes.x.y", false)
            .unwrap()
            .set(&mut e, Value::Str("v".into()))
            .unwrap();
        assert_eq!(
            Field::parse("attributes.x.y", false).unwrap().get(&e),
            Some(&Value::Str("v".into()))
        );
        assert!(Field::parse("attributes", true)
            .unwrap()
            .set(&mut e, Value::Int(1))
            .is_err());
        let removed = Field::parse("attributes", true).unwrap().delete(&mut e);
        assert!(matches!(removed, Some(Value::Map(_))));
        assert!(e.attributes.is_empty());
    }
}
