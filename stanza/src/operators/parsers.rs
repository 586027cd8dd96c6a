//! `json_parser`, `regex_parser`, `key_value_parser`, `severity_parser`, `time_parser`,
//! `trace_parser`, `scope_name_parser`.
//!
//! Go facts (`pkg/stanza/operator/parser/{json,regex,keyvalue,severity,time,trace,scope}`,
//! `internal/coreinternal/parseutils`):
//! - `json_parser` needs a string holding a JSON object; numbers are float64 unless
//!   `parse_ints: true` (then integers stay integers);
//! - `regex_parser` needs `regex` with at least one named group; the named groups become a
//!   map of strings (a group that did not take part gives ""); no match is an error
//!   ("regex pattern does not match");
//! - `key_value_parser`: `delimiter` (default `=`), `pair_delimiter` (default a space), which
//!   must differ; pairs are split respecting `"` and `'` quotes (outer quotes stripped,
//!   backslash escapes the quote), each pair split once on the delimiter, key and value
//!   trimmed, values stay strings; a pair without the delimiter fails the whole entry; an
//!   empty input is an error;
//! - `severity_parser` / `time_parser` / `scope_name_parser` are the embedded parsers on
//!   their own, with `parse_from` defaulting to `body` (the operator docs); the embedded
//!   `severity` and `timestamp` blocks require `parse_from`; `trace_parser` defaults each id
//!   to `body.<name>`.

use regex::Regex;

use super::{op_config, parser_config, Base, BuildMode, Operator, Out, ParserBase};
use crate::entry::{Entry, Field, Map, Value};
use crate::severity::{
    ParseFromOnly, ScopeNameConfig, ScopeNameParser, SeverityConfig, SeverityParser, TraceConfig,
    TraceParser,
};
use crate::timeparse::{TimeConfig, TimeParser};

type BuildResult = Result<Box<dyn Operator>, (String, String)>;

fn key_err(key: &str) -> impl Fn(String) -> (String, String) + '_ {
    move |m| (key.to_string(), m)
}

fn parser_base<C: super::ParserKeys>(
    id: &str,
    on_error: super::OnError,
    if_expr: &Option<String>,
    c: &C,
    mode: BuildMode,
) -> Result<ParserBase, (String, String)> {
    ParserBase::build(id, on_error, if_expr, c, mode).map_err(key_err(""))
}

parser_config!(JsonParserConfig { parse_ints: bool });

struct JsonParser {
    p: ParserBase,
    parse_ints: bool,
    /// The fields go straight into the attributes (`parse_to` is `attributes`).
    direct: bool,
    /// Reused buffer: the fields of one entry.
    fields: Vec<(String, Value)>,
}

impl Operator for JsonParser {
    fn process(&mut self, e: Entry, out: &mut Out) {
        let ints = self.parse_ints;
        if !self.direct {
            return self.p.process(e, out, |v| parse_json(v, ints));
        }
        let fields = &mut self.fields;
        self.p.process_into_attributes(e, out, |v| {
            json_fields(v, ints, fields).map(|()| fields.drain(..))
        })
    }
}

/// Go's `json_parser` on a value: the object's fields as a map.
pub fn parse_json(v: &Value, ints: bool) -> Result<Value, String> {
    let mut fields = Vec::new();
    json_fields(v, ints, &mut fields)?;
    Ok(Value::Map(fields.into_iter().collect()))
}

/// The fields of the JSON object `v` holds, in order (a repeated key repeated), into `fields`
/// (emptied first; left empty on error). Read straight into entry values, as
/// [`Value::from_json`] (or [`Value::from_json_ints`]) would convert the `serde_json::Value`
/// of the text: same numbers, same errors.
pub fn json_fields(v: &Value, ints: bool, fields: &mut Vec<(String, Value)>) -> Result<(), String> {
    fields.clear();
    let s = match v {
        Value::Str(s) => s,
        other => return Err(format!("type {} cannot be parsed as JSON", kind(other))),
    };
    let mut de = serde_json::Deserializer::from_str(s);
    let object = serde::de::DeserializeSeed::deserialize(
        json::Top {
            ints,
            fields: &mut *fields,
        },
        &mut de,
    )
    .and_then(|object| de.end().map(|()| object));
    match object {
        Ok(true) => Ok(()),
        Ok(false) => {
            fields.clear();
            Err("cannot unmarshal a non-object JSON value into map".into())
        }
        Err(e) => {
            fields.clear();
            Err(e.to_string())
        }
    }
}

/// JSON text read into entry values by serde, without the `serde_json::Value` in between.
mod json {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    use crate::entry::{Map, Value};

    /// Any JSON value as [`Value::from_json`] (`ints`: [`Value::from_json_ints`]) converts it.
    #[derive(Clone, Copy)]
    pub struct Any {
        pub ints: bool,
    }

    impl<'de> DeserializeSeed<'de> for Any {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Any {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any valid JSON value")
        }

        fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
            Ok(Value::Bool(b))
        }

        fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
            Ok(if self.ints {
                Value::Int(i)
            } else {
                Value::Double(i as f64)
            })
        }

        fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
            Ok(match i64::try_from(u) {
                Ok(i) if self.ints => Value::Int(i),
                _ => Value::Double(u as f64),
            })
        }

        fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
            // `serde_json::Value` has no number for a non-finite float: null
            Ok(if f.is_finite() {
                Value::Double(f)
            } else {
                Value::Null
            })
        }

        fn visit_str<E>(self, s: &str) -> Result<Value, E> {
            Ok(Value::Str(s.to_owned()))
        }

        fn visit_string<E>(self, s: String) -> Result<Value, E> {
            Ok(Value::Str(s))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(v) = seq.next_element_seed(self)? {
                items.push(v);
            }
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            // the pairs, then one sort (later keys win, as Go's map assignment)
            let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
            while let Some(k) = map.next_key::<String>()? {
                let v = map.next_value_seed(self)?;
                pairs.push((k, v));
            }
            Ok(Value::Map(Map::from(pairs)))
        }
    }

    /// The top-level value: an object's fields go to `fields` (`true`); anything else is
    /// read through and gives `false`.
    pub struct Top<'a> {
        pub ints: bool,
        pub fields: &'a mut Vec<(String, Value)>,
    }

    impl<'de> DeserializeSeed<'de> for Top<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Top<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any valid JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let any = Any { ints: self.ints };
            while let Some(k) = map.next_key::<String>()? {
                let v = map.next_value_seed(any)?;
                self.fields.push((k, v));
            }
            Ok(true)
        }

        fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_str<E>(self, _: &str) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_none<E>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            let any = Any { ints: self.ints };
            while seq.next_element_seed(any)?.is_some() {}
            Ok(false)
        }
    }
}

/// Go's `json_parser` as it was written first: through a `serde_json::Value` (the reference
/// for [`json_fields`], which tests and the `docker_log_line` fuzz target compare it with).
pub fn parse_json_via_serde_value(v: &Value, ints: bool) -> Result<Value, String> {
    let s = match v {
        Value::Str(s) => s,
        other => return Err(format!("type {} cannot be parsed as JSON", kind(other))),
    };
    let parsed: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    if !parsed.is_object() {
        return Err("cannot unmarshal a non-object JSON value into map".into());
    }
    Ok(if ints {
        Value::from_json_ints(parsed)
    } else {
        Value::from_json(parsed)
    })
}

/// Go's `%T` of a value.
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Double(_) => "float64",
        Value::Str(_) => "string",
        Value::Bytes(_) => "[]uint8",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

pub fn build_json(id: &str, c: &JsonParserConfig, mode: BuildMode) -> BuildResult {
    let p = parser_base(id, c.on_error, &c.if_expr, c, mode)?;
    Ok(Box::new(JsonParser {
        direct: p.parses_into_attributes(),
        p,
        parse_ints: c.parse_ints,
        fields: Vec::new(),
    }))
}

parser_config!(RegexParserConfig {
    regex: String,
    cache: Option<pipeline_api::config::ConfigValue>,
});

struct RegexParser {
    p: ParserBase,
    re: Regex,
}

impl Operator for RegexParser {
    fn process(&mut self, e: Entry, out: &mut Out) {
        let re = &self.re;
        self.p.process(e, out, |v| match v {
            Value::Str(s) => match_values(re, s),
            other => Err(format!("type '{}' cannot be parsed as regex", kind(other))),
        });
    }
}

/// Go `helper.MatchValues`.
pub fn match_values(re: &Regex, s: &str) -> Result<Value, String> {
    let caps = re
        .captures(s)
        .ok_or_else(|| "regex pattern does not match".to_string())?;
    let mut m = Map::new();
    for name in re.capture_names().flatten() {
        m.insert(
            name.to_string(),
            Value::Str(
                caps.name(name)
                    .map(|c| c.as_str())
                    .unwrap_or("")
                    .to_string(),
            ),
        );
    }
    Ok(Value::Map(m))
}

pub fn build_regex(id: &str, c: &RegexParserConfig, mode: BuildMode) -> BuildResult {
    if c.regex.is_empty() {
        return Err(("regex".into(), "missing required field 'regex'".into()));
    }
    let re = crate::goregex::compile(&c.regex)
        .map_err(|e| ("regex".to_string(), format!("invalid regex: {e}")))?;
    if re.capture_names().flatten().next().is_none() {
        return Err((
            "regex".into(),
            "no named capture groups in regex pattern".into(),
        ));
    }
    Ok(Box::new(RegexParser {
        p: parser_base(id, c.on_error, &c.if_expr, c, mode)?,
        re,
    }))
}

parser_config!(KeyValueParserConfig {
    delimiter: Option<String>,
    pair_delimiter: Option<String>,
});

struct KeyValueParser {
    p: ParserBase,
    delimiter: String,
    pair_delimiter: String,
    /// The error for an empty input (names `parse_from`).
    empty: String,
    /// The pairs go straight into the attributes (see `parses_into_attributes`).
    direct: bool,
    /// Reused buffers: the token being unquoted, and the pairs of one entry.
    token: String,
    pairs: Vec<(String, String)>,
}

impl Operator for KeyValueParser {
    fn process(&mut self, e: Entry, out: &mut Out) {
        if !self.direct {
            let (d, pd, empty) = (&self.delimiter, &self.pair_delimiter, &self.empty);
            let (token, pairs) = (&mut self.token, &mut self.pairs);
            return self.p.process(e, out, |v| match v {
                Value::Str(s) => {
                    if s.is_empty() {
                        return Err(empty.clone());
                    }
                    key_value_pairs(s, pd, d, token, pairs)?;
                    Ok(Value::Map(
                        pairs.drain(..).map(|(k, v)| (k, Value::Str(v))).collect(),
                    ))
                }
                other => Err(format!(
                    "type {} cannot be parsed as key value pairs",
                    kind(other)
                )),
            });
        }
        let (d, pd, empty) = (&self.delimiter, &self.pair_delimiter, &self.empty);
        let (token, pairs) = (&mut self.token, &mut self.pairs);
        self.p.process_into_attributes(e, out, |v| match v {
            Value::Str(s) if s.is_empty() => Err(empty.clone()),
            Value::Str(s) => key_value_pairs(s, pd, d, token, pairs)
                .map(|()| pairs.drain(..).map(|(k, v)| (k, Value::Str(v)))),
            other => Err(format!(
                "type {} cannot be parsed as key value pairs",
                kind(other)
            )),
        })
    }
}

/// `s.trim()`, checking first whether either end could be white space at all (the usual key or
/// value starts and ends with a letter, a digit or a quote).
fn trim(s: &str) -> &str {
    // an ASCII byte is white space (Unicode `White_Space`) when it is \t, \n, \v, \f, \r or
    // a space; a byte from 0x80 may start a white space character
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b < 0x80 && !matches!(b, 9..=13 | b' '));
    let b = s.as_bytes();
    if plain(b.first()) && plain(b.last()) {
        s
    } else {
        s.trim()
    }
}

/// `split_quoted` then `parse_pairs` in one pass, without a string per pair: the pairs of
/// `input` go to `pairs` (emptied first) as trimmed `(key, value)`. Errors are the ones those
/// two give: a splitting error first, else every pair without `delim`.
pub fn key_value_pairs(
    input: &str,
    pair_delim: &str,
    delim: &str,
    token: &mut String,
    pairs: &mut Vec<(String, String)>,
) -> Result<(), String> {
    pairs.clear();
    let mut errs: Vec<String> = Vec::new();
    let finder = (delim.len() > 1).then(|| memchr::memmem::Finder::new(delim.as_bytes()));
    let mut take = |tok: &str, pairs: &mut Vec<(String, String)>| {
        // `tok.split_once(delim)`; `delim` is valid UTF-8, so where it starts and ends are
        // character boundaries of `tok`
        let at = match delim.as_bytes() {
            [one] => memchr::memchr(*one, tok.as_bytes()),
            _ => finder.as_ref().and_then(|f| f.find(tok.as_bytes())),
        };
        match at.and_then(|i| Some((tok.get(..i)?, tok.get(i + delim.len()..)?))) {
            Some((k, v)) => pairs.push((trim(k).to_string(), trim(v).to_string())),
            None => errs.push(format!("cannot split {tok:?} into 2 items, got 1 item(s)")),
        }
    };
    let b = input.as_bytes();
    let pd = pair_delim.as_bytes();
    let pd0 = pd.first().copied();
    token.clear();
    // The token so far is `token` followed by `input[seg..i]`. Every index where a slice
    // starts or ends is at an ASCII byte or at the start of `pair_delim`, so a character
    // boundary.
    let mut seg = 0;
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    while i < b.len() {
        let c = b[i];
        if quote.is_none() && Some(c) == pd0 && b[i..].starts_with(pd) {
            let tok = if token.is_empty() {
                &input[seg..i]
            } else {
                token.push_str(&input[seg..i]);
                token.as_str()
            };
            if !tok.is_empty() {
                take(tok, pairs);
            }
            token.clear();
            i += pd.len();
            seg = i;
            continue;
        }
        if escaped {
            // the escaped byte stays; the backslash too unless it escapes a quote or itself
            if Some(c) != quote && c != b'\\' {
                token.push('\\');
            }
            escaped = false;
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' if quote.is_none() => quote = Some(c),
            _ if Some(c) == quote => quote = None,
            b'\\' => escaped = true,
            _ => {
                // an ordinary byte; so are the ones up to the next that may end the token or
                // a quote (inside quotes: that quote or a backslash; outside: a quote, a
                // backslash or the pair delimiter's first byte), which are ASCII or where
                // `pair_delim` may start: the slices keep to character boundaries
                i += 1;
                let rest = &b[i..];
                i += match quote {
                    Some(q) => memchr::memchr2(q, b'\\', rest),
                    None => rest
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'\'' | b'\\') || Some(c) == pd0),
                }
                .unwrap_or(rest.len());
                continue;
            }
        }
        // a quote or a backslash: left out of the token
        token.push_str(&input[seg..i]);
        i += 1;
        seg = i;
    }
    if escaped {
        return Err("failed to parse pairs from input: found a trailing escape character".into());
    }
    if quote.is_some() {
        return Err(
            "failed to parse pairs from input: never reached the end of a quoted value".into(),
        );
    }
    let tok = if token.is_empty() {
        &input[seg..]
    } else {
        token.push_str(&input[seg..]);
        token.as_str()
    };
    if !tok.is_empty() {
        take(tok, pairs);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        pairs.clear();
        Err(errs.join("; "))
    }
}

/// Go `parseutils.SplitString`: split on `delim` outside quotes, stripping outer quotes. The
/// operator reads in one pass; this is the reference its tests compare with.
#[cfg(test)]
pub fn split_quoted(input: &str, delim: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if quote.is_none() && !delim.is_empty() && rest.starts_with(delim) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            rest = &rest[delim.len()..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if !escaped {
            if quote.is_none() && (c == '"' || c == '\'') {
                quote = Some(c);
                continue;
            }
            if Some(c) == quote {
                quote = None;
                continue;
            }
            if c == '\\' {
                escaped = true;
                continue;
            }
        } else {
            if Some(c) != quote && c != '\\' {
                cur.push('\\');
            }
            escaped = false;
        }
        cur.push(c);
    }
    if escaped {
        return Err("found a trailing escape character".into());
    }
    if quote.is_some() {
        return Err("never reached the end of a quoted value".into());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Go `parseutils.ParseKeyValuePairs` (the reference for tests, as `split_quoted`).
#[cfg(test)]
pub fn parse_pairs(pairs: &[String], delim: &str) -> Result<Value, String> {
    let mut m = Map::new();
    let mut errs = Vec::new();
    for p in pairs {
        match p.split_once(delim) {
            Some((k, v)) => {
                m.insert(k.trim().to_string(), Value::Str(v.trim().to_string()));
            }
            None => errs.push(format!("cannot split {p:?} into 2 items, got 1 item(s)")),
        }
    }
    if errs.is_empty() {
        Ok(Value::Map(m))
    } else {
        Err(errs.join("; "))
    }
}

pub fn build_key_value(id: &str, c: &KeyValueParserConfig, mode: BuildMode) -> BuildResult {
    let delimiter = c.delimiter.clone().unwrap_or_else(|| "=".into());
    if delimiter.is_empty() {
        return Err((
            "delimiter".into(),
            "delimiter is a required parameter".into(),
        ));
    }
    let pair_delimiter = match c.pair_delimiter.as_deref() {
        None | Some("") => " ".to_string(),
        Some(p) => p.to_string(),
    };
    if delimiter == pair_delimiter {
        return Err((
            "pair_delimiter".into(),
            "delimiter and pair_delimiter cannot be the same value".into(),
        ));
    }
    let p = parser_base(id, c.on_error, &c.if_expr, c, mode)?;
    Ok(Box::new(KeyValueParser {
        empty: format!("parse from field {} is empty", p.parse_from),
        direct: p.parses_into_attributes(),
        p,
        delimiter,
        pair_delimiter,
        token: String::new(),
        pairs: Vec::new(),
    }))
}

op_config!(SeverityParserConfig {
    parse_from: Option<Field>,
    preset: String,
    mapping: std::collections::HashMap<String, pipeline_api::config::ConfigValue>,
    overwrite_text: bool,
});

struct Standalone<F: FnMut(&mut Entry) -> Result<(), String> + Send> {
    base: Base,
    f: F,
}

impl<F: FnMut(&mut Entry) -> Result<(), String> + Send> Operator for Standalone<F> {
    fn process(&mut self, e: Entry, out: &mut Out) {
        let f = &mut self.f;
        self.base.transform(e, out, f);
    }
}

fn base(
    id: &str,
    on_error: super::OnError,
    if_expr: &Option<String>,
) -> Result<Base, (String, String)> {
    Base::new(id, on_error, if_expr).map_err(key_err("if"))
}

pub fn build_severity(id: &str, c: &SeverityParserConfig, _mode: BuildMode) -> BuildResult {
    let p = SeverityParser::build(&SeverityConfig {
        parse_from: Some(c.parse_from.clone().unwrap_or_else(Field::body)),
        preset: c.preset.clone(),
        mapping: c.mapping.clone(),
        overwrite_text: c.overwrite_text,
    })
    .map_err(key_err("mapping"))?;
    Ok(Box::new(Standalone {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| p.parse(e),
    }))
}

op_config!(TimeParserConfig {
    parse_from: Option<Field>,
    layout: String,
    layout_type: Option<String>,
    location: String,
});

pub fn build_time(id: &str, c: &TimeParserConfig, mode: BuildMode) -> BuildResult {
    let p = TimeParser::build_with(
        &TimeConfig {
            parse_from: Some(c.parse_from.clone().unwrap_or_else(Field::body)),
            layout: c.layout.clone(),
            layout_type: c.layout_type.clone(),
            location: c.location.clone(),
        },
        mode,
    )
    .map_err(key_err("layout"))?;
    Ok(Box::new(Standalone {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| p.parse(e),
    }))
}

op_config!(TraceParserConfig {
    trace_id: ParseFromOnly,
    span_id: ParseFromOnly,
    trace_flags: ParseFromOnly,
});

pub fn build_trace(id: &str, c: &TraceParserConfig, _mode: BuildMode) -> BuildResult {
    let p = TraceParser::build(&TraceConfig {
        trace_id: c.trace_id.clone(),
        span_id: c.span_id.clone(),
        trace_flags: c.trace_flags.clone(),
    });
    Ok(Box::new(Standalone {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| p.parse(e),
    }))
}

op_config!(ScopeNameParserConfig {
    parse_from: Option<Field>,
});

pub fn build_scope_name(id: &str, c: &ScopeNameParserConfig, _mode: BuildMode) -> BuildResult {
    let p = ScopeNameParser::build(&ScopeNameConfig {
        parse_from: Some(c.parse_from.clone().unwrap_or_else(Field::body)),
    })
    .map_err(key_err("parse_from"))?;
    Ok(Box::new(Standalone {
        base: base(id, c.on_error, &c.if_expr)?,
        f: move |e: &mut Entry| p.parse(e),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structlog_quoting_as_go_split_string() {
        let line = "timestamp='2024-01-01T12:00:00Z' level='info' event='Request completed' status_code=200 msg=\"a \\\"q\\\" b\"";
        let pairs = split_quoted(line, " ").unwrap();
        let Value::Map(m) = parse_pairs(&pairs, "=").unwrap() else {
            panic!("map")
        };
        assert_eq!(m["event"], Value::Str("Request completed".into()));
        assert_eq!(m["status_code"], Value::Str("200".into()));
        assert_eq!(m["timestamp"], Value::Str("2024-01-01T12:00:00Z".into()));
        assert_eq!(m["msg"], Value::Str("a \"q\" b".into()));
        assert!(split_quoted("a='open", " ").is_err());
        assert!(parse_pairs(&["novalue".to_string()], "=").is_err());
    }

    #[test]
    fn json_numbers_are_doubles_unless_parse_ints() {
        let v = Value::Str("{\"n\":200,\"f\":1.5}".into());
        let Value::Map(m) = parse_json(&v, false).unwrap() else {
            panic!("map")
        };
        assert_eq!(m["n"], Value::Double(200.0));
        let Value::Map(m) = parse_json(&v, true).unwrap() else {
            panic!("map")
        };
        assert_eq!(m["n"], Value::Int(200));
        assert!(parse_json(&Value::Str("[1]".into()), false).is_err());
        assert!(parse_json(&Value::Str("{bad".into()), false).is_err());
    }

    /// Reading JSON straight into entry values gives what reading it into a
    /// `serde_json::Value` and converting gives: values, numbers (with and without
    /// `parse_ints`) and error messages, on valid and hostile texts.
    #[test]
    fn json_fields_agree_with_serde_value_then_conversion() {
        let pieces = [
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "\"a\"",
            "\"a\"",
            "\"\"",
            "\"\\u00e9\\n\\\"\"",
            "\"\\ud800\"",
            "\"\\x\"",
            "0",
            "-1",
            "1.5e3",
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "1e400",
            "-0",
            "true",
            "false",
            "null",
            "nul",
            "\u{e9}",
            "\"k\":",
            "{\"a\":1,\"a\":2}",
            "\t\n",
        ];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let (mut ok, mut err) = (0, 0);
        let mut fields = Vec::new();
        for case in 0..40_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut text = String::new();
            let mut y = x;
            if case % 2 == 0 {
                text.push('{');
            }
            for _ in 0..(x % 12) {
                text.push_str(pieces[(y % pieces.len() as u64) as usize]);
                y /= pieces.len() as u64;
                if y == 0 {
                    y = x.rotate_left(31);
                }
            }
            if case % 4 == 0 {
                text.push('}');
            }
            let v = Value::Str(text.clone());
            for ints in [false, true] {
                let want = parse_json_via_serde_value(&v, ints);
                let got = json_fields(&v, ints, &mut fields)
                    .map(|()| Value::Map(fields.drain(..).collect()));
                assert_eq!(got, want, "{text:?} (parse_ints: {ints})");
                assert_eq!(got, parse_json(&v, ints));
                if got.is_ok() {
                    ok += 1;
                } else {
                    err += 1;
                }
            }
        }
        // nested past serde_json's recursion limit, and values that are not strings
        for text in [
            "[".repeat(200),
            format!("{{\"a\":{}1{}}}", "[".repeat(130), "]".repeat(130)),
        ] {
            let v = Value::Str(text);
            assert_eq!(
                json_fields(&v, false, &mut fields).map(|()| Value::Null),
                parse_json_via_serde_value(&v, false).map(|_| Value::Null)
            );
        }
        for v in [Value::Int(1), Value::Null, Value::Map(Map::new())] {
            assert_eq!(parse_json(&v, false), parse_json_via_serde_value(&v, false));
        }
        assert!(ok > 2_000 && err > 2_000, "{ok} parsed, {err} refused");
    }

    /// The one-pass reading gives what `split_quoted` then `parse_pairs` give.
    #[test]
    fn key_value_pairs_agree_with_split_then_pairs() {
        let pieces = [
            "k", "=", " ", "  ", "'", "\"", "\\", "v a", "\u{e9}", "::", ";", "x=y", "\t", "\u{b}",
            "\u{a0}", "\u{1c}",
        ];
        let mut token = String::new();
        let mut pairs = Vec::new();
        let mut x = 0x9E3779B97F4A7C15u64;
        let mut ok = 0;
        for case in 0..30_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut input = String::new();
            let mut y = x;
            for _ in 0..(x % 14) {
                input.push_str(pieces[(y % pieces.len() as u64) as usize]);
                y /= pieces.len() as u64;
                if y == 0 {
                    y = x.rotate_left(29);
                }
            }
            let (pd, d) = match case % 3 {
                0 => (" ", "="),
                1 => (";", ":"),
                _ => ("::", "="),
            };
            let expected = split_quoted(&input, pd)
                .map_err(|e| format!("failed to parse pairs from input: {e}"))
                .and_then(|p| parse_pairs(&p, d));
            let got = key_value_pairs(&input, pd, d, &mut token, &mut pairs)
                .map(|()| Value::Map(pairs.drain(..).map(|(k, v)| (k, Value::Str(v))).collect()));
            assert_eq!(got, expected, "{input:?} split by {pd:?} and {d:?}");
            ok += usize::from(got.is_ok());
        }
        assert!(ok > 5_000, "{ok}");
    }
}
