//! Which labels a log record's stream gets, and which attributes that takes out of the line.
//!
//! Go facts relied on (`pkg/translator/loki/convert.go`, `logs_to_loki.go`, `utils.go`,
//! `pkg/translator/prometheus/normalize_label.go`):
//! - Default labels, each unless `default_labels_enabled` turns it off: `exporter="OTLP"`;
//!   `job` = `service.namespace/service.name` when both resource attributes exist, else
//!   `service.name` (no `job` with only a namespace); `instance` = `service.instance.id`.
//! - `level`: when the record's severity number is set, the `level` attribute is added to
//!   the `loki.attribute.labels` hint, and the attribute itself is set from the severity
//!   number's name (`INFO`, `WARN2`, ...) unless a `level` attribute already exists.
//! - Hints: `loki.resource.labels` on the resource, then on the record (both name resource
//!   attributes), then `loki.attribute.labels` on the record (names record attributes); each
//!   merged over the labels before it. A hint is a comma-separated string, a list (each
//!   element as text), or any other value as text; each name is trimmed. A name not found as
//!   a key is looked up as a path into map values at its dots.
//! - Label values are the attribute's `AsString()`. Label names are normalized
//!   (`NormalizeLabel`): every character other than a letter or digit becomes `_`, a leading
//!   digit gets `key_` in front, a single leading `_` gets `key` in front.
//! - Every attribute whose name equals a label name (before normalization) is removed from
//!   the record and the resource attributes before the line is written, and so are the hint
//!   attributes `loki.attribute.labels`, `loki.resource.labels`, `loki.tenant`, `loki.format`.
//! - The stream is identified by the label set's text: `{a="x", b="y"}`, names sorted,
//!   values Go-quoted (`model.LabelSet.String()`).
//!
//! Ferrotel differs: label names keep ASCII letters only (Loki's label-name rule), labels
//! with an empty value are left out (an empty label is no label to Loki), a record with no
//! severity number but a severity text gets `level` = that text, and config `labels`,
//! a label limit and a cardinality warning come on top.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use pipeline_api::attrs::AttrMap;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::wire_edit::{ValueRef, WireAttrs};

use super::config::{configured_label_name, Config, DefaultLabelsEnabled};
use crate::debug::gofmt::value_as_string;
use crate::promtranslate::label_name;

pub const HINT_ATTRIBUTES: &str = "loki.attribute.labels";
pub const HINT_RESOURCES: &str = "loki.resource.labels";
pub const HINT_TENANT: &str = "loki.tenant";
pub const HINT_FORMAT: &str = "loki.format";
pub const HINTS: [&str; 4] = [HINT_ATTRIBUTES, HINT_RESOURCES, HINT_TENANT, HINT_FORMAT];

/// Go's `exporter` label value.
pub const EXPORTER_LABEL_VALUE: &str = "OTLP";

/// Go `severityNumberToLevel`, indexed by severity number (1..=24).
const SEVERITY_LEVELS: [&str; 25] = [
    "UNSPECIFIED",
    "TRACE",
    "TRACE2",
    "TRACE3",
    "TRACE4",
    "DEBUG",
    "DEBUG2",
    "DEBUG3",
    "DEBUG4",
    "INFO",
    "INFO2",
    "INFO3",
    "INFO4",
    "WARN",
    "WARN2",
    "WARN3",
    "WARN4",
    "ERROR",
    "ERROR2",
    "ERROR3",
    "ERROR4",
    "FATAL",
    "FATAL2",
    "FATAL3",
    "FATAL4",
];

/// The level name of a severity number, as Go's exporter writes it (`None` for 0 or an
/// unknown number).
pub fn severity_level(number: i32) -> Option<&'static str> {
    usize::try_from(number)
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| SEVERITY_LEVELS.get(n).copied())
}

/// Where a label came from; a later class wins a name conflict, and when the label limit
/// bites the highest classes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// `exporter="OTLP"`: the first to go.
    Exporter,
    /// `job`, `instance`, `level`.
    Default,
    /// `loki.resource.labels` / `loki.attribute.labels`.
    Hint,
    /// `labels.resource`.
    Resource,
    /// `labels.attributes`.
    Attribute,
    /// `labels.static`.
    Static,
}

/// Where an attribute lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Resource,
    Record,
}

/// An attribute a label takes out of the line: `(None, name)` from both maps.
type Removed<'r> = (Option<Source>, Cow<'r, str>);

#[derive(Debug, Clone)]
struct Candidate<'r> {
    value: String,
    class: Class,
    /// The attribute this label takes out of the line when kept: Go's rule (the raw name,
    /// from both maps) for defaults and hints; the source attribute for config labels.
    removes: Option<Removed<'r>>,
}

/// The labels of one record (names borrowed from the rules where they are written there),
/// and what they take out of the line.
#[derive(Debug, Default)]
pub struct RecordLabels<'r> {
    pub labels: BTreeMap<Cow<'r, str>, String>,
    /// Attribute names to leave out of the line.
    pub removed: Vec<Removed<'r>>,
    /// Labels dropped by `max_label_count`, with how many the record had.
    pub truncated: Vec<String>,
    pub wanted: usize,
}

impl RecordLabels<'_> {
    pub fn is_removed(&self, source: Source, key: &str) -> bool {
        HINTS.contains(&key)
            || self
                .removed
                .iter()
                .any(|(s, k)| k.as_ref() == key && s.is_none_or(|s| s == source))
    }
}

/// The label rules of one exporter.
#[derive(Debug, Clone)]
pub struct LabelRules {
    defaults: DefaultLabelsEnabled,
    resource: Vec<(String, String)>,
    attributes: Vec<(String, String)>,
    static_labels: Vec<(String, String)>,
    max: usize,
}

impl LabelRules {
    pub fn new(cfg: &Config) -> LabelRules {
        let pairs = |m: &BTreeMap<String, Option<String>>| {
            m.iter()
                .filter_map(|(a, l)| Some((a.trim().to_string(), configured_label_name(a, l)?)))
                .collect()
        };
        LabelRules {
            defaults: cfg.default_labels_enabled,
            resource: pairs(&cfg.labels.resource),
            attributes: pairs(&cfg.labels.attributes),
            static_labels: cfg
                .labels
                .static_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            max: cfg.max_label_count.max(1),
        }
    }

    /// The labels of `record` under `resource`; `attrs` are the record's attributes (its
    /// own list, or the wire form's).
    pub fn labels<'r, A: Attrs + ?Sized>(
        &'r self,
        resource: &[KeyValue],
        record: &LogRecord,
        attrs: &A,
    ) -> RecordLabels<'r> {
        let mut set: BTreeMap<Cow<'r, str>, Candidate<'r>> = BTreeMap::new();
        let mut put = |name: Cow<'r, str>, value: String, class: Class, removes| {
            if value.is_empty() {
                return;
            }
            set.insert(
                name,
                Candidate {
                    value,
                    class,
                    removes,
                },
            );
        };
        let both = |name: &'static str| Some((None, Cow::Borrowed(name)));

        // Defaults (Go getDefaultLabels).
        if self.defaults.exporter {
            put(
                "exporter".into(),
                EXPORTER_LABEL_VALUE.into(),
                Class::Exporter,
                both("exporter"),
            );
        }
        if self.defaults.job {
            if let Some(name) = get(resource, "service.name") {
                let mut job = value_as_string(Some(&name));
                if let Some(ns) = get(resource, "service.namespace") {
                    job = format!("{}/{job}", value_as_string(Some(&ns)));
                }
                put("job".into(), job, Class::Default, both("job"));
            }
        }
        if self.defaults.instance {
            if let Some(inst) = get(resource, "service.instance.id") {
                put(
                    "instance".into(),
                    value_as_string(Some(&inst)),
                    Class::Default,
                    both("instance"),
                );
            }
        }
        if self.defaults.level {
            let level = if record.severity_number != 0 {
                // Go addLogLevelAttributeAndHint: an existing `level` attribute wins.
                match attrs.last_string("level") {
                    Some(v) => Some(v.into_owned()),
                    None => severity_level(record.severity_number).map(str::to_string),
                }
            } else if !record.severity_text.is_empty() {
                Some(record.severity_text.clone())
            } else {
                None
            };
            if let Some(level) = level {
                put("level".into(), level, Class::Default, both("level"));
            }
        }

        // Hints (Go convertAttributesAndMerge), in Go's merge order.
        let hinted = [
            (get(resource, HINT_RESOURCES), Source::Resource),
            (get(attrs, HINT_RESOURCES), Source::Resource),
            (get(attrs, HINT_ATTRIBUTES), Source::Record),
        ];
        for (hint, from) in hinted {
            let Some(hint) = hint else { continue };
            for attr in hint_names(&hint) {
                let v = match from {
                    Source::Resource => get_nested_string(resource, &attr),
                    Source::Record => get_nested_string(attrs, &attr),
                };
                let Some(v) = v else {
                    continue;
                };
                let Some(name) = label_name(&attr) else {
                    continue;
                };
                put(
                    Cow::Owned(name),
                    v,
                    Class::Hint,
                    Some((None, Cow::Owned(attr))),
                );
            }
        }

        // Config labels: the resource's, then the record's.
        let configured = (self.resource.iter())
            .map(|(a, n)| (a, n, Class::Resource, Source::Resource))
            .chain((self.attributes.iter()).map(|(a, n)| (a, n, Class::Attribute, Source::Record)));
        for (attr, name, class, source) in configured {
            let value = match source {
                Source::Resource => get_nested_string(resource, attr),
                Source::Record => get_nested_string(attrs, attr),
            };
            if let Some(v) = value {
                let removes = Some((Some(source), Cow::Borrowed(attr.as_str())));
                put(Cow::Borrowed(name), v, class, removes);
            }
        }
        for (name, value) in &self.static_labels {
            put(Cow::Borrowed(name), value.clone(), Class::Static, None);
        }

        let mut out = RecordLabels {
            wanted: set.len(),
            ..Default::default()
        };
        let mut order: Vec<(Cow<'r, str>, Candidate<'r>)> = set.into_iter().collect();
        if order.len() > self.max {
            // Highest class first; within a class, by name.
            order.sort_by(|a, b| b.1.class.cmp(&a.1.class).then_with(|| a.0.cmp(&b.0)));
            out.truncated = order
                .drain(self.max..)
                .map(|(n, _)| n.into_owned())
                .collect();
            out.truncated.sort();
        }
        for (name, c) in order {
            out.removed.extend(c.removes);
            out.labels.insert(name, c.value);
        }
        out
    }
}

/// Attributes read by key: a decoded list, or a record's in the wire form (read where they
/// lie, nothing else decoded).
pub trait Attrs {
    /// The value of the last entry of `key` (as a Go map built from the list keeps it).
    fn last(&self, key: &str) -> Option<Cow<'_, AnyValue>>;
    /// That value as text (pdata's `AsString`), borrowed where it is a string.
    fn last_string(&self, key: &str) -> Option<Cow<'_, str>> {
        self.last(key).map(|v| match v {
            Cow::Borrowed(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Cow::Borrowed(s.as_str()),
            v => Cow::Owned(value_as_string(Some(&v))),
        })
    }
}

impl Attrs for [KeyValue] {
    fn last(&self, key: &str) -> Option<Cow<'_, AnyValue>> {
        self.iter()
            .rev()
            .find(|kv| kv.key == key)
            .map(|kv| Cow::Borrowed(kv.value.as_ref().unwrap_or(&EMPTY)))
    }
}

/// The index of the last entry of `key`.
fn last_index(attrs: &WireAttrs<'_>, key: &str) -> Option<usize> {
    (0..attrs.len())
        .rev()
        .find(|&i| attrs.key_bytes(i) == key.as_bytes())
}

impl Attrs for WireAttrs<'_> {
    fn last(&self, key: &str) -> Option<Cow<'_, AnyValue>> {
        last_index(self, key).map(|i| self.value(i))
    }
    fn last_string(&self, key: &str) -> Option<Cow<'_, str>> {
        let i = last_index(self, key)?;
        Some(match self.value_ref(i) {
            ValueRef::Str(s) => Cow::Borrowed(s),
            _ => Cow::Owned(value_as_string(Some(&self.value(i)))),
        })
    }
}

/// The attribute `key` (the last of that name, as a Go map built from the list keeps it).
pub fn get<'a, A: Attrs + ?Sized>(attrs: &'a A, key: &str) -> Option<Cow<'a, AnyValue>> {
    attrs.last(key)
}

static EMPTY: AnyValue = AnyValue { value: None };

/// Names with more dots than this are looked up as keys only: the path search tries every
/// split, which grows as 2^dots, and hint names come from the data.
const MAX_PATH_SEGMENTS: usize = 10;

/// Go `getAttribute`: the key itself, else a path into map values split at dots (the longest
/// leading part that names a map is tried first).
pub fn get_nested<'a, A: Attrs + ?Sized>(attrs: &'a A, name: &str) -> Option<Cow<'a, AnyValue>> {
    get_nested_depth(attrs, name, 0)
}

/// [`get_nested`]'s value as text (pdata's `AsString`).
pub fn get_nested_string<A: Attrs + ?Sized>(attrs: &A, name: &str) -> Option<String> {
    match attrs.last_string(name) {
        Some(s) => Some(s.into_owned()),
        None => get_nested(attrs, name).map(|v| value_as_string(Some(&v))),
    }
}

fn get_nested_depth<'a, A: Attrs + ?Sized>(
    attrs: &'a A,
    name: &str,
    depth: usize,
) -> Option<Cow<'a, AnyValue>> {
    if let Some(v) = attrs.last(name) {
        return Some(v);
    }
    let segments: Vec<&str> = name.split('.').collect();
    let n = segments.len();
    if depth > MAX_PATH_SEGMENTS || n > MAX_PATH_SEGMENTS {
        return None;
    }
    for i in 0..n.saturating_sub(1) {
        let left = segments[..n - i - 1].join(".");
        let right = segments[n - i - 1..].join(".");
        match get_nested_depth(attrs, &left, depth + 1) {
            Some(Cow::Borrowed(AnyValue {
                value: Some(any_value::Value::KvlistValue(map)),
            })) => return get_nested_depth(&map.values[..], &right, depth + 1),
            Some(Cow::Owned(AnyValue {
                value: Some(any_value::Value::KvlistValue(map)),
            })) => {
                return get_nested_depth(&map.values[..], &right, depth + 1)
                    .map(|v| Cow::Owned(v.into_owned()))
            }
            _ => {}
        }
    }
    None
}

/// Go `parseAttributeNames`, each name trimmed; empty names left out.
pub fn hint_names(hint: &AnyValue) -> Vec<String> {
    let names: Vec<String> = match &hint.value {
        Some(any_value::Value::StringValue(s)) => s.split(',').map(str::to_string).collect(),
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter()
            .map(|v| match &v.value {
                // `fmt.Sprintf("%v")` of a raw value: strings as they are.
                Some(any_value::Value::StringValue(s)) => s.clone(),
                _ => value_as_string(Some(v)),
            })
            .collect(),
        _ => vec![value_as_string(Some(hint))],
    };
    names
        .into_iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The string value of attribute `key`, as Go's `Value.Str()` reads it (empty for other
/// types).
pub fn get_str<'a, A: Attrs + ?Sized>(attrs: &'a A, key: &str) -> Option<Cow<'a, str>> {
    Some(match attrs.last(key)? {
        Cow::Borrowed(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        }) => Cow::Borrowed(s.as_str()),
        Cow::Owned(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        }) => Cow::Owned(s),
        _ => Cow::Borrowed(""),
    })
}

/// The stream's label text, as `model.LabelSet.String()` writes it.
pub fn label_string<K: AsRef<str>>(labels: &BTreeMap<K, String>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k.as_ref());
        out.push('=');
        go_quote(v, &mut out);
    }
    out.push('}');
    out
}

/// Go's `strconv.Quote`: `\"`, `\\`, the named escapes, `\xNN` for other ASCII controls and
/// `\uNNNN` for other non-printable characters.
pub fn go_quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Label names tracked at most (attribute names promoted by hints can be anything).
const MAX_TRACKED_LABELS: usize = 1000;

/// Counts distinct values per label over a window, and says once per label when they
/// exceed the limit.
#[derive(Debug)]
pub struct CardinalityGuard {
    max_values: usize,
    window: Duration,
    started: Instant,
    values: HashMap<String, HashSet<u64>>,
    warned: BTreeSet<String>,
}

/// A label whose values exploded: its name, the distinct values seen, and over how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explosion {
    pub label: String,
    pub values: usize,
    pub within: Duration,
}

impl CardinalityGuard {
    pub fn new(max_values: usize, window: Duration, now: Instant) -> CardinalityGuard {
        CardinalityGuard {
            max_values,
            window,
            started: now,
            values: HashMap::new(),
            warned: BTreeSet::new(),
        }
    }

    /// Record one stream's labels; labels that just went over the limit are returned (each
    /// once in the guard's life).
    pub fn observe<K: AsRef<str>>(
        &mut self,
        labels: &BTreeMap<K, String>,
        now: Instant,
    ) -> Vec<Explosion> {
        if self.max_values == 0 {
            return Vec::new();
        }
        if now.saturating_duration_since(self.started) >= self.window {
            self.started = now;
            self.values.clear();
        }
        let mut out = Vec::new();
        for (name, value) in labels {
            let name = name.as_ref();
            if self.warned.contains(name) {
                continue;
            }
            if !self.values.contains_key(name) {
                if self.values.len() >= MAX_TRACKED_LABELS {
                    continue;
                }
                self.values.insert(name.to_string(), Default::default());
            }
            let Some(set) = self.values.get_mut(name) else {
                continue;
            };
            let mut h = DefaultHasher::new();
            value.hash(&mut h);
            set.insert(h.finish());
            if set.len() > self.max_values {
                out.push(Explosion {
                    label: name.to_string(),
                    values: set.len(),
                    within: now.saturating_duration_since(self.started),
                });
                self.values.remove(name);
                self.warned.insert(name.to_string());
            }
        }
        out
    }
}
