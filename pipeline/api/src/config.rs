//! Config parsing helpers shared by every component: the YAML tree type, errors with key
//! paths, typed parsing that reports every problem at once with a "did you mean", and the
//! Go duration format.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A config subtree, as loaded from YAML after env expansion and merging.
pub type ConfigValue = serde_yaml_ng::Value;

/// Separator of key paths in messages, as the Go collector writes them.
pub const KEY_DELIMITER: &str = "::";

/// One config problem, with the key path where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: Vec<String>,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        ConfigError {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    /// Put `prefix` in front of this error's path.
    pub fn prefixed(mut self, prefix: &[&str]) -> Self {
        let mut path: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        path.append(&mut self.path);
        self.path = path;
        self
    }

    pub fn path_string(&self) -> String {
        self.path.join(KEY_DELIMITER)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path_string(), self.message)
        }
    }
}

/// Semantic checks of a parsed config (pure: no I/O). Each error carries its key path,
/// relative to the component.
pub trait Validate {
    fn validate(&self) -> Vec<ConfigError> {
        Vec::new()
    }
}

/// Parse a component's config subtree into its typed form, reporting every problem at once.
///
/// serde stops at the first error, so after each error the offending key is removed and the
/// parse is retried; the collected errors are returned together. A scalar where a string is
/// expected (`headers: {x-id: 123}`, or an env value typed as a number) is taken as its text,
/// as the Go collector does. An empty value (`otlp:`) means the defaults.
///
/// When some keys do not parse (an unknown key, a value of the wrong type), the rest is
/// still validated: the section is parsed again without those keys, and what its validation
/// says about other keys is reported with them, so one run lists every problem.
pub fn parse_typed<T: DeserializeOwned + Validate>(
    value: &ConfigValue,
) -> Result<T, Vec<ConfigError>> {
    let (parsed, mut errors) = deserialize_typed::<T>(value, &[]);
    match parsed {
        Some(parsed) if errors.is_empty() => {
            let errors = parsed.validate();
            if errors.is_empty() {
                Ok(parsed)
            } else {
                Err(errors)
            }
        }
        _ => {
            let mut rest = value.clone();
            for e in &errors {
                remove_at(&mut rest, &e.path);
            }
            if let (Some(rest), no_more) = deserialize_typed::<T>(&rest, &[]) {
                if no_more.is_empty() {
                    // a key that failed to parse is not also reported as missing or invalid
                    // (a message about the whole section is kept)
                    let overlaps = |a: &[String], b: &[String]| {
                        a == b
                            || (!a.is_empty()
                                && !b.is_empty()
                                && (a.starts_with(b) || b.starts_with(a)))
                    };
                    let more: Vec<ConfigError> = rest
                        .validate()
                        .into_iter()
                        .filter(|v| !errors.iter().any(|e| overlaps(&e.path, &v.path)))
                        .collect();
                    errors.extend(more);
                }
            }
            errors.sort_by(|a, b| a.path.cmp(&b.path));
            Err(errors)
        }
    }
}

/// Deserialize `T`, collecting every error (see [`parse_typed`]); no validation. `extra_keys`
/// are valid top-level keys beside `T`'s own (those of a squashed section), named in
/// "did you mean".
fn deserialize_typed<T: DeserializeOwned>(
    value: &ConfigValue,
    extra_keys: &[&str],
) -> (Option<T>, Vec<ConfigError>) {
    let mut value = match value {
        ConfigValue::Null => ConfigValue::Mapping(Default::default()),
        v => v.clone(),
    };
    let mut errors = Vec::new();
    // the empty strings made no value (see `empty_as_go_reads_it`), with their own error
    let mut emptied: Vec<(Vec<String>, String)> = Vec::new();
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => return (Some(parsed), errors),
            Err(e) => {
                let path = path_segments(e.path());
                let message = e.inner().to_string();
                if let Some(nested) = squashed_errors(&message) {
                    // A squashed section reported all its errors at once, relative to it.
                    let prefix: Vec<&str> = path.iter().map(String::as_str).collect();
                    errors.extend(nested.into_iter().map(|e| e.prefixed(&prefix)));
                    return (None, errors);
                }
                if wants_string(&message) && stringify_at(&mut value, &path) {
                    continue;
                }
                if empty_as_go_reads_it(&message, &mut value, &path, &mut emptied) {
                    continue;
                }
                // an empty string that fails as no value too: its own error is the one to tell
                let message = match emptied.iter().position(|(p, _)| *p == path) {
                    Some(i) => emptied.swap_remove(i).1,
                    None => message,
                };
                let extra = if path.len() == 1 { extra_keys } else { &[] };
                let (path, message) = friendly(path, &message, extra);
                let removed = remove_at(&mut value, &path);
                errors.push(ConfigError { path, message });
                if !removed {
                    return (None, errors);
                }
            }
        }
    }
    (None, errors)
}

/// The top-level keys of a struct that derives `Deserialize` (its fields as serde names
/// them, skipped ones left out); empty for any other type.
pub fn struct_keys<T: DeserializeOwned>() -> &'static [&'static str] {
    #[derive(Debug)]
    struct Found(Option<&'static [&'static str]>);
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("struct keys")
        }
    }
    impl std::error::Error for Found {}
    impl serde::de::Error for Found {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Found(None)
        }
    }
    struct Probe;
    impl<'de> Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(None))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Found> {
            Err(Found(Some(fields)))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(Some(fields))) => fields,
        _ => &[],
    }
}

/// Marks a message that carries the errors of a squashed section (see
/// [`deserialize_squashed`]); never shown to a user.
const SQUASHED: &str = "\u{1}squashed\u{1}";

fn squashed_message(errors: &[ConfigError]) -> String {
    let mut text = SQUASHED.to_string();
    for e in errors {
        text.push_str(&e.path.join("\u{1f}"));
        text.push('\u{1d}');
        text.push_str(&e.message);
        text.push('\u{1e}');
    }
    text
}

fn squashed_errors(message: &str) -> Option<Vec<ConfigError>> {
    let rest = message.strip_prefix(SQUASHED)?;
    Some(
        rest.split_terminator('\u{1e}')
            .map(|e| {
                let (path, message) = e.split_once('\u{1d}').unwrap_or(("", e));
                ConfigError {
                    path: path
                        .split('\u{1f}')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    message: message.to_string(),
                }
            })
            .collect(),
    )
}

/// Go's `mapstructure:",squash"`: the keys of a shared section `S` (for instance an HTTP
/// client's settings) sit beside the component's own keys `T` in one mapping. The keys `S`
/// declares go to `S`, the rest to `T`; errors keep their key paths, and an unknown key is
/// matched against the keys of both in "did you mean". Use it through [`squashed!`].
pub fn deserialize_squashed<'de, D, S, T>(d: D) -> Result<(S, T), D::Error>
where
    D: Deserializer<'de>,
    S: DeserializeOwned,
    T: DeserializeOwned,
{
    let value = ConfigValue::deserialize(d)?;
    let section_keys = struct_keys::<S>();
    let (section, own) = match value {
        ConfigValue::Mapping(map) => {
            let mut section = serde_yaml_ng::Mapping::new();
            let mut own = serde_yaml_ng::Mapping::new();
            for (k, v) in map {
                if k.as_str().is_some_and(|k| section_keys.contains(&k)) {
                    section.insert(k, v);
                } else {
                    own.insert(k, v);
                }
            }
            (ConfigValue::Mapping(section), ConfigValue::Mapping(own))
        }
        ConfigValue::Null => (ConfigValue::Null, ConfigValue::Null),
        other => (ConfigValue::Null, other),
    };
    let (s, mut errors) = deserialize_typed::<S>(&section, &[]);
    let (t, own_errors) = deserialize_typed::<T>(&own, section_keys);
    errors.extend(own_errors);
    match (s, t) {
        (Some(s), Some(t)) if errors.is_empty() => Ok((s, t)),
        _ => Err(serde::de::Error::custom(squashed_message(&errors))),
    }
}

/// `Deserialize` for a config struct with a squashed section (see [`deserialize_squashed`]):
/// the struct derives `Deserialize` with `#[serde(remote = "Self")]` and marks the section's
/// field `#[serde(skip)]`; `squashed!(Config, http)` then reads the section's keys into
/// `http` and every other key through the derived code.
#[macro_export]
macro_rules! squashed {
    ($config:ty, $field:ident) => {
        impl<'de> ::serde::Deserialize<'de> for $config {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Own($config);
                impl<'de> ::serde::Deserialize<'de> for Own {
                    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        <$config>::deserialize(d).map(Own)
                    }
                }
                let (section, Own(mut config)) =
                    $crate::config::deserialize_squashed::<D, _, Own>(d)?;
                config.$field = section;
                Ok(config)
            }
        }
    };
}

fn path_segments(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect()
}

fn wants_string(message: &str) -> bool {
    message.ends_with("expected a string")
        && (message.starts_with("invalid type: integer")
            || message.starts_with("invalid type: floating point")
            || message.starts_with("invalid type: boolean"))
}

/// Go's reading of an empty value where a scalar is expected: a key written with no value
/// (`timeout:`) decodes to the field's zero value (0, false, "", 0s), and so does a value
/// that is one reference to an unset or empty variable (`${env:UNSET}`, which Go's resolver
/// turns into no value). Here such a reference is an empty string (a string field takes it
/// as one); where it fails as anything else, it becomes no value (an optional field: unset;
/// `emptied` keeps its error, told if no value fails too), and no value where a scalar is
/// expected becomes that scalar's zero. Whether the node was changed.
fn empty_as_go_reads_it(
    message: &str,
    value: &mut ConfigValue,
    path: &[String],
    emptied: &mut Vec<(Vec<String>, String)>,
) -> bool {
    let Some(node) = node_at(value, path) else {
        return false;
    };
    match node {
        ConfigValue::String(s) if s.trim().is_empty() => {
            emptied.push((path.to_vec(), message.to_string()));
            *node = ConfigValue::Null;
            true
        }
        ConfigValue::Null => {
            let Some(expected) = message.strip_prefix("invalid type: unit value, expected ") else {
                return false;
            };
            let zero = match expected {
                "a boolean" => ConfigValue::Bool(false),
                "a string" => ConfigValue::String(String::new()),
                "f32" | "f64" => ConfigValue::Number(0.0.into()),
                "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
                    ConfigValue::Number(0.into())
                }
                // GoDuration: a bare integer is nanoseconds
                e if e.starts_with("a duration") => ConfigValue::Number(0.into()),
                _ => return false,
            };
            *node = zero;
            true
        }
        _ => false,
    }
}

/// Turn serde's wording into the collector's: unknown keys and variants name the nearest
/// valid one.
fn friendly(path: Vec<String>, message: &str, extra_keys: &[&str]) -> (Vec<String>, String) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let mut valid = backticked(expected);
            valid.extend(extra_keys.iter().map(|k| k.to_string()));
            let mut msg = format!("unknown key {field:?}");
            match nearest(field, &valid) {
                Some(n) => msg.push_str(&format!("; did you mean {n:?}?")),
                None if valid.is_empty() => msg.push_str("; this section takes no keys"),
                None => msg.push_str(&format!("; valid keys: {}", valid.join(", "))),
            }
            return (path, msg);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((variant, expected)) = rest.split_once('`') {
            let valid = backticked(expected);
            let mut msg = format!(
                "invalid value {variant:?}; expected one of {}",
                valid.join(", ")
            );
            if let Some(n) = nearest(variant, &valid) {
                msg.push_str(&format!(" (did you mean {n:?}?)"));
            }
            return (path, msg);
        }
    }
    (path, message.to_string())
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

fn node_at<'a>(value: &'a mut ConfigValue, path: &[String]) -> Option<&'a mut ConfigValue> {
    let mut node = value;
    for seg in path {
        node = match node {
            ConfigValue::Mapping(m) => m.get_mut(ConfigValue::String(seg.clone()))?,
            ConfigValue::Sequence(s) => s.get_mut(seg.parse::<usize>().ok()?)?,
            ConfigValue::Tagged(t) => &mut t.value,
            _ => return None,
        };
    }
    Some(node)
}

fn stringify_at(value: &mut ConfigValue, path: &[String]) -> bool {
    let Some(node) = node_at(value, path) else {
        return false;
    };
    let text = match node {
        ConfigValue::Number(n) => n.to_string(),
        ConfigValue::Bool(b) => b.to_string(),
        _ => return false,
    };
    *node = ConfigValue::String(text);
    true
}

fn remove_at(value: &mut ConfigValue, path: &[String]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match node_at(value, parent) {
        Some(ConfigValue::Mapping(m)) => m.remove(ConfigValue::String(last.clone())).is_some(),
        Some(ConfigValue::Sequence(s)) => match last.parse::<usize>() {
            Ok(i) if i < s.len() => {
                s.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// A duration written as Go writes them (`200ms`, `5s`, `1m30s`, `1.5h`); a bare integer is
/// nanoseconds, as Go's `time.Duration` decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub fn from_secs(s: u64) -> Self {
        GoDuration(Duration::from_secs(s))
    }
    pub fn from_millis(ms: u64) -> Self {
        GoDuration(Duration::from_millis(ms))
    }
    pub fn get(self) -> Duration {
        self.0
    }
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Duration {
        d.0
    }
}

/// Parse Go's `time.ParseDuration` format. Negative durations are refused: no key takes one.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {s:?}");
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.starts_with('-') {
        return Err(format!("invalid duration {s:?}: must not be negative"));
    }
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(invalid());
        }
        let num: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration {s:?}: missing unit (use e.g. 5s or 200ms)"
                ))
            }
            u => return Err(format!("invalid duration {s:?}: unknown unit {u:?}")),
        };
        rest = &rest[unit_len..];
        total += num * unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// Format as Go's `Duration.String()` does (`1m30s`, `200ms`, `0s`).
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_float(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_float(nanos as f64 / 1e6));
    }
    let secs = d.as_secs();
    let frac = d.subsec_nanos();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&trim_float(s as f64 + frac as f64 / 1e9));
    out.push('s');
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_go_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 200ms, 5s or 1m30s")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_go_duration(v.trim())
                    .map(GoDuration)
                    .map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::from_nanos(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
                u64::try_from(v)
                    .map(|n| GoDuration(Duration::from_nanos(n)))
                    .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_go_duration(self.0))
    }
}

/// A YAML config value as `pcommon.Value.FromRaw` makes it: integers, floats, strings,
/// booleans, lists (slices) and maps (with keys as text); null becomes the empty value.
/// Integers beyond `i64` wrap, as Go's `int64(uint64)` conversion does.
pub fn any_value_from_config(v: &ConfigValue) -> crate::proto::tonic::common::v1::AnyValue {
    use crate::proto::tonic::common::v1::any_value;
    let value = match v {
        ConfigValue::Null => None,
        ConfigValue::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        ConfigValue::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(any_value::Value::IntValue(i))
            } else if let Some(u) = n.as_u64() {
                Some(any_value::Value::IntValue(u as i64))
            } else {
                Some(any_value::Value::DoubleValue(
                    n.as_f64().unwrap_or(f64::NAN),
                ))
            }
        }
        ConfigValue::String(s) => Some(any_value::Value::StringValue(s.clone())),
        ConfigValue::Sequence(items) => Some(any_value::Value::ArrayValue(
            crate::proto::tonic::common::v1::ArrayValue {
                values: items.iter().map(any_value_from_config).collect(),
            },
        )),
        ConfigValue::Mapping(m) => Some(any_value::Value::KvlistValue(
            crate::proto::tonic::common::v1::KeyValueList {
                values: m
                    .iter()
                    .map(|(k, v)| crate::proto::tonic::common::v1::KeyValue {
                        key: config_key_text(k),
                        value: Some(any_value_from_config(v)),
                        ..Default::default()
                    })
                    .collect(),
            },
        )),
        ConfigValue::Tagged(t) => return any_value_from_config(&t.value),
    };
    crate::proto::tonic::common::v1::AnyValue { value }
}

fn config_key_text(k: &ConfigValue) -> String {
    match k {
        ConfigValue::String(s) => s.clone(),
        ConfigValue::Number(n) => n.to_string(),
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Null => "null".into(),
        other => format!("{other:?}"),
    }
}

/// A key that is present enables its section, even with a null value (then: its defaults),
/// as Go's `configoptional.Optional` does; for `#[serde(deserialize_with = "present")]`.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d).map(|v| Some(v.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        insecure: bool,
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Sample {
        endpoint: String,
        timeout: GoDuration,
        count: u32,
        tls: Inner,
        headers: std::collections::BTreeMap<String, String>,
        mode: Mode,
    }

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        #[default]
        Basic,
        Detailed,
    }

    impl Validate for Sample {
        fn validate(&self) -> Vec<ConfigError> {
            if self.count > 10 {
                vec![ConfigError::new(&["count"], "must be at most 10")]
            } else {
                vec![]
            }
        }
    }

    /// A shared section squashed into `Squashing`.
    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Section {
        endpoint: String,
        tls: Inner,
        count: u32,
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(remote = "Self", default, deny_unknown_fields)]
    struct Squashing {
        #[serde(skip)]
        section: Section,
        mode: Mode,
        limit: i64,
    }

    crate::squashed!(Squashing, section);

    impl Validate for Squashing {
        fn validate(&self) -> Vec<ConfigError> {
            if self.section.count > 10 {
                vec![ConfigError::new(&["count"], "must be at most 10")]
            } else {
                Vec::new()
            }
        }
    }

    /// An unknown key or a bad value does not hide what validation says about the other
    /// keys, plain or squashed; a key that did not parse is not reported twice.
    #[test]
    fn keys_that_do_not_parse_do_not_hide_the_validation_of_the_rest() {
        let text = |errs: Vec<ConfigError>| -> Vec<String> {
            errs.iter().map(|e| e.to_string()).collect()
        };
        let e = text(
            parse_typed::<Sample>(&yaml(
                "count: 11
bogus: 1
mode: x",
            ))
            .unwrap_err(),
        );
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("bogus:"), "{e:?}");
        assert_eq!(e[1], "count: must be at most 10", "{e:?}");
        assert!(e[2].starts_with("mode:"), "{e:?}");
        let e = text(
            parse_typed::<Squashing>(&yaml(
                "count: 11
limt: 2",
            ))
            .unwrap_err(),
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0], "count: must be at most 10", "{e:?}");
        assert!(e[1].starts_with("limt:"), "{e:?}");
        // the bad key itself: one error, not also "must be at most 10" or a default's complaint
        let e = text(
            parse_typed::<Sample>(&yaml(
                "count: many
bogus: 1",
            ))
            .unwrap_err(),
        );
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn struct_keys_are_the_serde_fields() {
        assert_eq!(struct_keys::<Section>(), &["endpoint", "tls", "count"]);
        assert_eq!(struct_keys::<String>(), &[] as &[&str]);
    }

    #[test]
    fn a_squashed_section_takes_its_keys_and_keeps_error_paths() {
        let c: Squashing = parse_typed(&yaml(
            "endpoint: a:1\ntls: {insecure: true}\nmode: detailed\nlimit: 3",
        ))
        .unwrap();
        assert_eq!(c.section.endpoint, "a:1");
        assert!(c.section.tls.insecure);
        assert_eq!(c.mode, Mode::Detailed);
        assert_eq!(c.limit, 3);
        let c: Squashing = parse_typed(&ConfigValue::Null).unwrap();
        assert_eq!(c.section, Section::default());
        // errors of both parts, with their paths, sorted; a typo matches either part's keys
        let errs = parse_typed::<Squashing>(&yaml(
            "endpointx: a\ntls: {insecur: true}\ncount: many\nlimt: 2\nmode: x",
        ))
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 5, "{text:?}");
        assert!(text[0].starts_with("count: invalid type"), "{text:?}");
        assert_eq!(
            text[1],
            "endpointx: unknown key \"endpointx\"; did you mean \"endpoint\"?"
        );
        assert_eq!(
            text[2],
            "limt: unknown key \"limt\"; did you mean \"limit\"?"
        );
        assert!(text[3].starts_with("mode: invalid value \"x\""), "{text:?}");
        assert_eq!(
            text[4],
            "tls::insecur: unknown key \"insecur\"; did you mean \"insecure\"?"
        );
        // validation runs on the whole
        let errs = parse_typed::<Squashing>(&yaml("count: 11")).unwrap_err();
        assert_eq!(errs[0].to_string(), "count: must be at most 10");
        // a count given as text is still taken (scalars become strings only where wanted)
        assert!(parse_typed::<Squashing>(&yaml("[1]")).is_err());
    }

    fn yaml(s: &str) -> ConfigValue {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("200ms").unwrap(),
            Duration::from_millis(200)
        );
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_go_duration("10us").unwrap(),
            Duration::from_micros(10)
        );
        assert!(parse_go_duration("5 s").is_err());
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("s").is_err());
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(format_go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn empty_value_means_defaults() {
        let s: Sample = parse_typed(&ConfigValue::Null).unwrap();
        assert_eq!(s.count, 0);
    }

    #[test]
    fn every_error_at_once_with_paths_and_suggestions() {
        let errs = parse_typed::<Sample>(&yaml(
            "endpiont: x\ntimeout: 5 s\ntls: {insecur: true}\nmode: detialed\n",
        ))
        .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "endpiont: unknown key \"endpiont\"; did you mean \"endpoint\"?",
                "mode: invalid value \"detialed\"; expected one of basic, detailed (did you mean \"detailed\"?)",
                "timeout: invalid duration \"5 s\": unknown unit \" s\"",
                "tls::insecur: unknown key \"insecur\"; did you mean \"insecure\"?",
            ]
        );
    }

    #[test]
    fn scalars_become_strings_where_strings_are_expected() {
        let s: Sample =
            parse_typed(&yaml("endpoint: 4317\nheaders: {x-id: 123, flag: true}\n")).unwrap();
        assert_eq!(s.endpoint, "4317");
        assert_eq!(s.headers["x-id"], "123");
        assert_eq!(s.headers["flag"], "true");
    }

    #[derive(Debug, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Scalars {
        endpoint: String,
        timeout: GoDuration,
        count: u32,
        ratio: f64,
        insecure: bool,
        limit: Option<u64>,
    }

    // defaults that are not zero, so that a zero can be told from a default
    impl Default for Scalars {
        fn default() -> Self {
            Scalars {
                endpoint: "localhost:4317".into(),
                timeout: GoDuration::from_secs(5),
                count: 7,
                ratio: 0.5,
                insecure: true,
                limit: Some(3),
            }
        }
    }

    impl Validate for Scalars {
        fn validate(&self) -> Vec<ConfigError> {
            Vec::new()
        }
    }

    #[test]
    fn an_empty_scalar_is_its_zero_value_as_in_go() {
        for text in [
            "endpoint:\ntimeout:\ncount:\nratio:\ninsecure:\nlimit:\n",
            // a reference to an unset variable, once expanded
            "endpoint: ''\ntimeout: ''\ncount: ''\nratio: ''\ninsecure: ''\nlimit: ''\n",
        ] {
            let s: Scalars = parse_typed(&yaml(text)).unwrap();
            assert_eq!(s.endpoint, "");
            assert_eq!(s.timeout, GoDuration::default());
            assert_eq!(
                (s.count, s.ratio, s.insecure, s.limit),
                (0, 0.0, false, None)
            );
        }
        // an empty string where no value fails too is refused with its own error
        let errs = parse_typed::<Sample>(&yaml("mode: ''\n")).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "mode: invalid value \"\"; expected one of basic, detailed"
        );
        // any other text is still refused, every problem at once
        let errs =
            parse_typed::<Scalars>(&yaml("count: x\ninsecure: 'no'\ntimeout: 5\n")).unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "count: invalid type: string \"x\", expected u32",
                "insecure: invalid type: string \"no\", expected a boolean",
            ]
        );
    }

    #[test]
    fn validate_runs_after_parse() {
        let errs = parse_typed::<Sample>(&yaml("count: 11")).unwrap_err();
        assert_eq!(errs[0].to_string(), "count: must be at most 10");
    }
}
