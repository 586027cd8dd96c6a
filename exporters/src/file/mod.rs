//! `file` exporter: writes what it receives to a file, as Go's `exporter/fileexporter`.
//!
//! Go facts relied on (`file_exporter.go`, `file_writer.go`, `grouping_file_exporter.go`,
//! `marshaller.go`, `codec.go`, `buffered_writer.go`, v0.155.0 with the alpha
//! `exporter.file.nativeCompression` gate off, its default):
//! - `format: json` writes one OTLP/JSON export request per line; `format: proto` writes each
//!   request as its protobuf bytes preceded by their length (4 bytes, big-endian).
//! - `compression: zstd` compresses each request on its own (one zstd frame) and then
//!   frames it with the 4-byte length, in both formats (a compressed JSON request is not a
//!   line).
//! - Without rotation the file is truncated at start (appended to with `append`) and written
//!   through a buffer flushed every `flush_interval` (1s when unset) and at shutdown; with
//!   `rotation` the rotating writer (see [`writer`]) appends to an existing file and writes
//!   through.
//! - `group_by`: each resource goes to the file named by `path` with its `*` replaced by the
//!   resource attribute's string value (a value starting `./` or `../` loses the dots; a
//!   value escaping the prefix directory is put back under it); resources without that
//!   attribute (or with a non-string value) are dropped. Directories are created (0755 or
//!   `directory_permissions`); at most `max_open_files` files stay open, the least recently
//!   written one is closed first (Ferrotel appends when it opens such a file again; Go
//!   truncates it). Errors are permanent.
//! - One exporter instance per id serves every signal; no sending queue and no retries by
//!   default (Go's factory passes neither).

pub mod config;
#[cfg(test)]
mod tests;
pub mod writer;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::any_value;
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildError, ComponentId, ConsumeError, Exporter, ExporterFactory,
};
use pipeline_api::{declare, Meta, Stability};
use prost::Message;

pub use config::{Config, Format, GroupBy, Rotation};
use writer::Sink;

pub const TYPE_NAME: &str = "file";

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Alpha)
    .metrics(Stability::Alpha)
    .logs(Stability::Alpha);

/// Go's factory passes no `WithQueue`/`WithRetry`: both off unless configured.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(FileExporter::new(ctx.id, cfg)))
    })
    .without_queue_and_retry()
    .into_factory()
}

/// How one request becomes bytes in the file.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    pub format: Format,
    /// `Some(level)` with `compression: zstd` (0: zstd's default level).
    pub zstd: Option<i32>,
}

impl Framing {
    pub fn of(cfg: &Config) -> Framing {
        Framing {
            format: cfg.format(),
            zstd: cfg.zstd().then_some(cfg.compression_params.level as i32),
        }
    }

    /// The request's record: a JSON line, or length-prefixed (and maybe compressed) bytes.
    pub fn record(&self, data: &BatchData) -> Result<Vec<u8>, String> {
        let payload = match self.format {
            Format::Json => crate::otlphttp::json::encode(data),
            Format::Proto => match data {
                BatchData::Traces(r) => r.encode_to_vec(),
                BatchData::Metrics(r) => r.encode_to_vec(),
                BatchData::Logs(r) => r.encode_to_vec(),
            },
        };
        let payload = match self.zstd {
            Some(level) => zstd::bulk::compress(&payload, level)
                .map_err(|e| format!("zstd compression failed: {e}"))?,
            None => payload,
        };
        if self.format == Format::Json && self.zstd.is_none() {
            let mut line = payload;
            line.push(b'\n');
            return Ok(line);
        }
        let len = u32::try_from(payload.len())
            .map_err(|_| format!("a request of {} bytes cannot be framed", payload.len()))?;
        let mut out = Vec::with_capacity(4 + payload.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// The payloads of a file written with this framing (decompressed), for readers and tests.
    pub fn payloads(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        if self.format == Format::Json && self.zstd.is_none() {
            return Ok(bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect());
        }
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err("truncated length prefix".into());
            }
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let body = rest
                .get(4..4 + len)
                .ok_or_else(|| format!("truncated record of {len} bytes"))?;
            out.push(match self.zstd {
                Some(_) => zstd::stream::decode_all(body).map_err(|e| e.to_string())?,
                None => body.to_vec(),
            });
            rest = &rest[4 + len..];
        }
        Ok(out)
    }
}

/// The open files: one, or one per group in least-recently-written order.
enum Files {
    Single(Option<Sink>),
    /// The open files, and every path opened since start.
    Grouped(Vec<(PathBuf, Sink)>, HashSet<PathBuf>),
}

pub struct FileExporter {
    id: ComponentId,
    cfg: Config,
    framing: Framing,
    files: Arc<Mutex<Files>>,
    flusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl FileExporter {
    pub fn new(id: ComponentId, cfg: &Config) -> FileExporter {
        let files = if cfg.group_by.enabled {
            Files::Grouped(Vec::new(), HashSet::new())
        } else {
            Files::Single(None)
        };
        FileExporter {
            id,
            framing: Framing::of(cfg),
            cfg: cfg.clone(),
            files: Arc::new(Mutex::new(files)),
            flusher: Mutex::new(None),
        }
    }

    fn create_dir(&self, dir: &Path) -> std::io::Result<()> {
        if dir.as_os_str().is_empty() || dir.exists() {
            return Ok(());
        }
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(self.cfg.directory_mode());
        }
        b.create(dir)
    }

    fn open(&self, path: &Path) -> std::io::Result<Sink> {
        Sink::open(path, self.cfg.append, self.cfg.rotation.as_ref())
    }

    /// Go `groupingFileExporter.fullPath`.
    fn group_path(&self, segment: &str) -> PathBuf {
        let (prefix, suffix) = self
            .cfg
            .path
            .split_once('*')
            .unwrap_or((&self.cfg.path, ""));
        let prefix = clean_prefix(prefix);
        let segment = if let Some(s) = segment.strip_prefix("./") {
            format!("/{s}")
        } else if let Some(s) = segment.strip_prefix("../") {
            format!("/{s}")
        } else {
            segment.to_string()
        };
        let full = clean_path(&format!("{prefix}{segment}{suffix}"));
        if full.starts_with(&prefix) {
            return PathBuf::from(full);
        }
        let inner = clean_path(&format!("/{segment}{suffix}"));
        PathBuf::from(clean_path(&format!("{prefix}/{inner}")))
    }

    fn write_grouped(&self, data: &BatchData) -> Result<(), ConsumeError> {
        let attr = &self.cfg.group_by.resource_attribute;
        let groups = group(data, attr);
        let mut errors = Vec::new();
        for (segment, part) in groups {
            let path = self.group_path(&segment);
            let result = self
                .framing
                .record(&part)
                .and_then(|rec| self.write_to_group(&path, &rec));
            if let Err(e) = result {
                errors.push(format!("{}: {e}", path.display()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConsumeError::permanent(errors.join("; ")))
        }
    }

    fn write_to_group(&self, path: &Path, record: &[u8]) -> Result<(), String> {
        let mut files = self.files.lock();
        let Files::Grouped(open, seen) = &mut *files else {
            return Err("not grouping".into());
        };
        let idx = match open.iter().position(|(p, _)| p == path) {
            Some(i) => i,
            None => {
                if let Some(dir) = path.parent() {
                    self.create_dir(dir).map_err(|e| e.to_string())?;
                }
                // A file closed to respect `max_open_files` is appended to when it is opened
                // again (Go truncates it, losing what was written).
                let append = self.cfg.append || seen.contains(path);
                let sink = Sink::open(path, append, self.cfg.rotation.as_ref())
                    .map_err(|e| e.to_string())?;
                seen.insert(path.to_path_buf());
                open.push((path.to_path_buf(), sink));
                let max = self.cfg.group_by.max_open_files.max(1) as usize;
                while open.len() > max {
                    let (p, mut old) = open.remove(0);
                    if let Err(e) = old.flush() {
                        tracing::warn!(exporter = %self.id, path = %p.display(), error = %e, "Failed to close file");
                    }
                }
                open.len() - 1
            }
        };
        // Most recently written last.
        let entry = open.remove(idx);
        open.push(entry);
        let (_, sink) = open.last_mut().expect("just pushed");
        sink.write(record).map_err(|e| e.to_string())
    }
}

/// Go `cleanPathPrefix`: `path.Clean`, keeping a trailing slash.
fn clean_prefix(prefix: &str) -> String {
    let cleaned = clean_path(prefix);
    if prefix.ends_with('/') && !cleaned.ends_with('/') {
        format!("{cleaned}/")
    } else {
        cleaned
    }
}

/// Go `path.Clean` (lexical: `.` and `..` elements and doubled slashes removed).
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// The string value of `attr` in a resource.
fn segment_of(resource: Option<&Resource>, attr: &str) -> Option<String> {
    let kv = resource?.attributes.iter().find(|kv| kv.key == attr)?;
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// Split a request by the resource attribute's value, in order of first appearance;
/// resources without it are dropped (Go logs this at debug level).
pub fn group(data: &BatchData, attr: &str) -> Vec<(String, BatchData)> {
    fn split<R: Clone>(
        items: &[R],
        attr: &str,
        resource: impl Fn(&R) -> Option<&Resource>,
    ) -> Vec<(String, Vec<R>)> {
        let mut out: Vec<(String, Vec<R>)> = Vec::new();
        for item in items {
            let Some(seg) = segment_of(resource(item), attr) else {
                tracing::debug!("Resource does not contain {attr} attribute, dropping it");
                continue;
            };
            match out.iter_mut().find(|(s, _)| *s == seg) {
                Some((_, v)) => v.push(item.clone()),
                None => out.push((seg, vec![item.clone()])),
            }
        }
        out
    }
    match data {
        BatchData::Traces(r) => split(&r.resource_spans, attr, |x| x.resource.as_ref())
            .into_iter()
            .map(|(s, v)| {
                (
                    s,
                    BatchData::Traces(ExportTraceServiceRequest { resource_spans: v }),
                )
            })
            .collect(),
        BatchData::Metrics(r) => split(&r.resource_metrics, attr, |x| x.resource.as_ref())
            .into_iter()
            .map(|(s, v)| {
                (
                    s,
                    BatchData::Metrics(ExportMetricsServiceRequest {
                        resource_metrics: v,
                    }),
                )
            })
            .collect(),
        BatchData::Logs(r) => split(&r.resource_logs, attr, |x| x.resource.as_ref())
            .into_iter()
            .map(|(s, v)| {
                (
                    s,
                    BatchData::Logs(ExportLogsServiceRequest { resource_logs: v }),
                )
            })
            .collect(),
    }
}

fn flush_all(files: &Mutex<Files>, id: &ComponentId) {
    let mut files = files.lock();
    let sinks: Vec<&mut Sink> = match &mut *files {
        Files::Single(s) => s.iter_mut().collect(),
        Files::Grouped(v, _) => v.iter_mut().map(|(_, s)| s).collect(),
    };
    for s in sinks {
        if let Err(e) = s.flush() {
            tracing::warn!(exporter = %id, error = %e, "Failed to flush the file");
        }
    }
}

#[async_trait]
impl Exporter for FileExporter {
    async fn start(&self) -> Result<(), BuildError> {
        let path = Path::new(&self.cfg.path);
        if !self.cfg.group_by.enabled {
            if self.cfg.create_directory {
                if let Some(dir) = path.parent() {
                    self.create_dir(dir).map_err(|e| {
                        BuildError::new(format!(
                            "{}: cannot create the directory of {}: {e}",
                            self.id, self.cfg.path
                        ))
                    })?;
                }
            }
            let sink = self.open(path).map_err(|e| {
                BuildError::new(format!("{}: cannot open {}: {e}", self.id, self.cfg.path))
            })?;
            *self.files.lock() = Files::Single(Some(sink));
        }
        let files = self.files.clone();
        let id = self.id.clone();
        let every = self.cfg.flush_interval();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                flush_all(&files, &id);
            }
        });
        *self.flusher.lock() = Some(task);
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.cfg.group_by.enabled {
            return self.write_grouped(batch.data());
        }
        let record = self
            .framing
            .record(batch.data())
            .map_err(ConsumeError::permanent)?;
        let mut files = self.files.lock();
        match &mut *files {
            Files::Single(Some(sink)) => sink
                .write(&record)
                .map_err(|e| ConsumeError::retryable(format!("{}: {e}", self.cfg.path))),
            _ => Err(ConsumeError::permanent("the file exporter is not started")),
        }
    }

    async fn shutdown(&self) {
        if let Some(task) = self.flusher.lock().take() {
            task.abort();
        }
        flush_all(&self.files, &self.id);
        let mut files = self.files.lock();
        match &mut *files {
            Files::Single(s) => *s = None,
            Files::Grouped(v, _) => v.clear(),
        }
    }
}
