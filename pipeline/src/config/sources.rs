//! Config sources (`--config` values and `--set`), deep merge, and environment expansion,
//! as the Go collector's confmap resolver does them.

use pipeline_api::config::{ConfigError, ConfigValue};
use serde_yaml_ng::Mapping;

/// Where config text comes from.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn read_file(&self, path: &str) -> std::io::Result<String>;
}

/// The process environment and file system.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read_file(&self, path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// The outcome of resolving the sources: the merged, expanded tree, plus warnings.
#[derive(Debug)]
pub struct Resolved {
    pub tree: ConfigValue,
    pub warnings: Vec<String>,
}

/// Turn `--set a.b.c=v` into a `yaml:` source, exactly as Go's `otelcol/flags.go` does
/// (dots become the `::` key delimiter; the value is YAML).
pub fn set_flag_to_source(set: &str) -> Result<String, String> {
    let (key, value) = set
        .split_once('=')
        .ok_or_else(|| format!("--set {set:?}: missing equal sign"))?;
    Ok(format!(
        "yaml:{}: {}",
        key.trim().replace('.', "::"),
        value.trim()
    ))
}

/// Load every source in order, deep-merge them (maps merged, lists replaced, later wins),
/// then expand `${...}` references in string values.
pub fn resolve(sources: &[String], env: &dyn Environment) -> Result<Resolved, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut tree = ConfigValue::Mapping(Mapping::new());
    for source in sources {
        match load_source(source, env) {
            Ok(v) => merge(&mut tree, split_keys(v)),
            Err(e) => errors.push(ConfigError::new(&[], e)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = Vec::new();
    let mut path = Vec::new();
    expand_tree(&mut tree, env, &mut path, &mut errors, &mut warnings);
    if errors.is_empty() {
        Ok(Resolved { tree, warnings })
    } else {
        Err(errors)
    }
}

fn load_source(source: &str, env: &dyn Environment) -> Result<ConfigValue, String> {
    let (scheme, rest) = match source.split_once(':') {
        // a Windows drive letter or a plain path is a file
        Some((s, r))
            if s.len() > 1
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.') =>
        {
            (s, r)
        }
        _ => ("file", source),
    };
    let (text, what) = match scheme {
        "file" => (
            env.read_file(rest)
                .map_err(|e| format!("cannot read config file {rest:?}: {e}"))?,
            format!("config file {rest:?}"),
        ),
        "env" => (
            env.var(rest).ok_or_else(|| {
                format!("config source env:{rest}: environment variable {rest} is not set")
            })?,
            format!("environment variable {rest}"),
        ),
        "yaml" => (rest.to_string(), format!("yaml source {rest:?}")),
        other => {
            return Err(format!(
            "config source {source:?}: unsupported scheme {other:?} (supported: file, env, yaml)"
        ))
        }
    };
    let value: ConfigValue =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("cannot parse {what} as YAML: {e}"))?;
    match value {
        ConfigValue::Null => Ok(ConfigValue::Mapping(Mapping::new())),
        v @ ConfigValue::Mapping(_) => Ok(v),
        _ => Err(format!("{what}: the top level must be a map of keys")),
    }
}

/// Keys written with the `::` delimiter (`processors::batch::timeout`) become nested maps.
fn split_keys(value: ConfigValue) -> ConfigValue {
    match value {
        ConfigValue::Mapping(m) => {
            let mut out = ConfigValue::Mapping(Mapping::new());
            for (k, v) in m {
                let v = split_keys(v);
                let nested = match &k {
                    ConfigValue::String(s) if s.contains("::") => {
                        s.rsplit("::").fold(v, |acc, part| {
                            let mut m = Mapping::new();
                            m.insert(ConfigValue::String(part.to_string()), acc);
                            ConfigValue::Mapping(m)
                        })
                    }
                    _ => {
                        let mut m = Mapping::new();
                        m.insert(k, v);
                        ConfigValue::Mapping(m)
                    }
                };
                merge(&mut out, nested);
            }
            out
        }
        ConfigValue::Sequence(s) => ConfigValue::Sequence(s.into_iter().map(split_keys).collect()),
        v => v,
    }
}

/// Deep merge: maps are merged key by key, anything else (lists included) is replaced.
/// A null value for an existing key keeps the map (as `otlp:` under `receivers` does in Go).
pub fn merge(base: &mut ConfigValue, over: ConfigValue) {
    match (base, over) {
        (ConfigValue::Mapping(b), ConfigValue::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (ConfigValue::Mapping(_), ConfigValue::Null) => {}
        (b, o) => *b = o,
    }
}

fn expand_tree(
    value: &mut ConfigValue,
    env: &dyn Environment,
    path: &mut Vec<String>,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) {
    match value {
        ConfigValue::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                path.push(key_text(k));
                expand_tree(v, env, path, errors, warnings);
                path.pop();
            }
        }
        ConfigValue::Sequence(s) => {
            for (i, v) in s.iter_mut().enumerate() {
                path.push(i.to_string());
                expand_tree(v, env, path, errors, warnings);
                path.pop();
            }
        }
        ConfigValue::String(s) if s.contains('$') => match expand_string(s, env, warnings) {
            Ok(Expanded::Text(t)) => *s = t,
            Ok(Expanded::Value(v)) => *value = v,
            Err(e) => errors.push(ConfigError {
                path: path.clone(),
                message: e,
            }),
        },
        _ => {}
    }
}

fn key_text(k: &ConfigValue) -> String {
    match k {
        ConfigValue::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[derive(Debug, PartialEq)]
pub enum Expanded {
    /// The string had text around its references: it stays a string.
    Text(String),
    /// The whole string was one reference: its value is typed as YAML (`8080` an int).
    Value(ConfigValue),
}

/// Expand `${env:VAR}`, `${VAR}`, `${env:VAR:-default}` and `$$` in one string value.
/// A bare `$VAR` is left as it is (the Go collector no longer expands it).
pub fn expand_string(
    s: &str,
    env: &dyn Environment,
    warnings: &mut Vec<String>,
) -> Result<Expanded, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut references = 0;
    let mut whole: Option<String> = None;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("unterminated reference in {s:?}: missing '}}'"))?;
            let value = lookup(&inner[..end], env, warnings)?;
            references += 1;
            if pos == 0 && rest.len() == s.len() && end + 3 == s.len() {
                whole = Some(value.clone());
            }
            out.push_str(&value);
            rest = &inner[end + 1..];
            continue;
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    if let (1, Some(v)) = (references, whole) {
        let typed: ConfigValue =
            serde_yaml_ng::from_str(&v).unwrap_or(ConfigValue::String(v.clone()));
        return Ok(match typed {
            // an empty variable is an empty string, not null
            ConfigValue::Null if !v.trim().is_empty() && v.trim() != "~" && v.trim() != "null" => {
                Expanded::Value(ConfigValue::String(v))
            }
            ConfigValue::Null if v.is_empty() => {
                Expanded::Value(ConfigValue::String(String::new()))
            }
            t => Expanded::Value(t),
        });
    }
    Ok(Expanded::Text(out))
}

fn lookup(
    reference: &str,
    env: &dyn Environment,
    warnings: &mut Vec<String>,
) -> Result<String, String> {
    let (scheme, body) = match reference.split_once(':') {
        Some((scheme, body))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (scheme, body)
        }
        _ => ("env", reference),
    };
    if scheme != "env" {
        return Err(format!(
            "reference ${{{reference}}}: unsupported scheme {scheme:?} (supported: env)"
        ));
    }
    let (name, default) = match body.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (body, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "environment variable {name:?} has invalid name: must match ^[a-zA-Z_][a-zA-Z0-9_]*$"
        ));
    }
    match (env.var(name), default) {
        (Some(v), _) if !v.is_empty() || default.is_none() => Ok(v),
        (_, Some(d)) => Ok(d.to_string()),
        (None, None) => {
            warnings.push(format!(
                "Configuration references unset environment variable {name:?}; using an empty value"
            ));
            Ok(String::new())
        }
        (Some(v), None) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    pub struct FakeEnv {
        pub vars: HashMap<String, String>,
        pub files: HashMap<String, String>,
    }

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn read_file(&self, path: &str) -> std::io::Result<String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        }
    }

    fn env() -> FakeEnv {
        let mut e = FakeEnv::default();
        e.vars.insert("PORT".into(), "4317".into());
        e.vars.insert("HOST".into(), "collector".into());
        e.vars.insert("EMPTY".into(), "".into());
        e.vars.insert("FLAG".into(), "true".into());
        e
    }

    fn yaml(s: &str) -> ConfigValue {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn env_references() {
        let e = env();
        let mut w = vec![];
        let text = |s: &str, w: &mut Vec<String>| expand_string(s, &e, w).unwrap();
        assert_eq!(
            text("${env:HOST}:${PORT}", &mut w),
            Expanded::Text("collector:4317".into())
        );
        assert_eq!(text("${env:PORT}", &mut w), Expanded::Value(yaml("4317")));
        assert_eq!(
            text("${FLAG}", &mut w),
            Expanded::Value(ConfigValue::Bool(true))
        );
        assert_eq!(
            text("${env:MISSING:-0.0.0.0}:1", &mut w),
            Expanded::Text("0.0.0.0:1".into())
        );
        assert_eq!(
            text("${env:EMPTY:-fallback}", &mut w),
            Expanded::Value(yaml("fallback"))
        );
        assert_eq!(
            text("$$HOST and $HOST", &mut w),
            Expanded::Text("$HOST and $HOST".into())
        );
        assert!(w.is_empty());
        assert_eq!(
            text("${NOPE}", &mut w),
            Expanded::Value(ConfigValue::String(String::new()))
        );
        assert_eq!(w.len(), 1, "an unset variable is warned about");
        assert!(expand_string("${file:/etc/x}", &e, &mut w)
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(expand_string("${env:1BAD}", &e, &mut w)
            .unwrap_err()
            .contains("invalid name"));
        assert!(expand_string("${env:OPEN", &e, &mut w)
            .unwrap_err()
            .contains("unterminated"));
    }

    #[test]
    fn merge_maps_replace_lists_later_wins() {
        let mut e = env();
        e.files.insert(
            "a.yaml".into(),
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: ${env:HOST}:${env:PORT}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [a, b]\n".into(),
        );
        e.files.insert(
            "b.yaml".into(),
            "receivers:\n  otlp:\n    protocols:\n      http:\nservice:\n  pipelines:\n    traces:\n      exporters: [c]\n".into(),
        );
        e.vars.insert(
            "EXTRA".into(),
            "processors:\n  batch:\n    timeout: 1s\n".into(),
        );
        let sources = vec![
            "a.yaml".to_string(),
            "file:b.yaml".to_string(),
            "env:EXTRA".to_string(),
            "yaml:processors::batch::send_batch_size: 10".to_string(),
            set_flag_to_source("processors.batch.timeout=2s").unwrap(),
        ];
        let r = resolve(&sources, &e).unwrap();
        let expected = yaml(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: collector:4317\n      http:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [c]\nprocessors:\n  batch:\n    timeout: 2s\n    send_batch_size: 10\n",
        );
        assert_eq!(r.tree, expected);
    }

    #[test]
    fn source_errors_are_reported() {
        let e = env();
        let errs = resolve(
            &["missing.yaml".into(), "env:NOPE".into(), "s3:bucket".into()],
            &e,
        )
        .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 3);
        assert!(msgs[0].starts_with("cannot read config file \"missing.yaml\""));
        assert!(msgs[1].contains("NOPE is not set"));
        assert!(msgs[2].contains("unsupported scheme \"s3\""));
        assert!(set_flag_to_source("novalue").is_err());
    }

    #[test]
    fn expansion_errors_carry_paths() {
        let mut e = env();
        e.files.insert(
            "c.yaml".into(),
            "exporters:\n  otlp:\n    endpoint: ${env:OPEN\n".into(),
        );
        let errs = resolve(&["c.yaml".into()], &e).unwrap_err();
        assert_eq!(errs[0].path_string(), "exporters::otlp::endpoint");
    }
}
