//! `debug` exporter (alias `logging`, deprecated): writes what it receives to stdout, as the Go
//! collector's `exporter/debugexporter` does: a one-line summary per batch (`basic`), plus one
//! line per item (`normal`) or Go's full OTLP text dump (`detailed`).

mod config;
pub mod gofmt;
pub mod normal;
pub mod otlptext;
mod sampler;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use pipeline_api::{
    async_trait, Batch, BatchData, BuildError, ComponentId, ConsumeError, Exporter, ExporterFactory,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::{Config, LogLevel, Verbosity};
pub use sampler::Sampler;

pub const TYPE_NAME: &str = "debug";

/// The `logging` exporter was removed from Go in v0.111.0 in favour of `debug`.
pub const META: Meta = Meta::new(TYPE_NAME)
    .aliases(&[("logging", true)])
    .traces(Stability::Alpha)
    .metrics(Stability::Alpha)
    .logs(Stability::Alpha);

/// Go's debug factory passes `WithTimeout(TimeoutConfig{Timeout: 0})` and no
/// `WithQueue`/`WithRetry`: no timeout, queue and retry off.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(DebugExporter::new(ctx.id, cfg)?))
    })
    .default_timeout(std::time::Duration::ZERO)
    .without_queue_and_retry()
    .into_factory()
}

/// Where the output goes.
enum Output {
    Stdout,
    Stderr,
    File(PathBuf, Mutex<File>),
}

impl Output {
    fn open(path: &str) -> Result<Output, BuildError> {
        Ok(match path {
            "stdout" => Output::Stdout,
            "stderr" => Output::Stderr,
            p => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| BuildError::new(format!("cannot open output path {p:?}: {e}")))?;
                Output::File(PathBuf::from(p), Mutex::new(file))
            }
        })
    }

    /// One write of the whole text, holding the stream's lock.
    fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Output::Stderr => {
                let mut out = std::io::stderr().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Output::File(_, f) => f.lock().unwrap_or_else(|p| p.into_inner()).write_all(bytes),
        }
    }

    fn name(&self) -> String {
        match self {
            Output::Stdout => "stdout".into(),
            Output::Stderr => "stderr".into(),
            Output::File(p, _) => p.display().to_string(),
        }
    }
}

pub struct DebugExporter {
    id: ComponentId,
    verbosity: Verbosity,
    use_internal_logger: bool,
    sampler: Mutex<Sampler>,
    outputs: Arc<Vec<Output>>,
    write_failed: Arc<AtomicBool>,
}

impl DebugExporter {
    pub fn new(id: ComponentId, cfg: &Config) -> Result<DebugExporter, BuildError> {
        if let Some(level) = cfg.loglevel {
            tracing::warn!(
                exporter = %id,
                loglevel = level.as_str(),
                equivalent_verbosity_level = %level.verbosity(),
                "'loglevel' option is deprecated in favor of 'verbosity'. Set 'verbosity' to equivalent value to preserve behavior."
            );
        }
        let outputs = cfg
            .outputs()
            .iter()
            .map(|p| Output::open(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DebugExporter {
            id,
            verbosity: cfg.effective_verbosity(),
            use_internal_logger: cfg.use_internal_logger,
            sampler: Mutex::new(Sampler::new(cfg.sampling_initial, cfg.sampling_thereafter)),
            outputs: Arc::new(outputs),
            write_failed: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Everything this exporter writes for `batch` at `now_nanos` (Unix): the summary entry and,
    /// above `basic`, the text entry, each subject to sampling as Go's zap sampler does
    /// (separately, keyed by message text).
    pub fn render(&self, batch: &Batch, now_nanos: i64) -> String {
        let (message, counts) = summary(batch);
        let text =
            (self.verbosity > Verbosity::Basic).then(|| format_text(batch.data(), self.verbosity));
        let mut sampler = self.sampler.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let signal = batch.signal().as_str();
        let component: Vec<(&str, Field)> = if self.use_internal_logger {
            vec![
                ("otelcol.component.id", Field::Str(self.id.to_string())),
                ("otelcol.component.kind", Field::Str("exporter".into())),
                ("otelcol.signal", Field::Str(signal.into())),
            ]
        } else {
            Vec::new()
        };
        if sampler.check(message, now_nanos) {
            let mut fields = component.clone();
            fields.extend(counts.iter().map(|(k, v)| (*k, Field::Int(*v))));
            out.push_str(&entry(
                self.use_internal_logger.then_some(now_nanos),
                message,
                &fields,
            ));
        }
        if let Some(text) = text {
            if sampler.check(&text, now_nanos) {
                out.push_str(&entry(
                    self.use_internal_logger.then_some(now_nanos),
                    &text,
                    &component,
                ));
            }
        }
        out
    }
}

#[async_trait]
impl Exporter for DebugExporter {
    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        let text = self.render(&batch, now_nanos());
        if text.is_empty() {
            return Ok(());
        }
        let outputs = self.outputs.clone();
        let failed = self.write_failed.clone();
        let id = self.id.clone();
        // Terminal or pipe writes may block: keep them off the async workers.
        let written = tokio::task::spawn_blocking(move || {
            for o in outputs.iter() {
                match o.write(text.as_bytes()) {
                    Ok(()) => failed.store(false, Ordering::Relaxed),
                    // Go's logger does not fail the export on a write error either; say it once.
                    Err(e) => {
                        if !failed.swap(true, Ordering::Relaxed) {
                            tracing::warn!(exporter = %id, output = %o.name(), error = %e, "debug exporter cannot write its output");
                        }
                    }
                }
            }
        })
        .await;
        if let Err(e) = written {
            tracing::warn!(exporter = %self.id, error = %e, "debug exporter write task failed");
        }
        Ok(())
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A structured field of a log entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Str(String),
    Int(usize),
}

/// Go `pushTraces` / `pushMetrics` / `pushLogs`' summary: message and counts.
pub fn summary(batch: &Batch) -> (&'static str, Vec<(&'static str, usize)>) {
    match batch.data() {
        BatchData::Traces(r) => (
            "Traces",
            vec![
                ("resource spans", r.resource_spans.len()),
                ("spans", batch.items()),
            ],
        ),
        BatchData::Metrics(r) => {
            let metrics = r
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .map(|sm| sm.metrics.len())
                .sum();
            (
                "Metrics",
                vec![
                    ("resource metrics", r.resource_metrics.len()),
                    ("metrics", metrics),
                    ("data points", batch.items()),
                ],
            )
        }
        BatchData::Logs(r) => (
            "Logs",
            vec![
                ("resource logs", r.resource_logs.len()),
                ("log records", batch.items()),
            ],
        ),
    }
}

/// The text of a batch at `normal` or `detailed` verbosity (empty at `basic`).
pub fn format_text(data: &BatchData, verbosity: Verbosity) -> String {
    match (verbosity, data) {
        (Verbosity::Detailed, BatchData::Traces(r)) => otlptext::traces(r),
        (Verbosity::Detailed, BatchData::Metrics(r)) => otlptext::metrics(r),
        (Verbosity::Detailed, BatchData::Logs(r)) => otlptext::logs(r),
        (Verbosity::Normal, BatchData::Traces(r)) => normal::traces(r),
        (Verbosity::Normal, BatchData::Metrics(r)) => normal::metrics(r),
        (Verbosity::Normal, BatchData::Logs(r)) => normal::logs(r),
        _ => String::new(),
    }
}

/// One log entry as zap's console encoder writes it: with the internal logger
/// `time\tinfo\tmessage\t{fields}\n`; without it `message\t{fields}\n` (Go's own logger for the
/// exporter drops time and level); no tab and no braces without fields.
pub fn entry(time_nanos: Option<i64>, message: &str, fields: &[(&str, Field)]) -> String {
    let mut out = String::with_capacity(message.len() + 128);
    if let Some(t) = time_nanos {
        out.push_str(&gofmt::iso8601_millis(t));
        out.push_str("\tinfo\t");
    }
    out.push_str(message);
    if !fields.is_empty() {
        out.push_str("\t{");
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            gofmt::json_string(k, &mut out);
            out.push_str(": ");
            match v {
                Field::Str(s) => gofmt::json_string(s, &mut out),
                Field::Int(n) => out.push_str(&n.to_string()),
            }
        }
        out.push('}');
    }
    out.push('\n');
    out
}
