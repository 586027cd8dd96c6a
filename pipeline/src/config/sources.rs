//! Config sources (`--config` values and `--set`), deep merge, and environment expansion,
//! as the Go collector's confmap resolver does them.

use pipeline_api::config::{ConfigError, ConfigValue};
use serde_yaml_ng::Mapping;

/// Where config text comes from.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn read_file(&self, path: &str) -> std::io::Result<String>;

    /// The body of an `http://` or `https://` URL (Go's httpprovider / httpsprovider).
    fn fetch(&self, url: &str) -> Result<String, String> {
        fetch_url(url)
    }
}

/// How long fetching a config over HTTP may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// GET a URL and return its body; any status other than 2xx is an error. Runs on a thread
/// of its own, so it works inside and outside an async runtime.
pub fn fetch_url(url: &str) -> Result<String, String> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut builder = reqwest::Client::builder().timeout(FETCH_TIMEOUT);
            for cert in rustls_native_certs::load_native_certs().certs {
                if let Ok(c) = reqwest::Certificate::from_der(&cert) {
                    builder = builder.add_root_certificate(c);
                }
            }
            let client = builder.build().map_err(|e| e.to_string())?;
            let response = client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("cannot fetch {url}: {e}"))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("cannot fetch {url}: HTTP {status}"));
            }
            response
                .text()
                .await
                .map_err(|e| format!("cannot fetch {url}: {e}"))
        })
    })
    .join()
    .map_err(|_| "the fetch failed".to_string())?
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
        "http" | "https" => (env.fetch(source)?, format!("config {source:?}")),
        other => {
            return Err(format!(
            "config source {source:?}: unsupported scheme {other:?} (supported: file, env, yaml, http, https)"
        ))
        }
    };
    flow_depth(&text).map_err(|e| format!("cannot parse {what} as YAML: {e}"))?;
    let value: ConfigValue =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("cannot parse {what} as YAML: {e}"))?;
    match value {
        ConfigValue::Null => Ok(ConfigValue::Mapping(Mapping::new())),
        v @ ConfigValue::Mapping(_) => Ok(v),
        _ => Err(format!("{what}: the top level must be a map of keys")),
    }
}

/// Deepest nesting of flow collections (`[`, `{`) a config may have: Go's YAML scanner's
/// `max_flow_level`. The YAML scanner looks at every open level for each token, so a document
/// nested far deeper takes time quadratic in its depth before the parser refuses it (100,000
/// levels took over 20 s); this pass refuses it first, in one pass over the text.
const MAX_FLOW_DEPTH: usize = 10_000;

/// Refuse flow collections nested past [`MAX_FLOW_DEPTH`]. An approximation of the
/// scanner's flow level, not a YAML reader: brackets inside quoted scalars and comments do
/// not count, those in plain and block scalars do, and a quote inside a plain scalar (`a b'c`)
/// is taken for the start of a quoted one. It refuses what would take the scanner long; no
/// real config comes near ten thousand open brackets.
fn flow_depth(text: &str) -> Result<(), String> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    let mut prev = '\n';
    for c in text.chars() {
        column += 1;
        if c == '\n' {
            (line, column, comment) = (line + 1, 0, false);
            // a quoted scalar may span lines; nothing else carries over
        }
        match quote {
            _ if comment => {}
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '#' if prev.is_whitespace() => comment = true,
                '\'' | '"' if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(format!(
                            "line {line}, column {column}: exceeded max depth of {MAX_FLOW_DEPTH}"
                        ));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    Ok(())
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
/// With the `confmap.enableMergeAppendOption` gate, the component lists
/// (`service::extensions`, each pipeline's `receivers`, `processors`, `exporters`) are
/// appended to instead, without repeating an id (Go's merge-append).
pub fn merge(base: &mut ConfigValue, over: ConfigValue) {
    let append = crate::feature_gates::enabled("confmap.enableMergeAppendOption");
    merge_at(base, over, &mut Vec::new(), append);
}

/// Whether a key path holds a component list that merge-append appends to.
fn is_component_list(path: &[String]) -> bool {
    match path {
        [s, e] => s == "service" && e == "extensions",
        [s, p, _, list] => {
            s == "service"
                && p == "pipelines"
                && matches!(list.as_str(), "receivers" | "processors" | "exporters")
        }
        _ => false,
    }
}

fn merge_at(base: &mut ConfigValue, over: ConfigValue, path: &mut Vec<String>, append: bool) {
    match (base, over) {
        (ConfigValue::Mapping(b), ConfigValue::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => {
                        path.push(key_text(&k));
                        merge_at(existing, v, path, append);
                        path.pop();
                    }
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (ConfigValue::Mapping(_), ConfigValue::Null) => {}
        (ConfigValue::Sequence(b), ConfigValue::Sequence(o))
            if append && is_component_list(path) =>
        {
            for item in o {
                if !b.contains(&item) {
                    b.push(item);
                }
            }
        }
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
        ConfigValue::String(s) if is_bare_reference(s) => warnings.push(format!(
            "{}: {s:?} is not expanded: a bare $VAR is text (as in the Go collector); write ${{env:{}}} for the variable's value",
            path.join(pipeline_api::config::KEY_DELIMITER),
            &s[1..]
        )),
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

/// A whole value that is `$NAME`: a reference in the form confmap no longer expands.
fn is_bare_reference(s: &str) -> bool {
    s.strip_prefix('$').is_some_and(|name| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
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

/// How many times one value may be expanded (a reference whose value holds references is
/// expanded again), as Go's resolver allows.
const MAX_EXPANSIONS: usize = 100;

/// Expand the references in one string value as Go's confmap resolver does: `${env:VAR}`,
/// `${VAR}` (env is the default scheme), `${env:VAR:-default}` (the default when VAR is
/// unset), `${file:path}`, `${yaml:text}`, `${http://…}` and `${https://…}`. The innermost
/// reference is expanded first and a value that holds references is expanded again. A
/// reference that is the whole value keeps its YAML type (`8080` an int, a map a map); one
/// inside text becomes text. `$${…}` and `$$` are escapes for `${…}` and `$`; a `${` that is
/// never closed, and a bare `$VAR`, are left as they are.
pub fn expand_string(
    s: &str,
    env: &dyn Environment,
    warnings: &mut Vec<String>,
) -> Result<Expanded, String> {
    let mut text = s.to_string();
    let mut expanded_any = false;
    for _ in 0..MAX_EXPANSIONS {
        let Some((start, end)) = find_reference(&text) else {
            let unescaped = text.replace("$$", "$");
            return Ok(if expanded_any || unescaped != text {
                Expanded::Text(unescaped)
            } else {
                Expanded::Text(text)
            });
        };
        let reference = text[start + 2..end].to_string();
        let (typed, raw) = retrieve(&reference, env, warnings)?;
        expanded_any = true;
        if start == 0 && end + 1 == text.len() {
            match typed {
                ConfigValue::String(t) => {
                    // a string value is looked at again: it may hold references
                    if find_reference(&t).is_none() {
                        return Ok(Expanded::Value(ConfigValue::String(t.replace("$$", "$"))));
                    }
                    text = t;
                }
                other => return Ok(Expanded::Value(other)),
            }
            continue;
        }
        text.replace_range(start..=end, &raw);
    }
    Err(format!(
        "expanding {s:?}: too many recursive expansions (more than {MAX_EXPANSIONS})"
    ))
}

/// The first reference to expand, as byte positions of its `${` and `}`: the first `}`
/// closes the innermost `${` before it; a `${` preceded by an odd number of `$` is escaped.
fn find_reference(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    loop {
        let close = from + text[from..].find('}')?;
        if let Some(open) = text[from..=close].rfind("${").map(|o| from + o) {
            let dollars = text[..open]
                .bytes()
                .rev()
                .take_while(|b| *b == b'$')
                .count();
            if dollars % 2 == 0 {
                return Some((open, close));
            }
        }
        from = close + 1;
    }
}

/// One reference's value: typed (as YAML, for a whole-value reference) and as the text it
/// was (for a reference inside text, as Go's `Retrieved.AsString`).
fn retrieve(
    reference: &str,
    env: &dyn Environment,
    warnings: &mut Vec<String>,
) -> Result<(ConfigValue, String), String> {
    let (scheme, body) = match reference.split_once(':') {
        Some((scheme, body))
            if scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '.' || c == '-') =>
        {
            (scheme, body)
        }
        _ => ("env", reference),
    };
    let from_yaml = |text: &str| -> ConfigValue {
        match serde_yaml_ng::from_str::<ConfigValue>(text) {
            // an empty or blank value is an empty string, not null
            Ok(ConfigValue::Null) if text.trim().is_empty() => ConfigValue::String(String::new()),
            Ok(ConfigValue::Null) if !matches!(text.trim(), "~" | "null" | "Null" | "NULL") => {
                ConfigValue::String(text.to_string())
            }
            Ok(v) => v,
            Err(_) => ConfigValue::String(text.to_string()),
        }
    };
    match scheme {
        "env" => {
            let text = env_value(body, env, warnings)?;
            Ok((from_yaml(&text), text))
        }
        "file" => {
            let text = env
                .read_file(body)
                .map_err(|e| format!("reference ${{{reference}}}: cannot read {body:?}: {e}"))?;
            Ok((from_yaml(&text), text))
        }
        "yaml" => Ok((from_yaml(body), body.to_string())),
        "http" | "https" => {
            let text = env
                .fetch(reference)
                .map_err(|e| format!("reference ${{{reference}}}: {e}"))?;
            Ok((from_yaml(&text), text))
        }
        other => Err(format!(
            "reference ${{{reference}}}: unsupported scheme {other:?} (supported: env, file, yaml, http, https)"
        )),
    }
}

/// `VAR` or `VAR:-default`: the variable's value; the default only when it is unset (a
/// variable set to the empty string is empty), as Go's env provider.
fn env_value(
    body: &str,
    env: &dyn Environment,
    warnings: &mut Vec<String>,
) -> Result<String, String> {
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
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => {
            warnings.push(format!(
                "Configuration references unset environment variable {name:?}; using an empty value"
            ));
            Ok(String::new())
        }
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

    /// Flow nesting past Go's limit is refused at once, with its place; brackets in quotes
    /// and comments do not count.
    #[test]
    fn flow_collections_nested_past_the_limit_are_refused() {
        let nested = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        let e = |text: String| {
            let mut env = FakeEnv::default();
            env.files.insert("c.yaml".into(), text);
            load_source("file:c.yaml", &env)
        };
        let err = e(nested(100_000)).unwrap_err();
        assert!(
            err.contains("line 1, column 10004: exceeded max depth of 10000"),
            "{err}"
        );
        assert!(e(format!("b: 1\n{}", nested(MAX_FLOW_DEPTH + 1)))
            .unwrap_err()
            .contains("line 2"));
        // at the limit the YAML parser decides (its own recursion limit refuses it)
        assert!(!e(nested(MAX_FLOW_DEPTH))
            .unwrap_err()
            .contains("exceeded max depth"));
        // quoted and commented brackets do not count
        let many = "[".repeat(MAX_FLOW_DEPTH + 5);
        for text in [
            format!("a: '{many}'\n"),
            format!("a: \"x\\\"{many}\"\n"),
            format!("a: 1 # {many}\nb: 2\n"),
            format!("a: [\"{many}\", '{many}']\n"),
        ] {
            assert!(e(text.clone()).is_ok(), "{}", &text[..20]);
        }
        assert!(e("a: {b: [1, {c: [2]}]}\n".into()).is_ok());
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
        // the default is for an unset variable; a variable set empty stays empty (Go)
        assert_eq!(
            text("${env:EMPTY:-fallback}", &mut w),
            Expanded::Value(ConfigValue::String(String::new()))
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
            .contains("cannot read"));
        assert!(expand_string("${s3:bucket/key}", &e, &mut w)
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(expand_string("${env:1BAD}", &e, &mut w)
            .unwrap_err()
            .contains("invalid name"));
        // a `${` never closed is text, as in Go
        assert_eq!(
            text("${env:OPEN", &mut w),
            Expanded::Text("${env:OPEN".into())
        );
    }

    #[test]
    fn references_expand_as_go_resolves_them() {
        let mut e = env();
        e.vars.insert("WHICH".into(), "HOST".into());
        e.vars.insert("INDIRECT".into(), "${env:PORT}".into());
        e.vars.insert("SELF".into(), "${env:SELF}".into());
        e.vars.insert("MAP".into(), "a: 1".into());
        e.files
            .insert("/etc/extra.yaml".into(), "timeout: 2s\nsize: 10\n".into());
        let mut w = vec![];
        let mut text = |s: &str| expand_string(s, &e, &mut w);
        // the innermost reference first
        assert_eq!(
            text("${env:${env:WHICH}}:1").unwrap(),
            Expanded::Text("collector:1".into())
        );
        // a value holding a reference is expanded again, keeping its type when whole
        assert_eq!(
            text("${env:INDIRECT}").unwrap(),
            Expanded::Value(yaml("4317"))
        );
        assert!(text("${env:SELF}")
            .unwrap_err()
            .contains("too many recursive expansions"));
        // escapes
        assert_eq!(
            text("$${env:HOST} ${env:HOST}").unwrap(),
            Expanded::Text("${env:HOST} collector".into())
        );
        // file and yaml sources keep their YAML type when whole
        assert_eq!(
            text("${file:/etc/extra.yaml}").unwrap(),
            Expanded::Value(yaml("timeout: 2s\nsize: 10"))
        );
        assert_eq!(
            text("${yaml:[a, b]}").unwrap(),
            Expanded::Value(yaml("[a, b]"))
        );
        // an environment variable inside text keeps the text it was set to
        e_float_text(&e);
        // inside text, a value is its text, whatever YAML it holds
        assert_eq!(
            text("x-${env:MAP}").unwrap(),
            Expanded::Text("x-a: 1".into())
        );
    }

    fn e_float_text(e: &FakeEnv) {
        let mut e2 = FakeEnv {
            vars: e.vars.clone(),
            files: Default::default(),
        };
        e2.vars.insert("VERSION".into(), "1.10".into());
        let mut w = vec![];
        assert_eq!(
            expand_string("v${env:VERSION}", &e2, &mut w).unwrap(),
            Expanded::Text("v1.10".into())
        );
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
    fn a_bare_reference_as_the_whole_value_is_text_with_a_warning() {
        let mut e = env();
        e.files.insert(
            "c.yaml".into(),
            "exporters:\n  otlphttp:\n    endpoint: $HOST\n    headers: {k: $HOST/x, r: '^a$'}\n"
                .into(),
        );
        let r = resolve(&["c.yaml".into()], &e).unwrap();
        assert_eq!(r.tree["exporters"]["otlphttp"]["endpoint"], yaml("$HOST"));
        assert_eq!(
            r.warnings,
            vec![
                "exporters::otlphttp::endpoint: \"$HOST\" is not expanded: a bare $VAR is text \
                 (as in the Go collector); write ${env:HOST} for the variable's value"
            ]
        );
    }

    #[test]
    fn expansion_errors_carry_paths() {
        let mut e = env();
        e.files.insert(
            "c.yaml".into(),
            "exporters:\n  otlp:\n    endpoint: ${env:1BAD}\n".into(),
        );
        let errs = resolve(&["c.yaml".into()], &e).unwrap_err();
        assert_eq!(errs[0].path_string(), "exporters::otlp::endpoint");
    }
}
