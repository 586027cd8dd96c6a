//! Metric and label names: OTLP names and units into Prometheus names.
//!
//! Facts relied on (Go `github.com/prometheus/otlptranslator`, used by the collector's
//! `pkg/translator/prometheus` and both Prometheus exporters):
//! - `metric_namer.go normalizeName`: the name is split into tokens at every character other
//!   than `[a-zA-Z0-9:]` (so `_` runs collapse), the unit suffixes are appended unless a token
//!   already equals them, monotonic counters get `total` (other `total` tokens removed), gauges
//!   with unit `1` get `ratio` (other `ratio` tokens removed), the namespace is prepended, the
//!   tokens are joined with `_`, and a leading digit gets a `_` prefix.
//! - `unit_namer.go buildUnitSuffixes`: the unit is split at the first `/`; each part is
//!   trimmed, dropped when empty or when it holds `{` or `}` (annotations such as `{requests}`),
//!   then mapped through `unitMap` / `perUnitMap`; the per part becomes `per_<unit>`.
//!   `cleanUpUnit` turns characters outside `[a-zA-Z0-9:]` into `_`, collapses `_` runs and
//!   trims a leading `_`.
//! - without suffixes (`add_metric_suffixes: false`, `buildCompliantMetricName`'s simple case):
//!   the name is split at characters outside `[a-zA-Z0-9:_]` and joined with `_`; the namespace
//!   is prefixed with `_`; otherwise a leading digit gets a `_` prefix.
//! - a result that is empty or only underscores is an error: the metric is dropped.
//! - `label_namer.go LabelNamer.Build`: characters outside `[a-zA-Z0-9_]` become `_`; a leading
//!   digit gets `key_`, a single leading `_` gets `key` (`__` is kept); empty or
//!   all-underscore results are errors.

/// The OTLP metric kinds the naming rules tell apart (Go `otlptranslator.MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    MonotonicCounter,
    NonMonotonicCounter,
    Histogram,
    ExponentialHistogram,
    Summary,
}

/// Go `unitMap` (`metric_namer.go`) and `wordToUCUM` (`unit_to_ucum.go`): UCUM units and
/// their Prometheus unit words, one table for both directions (Go's `TiBy` word is spelled
/// `tibibytes`). `1` and `ratio` are not pairs: each direction has its own rule for them.
const UNITS: [(&str, &str); 25] = [
    // Time
    ("d", "days"),
    ("h", "hours"),
    ("min", "minutes"),
    ("s", "seconds"),
    ("ms", "milliseconds"),
    ("us", "microseconds"),
    ("ns", "nanoseconds"),
    // Bytes
    ("By", "bytes"),
    ("KiBy", "kibibytes"),
    ("MiBy", "mebibytes"),
    ("GiBy", "gibibytes"),
    ("TiBy", "tibibytes"),
    ("KBy", "kilobytes"),
    ("MBy", "megabytes"),
    ("GBy", "gigabytes"),
    ("TBy", "terabytes"),
    // SI
    ("m", "meters"),
    ("V", "volts"),
    ("A", "amperes"),
    ("J", "joules"),
    ("W", "watts"),
    ("g", "grams"),
    // Misc
    ("Cel", "celsius"),
    ("Hz", "hertz"),
    ("%", "percent"),
];

/// Go `perUnitMap` and `perWordToUCUM`: the unit after `/` and its singular word.
const PER_UNITS: [(&str, &str); 7] = [
    ("s", "second"),
    ("m", "minute"),
    ("h", "hour"),
    ("d", "day"),
    ("w", "week"),
    ("mo", "month"),
    ("y", "year"),
];

/// Go `unitMap`: a UCUM unit's Prometheus unit word.
fn unit_word(unit: &str) -> Option<&'static str> {
    if unit == "1" {
        return Some("");
    }
    UNITS.iter().find(|(u, _)| *u == unit).map(|(_, w)| *w)
}

/// Go `perUnitMap`: the unit after `/`, singular.
fn per_unit_word(unit: &str) -> Option<&'static str> {
    PER_UNITS.iter().find(|(u, _)| *u == unit).map(|(_, w)| *w)
}

/// Go `UnitWordToUCUM`: a Prometheus unit word (`seconds`, `bytes_per_second`) as the UCUM
/// unit of the OTLP metric (`s`, `By/s`); a word it does not know is kept.
pub fn unit_word_to_ucum(unit: &str) -> String {
    let word = |w: &str| -> String {
        if w == "ratio" {
            return "1".into();
        }
        UNITS
            .iter()
            .find(|(_, word)| *word == w)
            .map_or(w, |(u, _)| *u)
            .to_string()
    };
    let per_word = |w: &str| -> String {
        PER_UNITS
            .iter()
            .find(|(_, word)| *word == w)
            .map_or(w, |(u, _)| *u)
            .to_string()
    };
    match unit.split_once("_per_") {
        Some((a, b)) if !b.is_empty() => format!("{}/{}", word(a), per_word(b)),
        Some((a, _)) => word(a),
        None => word(unit),
    }
}

/// Go `buildUnitSuffixes`: (main suffix, per suffix), before clean-up. `s` → (`seconds`, ``),
/// `By/s` → (`bytes`, `per_second`), `{requests}/s` → (``, `per_second`), `1` → (``, ``).
pub fn unit_suffixes(unit: &str) -> (String, String) {
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m, Some(p)),
        None => (unit, None),
    };
    let main = main.trim();
    let mut main_suffix = String::new();
    if !main.is_empty() && !main.contains(['{', '}']) {
        main_suffix = unit_word(main)
            .map(str::to_string)
            .unwrap_or_else(|| main.to_string());
    }
    let mut per_suffix = String::new();
    if let Some(per) = per.filter(|p| !p.is_empty()) {
        let per = per.trim();
        if !per.is_empty() && !per.contains(['{', '}']) {
            let word = per_unit_word(per)
                .map(str::to_string)
                .unwrap_or_else(|| per.to_string());
            if !word.is_empty() {
                per_suffix = format!("per_{word}");
            }
        }
    }
    (main_suffix, per_suffix)
}

/// Go `otlptranslator.UnitNamer.Build` with UTF-8 not allowed: the unit as a Prometheus unit
/// word (`s` → `seconds`, `By/s` → `bytes_per_second`, `{request}` and `1` → empty).
pub fn unit_name(unit: &str) -> String {
    let (main, per) = unit_suffixes(unit);
    let (main, per) = (clean_up_unit(&main), clean_up_unit(&per));
    let joined = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        _ => per,
    };
    let trimmed = joined.strip_prefix('_').unwrap_or(&joined);
    trimmed.strip_suffix('_').unwrap_or(trimmed).to_string()
}

fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// Go `cleanUpUnit`.
fn clean_up_unit(unit: &str) -> String {
    let mapped: String = unit
        .chars()
        .map(|c| if is_metric_char(c) { c } else { '_' })
        .collect();
    let mut out = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.strip_prefix('_').map(str::to_string).unwrap_or(out)
}

/// Tokens of `s` split at characters for which `sep` is true (Go `strings.FieldsFunc`).
fn fields(s: &str, sep: impl Fn(char) -> bool) -> Vec<String> {
    s.split(sep)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Builds Prometheus metric names (Go `otlptranslator.MetricNamer` with UTF-8 not allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricNamer {
    pub namespace: String,
    pub with_suffixes: bool,
}

impl MetricNamer {
    pub fn new(namespace: &str, with_suffixes: bool) -> MetricNamer {
        MetricNamer {
            namespace: namespace.to_string(),
            with_suffixes,
        }
    }

    /// The Prometheus name of an OTLP metric, or `None` when nothing valid is left.
    pub fn build(&self, name: &str, unit: &str, kind: MetricKind) -> Option<String> {
        let out = if self.with_suffixes {
            self.normalize(name, unit, kind)
        } else {
            self.simple(name)
        };
        if out.is_empty() || (out != name && out.chars().all(|c| c == '_')) {
            return None;
        }
        Some(out)
    }

    /// Go `normalizeName`.
    fn normalize(&self, name: &str, unit: &str, kind: MetricKind) -> String {
        let mut tokens = fields(name, |c| !is_metric_char(c));
        let (main, per) = unit_suffixes(unit);
        let (mut main, mut per) = (clean_up_unit(&main), clean_up_unit(&per));
        // Go `addUnitTokens`.
        if tokens.contains(&main) {
            main.clear();
        }
        if per == "per_" {
            per.clear();
        } else {
            if let Some(p) = per.strip_suffix('_') {
                per = p.to_string();
            }
            if tokens.contains(&per) {
                per.clear();
            }
        }
        if !per.is_empty() {
            if let Some(m) = main.strip_suffix('_') {
                main = m.to_string();
            }
        }
        if !main.is_empty() {
            tokens.push(main);
        }
        if !per.is_empty() {
            tokens.push(per);
        }
        if kind == MetricKind::MonotonicCounter {
            tokens.retain(|t| t != "total");
            tokens.push("total".into());
        }
        // Go: `_ratio` for gauges with unit "1" only (some receivers misuse "1" on counters).
        if unit == "1" && kind == MetricKind::Gauge {
            tokens.retain(|t| t != "ratio");
            tokens.push("ratio".into());
        }
        // Go prepends the namespace as given; Ferrotel sanitizes it the same way as the name,
        // so a namespace such as `test-space` cannot make every name invalid.
        let ns = fields(&self.namespace, |c| !is_metric_char(c)).join("_");
        if !ns.is_empty() {
            tokens.insert(0, ns);
        }
        let mut out = tokens.join("_");
        if out.starts_with(|c: char| c.is_ascii_digit()) {
            out.insert(0, '_');
        }
        out
    }

    /// Go's simple case (no suffixes).
    fn simple(&self, name: &str) -> String {
        let invalid = |c: char| !(is_metric_char(c) || c == '_');
        let metric = fields(name, invalid).join("_");
        let ns = fields(&self.namespace, invalid).join("_");
        if !ns.is_empty() {
            return format!("{ns}_{metric}");
        }
        if metric.starts_with(|c: char| c.is_ascii_digit()) {
            return format!("_{metric}");
        }
        metric
    }
}

/// A Prometheus label name for an OTLP attribute key (Go `LabelNamer.Build`), or `None`
/// when nothing valid is left.
pub fn label_name(key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out: String = if key.is_ascii() {
        // one byte a character: replaced in place
        let mut bytes = key.as_bytes().to_vec();
        for b in &mut bytes {
            if !valid(*b as char) {
                *b = b'_';
            }
        }
        String::from_utf8(bytes).unwrap_or_default()
    } else {
        key.chars()
            .map(|c| if valid(c) { c } else { '_' })
            .collect()
    };
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    if out != key && out.chars().all(|c| c == '_') {
        return None;
    }
    Some(out)
}

/// Whether `name` is a valid classic Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
