//! `container`: Docker json-file, CRI-O and containerd log lines.
//!
//! Go facts (`pkg/stanza/operator/parser/container/{config,parser}.go`):
//! - `format` is `docker`, `crio`, `containerd`, or empty to detect per entry: `^\{` is
//!   Docker, then the CRI-O pattern `^(?P<time>[^ Z]+) (?P<stream>stdout|stderr)
//!   (?P<logtag>[^ ]*) ?(?P<log>.*)$`, then containerd (same with a time ending in `Z`);
//! - Docker lines are JSON objects parsed into attributes; the time layout is
//!   `2006-01-02T15:04:05.999Z` (UTC) for Docker and containerd,
//!   `2006-01-02T15:04:05.999999999Z07:00` for CRI-O; the `time` attribute becomes the
//!   timestamp and is removed;
//! - `log` moves to the body, `stream` to the attribute `log.iostream`; CRI's `logtag`
//!   stays an attribute;
//! - CRI partial lines are recombined as Go's internal `recombine` does: `combine_field:
//!   body`, `combine_with: ""`, `is_last_entry: attributes.logtag == 'F'`, the oldest part
//!   carries the result, `source_identifier: attributes["log.file.path"]`, the operator's
//!   `max_log_size` (0: none), flushed after the recombine default of 5s;
//! - `add_metadata_from_filepath` (default true) matches `log.file.path` against
//!   `.../<namespace>_<pod_name>_<uid>/<container_name>/<restart_count>.log` into the
//!   resource attributes `k8s.namespace.name`, `k8s.pod.name`, `k8s.pod.uid`,
//!   `k8s.container.name`, `k8s.container.restart_count`.
//!
//! Ferrotel differences, asked for by the product (issue 4): Docker's `log` loses its one
//! trailing newline, and Docker lines split at 16 KiB (a `log` without the trailing newline)
//! are recombined like CRI partials; a Docker path (`.../containers/<id>/<id>-json.log`)
//! sets `container.id` instead of failing the path match; a missing or non-matching path
//! never fails the entry (Go fails it); a format that cannot be detected is handled by
//! `on_error` (Go drops the entry); partials without `log.file.path` are kept apart per file,
//! and per stream, and across a rotation (`-json.log.1` and the new `-json.log` are one
//! source); at a shutdown with stored checkpoints (`storage`) a partial line read from a file
//! is not flushed cut short (its file's checkpoint stays at the line's start, so the next start
//! reads it whole).
//! With `docker_metadata: true`, Docker containers get resource attributes from their
//! `config.v2.json` (see [`super::docker`]).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use regex::Regex;

use super::{hold, parser_config, BuildMode, Operator, Out, ParserBase};
use crate::attrs::ATTR_FILE_PATH;
use crate::entry::{Entry, Field, Value};
use crate::timeparse::{parse_go_layout, parse_rfc3339_utc};
use crate::ByteSize;

parser_config!(ContainerConfig {
    format: String,
    add_metadata_from_filepath: Option<bool>,
    max_log_size: Option<ByteSize>,
    /// Ferrotel: resource attributes from Docker's `config.v2.json` (issue 4).
    docker_metadata: bool,
});

const CRIO: &str = r"^(?P<time>[^ Z]+) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$";
const CONTAINERD: &str =
    r"^(?P<time>[^ ^Z]+Z) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$";
const LOG_PATH: &str = r"^.*(/|\\)(?P<namespace>[^_]+)_(?P<pod_name>[^_]+)_(?P<uid>[a-f0-9\-]+)(/|\\)(?P<container_name>[^\._]+)(/|\\)(?P<restart_count>\d+)\.log$";
const DOCKER_PATH: &str =
    r"(?:^|/)containers/([a-f0-9]{12,64})/([a-f0-9]{12,64})-json\.log(?:\.\d+)?$";
const DOCKER_TIME: &str = "2006-01-02T15:04:05.999Z";
const CRIO_TIME: &str = "2006-01-02T15:04:05.999999999Z07:00";

/// The partial-line recombination flush period (Go recombine's default `force_flush_period`).
const PARTIAL_FLUSH: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Docker,
    Crio,
    Containerd,
}

struct Partial {
    base: Entry,
    text: String,
    first_seen: Instant,
    holds: HashMap<u64, u64>,
}

pub struct Container {
    p: ParserBase,
    format: Option<Format>,
    add_metadata: bool,
    max_log_size: usize,
    crio: Regex,
    containerd: Regex,
    log_path: Regex,
    docker_path: Regex,
    partials: BTreeMap<String, Partial>,
    docker: Option<super::docker::DockerMetadata>,
    /// Docker lines of the common shape may be read by [`super::dockerline`]: `parse_from`
    /// is the body and the result only merges into the attributes.
    docker_shortcut: bool,
    /// What the last `log.file.path` gave (the path's regex matches, once per path).
    path_cache: Option<PathMetadata>,
}

/// What a `log.file.path` says about the entry's resource.
struct PathMetadata {
    path: String,
    /// Kubernetes pod log path: resource attributes.
    k8s: Vec<(&'static str, String)>,
    /// Docker json-file path: the container id and the container's directory.
    docker: Option<(String, std::path::PathBuf)>,
    /// Whether the path matches one of the layouts.
    matched: bool,
}

/// A Docker line read by the shortcut: all it takes to finish the entry.
struct DockerParsed {
    timestamp: u64,
    stream: String,
    log_start: usize,
    log_len: usize,
    /// `log` with its escapes decoded, when it has escapes other than a final `\n` or
    /// `\r\n`.
    decoded: Option<String>,
    /// Whether `log` ends with a newline (the end of a line that Docker did not split).
    last: bool,
}

fn compile(p: &str) -> Result<Regex, (String, String)> {
    Regex::new(p).map_err(|e| (String::new(), format!("internal pattern: {e}")))
}

pub fn build(
    id: &str,
    c: &ContainerConfig,
    mode: BuildMode,
) -> Result<Box<dyn Operator>, (String, String)> {
    let format = match c.format.as_str() {
        "" => None,
        "docker" => Some(Format::Docker),
        "crio" => Some(Format::Crio),
        "containerd" => Some(Format::Containerd),
        other => {
            return Err((
                "format".into(),
                format!("invalid format {other:?}: use one of docker, crio, containerd (or leave empty to detect)"),
            ))
        }
    };
    let mut op = Container {
        p: ParserBase::build(id, c.on_error, &c.if_expr, c, mode)
            .map_err(|e| (String::new(), e))?,
        format,
        add_metadata: c.add_metadata_from_filepath.unwrap_or(true),
        max_log_size: c.max_log_size.map(|b| b.0 as usize).unwrap_or(0),
        crio: compile(CRIO)?,
        containerd: compile(CONTAINERD)?,
        log_path: compile(LOG_PATH)?,
        docker_path: compile(DOCKER_PATH)?,
        partials: BTreeMap::new(),
        docker: c
            .docker_metadata
            .then(super::docker::DockerMetadata::default),
        docker_shortcut: false,
        path_cache: None,
    };
    op.docker_shortcut = op.p.parse_from == Field::body() && op.p.merges_into_attributes_only();
    Ok(Box::new(op))
}

impl Container {
    fn detect(&self, raw: &str) -> Option<Format> {
        if raw.starts_with('{') {
            Some(Format::Docker)
        } else if self.crio.is_match(raw) {
            Some(Format::Crio)
        } else if self.containerd.is_match(raw) {
            Some(Format::Containerd)
        } else {
            None
        }
    }

    /// Time, `log` → body, `stream` → `log.iostream`, path metadata.
    fn mappings(&mut self, e: &mut Entry, layout: &str) -> Result<(), String> {
        let time_field = Field::attr("time");
        let t = match time_field.get(e) {
            Some(Value::Str(s)) => s.clone(),
            Some(other) => {
                return Err(format!(
                    "failed to parse time: {} is not a string",
                    other.to_text()
                ))
            }
            None => return Err("failed to parse time: the entry has no time".into()),
        };
        let fast = if layout == DOCKER_TIME {
            parse_rfc3339_utc(&t)
        } else {
            None
        };
        e.timestamp = Some(match fast {
            Some(ts) => ts,
            None => parse_go_layout(layout, &t, layout.ends_with('Z'))
                .map_err(|err| format!("failed to parse time: {err}"))?,
        });
        time_field.delete(e);
        let log = Field::attr("log")
            .delete(e)
            .ok_or_else(|| "move: field log does not exist".to_string())?;
        e.body = Some(log);
        if let Some(stream) = Field::attr("stream").delete(e) {
            e.attributes.insert("log.iostream".into(), stream);
        } else {
            return Err("move: field stream does not exist".into());
        }
        if self.add_metadata {
            self.path_metadata(e);
        }
        Ok(())
    }

    /// The file the entry was read from: the `log.file.path` attribute when there is one (Go
    /// reads only that), else the path the reader knows, so `include_file_path: false` does
    /// not lose the container's metadata.
    fn entry_path(e: &Entry) -> Option<&str> {
        match e.attributes.get(ATTR_FILE_PATH) {
            Some(Value::Str(p)) => Some(p.as_str()),
            _ => e.origin.as_ref().and_then(|o| o.path.as_deref()),
        }
    }

    fn path_metadata(&mut self, e: &mut Entry) {
        let Some(path) = Self::entry_path(e) else {
            tracing::debug!(operator = %self.p.base.id, "No file path for add_metadata_from_filepath.");
            return;
        };
        if self.path_cache.as_ref().is_none_or(|c| c.path != path) {
            let meta = self.read_path(path);
            self.path_cache = Some(meta);
        }
        let Some(meta) = self.path_cache.as_ref() else {
            return;
        };
        for (attr, value) in &meta.k8s {
            e.resource
                .insert((*attr).to_string(), Value::Str(value.clone()));
        }
        if let Some((id, dir)) = &meta.docker {
            e.resource
                .insert("container.id".into(), Value::Str(id.clone()));
            if let Some(d) = self.docker.as_mut() {
                d.enrich(id, dir, &mut e.resource);
            }
        }
        if !meta.matched {
            tracing::debug!(operator = %self.p.base.id, path = %meta.path, "The log path matches neither the Kubernetes nor the Docker layout.");
        }
    }

    /// Match a `log.file.path` against the Kubernetes and Docker layouts.
    fn read_path(&self, path: &str) -> PathMetadata {
        let mut meta = PathMetadata {
            path: path.to_string(),
            k8s: Vec::new(),
            docker: None,
            matched: true,
        };
        if let Some(c) = self.log_path.captures(path) {
            for (group, attr) in [
                ("container_name", "k8s.container.name"),
                ("namespace", "k8s.namespace.name"),
                ("pod_name", "k8s.pod.name"),
                ("restart_count", "k8s.container.restart_count"),
                ("uid", "k8s.pod.uid"),
            ] {
                if let Some(m) = c.name(group) {
                    meta.k8s.push((attr, m.as_str().to_string()));
                }
            }
        } else if let Some(c) = self.docker_path.captures(path) {
            if let (Some(a), Some(b)) = (c.get(1), c.get(2)) {
                if a.as_str() == b.as_str() {
                    let dir = std::path::Path::new(path)
                        .parent()
                        .map(std::path::Path::to_path_buf)
                        .unwrap_or_default();
                    meta.docker = Some((a.as_str().to_string(), dir));
                }
            }
        } else {
            meta.matched = false;
        }
        meta
    }

    /// What partial lines are recombined by: the log file without its rotation suffix
    /// (Docker may rotate between two parts of a split line: `<id>-json.log` becomes
    /// `<id>-json.log.1` and the next part starts the new `<id>-json.log`), and the stream
    /// (Docker copies stdout and stderr concurrently, so a stderr line may land between two
    /// parts of a split stdout line).
    fn source(e: &Entry) -> String {
        let file = match Self::entry_path(e) {
            Some(p) if !p.is_empty() => unrotated(p).to_string(),
            _ => match &e.origin {
                Some(o) => format!("reader:{}", o.reader),
                None => super::recombine::DEFAULT_SOURCE.to_string(),
            },
        };
        match e.attributes.get("log.iostream") {
            Some(Value::Str(stream)) => format!("{file}#{stream}"),
            _ => file,
        }
    }

    /// Add a part; `last` ends the line. Emits the combined entry when complete.
    fn recombine(&mut self, e: Entry, last: bool, out: &mut Out) {
        if last && self.partials.is_empty() {
            return out.send(e);
        }
        let source = Self::source(&e);
        if last && !self.partials.contains_key(&source) {
            return out.send(e);
        }
        let part = match &e.body {
            Some(Value::Str(s)) => s.clone(),
            Some(other) => other.to_text(),
            None => String::new(),
        };
        let p = self
            .partials
            .entry(source.clone())
            .or_insert_with(|| Partial {
                base: e.clone(),
                text: String::new(),
                first_seen: Instant::now(),
                holds: HashMap::new(),
            });
        hold(&mut p.holds, &e);
        p.text.push_str(&part);
        if last || (self.max_log_size > 0 && p.text.len() > self.max_log_size) {
            self.flush(&source, out);
        }
    }

    fn flush(&mut self, source: &str, out: &mut Out) {
        if let Some(p) = self.partials.remove(source) {
            let mut e = p.base;
            e.body = Some(Value::Str(p.text));
            if let Some(o) = e.origin.as_mut() {
                if let Some(s) = p.holds.get(&o.reader) {
                    o.start = o.start.min(*s);
                }
            }
            out.send(e);
        }
    }
}

impl Container {
    /// Finish an entry whose Docker line the shortcut read: what the general path does (merge
    /// `log`, `stream` and `time` into the attributes, then move `time` to the timestamp, `log`
    /// to the body and `stream` to `log.iostream`), without the intermediate map.
    fn finish_docker(&mut self, mut e: Entry, d: DockerParsed, out: &mut Out) {
        let body = match d.decoded {
            Some(text) => text,
            // the line's own text, cut down to `log` (both ends are next to an ASCII quote or
            // backslash, so they are character boundaries)
            None => match e.body.take() {
                Some(Value::Str(mut line)) => {
                    line.truncate(d.log_start + d.log_len);
                    line.drain(..d.log_start);
                    line
                }
                _ => String::new(),
            },
        };
        if !e.attributes.is_empty() {
            for key in ["log", "stream", "time"] {
                e.attributes.remove(key);
            }
        }
        e.timestamp = Some(d.timestamp);
        e.body = Some(Value::Str(body));
        e.attributes
            .insert("log.iostream".into(), Value::Str(d.stream));
        if self.add_metadata {
            self.path_metadata(&mut e);
        }
        self.recombine(e, d.last, out);
    }
}

/// A log path without the suffix rotation added: `x-json.log.1` → `x-json.log`, kubelet's
/// `0.log.20240101-120000` → `0.log`.
fn unrotated(path: &str) -> &str {
    match path.rfind(".log") {
        Some(i) if path[i + 4..].starts_with('.') && !path[i + 4..].contains('/') => &path[..i + 4],
        _ => path,
    }
}

/// Read a Docker line of the common shape with a time in the common form; `None` leaves the
/// line to the general path.
fn read_docker(raw: &str) -> Option<DockerParsed> {
    let line = super::dockerline::scan(raw)?;
    let timestamp = parse_rfc3339_utc(line.time)?;
    let (log_len, decoded, last) = match (line.first_escape, line.decoded) {
        // no escape: no newline either (a raw one is not valid JSON), so Docker split this line
        (None, _) => (line.log.len(), None, false),
        // the only escape is the final newline, which the entry loses
        (Some(first), None) => (first, None, true),
        (Some(_), Some(mut text)) => {
            let last = text.ends_with('\n');
            if last {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            (0, Some(text), last)
        }
    };
    Some(DockerParsed {
        timestamp,
        stream: line.stream.to_string(),
        log_start: line.log_start,
        log_len,
        decoded,
        last,
    })
}

impl Operator for Container {
    fn process(&mut self, e: Entry, out: &mut Out) {
        match self.p.base.skip(&e) {
            Err(err) => return self.p.base.fail(e, &err, out),
            Ok(true) => return out.send(e),
            Ok(false) => {}
        }
        let format = match self.format {
            Some(f) => f,
            None => {
                let detected = match self.p.parse_from.get(&e) {
                    Some(Value::Str(raw)) => self.detect(raw),
                    _ => None,
                };
                match detected {
                    Some(f) => f,
                    None => {
                        return self.p.base.fail(
                            e,
                            "failed to detect a valid container log format",
                            out,
                        )
                    }
                }
            }
        };
        if format == Format::Docker && self.docker_shortcut {
            let read = match &e.body {
                Some(Value::Str(raw)) => read_docker(raw),
                _ => None,
            };
            if let Some(d) = read {
                return self.finish_docker(e, d, out);
            }
        }
        let parsed = match format {
            Format::Docker => self.p.parse_with(e, |v| match v {
                Value::Str(_) => crate::operators::parsers::parse_json(v, false),
                _ => Err("value cannot be parsed as docker container logs".into()),
            }),
            Format::Crio | Format::Containerd => {
                let re = if format == Format::Crio {
                    &self.crio
                } else {
                    &self.containerd
                };
                self.p.parse_with(e, |v| match v {
                    Value::Str(s) => crate::operators::parsers::match_values(re, s),
                    _ => Err("value cannot be parsed as CRI container logs".into()),
                })
            }
        };
        let mut e = match parsed {
            Ok(e) => e,
            Err(f) => {
                let (e, err) = *f;
                return self.p.base.fail(e, &err, out);
            }
        };
        let layout = if format == Format::Crio {
            CRIO_TIME
        } else {
            DOCKER_TIME
        };
        if let Err(err) = self.mappings(&mut e, layout) {
            return self.p.base.fail(e, &err, out);
        }
        match format {
            Format::Docker => {
                let last = match e.body.as_mut() {
                    Some(Value::Str(s)) if s.ends_with('\n') => {
                        s.pop();
                        if s.ends_with('\r') {
                            s.pop();
                        }
                        true
                    }
                    Some(Value::Str(_)) => false,
                    _ => true,
                };
                self.recombine(e, last, out);
            }
            Format::Crio | Format::Containerd => {
                let last = !matches!(e.attributes.get("logtag"), Some(Value::Str(t)) if t != "F");
                self.recombine(e, last, out);
            }
        }
    }

    fn flush_expired(&mut self, now: Instant, out: &mut Out) {
        let expired: Vec<String> = self
            .partials
            .iter()
            .filter(|(_, p)| now.duration_since(p.first_seen) >= PARTIAL_FLUSH)
            .map(|(k, _)| k.clone())
            .collect();
        for s in expired {
            self.flush(&s, out);
        }
    }

    fn flush_all(&mut self, out: &mut Out) {
        let all: Vec<String> = self.partials.keys().cloned().collect();
        for s in all {
            self.flush(&s, out);
        }
    }

    /// A line whose parts were read from a file is not emitted cut short (its file's
    /// checkpoint stays at the line's first part).
    fn flush_unread(&mut self, out: &mut Out) {
        let unheld: Vec<String> = self
            .partials
            .iter()
            .filter(|(_, p)| p.holds.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for s in unheld {
            self.flush(&s, out);
        }
    }

    fn held(&self, acc: &mut HashMap<u64, u64>) {
        for p in self.partials.values() {
            for (r, s) in &p.holds {
                acc.entry(*r)
                    .and_modify(|x| *x = (*x).min(*s))
                    .or_insert(*s);
            }
        }
    }
}
