//! The log line of an entry: `json`, `logfmt` or `raw`.
//!
//! Go facts relied on (`pkg/translator/loki/encode.go`, `convert.go`, `go-logfmt/logfmt`):
//! - `json`: one object with, in this order and each left out when empty, `body` (the
//!   body's raw value as JSON), `traceid`, `spanid` (hex), `severity` (the severity text),
//!   `flags`, `attributes` and `resources` (maps of raw values; keys sorted, as Go's
//!   `encoding/json` writes maps), `instrumentation_scope` (`name`, then `version` when set;
//!   only when the scope has a name). Strings are written HTML-safe (`<`, `>`, `&` as
//!   `\u003c`...), bytes as base64, doubles in Go's JSON number form.
//! - `logfmt`: the body first: a string body is parsed as one logfmt line (when that fails,
//!   it becomes `msg=<body>`); a map body gives its pairs (nested maps and lists flattened
//!   with `_`: `a_b`, `list_0`); a list body gives `body_0`, `body_1`...; any other body
//!   `msg=<value>`. Then `traceID`, `spanID`, `severity`, `flags` (each replacing a pair of
//!   that key, else appended; only when set), then `attribute_<key>` for each attribute and
//!   `resource_<key>` for each resource attribute (in their order), then
//!   `instrumentation_scope_name` and `instrumentation_scope_version`. Values needing it are
//!   quoted (any character <= space, `=` or `"`), with `\\`, `\"`, `\n`, `\r`, `\t` and
//!   `\u00XX` escapes; a string `null` is written `"null"`; a key without value is `key=`.
//!   Numbers are written as Go's `%v`, booleans `true`/`false`.
//! - `raw`: the body's `AsString()`.
//!
//! Ferrotel differs where Go loses the record: a non-finite double is written as the text
//! `NaN`/`+Inf`/`-Inf` in JSON (Go's marshal fails and drops the record); a logfmt key with a
//! space, `=` or `"` has them replaced by `_` and an empty key is left out (Go's marshal fails);
//! a multi-line string body is not parsed as logfmt (Go parses only its first line and loses
//! the rest) but written `msg="..."`; bytes are base64 in logfmt too (Go writes the raw
//! bytes); the replacing of `traceID`/`spanID`/`severity`/`flags` works on pairs parsed from
//! a string body as well (Go's comparison never matches those and appends a duplicate key).

use std::collections::BTreeMap;

use base64::Engine;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::logs::v1::LogRecord;

use crate::debug::gofmt::{go_g, hex_id, json_float, json_string, value_as_string};

/// What a line is made of: the record, and the attributes left after labels took theirs.
pub struct LineParts<'a> {
    pub record: &'a LogRecord,
    pub attributes: Vec<&'a KeyValue>,
    pub resource: Vec<&'a KeyValue>,
    pub scope: Option<&'a InstrumentationScope>,
}

// ------------------------------------------------------------------------------ json

/// Go `Encode`.
pub fn json_line(p: &LineParts<'_>) -> String {
    let r = p.record;
    let mut out = String::from("{");
    let field = |out: &mut String, name: &str| {
        if out.len() > 1 {
            out.push(',');
        }
        json_string(name, out);
        out.push(':');
    };
    if let Some(body) = r.body.as_ref().filter(|b| b.value.is_some()) {
        field(&mut out, "body");
        json_value(Some(body), &mut out);
    }
    let trace = hex_id(&r.trace_id);
    if !trace.is_empty() {
        field(&mut out, "traceid");
        json_string(&trace, &mut out);
    }
    let span = hex_id(&r.span_id);
    if !span.is_empty() {
        field(&mut out, "spanid");
        json_string(&span, &mut out);
    }
    if !r.severity_text.is_empty() {
        field(&mut out, "severity");
        json_string(&r.severity_text, &mut out);
    }
    if r.flags != 0 {
        field(&mut out, "flags");
        out.push_str(&r.flags.to_string());
    }
    if !p.attributes.is_empty() {
        field(&mut out, "attributes");
        json_map(p.attributes.iter().copied(), &mut out);
    }
    if !p.resource.is_empty() {
        field(&mut out, "resources");
        json_map(p.resource.iter().copied(), &mut out);
    }
    if let Some(scope) = p.scope.filter(|s| !s.name.is_empty()) {
        field(&mut out, "instrumentation_scope");
        out.push_str("{\"name\":");
        json_string(&scope.name, &mut out);
        if !scope.version.is_empty() {
            out.push_str(",\"version\":");
            json_string(&scope.version, &mut out);
        }
        out.push('}');
    }
    out.push('}');
    out
}

/// `json.Marshal(value.AsRaw())`, non-finite doubles written as text.
fn json_value(v: Option<&AnyValue>, out: &mut String) {
    match v.and_then(|v| v.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(any_value::Value::StringValue(s)) => json_string(s, out),
        Some(any_value::Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(any_value::Value::IntValue(i)) => out.push_str(&i.to_string()),
        Some(any_value::Value::DoubleValue(f)) if f.is_finite() => out.push_str(&json_float(*f)),
        Some(any_value::Value::DoubleValue(f)) => json_string(&go_g(*f), out),
        Some(any_value::Value::BytesValue(b)) => {
            json_string(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        Some(any_value::Value::KvlistValue(m)) => json_map(m.values.iter(), out),
        Some(any_value::Value::ArrayValue(a)) => {
            out.push('[');
            for (i, v) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(Some(v), out);
            }
            out.push(']');
        }
    }
}

/// A Go map of raw values: a later duplicate key wins; keys sorted.
fn json_map<'a>(kvs: impl Iterator<Item = &'a KeyValue>, out: &mut String) {
    let mut entries: BTreeMap<&str, Option<&AnyValue>> = BTreeMap::new();
    for kv in kvs {
        entries.insert(kv.key.as_str(), kv.value.as_ref());
    }
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(k, out);
        out.push(':');
        json_value(v, out);
    }
    out.push('}');
}

// ------------------------------------------------------------------------------ logfmt

/// A logfmt value: text subject to Go's `"null"` rule (strings, numbers, booleans), or a
/// value parsed from a logfmt body (bytes: no `null` rule; `None` when the key had none).
#[derive(Debug, Clone, PartialEq)]
enum LfValue {
    Text(String),
    Parsed(Option<String>),
}

type Pairs = Vec<(String, LfValue)>;

/// Go `EncodeLogfmt`.
pub fn logfmt_line(p: &LineParts<'_>) -> String {
    let r = p.record;
    let mut pairs = body_pairs(r.body.as_ref());
    let trace = hex_id(&r.trace_id);
    if !trace.is_empty() {
        replace_or_append(&mut pairs, "traceID", trace);
    }
    let span = hex_id(&r.span_id);
    if !span.is_empty() {
        replace_or_append(&mut pairs, "spanID", span);
    }
    if !r.severity_text.is_empty() {
        replace_or_append(&mut pairs, "severity", r.severity_text.clone());
    }
    if r.flags != 0 {
        replace_or_append(&mut pairs, "flags", r.flags.to_string());
    }
    for kv in &p.attributes {
        value_pairs(
            &format!("attribute_{}", kv.key),
            kv.value.as_ref(),
            &mut pairs,
            0,
        );
    }
    for kv in &p.resource {
        value_pairs(
            &format!("resource_{}", kv.key),
            kv.value.as_ref(),
            &mut pairs,
            0,
        );
    }
    if let Some(scope) = p.scope.filter(|s| !s.name.is_empty()) {
        pairs.push((
            "instrumentation_scope_name".into(),
            LfValue::Text(scope.name.clone()),
        ));
        if !scope.version.is_empty() {
            pairs.push((
                "instrumentation_scope_version".into(),
                LfValue::Text(scope.version.clone()),
            ));
        }
    }
    marshal(&pairs)
}

fn replace_or_append(pairs: &mut Pairs, key: &str, value: String) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(pair) => pair.1 = LfValue::Text(value),
        None => pairs.push((key.to_string(), LfValue::Text(value))),
    }
}

/// Go `bodyToKeyvals`.
fn body_pairs(body: Option<&AnyValue>) -> Pairs {
    let mut pairs = Vec::new();
    match body.and_then(|b| b.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => {}
        Some(any_value::Value::StringValue(s)) => match parse_logfmt(s) {
            Some(parsed) => pairs = parsed,
            None => pairs.push(("msg".into(), LfValue::Text(s.clone()))),
        },
        Some(any_value::Value::KvlistValue(_)) => value_pairs("", body, &mut pairs, 0),
        Some(any_value::Value::ArrayValue(_)) => value_pairs("body", body, &mut pairs, 0),
        Some(_) => pairs.push(("msg".into(), LfValue::Text(scalar_text(body)))),
    }
    pairs
}

/// A scalar as Go's `fmt.Sprint` of its raw value (bytes: base64).
fn scalar_text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::DoubleValue(f)) => go_g(*f),
        _ => value_as_string(v),
    }
}

/// Go `valueToKeyvals`.
fn value_pairs(key: &str, value: Option<&AnyValue>, out: &mut Pairs, depth: usize) {
    let prefix = if key.is_empty() {
        String::new()
    } else {
        format!("{key}_")
    };
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => {}
        Some(any_value::Value::KvlistValue(m)) if depth < 64 => {
            for kv in &m.values {
                value_pairs(
                    &format!("{prefix}{}", kv.key),
                    kv.value.as_ref(),
                    out,
                    depth + 1,
                );
            }
        }
        Some(any_value::Value::ArrayValue(a)) if depth < 64 => {
            for (i, v) in a.values.iter().enumerate() {
                value_pairs(&format!("{prefix}{i}"), Some(v), out, depth + 1);
            }
        }
        Some(_) => out.push((key.to_string(), LfValue::Text(scalar_text(value)))),
    }
}

/// One logfmt line parsed as `go-logfmt`'s decoder does (`None`: a syntax error, or more
/// than one line).
fn parse_logfmt(line: &str) -> Option<Pairs> {
    if line.contains('\n') {
        return None;
    }
    let b = line.as_bytes();
    let mut pos = 0;
    let mut pairs = Vec::new();
    loop {
        // garbage: everything up to a byte above space
        while pos < b.len() && b[pos] <= b' ' {
            pos += 1;
        }
        if pos >= b.len() {
            return Some(pairs);
        }
        // key
        let start = pos;
        while pos < b.len() && b[pos] > b' ' && b[pos] != b'=' {
            if b[pos] == b'"' {
                return None;
            }
            pos += 1;
        }
        if pos == start {
            // `=` with no key before it
            return None;
        }
        let key = line.get(start..pos)?.to_string();
        if pos >= b.len() || b[pos] != b'=' {
            pairs.push((key, LfValue::Parsed(None)));
            continue;
        }
        pos += 1; // '='
        if pos >= b.len() || b[pos] <= b' ' {
            pairs.push((key, LfValue::Parsed(None)));
            continue;
        }
        if b[pos] == b'"' {
            let (value, next) = parse_quoted(line, pos)?;
            pairs.push((key, LfValue::Parsed((!value.is_empty()).then_some(value))));
            pos = next;
            continue;
        }
        let vstart = pos;
        while pos < b.len() && b[pos] > b' ' {
            if b[pos] == b'=' || b[pos] == b'"' {
                return None;
            }
            pos += 1;
        }
        pairs.push((
            key,
            LfValue::Parsed(Some(line.get(vstart..pos)?.to_string())),
        ));
    }
}

/// A quoted value starting at `start` (the opening quote): its text and the position after
/// the closing quote. JSON-style escapes, as go-logfmt's `unquoteBytes`.
fn parse_quoted(line: &str, start: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = line.get(start + 1..)?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, start + 1 + i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    '"' | '\\' | '/' | '\'' => out.push(e),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let mut hex4 = || -> Option<u32> {
                            let mut v = 0u32;
                            for _ in 0..4 {
                                v = v * 16 + chars.next()?.1.to_digit(16)?;
                            }
                            Some(v)
                        };
                        let first = hex4()?;
                        let c = if (0xD800..0xDC00).contains(&first) {
                            // a surrogate pair: `\uD83D\uDE00`
                            let rest = chars.as_str();
                            match rest.strip_prefix("\\u").and_then(|r| r.get(..4)) {
                                Some(h) => match u32::from_str_radix(h, 16) {
                                    Ok(low) if (0xDC00..0xE000).contains(&low) => {
                                        for _ in 0..6 {
                                            chars.next();
                                        }
                                        char::from_u32(
                                            0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00),
                                        )
                                        .unwrap_or('\u{fffd}')
                                    }
                                    _ => '\u{fffd}',
                                },
                                None => '\u{fffd}',
                            }
                        } else {
                            char::from_u32(first).unwrap_or('\u{fffd}')
                        };
                        out.push(c);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// go-logfmt `MarshalKeyvals`: `k=v` joined by spaces.
fn marshal(pairs: &Pairs) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        let key: String = key
            .chars()
            .map(|c| {
                if c <= ' ' || c == '=' || c == '"' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if key.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&key);
        out.push('=');
        match value {
            LfValue::Text(s) if s == "null" => out.push_str("\"null\""),
            LfValue::Text(s) | LfValue::Parsed(Some(s)) => write_value(s, &mut out),
            LfValue::Parsed(None) => {}
        }
    }
    out
}

fn write_value(s: &str, out: &mut String) {
    if !s.chars().any(|c| c <= ' ' || c == '=' || c == '"') {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u00{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ------------------------------------------------------------------------------ raw

/// Go `convertLogToLogRawEntry`: the body's `AsString()`.
pub fn raw_line(record: &LogRecord) -> String {
    value_as_string(record.body.as_ref())
}
