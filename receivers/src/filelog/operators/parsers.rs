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

use super::{op_config, parser_config, Base, Operator, Out, ParserBase};
use crate::filelog::entry::{Entry, Field, Map, Value};
use crate::filelog::severity::{
    ParseFromOnly, ScopeNameConfig, ScopeNameParser, SeverityConfig, SeverityParser, TraceConfig,
    TraceParser,
};
use crate::filelog::timeparse::{TimeConfig, TimeParser};

type BuildResult = Result<Box<dyn Operator>, (String, String)>;

fn key_err(key: &str) -> impl Fn(String) -> (String, String) + '_ {
    move |m| (key.to_string(), m)
}

fn parser_base<C: super::ParserKeys>(
    id: &str,
    on_error: super::OnError,
    if_expr: &Option<String>,
    c: &C,
) -> Result<ParserBase, (String, String)> {
    ParserBase::build(id, on_error, if_expr, c).map_err(key_err(""))
}

parser_config!(JsonParserConfig { parse_ints: bool });

struct JsonParser {
    p: ParserBase,
    parse_ints: bool,
}

impl Operator for JsonParser {
    fn process(&mut self, e: Entry, out: &mut Out) {
        let ints = self.parse_ints;
        self.p.process(e, out, |v| parse_json(v, ints));
    }
}

pub fn parse_json(v: &Value, ints: bool) -> Result<Value, String> {
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

pub fn build_json(id: &str, c: &JsonParserConfig) -> BuildResult {
    Ok(Box::new(JsonParser {
        p: parser_base(id, c.on_error, &c.if_expr, c)?,
        parse_ints: c.parse_ints,
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

pub fn build_regex(id: &str, c: &RegexParserConfig) -> BuildResult {
    if c.regex.is_empty() {
        return Err(("regex".into(), "missing required field 'regex'".into()));
    }
    let re = crate::filelog::goregex::compile(&c.regex)
        .map_err(|e| ("regex".to_string(), format!("invalid regex: {e}")))?;
    if re.capture_names().flatten().next().is_none() {
        return Err((
            "regex".into(),
            "no named capture groups in regex pattern".into(),
        ));
    }
    Ok(Box::new(RegexParser {
        p: parser_base(id, c.on_error, &c.if_expr, c)?,
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
}

impl Operator for KeyValueParser {
    fn process(&mut self, e: Entry, out: &mut Out) {
        let (d, pd) = (&self.delimiter, &self.pair_delimiter);
        let from = self.p.parse_from.to_string();
        self.p.process(e, out, |v| match v {
            Value::Str(s) => {
                if s.is_empty() {
                    return Err(format!("parse from field {from} is empty"));
                }
                let pairs = split_quoted(s, pd)
                    .map_err(|e| format!("failed to parse pairs from input: {e}"))?;
                parse_pairs(&pairs, d)
            }
            other => Err(format!(
                "type {} cannot be parsed as key value pairs",
                kind(other)
            )),
        });
    }
}

/// Go `parseutils.SplitString`: split on `delim` outside quotes, stripping outer quotes.
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

/// Go `parseutils.ParseKeyValuePairs`.
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

pub fn build_key_value(id: &str, c: &KeyValueParserConfig) -> BuildResult {
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
    Ok(Box::new(KeyValueParser {
        p: parser_base(id, c.on_error, &c.if_expr, c)?,
        delimiter,
        pair_delimiter,
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

pub fn build_severity(id: &str, c: &SeverityParserConfig) -> BuildResult {
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

pub fn build_time(id: &str, c: &TimeParserConfig) -> BuildResult {
    let p = TimeParser::build(&TimeConfig {
        parse_from: Some(c.parse_from.clone().unwrap_or_else(Field::body)),
        layout: c.layout.clone(),
        layout_type: c.layout_type.clone(),
        location: c.location.clone(),
    })
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

pub fn build_trace(id: &str, c: &TraceParserConfig) -> BuildResult {
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

pub fn build_scope_name(id: &str, c: &ScopeNameParserConfig) -> BuildResult {
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
}
