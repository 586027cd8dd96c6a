//! `include` / `exclude` matching shared by processors, as Go's `internal/filter`
//! (`filterconfig.MatchConfig`, `filterset`, `filtermatcher`, `filterspan`, `filterlog`,
//! `filtermetric`).
//!
//! Go facts this follows:
//! - an item is skipped when `include` is set and does not match, or `exclude` is set and
//!   matches (include is checked first);
//! - within one `MatchProperties` every configured property must match (AND); within a
//!   list of strings any entry may match (OR); `attributes` and `resources` need every
//!   listed key (with its value when one is given);
//! - `match_type` is `strict` (equality) or `regexp` (RE2, unanchored `MatchString`), and
//!   must be set wherever a filter is built (`unrecognized match_type: ''`);
//! - strict attribute values must have the same type and value; regexp attribute values
//!   must be strings in the config, and match attribute values that are strings,
//!   booleans, integers or doubles (in Go's text form);
//! - the service name is the resource's `service.name` as text, `<nil-service-name>` when
//!   absent; span kinds are compared as `SPAN_KIND_SERVER`-style names;
//! - log bodies are compared as `Body().AsString()`; `log_severity_number` matches
//!   records at or above `min`, and undefined severity (0) only with `match_undefined`;
//! - libraries (the bridge Go uses today): any listed name matches, and when versions are
//!   listed, any listed version matches;
//! - spans reject log fields, logs reject `services`, `span_names`, `span_kinds`, and both
//!   need at least one property; metrics use only `metric_names` and `resources`.

use std::collections::HashSet;

use pipeline_api::config::{ConfigError, ConfigValue};
use pipeline_api::proto::tonic::common::v1::any_value::Value;
use pipeline_api::proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::proto::tonic::trace::v1::Span;
use pipeline_api::Signal;
use regex::Regex;
use serde::{Deserialize, Deserializer};

use crate::attraction::value;

/// `include` and `exclude` (Go `filterconfig.MatchConfig`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchConfig {
    pub include: Option<MatchProperties>,
    pub exclude: Option<MatchProperties>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    Strict,
    Regexp,
}

/// Go `regexp.Config`: accepted for compatibility; matching is fast enough without a
/// result cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegexpConfig {
    pub cacheenabled: bool,
    pub cachemaxnumentries: i64,
}

/// Go `filterconfig.MatchProperties`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchProperties {
    pub match_type: Option<MatchType>,
    pub regexp: Option<RegexpConfig>,
    pub services: Vec<String>,
    pub span_names: Vec<String>,
    pub span_kinds: Vec<String>,
    pub log_bodies: Vec<String>,
    pub log_severity_texts: Vec<String>,
    pub log_severity_number: Option<LogSeverityNumber>,
    pub metric_names: Vec<String>,
    pub attributes: Vec<AttributeMatch>,
    pub resources: Vec<AttributeMatch>,
    pub libraries: Vec<Library>,
}

/// `{key, value}`: without a value, only the key must exist.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeMatch {
    pub key: String,
    pub value: Option<ConfigValue>,
}

/// `{name, version}`: without a version, any version matches; an empty version matches
/// only an empty one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Library {
    pub name: String,
    pub version: Option<String>,
}

/// Go `LogSeverityNumberMatchProperties`. `min` is the OTLP severity number; the names
/// `TRACE`..`FATAL4` (any case) are accepted as well.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSeverityNumber {
    #[serde(deserialize_with = "severity")]
    pub min: i32,
    pub match_undefined: bool,
}

const SEVERITY_NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn severity<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    use serde::de::Error;
    let v = ConfigValue::deserialize(d)?;
    match &v {
        ConfigValue::Number(n) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| D::Error::custom(format!("invalid severity number {n}"))),
        ConfigValue::String(s) => {
            let up = s.to_ascii_uppercase();
            for (i, name) in SEVERITY_NAMES.iter().enumerate() {
                if let Some(rest) = up.strip_prefix(name) {
                    let step = match rest {
                        "" => 0,
                        "2" => 1,
                        "3" => 2,
                        "4" => 3,
                        _ => continue,
                    };
                    return Ok(i as i32 * 4 + 1 + step);
                }
            }
            if let Ok(n) = s.parse::<i32>() {
                return Ok(n);
            }
            Err(D::Error::custom(format!(
                "invalid severity {s:?}; expected a number or one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"
            )))
        }
        _ => Err(D::Error::custom("expected a severity number or name")),
    }
}

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

/// Go `traceutil.SpanKindStr`.
pub fn span_kind_str(kind: i32) -> &'static str {
    usize::try_from(kind)
        .ok()
        .and_then(|k| SPAN_KINDS.get(k))
        .copied()
        .unwrap_or("")
}

impl MatchConfig {
    /// Checks valid for every signal: patterns compile, regexp attribute values are
    /// strings, attribute keys are set. Paths relative to the component.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (name, mp) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(mp) = mp {
                errors.extend(mp.validate().into_iter().map(|e| e.prefixed(&[name])));
            }
        }
        errors
    }

    /// The skip test for `signal`, or a message for what this signal does not accept
    /// (Go reports these when the pipeline is built).
    pub fn build(&self, signal: Signal) -> Result<SkipExpr, String> {
        let side = |name: &str, mp: &Option<MatchProperties>| -> Result<Option<Matcher>, String> {
            match mp {
                None => Ok(None),
                Some(mp) => mp.build(signal).map_err(|e| format!("{name}: {e}")),
            }
        };
        let include = side("include", &self.include)?;
        let exclude = side("exclude", &self.exclude)?;
        let mut keys: Vec<String> = [&include, &exclude]
            .into_iter()
            .flatten()
            .flat_map(|m| m.attributes.iter().map(|a| a.key.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(SkipExpr {
            include,
            exclude,
            keys,
        })
    }
}

impl MatchProperties {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let regexp = self.match_type == Some(MatchType::Regexp);
        if regexp {
            for (field, list) in [
                ("services", &self.services),
                ("span_names", &self.span_names),
                ("span_kinds", &self.span_kinds),
                ("log_bodies", &self.log_bodies),
                ("log_severity_texts", &self.log_severity_texts),
                ("metric_names", &self.metric_names),
            ] {
                for (i, p) in list.iter().enumerate() {
                    if let Err(e) = Regex::new(p) {
                        errors.push(ConfigError::new(
                            &[field, &i.to_string()],
                            format!("invalid regexp {p:?}: {}", one_line(&e.to_string())),
                        ));
                    }
                }
            }
            for (i, lib) in self.libraries.iter().enumerate() {
                let idx = i.to_string();
                if let Err(e) = Regex::new(&lib.name) {
                    errors.push(ConfigError::new(
                        &["libraries", &idx, "name"],
                        format!(
                            "invalid regexp {:?}: {}",
                            lib.name,
                            one_line(&e.to_string())
                        ),
                    ));
                }
                if let Some(v) = &lib.version {
                    if let Err(e) = Regex::new(v) {
                        errors.push(ConfigError::new(
                            &["libraries", &idx, "version"],
                            format!("invalid regexp {v:?}: {}", one_line(&e.to_string())),
                        ));
                    }
                }
            }
        }
        for (field, list) in [
            ("attributes", &self.attributes),
            ("resources", &self.resources),
        ] {
            for (i, a) in list.iter().enumerate() {
                if let Err(msg) = AttrMatcher::new(self.match_type, a) {
                    errors.push(ConfigError::new(&[field, &i.to_string()], msg));
                }
            }
        }
        if self.match_type == Some(MatchType::Strict) && !self.span_kinds.is_empty() {
            for (i, k) in self.span_kinds.iter().enumerate() {
                if !SPAN_KINDS[1..].contains(&k.as_str()) {
                    let mut valid: Vec<&str> = SPAN_KINDS[1..].to_vec();
                    valid.sort_unstable();
                    errors.push(ConfigError::new(
                        &["span_kinds", &i.to_string()],
                        format!(
                            "span_kinds string must match one of the standard span kinds when match_type=strict: [{}]",
                            valid.join(" ")
                        ),
                    ));
                }
            }
        }
        errors
    }

    fn build(&self, signal: Signal) -> Result<Option<Matcher>, String> {
        match signal {
            Signal::Traces => {
                if !self.log_bodies.is_empty() {
                    return Err("log_bodies should not be specified for trace spans".into());
                }
                if !self.log_severity_texts.is_empty() {
                    return Err("log_severity_texts should not be specified for trace spans".into());
                }
                if self.log_severity_number.is_some() {
                    return Err(
                        "log_severity_number should not be specified for trace spans".into(),
                    );
                }
                if self.services.is_empty()
                    && self.span_names.is_empty()
                    && self.attributes.is_empty()
                    && self.libraries.is_empty()
                    && self.resources.is_empty()
                    && self.span_kinds.is_empty()
                {
                    return Err("at least one of \"attributes\", \"libraries\",  or \"resources\" field must be specified".into());
                }
            }
            Signal::Logs => {
                if !self.span_names.is_empty()
                    || !self.services.is_empty()
                    || !self.span_kinds.is_empty()
                {
                    return Err(
                        "services, span_names, and span_kinds are not valid for log records".into(),
                    );
                }
                if self.attributes.is_empty()
                    && self.libraries.is_empty()
                    && self.resources.is_empty()
                    && self.log_bodies.is_empty()
                    && self.log_severity_texts.is_empty()
                    && self.log_severity_number.is_none()
                {
                    return Err("at least one of \"attributes\", \"libraries\", \"span_kinds\", \"resources\", \"log_bodies\", \"log_severity_texts\" or \"log_severity_number\" field must be specified".into());
                }
            }
            Signal::Metrics => {
                // Go filtermetric: only metric names and resource attributes; nothing
                // configured means no filter. Without match_type, names are compared
                // strictly.
                if self.metric_names.is_empty() && self.resources.is_empty() {
                    return Ok(None);
                }
                let mt = self.match_type.unwrap_or(MatchType::Strict);
                return Ok(Some(Matcher {
                    metric_names: StringSet::new(mt, &self.metric_names)?,
                    resources: attr_matchers(Some(mt), &self.resources)?,
                    ..Matcher::default()
                }));
            }
        }
        let mt = self.match_type.ok_or_else(|| {
            "unrecognized match_type: '', valid types are: [regexp strict]".to_string()
        })?;
        let mut lib_names = Vec::new();
        let mut lib_versions = Vec::new();
        for lib in &self.libraries {
            lib_names.push(lib.name.clone());
            if let Some(v) = &lib.version {
                lib_versions.push(v.clone());
            }
        }
        Ok(Some(Matcher {
            services: StringSet::new(mt, &self.services)?,
            span_names: StringSet::new(mt, &self.span_names)?,
            span_kinds: StringSet::new(mt, &self.span_kinds)?,
            log_bodies: StringSet::new(mt, &self.log_bodies)?,
            log_severity_texts: StringSet::new(mt, &self.log_severity_texts)?,
            severity: self
                .log_severity_number
                .as_ref()
                .map(|s| (s.min, s.match_undefined)),
            metric_names: None,
            lib_names: StringSet::new(mt, &lib_names)?,
            lib_versions: StringSet::new(mt, &lib_versions)?,
            attributes: attr_matchers(Some(mt), &self.attributes)?,
            resources: attr_matchers(Some(mt), &self.resources)?,
        }))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn attr_matchers(
    mt: Option<MatchType>,
    list: &[AttributeMatch],
) -> Result<Vec<AttrMatcher>, String> {
    list.iter().map(|a| AttrMatcher::new(mt, a)).collect()
}

/// A list of strings or patterns; `None` where nothing is configured (always matches).
#[derive(Debug, Clone)]
enum StringSet {
    Strict(HashSet<String>),
    Regexp(Vec<Regex>),
}

impl StringSet {
    fn new(mt: MatchType, items: &[String]) -> Result<Option<StringSet>, String> {
        if items.is_empty() {
            return Ok(None);
        }
        Ok(Some(match mt {
            MatchType::Strict => StringSet::Strict(items.iter().cloned().collect()),
            MatchType::Regexp => StringSet::Regexp(
                items
                    .iter()
                    .map(|p| Regex::new(p).map_err(|e| format!("invalid regexp {p:?}: {e}")))
                    .collect::<Result<_, _>>()?,
            ),
        }))
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            StringSet::Strict(set) => set.contains(s),
            StringSet::Regexp(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

fn set_matches(set: &Option<StringSet>, s: &str) -> bool {
    set.as_ref().is_none_or(|set| set.matches(s))
}

#[derive(Debug, Clone)]
enum AttrValueMatch {
    Exists,
    Strict(AnyValue),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
struct AttrMatcher {
    key: String,
    value: AttrValueMatch,
}

impl AttrMatcher {
    fn new(mt: Option<MatchType>, a: &AttributeMatch) -> Result<AttrMatcher, String> {
        if a.key.is_empty() {
            return Err("can't have empty key in the list of attributes".into());
        }
        let value = match &a.value {
            None => AttrValueMatch::Exists,
            Some(raw) => {
                let v = value::from_config(raw);
                match mt {
                    Some(MatchType::Regexp) => match &v.value {
                        Some(Value::StringValue(p)) => {
                            AttrValueMatch::Regexp(Regex::new(p).map_err(|e| {
                                format!("invalid regexp {p:?}: {}", one_line(&e.to_string()))
                            })?)
                        }
                        _ => {
                            return Err(format!(
                                "match_type=regexp for {:?} only supports Str, but found {}",
                                a.key,
                                value::type_name(&v)
                            ))
                        }
                    },
                    // Without match_type the value is kept as given; the missing
                    // match_type itself is reported where the filter is built.
                    _ => AttrValueMatch::Strict(v),
                }
            }
        };
        Ok(AttrMatcher {
            key: a.key.clone(),
            value,
        })
    }

    fn matches(&self, attrs: &[KeyValue]) -> bool {
        let Some(v) = value::get(attrs, &self.key) else {
            return false;
        };
        match &self.value {
            AttrValueMatch::Exists => true,
            AttrValueMatch::Strict(want) => value::same_value(want, v),
            AttrValueMatch::Regexp(re) => match attribute_string_value(v) {
                Some(s) => re.is_match(&s),
                None => false,
            },
        }
    }
}

/// Go `attributeStringValue`: strings, booleans, doubles ('f' format) and integers.
fn attribute_string_value(v: &AnyValue) -> Option<String> {
    match value::kind(v) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        Some(Value::BoolValue(b)) => Some(b.to_string()),
        Some(Value::DoubleValue(d)) => Some(value::go_format_float_f(*d)),
        Some(Value::IntValue(i)) => Some(i.to_string()),
        _ => None,
    }
}

/// Go `AttributesMatcher.Match`: no matchers matches; otherwise an empty map does not,
/// and every matcher must match.
fn attrs_match(matchers: &[AttrMatcher], attrs: &[KeyValue]) -> bool {
    if matchers.is_empty() {
        return true;
    }
    if attrs.is_empty() {
        return false;
    }
    matchers.iter().all(|m| m.matches(attrs))
}

/// One compiled `MatchProperties`.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    services: Option<StringSet>,
    span_names: Option<StringSet>,
    span_kinds: Option<StringSet>,
    log_bodies: Option<StringSet>,
    log_severity_texts: Option<StringSet>,
    severity: Option<(i32, bool)>,
    metric_names: Option<StringSet>,
    lib_names: Option<StringSet>,
    lib_versions: Option<StringSet>,
    attributes: Vec<AttrMatcher>,
    resources: Vec<AttrMatcher>,
}

impl Matcher {
    fn scope_and_resource(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
    ) -> bool {
        let (name, version) = scope
            .map(|s| (s.name.as_str(), s.version.as_str()))
            .unwrap_or(("", ""));
        if !set_matches(&self.lib_names, name) || !set_matches(&self.lib_versions, version) {
            return false;
        }
        self.resources.is_empty() || attrs_match(&self.resources, resource)
    }

    pub fn matches_span(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        if let Some(set) = &self.services {
            let service = value::get(resource, "service.name")
                .map(value::as_string)
                .unwrap_or_else(|| "<nil-service-name>".to_string());
            if !set.matches(&service) {
                return false;
            }
        }
        if !set_matches(&self.span_names, &span.name)
            || !set_matches(&self.span_kinds, span_kind_str(span.kind))
        {
            return false;
        }
        self.scope_and_resource(resource, scope) && attrs_match(&self.attributes, &span.attributes)
    }

    pub fn matches_log(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        log: &LogRecord,
    ) -> bool {
        if let Some(set) = &self.log_bodies {
            let body = log.body.as_ref().map(value::as_string).unwrap_or_default();
            if !set.matches(&body) {
                return false;
            }
        }
        if !set_matches(&self.log_severity_texts, &log.severity_text) {
            return false;
        }
        if let Some((min, match_undefined)) = self.severity {
            let matched = if log.severity_number == 0 {
                match_undefined
            } else {
                log.severity_number >= min
            };
            if !matched {
                return false;
            }
        }
        self.scope_and_resource(resource, scope) && attrs_match(&self.attributes, &log.attributes)
    }

    pub fn matches_metric(&self, resource: &[KeyValue], metric_name: &str) -> bool {
        set_matches(&self.metric_names, metric_name)
            && (self.resources.is_empty() || attrs_match(&self.resources, resource))
    }
}

/// Go's skip expression: true when an item must not be processed.
#[derive(Debug, Clone, Default)]
pub struct SkipExpr {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
    /// The item attributes the matchers read (each by its first entry).
    keys: Vec<String>,
}

impl SkipExpr {
    pub fn is_noop(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    fn skip(&self, f: impl Fn(&Matcher) -> bool) -> bool {
        if let Some(inc) = &self.include {
            if !f(inc) {
                return true;
            }
        }
        self.exclude.as_ref().is_some_and(f)
    }

    pub fn skip_span(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        self.skip(|m| m.matches_span(resource, scope, span))
    }

    pub fn skip_log(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        log: &LogRecord,
    ) -> bool {
        self.skip(|m| m.matches_log(resource, scope, log))
    }

    /// The item attributes the matchers read, each by its first entry: over an item in the
    /// wire form, the entries to lend it for the test (`ItemRef::with_entries`; a list
    /// without them reads as an empty one, which `attrs_match` refuses alike).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(String::as_str)
    }

    pub fn skip_metric(&self, resource: &[KeyValue], metric_name: &str) -> bool {
        self.skip(|m| m.matches_metric(resource, metric_name))
    }
}
