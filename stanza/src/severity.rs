//! Severity, trace-context and scope-name parsing (the parsers' embedded `severity`, `trace`,
//! `scope_name` blocks and the standalone `severity_parser`, `trace_parser`,
//! `scope_name_parser`).
//!
//! Go facts (`pkg/stanza/operator/helper/severity_builder.go`, `severity.go`, `trace.go`,
//! `scope_name.go`, `pkg/stanza/adapter/converter.go`):
//! - stanza severities equal OTLP severity numbers (`trace`=1 … `fatal4`=24, default 0);
//! - preset `default` (the default) maps `trace`…`fatal4` and `1`…`24`, plus `warning`,
//!   `warning2-4`, `err`, `err2-4`; preset `none` maps nothing; values are matched
//!   lower-cased; a user `mapping` adds (severity name → value, list of values, `{min, max}`
//!   range, or `2xx`…`5xx`);
//! - an unmapped value gives severity 0 with the value as severity text; a whole float is
//!   taken as an integer; other types are errors;
//! - the severity text is the original value (`overwrite_text: true` replaces it with the
//!   canonical name); an empty text is filled from the number at conversion;
//! - `trace`: `trace_id`, `span_id`, `trace_flags` each with `parse_from`, defaulting to
//!   `body.trace_id`, `body.span_id`, `body.trace_flags`; values are hex-decoded from their
//!   text (`%v`); a missing field is skipped; any decode error fails the parse.

use std::collections::HashMap;

use serde::Deserialize;

use crate::entry::{Entry, Field, Value};
use pipeline_api::config::ConfigValue;

pub const SEVERITY_NAMES: [&str; 24] = [
    "trace", "trace2", "trace3", "trace4", "debug", "debug2", "debug3", "debug4", "info", "info2",
    "info3", "info4", "warn", "warn2", "warn3", "warn4", "error", "error2", "error3", "error4",
    "fatal", "fatal2", "fatal3", "fatal4",
];

/// The default text of a severity number (Go converter's `defaultSevTextMap`).
pub fn default_text(sev: i32) -> &'static str {
    const TEXT: [&str; 24] = [
        "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4", "INFO",
        "INFO2", "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2", "ERROR3",
        "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4",
    ];
    usize::try_from(sev - 1)
        .ok()
        .and_then(|i| TEXT.get(i))
        .copied()
        .unwrap_or("")
}

/// `severity:` / `severity_parser` keys.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityConfig {
    pub parse_from: Option<Field>,
    pub preset: String,
    pub mapping: HashMap<String, ConfigValue>,
    pub overwrite_text: bool,
}

#[derive(Debug, Clone)]
pub struct SeverityParser {
    pub parse_from: Field,
    mapping: HashMap<String, i32>,
    overwrite_text: bool,
}

fn aliases() -> HashMap<String, i32> {
    let mut m = HashMap::new();
    for (i, n) in SEVERITY_NAMES.iter().enumerate() {
        m.insert(n.to_string(), i as i32 + 1);
        m.insert((i + 1).to_string(), i as i32 + 1);
    }
    m
}

fn builtin(preset: &str) -> HashMap<String, i32> {
    match preset {
        "none" => HashMap::new(),
        "otel" | "aliases" => aliases(),
        _ => {
            let mut m = aliases();
            for (name, sev) in [
                ("warning", 13),
                ("warning2", 14),
                ("warning3", 15),
                ("warning4", 16),
                ("err", 17),
                ("err2", 18),
                ("err3", 19),
                ("err4", 20),
            ] {
                m.insert(name.to_string(), sev);
            }
            m
        }
    }
}

fn range(min: i64, max: i64) -> Vec<String> {
    let (a, b) = if min <= max { (min, max) } else { (max, min) };
    if b - a > 100_000 {
        return Vec::new();
    }
    (a..=b).map(|i| i.to_string()).collect()
}

fn parseable(v: &ConfigValue) -> Result<Vec<String>, String> {
    match v {
        ConfigValue::Number(n) if n.is_i64() => Ok(vec![n.to_string()]),
        ConfigValue::String(s) => Ok(match s.as_str() {
            "2xx" => range(200, 299),
            "3xx" => range(300, 399),
            "4xx" => range(400, 499),
            "5xx" => range(500, 599),
            other => vec![other.to_lowercase()],
        }),
        ConfigValue::Mapping(m) => {
            let min = m.get("min").and_then(ConfigValue::as_i64);
            let max = m.get("max").and_then(ConfigValue::as_i64);
            match (min, max) {
                (Some(a), Some(b)) => Ok(range(a, b)),
                _ => Err("a range needs integer `min` and `max`".into()),
            }
        }
        ConfigValue::Bool(b) => Ok(vec![b.to_string()]),
        _ => Err("value cannot be parsed as a severity".into()),
    }
}

impl SeverityParser {
    pub fn build(cfg: &SeverityConfig) -> Result<SeverityParser, String> {
        let mut mapping = builtin(&cfg.preset);
        let names = aliases();
        let mut keys: Vec<&String> = cfg.mapping.keys().collect();
        keys.sort();
        for sev_name in keys {
            let sev = *names
                .get(&sev_name.to_lowercase())
                .ok_or_else(|| format!("mapping: {sev_name:?} is not a severity"))?;
            let values = match &cfg.mapping[sev_name] {
                ConfigValue::Sequence(items) => items
                    .iter()
                    .map(parseable)
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
                other => parseable(other)?,
            };
            for v in values {
                mapping.insert(v, sev);
            }
        }
        let parse_from = cfg
            .parse_from
            .clone()
            .ok_or_else(|| "missing required field 'parse_from'".to_string())?;
        Ok(SeverityParser {
            parse_from,
            mapping,
            overwrite_text: cfg.overwrite_text,
        })
    }

    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        let v = self.parse_from.get(e).ok_or_else(|| {
            format!(
                "log entry does not have the expected parse_from field {}",
                self.parse_from
            )
        })?;
        let (sev, text) = self.find(v)?;
        e.severity = sev;
        e.severity_text = if self.overwrite_text && sev != 0 {
            default_text(sev).to_string()
        } else {
            text
        };
        Ok(())
    }

    fn find(&self, v: &Value) -> Result<(i32, String), String> {
        let text = match v {
            Value::Int(i) => i.to_string(),
            Value::Double(f) => {
                if f.fract() != 0.0 {
                    return Err("a float cannot be a severity unless it is a whole number".into());
                }
                (*f as i64).to_string()
            }
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => return Err("value of this type cannot be a severity".into()),
        };
        // values are matched lower-cased; most are lower-case ASCII already
        let lower = text
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase());
        let sev = if lower {
            self.mapping.get(text.as_str())
        } else {
            self.mapping.get(&text.to_lowercase())
        };
        let sev = sev.copied().unwrap_or(0);
        Ok((sev, text))
    }
}

/// `trace:` / `trace_parser` keys.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TraceConfig {
    pub trace_id: ParseFromOnly,
    pub span_id: ParseFromOnly,
    pub trace_flags: ParseFromOnly,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ParseFromOnly {
    pub parse_from: Option<Field>,
}

#[derive(Debug, Clone)]
pub struct TraceParser {
    trace_id: Field,
    span_id: Field,
    trace_flags: Field,
}

impl TraceParser {
    pub fn build(cfg: &TraceConfig) -> TraceParser {
        let or =
            |f: &Option<Field>, key: &str| f.clone().unwrap_or_else(|| Field::body().child(key));
        TraceParser {
            trace_id: or(&cfg.trace_id.parse_from, "trace_id"),
            span_id: or(&cfg.span_id.parse_from, "span_id"),
            trace_flags: or(&cfg.trace_flags.parse_from, "trace_flags"),
        }
    }

    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        let mut errs = Vec::new();
        let mut hex_field = |f: &Field, name: &str| -> Option<Vec<u8>> {
            let v = f.get(e)?;
            match decode_hex(&v.to_text()) {
                Ok(b) => Some(b),
                Err(err) => {
                    errs.push(format!("{name}: {err}"));
                    None
                }
            }
        };
        let trace_id = hex_field(&self.trace_id, "trace_id");
        let span_id = hex_field(&self.span_id, "span_id");
        let flags = hex_field(&self.trace_flags, "trace_flags");
        e.trace_id = trace_id;
        e.span_id = span_id;
        e.trace_flags = flags;
        if errs.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "Error decoding traces for logs: {}",
                errs.join("; ")
            ))
        }
    }
}

pub fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() & 1 == 1 {
        return Err("encoding/hex: odd length hex string".into());
    }
    let b = s.as_bytes();
    let val = |c: u8| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!("encoding/hex: invalid byte: {:?}", c as char)),
        }
    };
    b.chunks(2)
        .map(|p| Ok(val(p[0])? << 4 | val(p[1])?))
        .collect()
}

/// `scope_name:` / `scope_name_parser` keys (Go `helper.ScopeNameParser`).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeNameConfig {
    pub parse_from: Option<Field>,
}

#[derive(Debug, Clone)]
pub struct ScopeNameParser {
    parse_from: Field,
}

impl ScopeNameParser {
    pub fn build(cfg: &ScopeNameConfig) -> Result<ScopeNameParser, String> {
        Ok(ScopeNameParser {
            parse_from: cfg
                .parse_from
                .clone()
                .ok_or_else(|| "missing required field 'parse_from'".to_string())?,
        })
    }

    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        match self.parse_from.get(e) {
            Some(Value::Str(s)) => {
                e.scope_name = s.clone();
                Ok(())
            }
            Some(_) => Err("scope_name must be a string".into()),
            None => Err(format!(
                "log entry does not have the expected parse_from field {}",
                self.parse_from
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(yaml: &str) -> SeverityParser {
        let cfg: SeverityConfig = serde_yaml_ng::from_str(yaml).unwrap();
        SeverityParser::build(&cfg).unwrap()
    }

    #[test]
    fn go_default_mapping() {
        let p = parser("parse_from: attributes.level");
        for (v, want) in [
            ("info", 9),
            ("INFO", 9),
            ("warning", 13),
            ("err", 17),
            ("fatal4", 24),
            ("17", 17),
            ("nonsense", 0),
        ] {
            let mut e = crate::entry::EntryData::new(Value::Null, 0);
            e.attributes.insert("level".into(), Value::Str(v.into()));
            p.parse(&mut e).unwrap();
            assert_eq!(e.severity, want, "{v}");
            assert_eq!(e.severity_text, v);
        }
    }

    #[test]
    fn user_mapping_ranges_and_http_classes() {
        let p = parser("parse_from: attributes.status\nmapping:\n  error: 5xx\n  warn: [4xx]\n  info: {min: 200, max: 299}\n");
        for (v, want) in [(503, 17), (404, 13), (200, 9)] {
            let mut e = crate::entry::EntryData::new(Value::Null, 0);
            e.attributes
                .insert("status".into(), Value::Double(v as f64));
            p.parse(&mut e).unwrap();
            assert_eq!(e.severity, want, "{v}");
        }
    }

    #[test]
    fn hex_trace_context() {
        let t = TraceParser::build(&TraceConfig {
            trace_id: ParseFromOnly {
                parse_from: Some(Field::attr("trace_id")),
            },
            ..Default::default()
        });
        let mut e = crate::entry::EntryData::new(Value::Null, 0);
        e.attributes.insert(
            "trace_id".into(),
            Value::Str("0123456789abcdef0123456789abcdef".into()),
        );
        t.parse(&mut e).unwrap();
        assert_eq!(e.trace_id.as_ref().unwrap().len(), 16);
        e.attributes
            .insert("trace_id".into(), Value::Str("zz".into()));
        assert!(t.parse(&mut e).is_err());
    }
}
