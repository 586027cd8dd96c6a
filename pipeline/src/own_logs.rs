//! The collector's own logs, as Go's `service.telemetry.logs` makes them (zap underneath):
//! `level`, `encoding` (`console`, `json`), `output_paths` and `error_output_paths`,
//! `initial_fields` on every line, the service's `resource` on every line (unless
//! `disable_zap_resource`), and zap's sampler (on by default: per message and level, the
//! first `initial` lines of each `tick` and every `thereafter`-th after them).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriter, MakeWriterExt};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogEncoding, LogLevel, LogsConfig, LogsSampling};

/// Open zap-style paths (`stderr`, `stdout`, a file appended to, `file://` taken); `key`
/// names the setting in errors.
fn open_paths(paths: &[String], key: &str) -> Result<Vec<BoxMakeWriter>, String> {
    let default = ["stderr".to_string()];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    paths
        .iter()
        .map(|p| {
            Ok(match p.as_str() {
                "stderr" => BoxMakeWriter::new(std::io::stderr),
                "stdout" => BoxMakeWriter::new(std::io::stdout),
                path => {
                    let path = path.strip_prefix("file://").unwrap_or(path);
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| {
                            format!("service::telemetry::logs::{key}: cannot open {path:?}: {e}")
                        })?;
                    BoxMakeWriter::new(Mutex::new(f))
                }
            })
        })
        .collect()
}

/// All of `writers` as one.
fn tee(writers: Vec<BoxMakeWriter>) -> Result<BoxMakeWriter, String> {
    let mut out: Option<BoxMakeWriter> = None;
    for w in writers {
        out = Some(match out {
            None => w,
            Some(prev) => BoxMakeWriter::new(prev.and(w)),
        });
    }
    out.ok_or_else(|| "service::telemetry::logs::output_paths: no output".to_string())
}

/// Fields every line carries, and where a failed write is reported.
struct Decorated {
    inner: BoxMakeWriter,
    errors: Arc<BoxMakeWriter>,
    /// `"k":v,...` for a JSON line (empty: nothing to add).
    json: Arc<str>,
    /// ` k=v ...` for a console line.
    console: Arc<str>,
    is_json: bool,
}

/// One line's writer: buffers the line and writes it, decorated, when dropped (the log
/// layer makes one per line).
struct LineWriter<'a> {
    owner: &'a Decorated,
    buf: Vec<u8>,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let line = self.owner.decorate(std::mem::take(&mut self.buf));
        if let Err(e) = self.owner.inner.make_writer().write_all(&line) {
            // zap's ErrorOutput: where the logger's own failures go
            let _ = writeln!(
                self.owner.errors.make_writer(),
                "{} write error: {e}",
                epoch_now()
            );
        }
    }
}

fn epoch_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

impl Decorated {
    fn decorate(&self, line: Vec<u8>) -> Vec<u8> {
        if self.is_json {
            if self.json.is_empty() || line.first() != Some(&b'{') {
                return line;
            }
            let mut out = Vec::with_capacity(line.len() + self.json.len() + 1);
            out.push(b'{');
            out.extend_from_slice(self.json.as_bytes());
            if line.get(1) != Some(&b'}') {
                out.push(b',');
            }
            out.extend_from_slice(&line[1..]);
            out
        } else {
            if self.console.is_empty() {
                return line;
            }
            let body_end = line.len() - line.iter().rev().take_while(|b| **b == b'\n').count();
            let mut out = Vec::with_capacity(line.len() + self.console.len());
            out.extend_from_slice(&line[..body_end]);
            out.extend_from_slice(self.console.as_bytes());
            out.extend_from_slice(&line[body_end..]);
            out
        }
    }
}

impl<'a> MakeWriter<'a> for Decorated {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            owner: self,
            buf: Vec::new(),
        }
    }
}

/// A YAML scalar or structure as JSON.
fn json_value(v: &pipeline_api::config::ConfigValue) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The extra fields of every line: `initial_fields`, then `resource` (Go's zap core adds the
/// resource as a dict field).
fn extra_fields(cfg: &LogsConfig, resource: &[(String, String)]) -> (String, String) {
    let mut fields: Vec<(String, serde_json::Value)> = cfg
        .initial_fields
        .iter()
        .map(|(k, v)| (k.clone(), json_value(v)))
        .collect();
    if !cfg.disable_zap_resource && !resource.is_empty() {
        let map: serde_json::Map<String, serde_json::Value> = resource
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        fields.push(("resource".into(), serde_json::Value::Object(map)));
    }
    let json = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::Value::String(k.clone()), v))
        .collect::<Vec<_>>()
        .join(",");
    let console = fields
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!(" {k}={s}"),
            v => format!(" {k}={v}"),
        })
        .collect::<String>();
    (json, console)
}

/// zap's sampler: per callsite (one message) and level, within each `tick`, the first
/// `initial` lines pass and then every `thereafter`-th (none when it is 0).
struct Sampler {
    tick: Duration,
    initial: u64,
    thereafter: u64,
    counts: Mutex<HashMap<(Identifier, Level), (Instant, u64)>>,
}

impl Sampler {
    fn new(cfg: &LogsSampling) -> Sampler {
        Sampler {
            tick: cfg.tick.get(),
            initial: cfg.initial,
            thereafter: cfg.thereafter,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the next line of this message passes.
    fn admit(&self, meta: &Metadata<'_>) -> bool {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let entry = counts
            .entry((meta.callsite(), *meta.level()))
            .or_insert((now, 0));
        if now.duration_since(entry.0) >= self.tick {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let n = entry.1;
        n <= self.initial
            || (self.thereafter > 0 && (n - self.initial).is_multiple_of(self.thereafter))
    }
}

impl<S> Filter<S> for Sampler {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _cx: &Context<'_, S>) -> bool {
        self.admit(event.metadata())
    }
}

/// Install the log subscriber, once per process (a second start in one process, in tests,
/// keeps the first). `resource` is the service identity of the own telemetry.
pub fn init_logs(cfg: &LogsConfig, resource: &[(String, String)]) -> Result<(), String> {
    let level = match cfg.level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    // hyper/h2/tonic internals stay at warn unless asked for with RUST_LOG
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| {
            EnvFilter::new(format!("{level},h2=warn,hyper=warn,tower=warn,tonic=warn"))
        });
    let (json, console) = extra_fields(cfg, resource);
    let is_json = cfg.encoding == LogEncoding::Json;
    let writer = Decorated {
        inner: tee(open_paths(&cfg.output_paths, "output_paths")?)?,
        errors: Arc::new(tee(open_paths(
            &cfg.error_output_paths,
            "error_output_paths",
        )?)?),
        json: json.into(),
        console: console.into(),
        is_json,
    };
    let layer = if is_json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .boxed()
    };
    let layer = if cfg.sampling.enabled {
        layer
            .with_filter(Sampler::new(&cfg.sampling))
            .with_filter(filter)
            .boxed()
    } else {
        layer.with_filter(filter).boxed()
    };
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(initial: u64, thereafter: u64) -> Sampler {
        Sampler::new(&LogsSampling {
            enabled: true,
            tick: pipeline_api::config::GoDuration::from_secs(3600),
            initial,
            thereafter,
        })
    }

    /// zap's counts: 10 then every 100th, per message; another message counts apart.
    #[test]
    fn the_sampler_lets_the_first_lines_through_then_every_nth() {
        // not zero-sized: two statics of a zero-sized type may share an address
        struct Cs(#[allow(dead_code)] u8);
        impl tracing::callsite::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                &META_A
            }
        }
        static CS_A: Cs = Cs(1);
        static CS_B: Cs = Cs(2);
        static META_A: Metadata<'static> = tracing::metadata!(
            name: "a", target: "t", level: Level::WARN, fields: &[], callsite: &CS_A, kind: tracing::metadata::Kind::EVENT
        );
        static META_B: Metadata<'static> = tracing::metadata!(
            name: "b", target: "t", level: Level::WARN, fields: &[], callsite: &CS_B, kind: tracing::metadata::Kind::EVENT
        );
        let s = sampler(10, 100);
        let mut kept = Vec::new();
        for n in 1..=320u64 {
            if s.admit(&META_A) {
                kept.push(n);
            }
        }
        let mut expected: Vec<u64> = (1..=10).collect();
        expected.extend([110, 210, 310]);
        assert_eq!(kept, expected);
        // another callsite has its own count
        assert!(s.admit(&META_B));
        let none_after = sampler(2, 0);
        let kept = (0..5).filter(|_| none_after.admit(&META_A)).count();
        assert_eq!(kept, 2);
    }

    #[test]
    fn every_line_carries_the_initial_fields_and_the_resource() {
        let mut cfg = LogsConfig::default();
        cfg.initial_fields.insert(
            "deployment".into(),
            pipeline_api::config::ConfigValue::String("blue".into()),
        );
        let resource = vec![("service.name".to_string(), "ferrotel".to_string())];
        let (json, console) = extra_fields(&cfg, &resource);
        let d = |is_json| Decorated {
            inner: BoxMakeWriter::new(std::io::sink),
            errors: Arc::new(BoxMakeWriter::new(std::io::sink)),
            json: json.clone().into(),
            console: console.clone().into(),
            is_json,
        };
        let line = d(true).decorate(b"{\"level\":\"INFO\",\"message\":\"hi\"}\n".to_vec());
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["deployment"], "blue");
        assert_eq!(v["resource"]["service.name"], "ferrotel");
        assert_eq!(v["message"], "hi");
        let line = d(false).decorate(b"2026-12-02T00:00:00Z  INFO ferrotel: hi\n".to_vec());
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "2026-12-02T00:00:00Z  INFO ferrotel: hi deployment=blue resource={\"service.name\":\"ferrotel\"}\n"
        );
        cfg.disable_zap_resource = true;
        assert_eq!(extra_fields(&cfg, &resource).0, r#""deployment":"blue""#);
    }
}
