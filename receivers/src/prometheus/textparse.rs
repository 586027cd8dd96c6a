//! The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0, parsed by hand.
//!
//! Why not a crate: the Rust crates for this format are either unmaintained
//! (`prometheus-parse`: no OpenMetrics, no exemplars, allocates a regex match per line) or
//! made for producing metrics (`prometheus-client` only encodes). A scrape body is parsed
//! once per target and interval, so the parser is a single pass over the bytes whose
//! samples borrow their names and label values from the body (a value with an escape is
//! the only string it builds), and never panics: anything it does not understand is an
//! error naming the line (Prometheus then fails the scrape: `up` is 0).
//!
//! Rules as Prometheus' `model/textparse` (`promparser.go`, `openmetricsparser.go`):
//! - `# HELP name text` and `# TYPE name type` set a family's metadata; `# UNIT` too in
//!   OpenMetrics; other `#` lines are comments (text format only).
//! - a sample is `name{label="value",...} value [timestamp]`; label values escape `\\`, `\"`
//!   and `\n`; a trailing comma in the label set is allowed; values are Go floats (`NaN`,
//!   `+Inf`, `-Inf` too).
//! - text format timestamps are integer milliseconds; OpenMetrics ones are float seconds,
//!   a sample may carry an exemplar (`# {labels} value [timestamp]`, skipped), and the body
//!   must end with `# EOF`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Which format a body is in (from the response's Content-Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    /// Prometheus `textparse.New`: `application/openmetrics-text` is OpenMetrics, anything
    /// else the text format.
    pub fn from_content_type(ct: &str) -> Format {
        let media = ct.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// A family's type, as declared by `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl MetricType {
    /// Prometheus' name of the type (`model.MetricType`): what `# TYPE` says, `unknown`
    /// for `untyped`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "untyped" | "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }
}

/// The declared metadata of a scrape's families by name. Looked up for every sample (a
/// histogram's samples by their family's name too), so with foldhash (randomly seeded, made
/// for hash tables) rather than SipHash.
pub type MetadataMap = HashMap<String, Metadata, foldhash::fast::RandomState>;

/// A family's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub kind: MetricType,
    pub help: String,
    pub unit: String,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            kind: MetricType::Unknown,
            help: String::new(),
            unit: String::new(),
        }
    }
}

/// One sample as exposed, borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    pub labels: LabelPairs<'a>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A parsed body.
#[derive(Debug, Default)]
pub struct Parsed<'a> {
    pub samples: Vec<Sample<'a>>,
    /// By family name as the `# TYPE`/`# HELP`/`# UNIT` lines name it.
    pub metadata: MetadataMap,
}

/// What was wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 = the body as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Parse a scrape body.
pub fn parse(body: &[u8], format: Format) -> Result<Parsed<'_>, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| ParseError {
        line: 0,
        message: format!("the body is not valid UTF-8 ({e})"),
    })?;
    let mut out = Parsed::default();
    let mut saw_eof = false;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let n = i + 1;
        let last = lines.peek().is_none();
        let err = |m: String| ParseError {
            line: n,
            message: m,
        };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if saw_eof {
            if line.is_empty() && last {
                continue;
            }
            return Err(err("unexpected data after # EOF".into()));
        }
        if format == Format::OpenMetrics {
            if line == "# EOF" {
                saw_eof = true;
                continue;
            }
            if line.is_empty() {
                if last {
                    continue;
                }
                return Err(err("unexpected empty line".into()));
            }
        }
        let trimmed = if format == Format::Text {
            line.trim_start_matches([' ', '\t'])
        } else {
            line
        };
        if trimmed.is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('#') {
            comment(rest, format, &mut out.metadata).map_err(err)?;
            continue;
        }
        let sample = sample(trimmed, format).map_err(err)?;
        out.samples.push(sample);
    }
    if format == Format::OpenMetrics && !saw_eof {
        return Err(ParseError {
            line: 0,
            message: "data does not end with # EOF".into(),
        });
    }
    Ok(out)
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}
fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// Split off a metric name at the start of `s`.
fn metric_name(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.is_empty() || !is_name_start(b[0]) {
        return None;
    }
    let end = b.iter().position(|c| !is_name_char(*c)).unwrap_or(b.len());
    Some((&s[..end], &s[end..]))
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `#` line (without the `#`).
fn comment(rest: &str, format: Format, metadata: &mut MetadataMap) -> Result<(), String> {
    let om = format == Format::OpenMetrics;
    let Some(rest) = rest.strip_prefix(' ') else {
        return if om {
            Err("a comment must be # HELP, # TYPE, # UNIT or # EOF".into())
        } else {
            Ok(())
        };
    };
    let rest = if om {
        rest
    } else {
        rest.trim_start_matches([' ', '\t'])
    };
    let (keyword, after) = match rest.find([' ', '\t']) {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, ""),
    };
    let known = matches!(keyword, "HELP" | "TYPE") || (om && keyword == "UNIT");
    if !known {
        return if om {
            Err(format!("unknown comment keyword {keyword:?}"))
        } else {
            Ok(())
        };
    }
    let after = if om {
        after
    } else {
        after.trim_start_matches([' ', '\t'])
    };
    let (name, tail) =
        metric_name(after).ok_or_else(|| format!("expected a metric name after # {keyword}"))?;
    let tail = match tail.strip_prefix([' ', '\t']) {
        Some(t) => t,
        None if tail.is_empty() => "",
        None => return Err(format!("invalid metric name in # {keyword} line")),
    };
    let entry = metadata.entry(name.to_string()).or_default();
    match keyword {
        "HELP" => entry.help = unescape_help(tail),
        "UNIT" => entry.unit = tail.to_string(),
        _ => {
            let t = if om { tail } else { tail.trim() };
            entry.kind =
                MetricType::parse(t).ok_or_else(|| format!("invalid metric type {t:?}"))?;
        }
    }
    Ok(())
}

/// Label pairs in exposition order; a value is borrowed unless it had an escape. Names are
/// `Cow`s too, with room for a few more pairs, so that the scrape adds the metric name and
/// the target's labels in this vector instead of copying the pairs into another.
pub type LabelPairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// The pairs a label set has room for when it is read: a sample's few labels, and the
/// metric name, `job` and `instance` the scrape adds.
const LABEL_ROOM: usize = 8;

/// Parse a label set starting after `{`; returns the labels and what follows `}`.
fn labels(mut s: &str) -> Result<(LabelPairs<'_>, &str), String> {
    let mut out = Vec::with_capacity(LABEL_ROOM);
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((out, rest));
        }
        let b = s.as_bytes();
        if b.is_empty() {
            return Err("unterminated label set".into());
        }
        if !(b[0].is_ascii_alphabetic() || b[0] == b'_') {
            return Err(format!(
                "invalid label name at {:?}",
                s.chars().take(20).collect::<String>()
            ));
        }
        let end = b
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .unwrap_or(b.len());
        let name = &s[..end];
        s = s[end..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected = after label name {name:?}"))?;
        s = s.trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected a quoted value for label {name:?}"))?;
        let (value, after) = label_value(s, name)?;
        s = after.trim_start_matches([' ', '\t']);
        if out.iter().any(|(k, _)| k == name) {
            return Err(format!("duplicate label name {name:?}"));
        }
        out.push((Cow::Borrowed(name), value));
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(format!(
                "expected , or }} after the value of label {name:?}"
            ));
        }
    }
}

/// A label value after its opening quote, unescaped (`\\`, `\"`, `\n`; any other escape
/// is kept as written), and what follows its closing quote. Borrowed when it has no escape.
fn label_value<'a>(s: &'a str, name: &str) -> Result<(Cow<'a, str>, &'a str), String> {
    let unterminated = || format!("unterminated value of label {name:?}");
    let end = memchr::memchr3(b'"', b'\\', b'\n', s.as_bytes()).ok_or_else(unterminated)?;
    match s.as_bytes()[end] {
        b'"' => return Ok((Cow::Borrowed(&s[..end]), &s[end + 1..])),
        b'\n' => return Err(format!("newline in the value of label {name:?}")),
        _ => {}
    }
    let mut value = String::from(&s[..end]);
    let mut chars = s[end..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Cow::Owned(value), &s[end + i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, o)) => {
                    value.push('\\');
                    value.push(o);
                }
                None => return Err(unterminated()),
            },
            '\n' => return Err(format!("newline in the value of label {name:?}")),
            c => value.push(c),
        }
    }
    Err(unterminated())
}

/// Go `strconv.ParseFloat` for the values exposition formats use.
pub fn parse_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// The fields of `s` between runs of spaces and tabs, read byte by byte (a `char` pattern
/// decodes every character).
fn fields(s: &str) -> impl Iterator<Item = &str> {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while b.get(i).is_some_and(|c| matches!(c, b' ' | b'\t')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(|c| !matches!(c, b' ' | b'\t')) {
            i += 1;
        }
        // both ends are next to an ASCII byte or at an end of `s`
        s.get(start..i).filter(|f| !f.is_empty())
    })
}

fn sample(line: &str, format: Format) -> Result<Sample<'_>, String> {
    let om = format == Format::OpenMetrics;
    let (name, rest) = metric_name(line).ok_or_else(|| {
        format!(
            "expected a metric name, got {:?}",
            line.chars().take(30).collect::<String>()
        )
    })?;
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(r) => labels(r)?,
        None => (Vec::new(), rest),
    };
    // value, optional timestamp, (OpenMetrics) optional exemplar
    let (main, _exemplar) = if om {
        match rest.find(" # ") {
            Some(p) => (&rest[..p], Some(&rest[p + 3..])),
            None => (rest, None),
        }
    } else {
        (rest, None)
    };
    if om && !main.starts_with(' ') {
        return Err(format!("expected a space after the metric {name:?}"));
    }
    let mut fields = fields(main);
    let value_text = fields
        .next()
        .ok_or_else(|| format!("expected a value after metric {name:?}"))?;
    let value = parse_float(value_text)
        .ok_or_else(|| format!("invalid value {value_text:?} for metric {name:?}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) if om => {
            let secs = parse_float(t)
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("invalid timestamp {t:?}"))?;
            Some((secs * 1000.0).round() as i64)
        }
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("invalid timestamp {t:?}"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the sample of {name:?}"));
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// The family a sample belongs to, given the declared metadata: its own name if declared,
/// else its name without a type suffix whose family declares that type.
pub fn family_of<'a>(name: &'a str, metadata: &MetadataMap) -> &'a str {
    if metadata.contains_key(name) {
        return name;
    }
    for suffix in [
        "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
    ] {
        if let Some(base) = name.strip_suffix(suffix) {
            if metadata.contains_key(base) {
                return base;
            }
        }
    }
    name
}
