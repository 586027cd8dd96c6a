//! The file consumer: each poll finds the files, recognises the ones it knows, reads what is
//! new, and turns tokens into entries run through the operators.
//!
//! Go facts (`pkg/stanza/fileconsumer/file.go`, `internal/tracker`):
//! - `start_at` only applies to files found at the first poll, and only when no checkpoint
//!   was loaded ("Resuming from previously known offset(s). 'start_at' setting is not
//!   applicable."); files that appear later are read from their beginning;
//! - files with an empty fingerprint are skipped until they have content; two matches with
//!   the same fingerprint in one poll are read once;
//! - a file is recognised by fingerprint among the previous poll's readers, then among the
//!   known files of the last 3 polls, whose offset it continues;
//! - readers of the previous poll whose file is not found again ("lost": renamed out of the
//!   pattern or deleted) are read to their end through their open handle *before* the
//!   current files, so older lines come first; a lost reader whose path now holds a
//!   truncated file (copytruncate) is not read again;
//! - files are handled in batches of `max_concurrent_files / 2`, at most `max_batches`
//!   batches per poll (0: no limit).
//!
//! Within a poll Ferrotel reads the files oldest first (by modification time), so a rotated
//! file still matched by the pattern is finished before its successor.
//!
//! Ferrotel additions: the device and inode are kept with the fingerprint, so a renamed file
//! is recognised by its inode, and a *different* file that starts with the same bytes is not
//! mistaken for a known one (its content is compared with the known file's through the open
//! handle); a known file that shrank below its offset is handled by `on_truncate`; a file
//! known from the checkpoint that no poll finds again before Go would forget it (deleted or
//! rotated out of existence while the receiver was stopped: Docker's json-file driver keeps
//! `max-file` files, so enough rotations during a stop delete the file the checkpoint points
//! into) is counted and logged with its offset instead of forgotten silently.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use stanza::convert::Logs;
use stanza::entry::{Entry, EntryData, Origin, Value};
use stanza::expr::ExprString;
use stanza::operators::{Pipeline, Stats};

use super::config::{Compression, FileLogConfig, OnTruncate, StartAt};
use super::finder::Finder;
use super::own_container::OwnContainer;
use super::reader::{
    fingerprint, starts_with, AttrFlags, FileId, Metadata, Reader, Token, ATTR_RECORD_NUMBER,
    ATTR_RECORD_OFFSET,
};
use super::split::Splitter;

/// At most this many records per poll (the rest is read by the next poll, started at once).
pub const MAX_RECORDS_PER_POLL: usize = 10_000;
/// About at most this many bytes read per poll.
pub const MAX_BYTES_PER_POLL: usize = 16 * 1024 * 1024;
/// A poll's records are handed on in requests of at most about this many encoded bytes, so a
/// poll that catches up (after a restart, or behind a slow consumer) never makes a request
/// that a gRPC server refuses by its default 4 MiB limit (Go's stanza emitter hands on 100
/// entries at a time).
pub const MAX_REQUEST_BYTES: usize = 1 << 20;
/// Go keeps known files for 3 poll generations.
const GENERATIONS: usize = 3;

/// A file known from an earlier poll (or the checkpoint), without an open handle.
#[derive(Debug, Clone)]
struct Known {
    id: u64,
    meta: Metadata,
}

/// What one poll produced.
#[derive(Debug, Default)]
pub struct PollOutput {
    /// The entries that came out of the operators, as log records.
    pub logs: Logs,
    /// The checkpoint to save once `entries` were accepted.
    pub checkpoint: Vec<Metadata>,
    /// Files to delete once `entries` were accepted (`delete_after_read`).
    pub deletes: Vec<PathBuf>,
    /// The budget was used up: poll again at once.
    pub more: bool,
    pub stats: Stats,
    pub open_files: usize,
    /// Files that had new data in this poll.
    pub reading_files: usize,
}

pub struct Tailer {
    finder: Finder,
    splitter: Splitter,
    fp_size: usize,
    batch_files: usize,
    max_batches: usize,
    flags: AttrFlags,
    record_number: bool,
    record_offset: bool,
    compression: Compression,
    on_truncate: OnTruncate,
    delete_after_read: bool,
    from_beginning: bool,
    previous: Vec<Reader>,
    lost: Vec<Reader>,
    archive: VecDeque<Vec<Known>>,
    next_id: u64,
    pub pipeline: Pipeline,
    attributes: Vec<(String, ExprString)>,
    resource: Vec<(String, ExprString)>,
    seen_paths: HashSet<PathBuf>,
    /// The read buffer, reused by every read.
    read_buf: Vec<u8>,
    /// What the operators emit for one entry (reused).
    emitted: Vec<Entry>,
    /// The container Ferrotel runs in, whose log files are skipped (unless
    /// `include_own_container_logs`).
    own: Option<OwnContainer>,
    /// Whether skipping the own log was logged.
    own_logged: bool,
    /// Ids of the files loaded from the checkpoint that no poll has found again yet.
    from_checkpoint: HashSet<u64>,
    /// Files known from the checkpoint that were not found again (see [`Tailer::gone`]).
    pub checkpointed_gone: u64,
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

struct Candidate {
    path: PathBuf,
    file: File,
    id: FileId,
    fp: Vec<u8>,
    size: u64,
}

impl Tailer {
    pub fn new(cfg: &FileLogConfig, pipeline: Pipeline) -> Result<Tailer, String> {
        let compile = |m: &std::collections::BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| ExprString::compile(v).map(|e| (k.clone(), e)))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Tailer {
            finder: Finder::new(
                &cfg.include,
                &cfg.exclude,
                cfg.exclude_older_than.map(|d| d.get()),
            )?,
            splitter: Splitter::new(cfg)?,
            fp_size: usize::try_from(cfg.fingerprint_size.0).unwrap_or(usize::MAX),
            batch_files: usize::try_from(cfg.max_concurrent_files / 2)
                .unwrap_or(1)
                .max(1),
            max_batches: usize::try_from(cfg.max_batches).unwrap_or(0),
            flags: AttrFlags {
                name: cfg.include_file_name,
                path: cfg.include_file_path,
                name_resolved: cfg.include_file_name_resolved,
                path_resolved: cfg.include_file_path_resolved,
            },
            record_number: cfg.include_file_record_number,
            record_offset: cfg.include_file_record_offset,
            compression: cfg.compression,
            on_truncate: cfg.on_truncate,
            delete_after_read: cfg.delete_after_read,
            from_beginning: cfg.start_at == StartAt::Beginning,
            previous: Vec::new(),
            lost: Vec::new(),
            archive: VecDeque::new(),
            next_id: 1,
            pipeline,
            attributes: compile(&cfg.attributes)?,
            resource: compile(&cfg.resource)?,
            seen_paths: HashSet::new(),
            read_buf: Vec::new(),
            emitted: Vec::new(),
            own: if cfg.include_own_container_logs {
                None
            } else {
                OwnContainer::detect()
            },
            own_logged: false,
            from_checkpoint: HashSet::new(),
            checkpointed_gone: 0,
        })
    }

    /// The container whose log files are skipped.
    pub fn own_container(&self) -> Option<&OwnContainer> {
        self.own.as_ref()
    }

    /// Skip the log files of this container instead of the detected one (tests).
    pub fn set_own_container(&mut self, own: Option<OwnContainer>) {
        self.own = own;
    }

    /// Load a checkpoint: its files are known, and `start_at` no longer applies.
    pub fn load(&mut self, files: Vec<Metadata>) {
        if !files.is_empty() {
            tracing::info!(
                "Resuming from previously known offset(s). 'start_at' setting is not applicable."
            );
            self.from_beginning = true;
        }
        let gen: Vec<Known> = files
            .into_iter()
            .map(|meta| {
                let id = self.new_id();
                self.from_checkpoint.insert(id);
                Known { id, meta }
            })
            .collect();
        self.archive.push_back(gen);
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn open(&self, path: &PathBuf) -> Option<Candidate> {
        let mut file = File::open(path)
            .map_err(
                |e| tracing::debug!(path = %path.display(), error = %e, "Failed to open file."),
            )
            .ok()?;
        let meta = file.metadata().ok()?;
        let fp = fingerprint(&mut file, self.fp_size).ok()?;
        Some(Candidate {
            path: path.clone(),
            id: FileId::of(&meta),
            size: meta.len(),
            fp,
            file,
        })
    }

    fn is_gzip(&self, c: &Candidate) -> bool {
        match self.compression {
            Compression::Gzip => true,
            Compression::Auto => c.fp.starts_with(&[0x1f, 0x8b]),
            Compression::None => false,
        }
    }

    /// Apply `on_truncate` to metadata whose file shrank or whose head changed.
    fn truncated(&self, meta: &mut Metadata, c: &Candidate) {
        match self.on_truncate {
            OnTruncate::Ignore => {}
            OnTruncate::ReadWholeFile => {
                meta.offset = 0;
                meta.record_num = 0;
                meta.fingerprint = c.fp.clone();
                meta.flush = Default::default();
                meta.discarding = false;
            }
            OnTruncate::ReadNew => {
                meta.offset = c.size;
                meta.fingerprint = c.fp.clone();
            }
        }
    }

    fn reader_from(&mut self, id: u64, mut meta: Metadata, c: Candidate, check: bool) -> Reader {
        if check {
            let head_changed = !starts_with(&c.fp, &meta.fingerprint);
            if head_changed || c.size < meta.offset {
                tracing::debug!(path = %c.path.display(), "File was truncated.");
                self.truncated(&mut meta, &c);
            }
        }
        meta.attributes = self.flags.resolve(&c.path);
        meta.file_id = c.id;
        let gzip = self.is_gzip(&c);
        Reader {
            id,
            meta,
            path: c.path,
            file: Some(c.file),
            gzip,
        }
    }

    fn new_reader(&mut self, c: Candidate, copy_offset: Option<u64>) -> Reader {
        if self.seen_paths.insert(c.path.clone()) {
            if self.from_beginning || copy_offset.is_some() {
                tracing::info!(path = %c.path.display(), "Started watching file");
            } else {
                tracing::info!(path = %c.path.display(), "Started watching file from end. To read preexisting logs, configure the argument 'start_at' to 'beginning'");
            }
        }
        let offset = match copy_offset {
            Some(o) => o,
            None if self.from_beginning => 0,
            None => c.size,
        };
        let id = self.new_id();
        let meta = Metadata {
            fingerprint: c.fp.clone(),
            offset,
            ..Default::default()
        };
        self.reader_from(id, meta, c, false)
    }

    /// Recognise one candidate; `None` when it is to be skipped.
    fn identify(
        &mut self,
        mut c: Candidate,
        others: &HashSet<FileId>,
        current: &mut [Reader],
        released: &mut Vec<Known>,
    ) -> Option<Reader> {
        if c.id.known() {
            // 1. the same inode as a reader of the previous poll (renamed or not)
            if let Some(i) = self.previous.iter().position(|r| r.meta.file_id == c.id) {
                let r = self.previous.remove(i);
                let head_changed = !starts_with(&c.fp, &r.meta.fingerprint);
                if head_changed || c.size < r.meta.offset {
                    // truncated (copytruncate): what was known about the old content may
                    // belong to the copy, found later in this poll
                    tracing::debug!(path = %c.path.display(), "File was truncated.");
                    let mut meta = r.meta.clone();
                    self.truncated(&mut meta, &c);
                    released.push(Known {
                        id: self.new_id(),
                        meta: r.meta,
                    });
                    return Some(self.reader_from(r.id, meta, c, false));
                }
                return Some(self.reader_from(r.id, r.meta, c, false));
            }
            // 2. the same inode among known files, with a matching fingerprint
            for gen in self.archive.iter_mut().rev() {
                if let Some(i) = gen
                    .iter()
                    .position(|k| k.meta.file_id == c.id && starts_with(&c.fp, &k.meta.fingerprint))
                {
                    let k = gen.remove(i);
                    self.from_checkpoint.remove(&k.id);
                    return Some(self.reader_from(k.id, k.meta, c, true));
                }
            }
        }
        // 3. the content a truncated file had: this is its copy (copytruncate)
        if let Some(i) = released
            .iter()
            .position(|k| starts_with(&c.fp, &k.meta.fingerprint))
        {
            let k = released.remove(i);
            return Some(self.reader_from(k.id, k.meta, c, true));
        }
        // 4. a previous reader by fingerprint, another inode
        if let Some(i) = self
            .previous
            .iter()
            .position(|r| starts_with(&c.fp, &r.meta.fingerprint))
        {
            let fp_size = self.fp_size;
            let original_here = others.contains(&self.previous[i].meta.file_id);
            let r = &mut self.previous[i];
            if r.valid(fp_size) {
                if original_here {
                    // the known file is still here and intact: a copy of it (copytruncate's
                    // copy before the truncation) holds nothing its reader will not read;
                    // anything else is a different file that starts with the same bytes
                    let same = match r.file.as_mut() {
                        Some(f) => same_prefix(f, &mut c.file, c.size),
                        None => false,
                    };
                    let offset = if same { c.size } else { 0 };
                    return Some(self.new_reader(c, Some(offset)));
                }
                // the known file left the pattern but is intact: the same content here means
                // it was moved (copied); other content means a different file
                let upto = r.meta.offset.min(c.size);
                let same = match r.file.as_mut() {
                    Some(f) => same_prefix(f, &mut c.file, upto),
                    None => true,
                };
                if !same {
                    return Some(self.new_reader(c, Some(0)));
                }
                let r = self.previous.remove(i);
                return Some(self.reader_from(r.id, r.meta, c, true));
            }
            // the known file's handle no longer holds it: Go's rule, continue by fingerprint
            let r = self.previous.remove(i);
            return Some(self.reader_from(r.id, r.meta, c, true));
        }
        // 5. a copy of a file already recognised in this poll
        if let Some(r) = current
            .iter_mut()
            .find(|r| starts_with(&c.fp, &r.meta.fingerprint))
        {
            let same = match r.file.as_mut() {
                Some(f) => same_prefix(f, &mut c.file, c.size),
                None => false,
            };
            let offset = if same { c.size } else { 0 };
            return Some(self.new_reader(c, Some(offset)));
        }
        // 6. a known file by fingerprint (Go's only rule; used after a restart)
        for gen in self.archive.iter_mut().rev() {
            if let Some(i) = gen.iter().position(|k| {
                starts_with(&c.fp, &k.meta.fingerprint)
                    && !(k.meta.file_id.known() && others.contains(&k.meta.file_id))
            }) {
                let k = gen.remove(i);
                self.from_checkpoint.remove(&k.id);
                return Some(self.reader_from(k.id, k.meta, c, true));
            }
        }
        Some(self.new_reader(c, None))
    }

    /// One poll.
    pub fn poll(&mut self, now: Instant) -> PollOutput {
        let mut out = PollOutput::default();
        let mut paths = self.finder.find();
        if let Some(own) = &self.own {
            let before = paths.len();
            paths.retain(|p| !own.owns(p));
            if paths.len() != before && !self.own_logged {
                self.own_logged = true;
                tracing::info!(container.id = %own.id, detected_from = own.source, "Not reading this collector's own container log (set include_own_container_logs: true to read it).");
            }
        }
        let limit = if self.max_batches == 0 {
            paths.len()
        } else {
            self.batch_files.saturating_mul(self.max_batches)
        };
        let matched: HashSet<PathBuf> = paths.iter().cloned().collect();
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut ids = HashSet::new();
        for p in paths.iter().take(limit) {
            let Some(c) = self.open(p) else { continue };
            if c.fp.is_empty() {
                continue; // empty: wait until it has content
            }
            if c.id.known() && !ids.insert(c.id) {
                continue; // the same file through another path
            }
            candidates.push(c);
        }
        let mut current: Vec<Reader> = Vec::new();
        let mut released = Vec::new();
        let all_ids: HashSet<FileId> = candidates.iter().map(|c| c.id).collect();
        for c in candidates {
            let others: HashSet<FileId> = all_ids.iter().copied().filter(|i| *i != c.id).collect();
            if let Some(r) = self.identify(c, &others, &mut current, &mut released) {
                current.push(r);
            }
        }
        // readers of the previous poll not found again
        let mut keep = Vec::new();
        for mut r in std::mem::take(&mut self.previous) {
            let path_here = matched.contains(&r.path);
            let processed = current.iter().any(|c| c.path == r.path);
            if path_here && !processed {
                keep.push(r); // beyond max_batches this poll: untouched
                continue;
            }
            if processed && !r.valid(self.fp_size) {
                continue; // truncated in place: the current reader reads it
            }
            self.lost.push(r);
        }
        let mut budget_records = MAX_RECORDS_PER_POLL;
        out.logs = Logs::expecting(MAX_RECORDS_PER_POLL).with_max_request_bytes(MAX_REQUEST_BYTES);
        // at least two whole entries per poll, so an unterminated entry always makes progress
        let mut budget_bytes = MAX_BYTES_PER_POLL.max(self.splitter.max.saturating_mul(2));
        // lost files first: older lines before newer ones
        let mut still_lost = Vec::new();
        for mut r in std::mem::take(&mut self.lost) {
            let eof = self.read_reader(
                &mut r,
                now,
                &mut budget_records,
                &mut budget_bytes,
                &mut out,
            );
            if eof {
                // done: remember it (closed) among the known files
                r.file = None;
                self.remember(r);
            } else {
                still_lost.push(r);
            }
        }
        self.lost = still_lost;
        // older files first: a file rotated since the last poll (`x.log` renamed to `x.log.1`
        // and still matched by the pattern) is read to its end before the new `x.log`, so a
        // line split across the rotation or a multi-line record arrives in order
        let modified = |r: &Reader| {
            r.file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .and_then(|m| m.modified().ok())
        };
        current.sort_by_cached_key(|r| (modified(r), r.id));
        let mut finished = Vec::new();
        for (i, r) in current.iter_mut().enumerate() {
            if budget_records == 0 || budget_bytes == 0 {
                out.more = true;
                break;
            }
            let eof = self.read_reader(r, now, &mut budget_records, &mut budget_bytes, &mut out);
            r.refresh_fingerprint(self.fp_size);
            if eof && self.delete_after_read {
                finished.push(i);
            }
        }
        for i in finished.into_iter().rev() {
            let r = current.remove(i);
            out.deletes.push(r.path.clone());
        }
        // what the operators held too long
        for e in self.pipeline.flush_expired(now, &mut out.stats) {
            out.logs.push(e);
        }
        // end of poll: the current readers are the previous ones of the next poll
        current.extend(keep);
        self.previous = current;
        self.archive.push_back(Vec::new());
        while self.archive.len() > GENERATIONS {
            if let Some(expired) = self.archive.pop_front() {
                self.gone(&expired);
            }
        }
        self.from_beginning = true;
        out.checkpoint = self.checkpoint();
        out.open_files = self.previous.len() + self.lost.len();
        out
    }

    /// Flush what the operators hold (shutdown). With `keep_read` (the checkpoint is
    /// stored), what was read from a file stays held and the checkpoint stays before it.
    pub fn flush_all(&mut self, keep_read: bool) -> PollOutput {
        let mut stats = Stats::default();
        let mut logs = Logs::default().with_max_request_bytes(MAX_REQUEST_BYTES);
        for e in self.pipeline.shutdown_flush(&mut stats, keep_read) {
            logs.push(e);
        }
        PollOutput {
            logs,
            checkpoint: self.checkpoint(),
            stats,
            ..Default::default()
        }
    }

    /// Known files forgotten without being found again: those loaded from the checkpoint
    /// were deleted (or rotated out of existence) while the receiver was stopped, so what was
    /// written to them past the stored offset was never read. Go forgets them silently;
    /// Ferrotel counts and logs them.
    fn gone(&mut self, expired: &[Known]) {
        if self.from_checkpoint.is_empty() {
            return;
        }
        let mut files = Vec::new();
        for k in expired {
            if !self.from_checkpoint.remove(&k.id) {
                continue;
            }
            let name = match k.meta.attributes.get(super::reader::ATTR_FILE_NAME) {
                Some(Value::Str(n)) => n.clone(),
                _ => "?".to_string(),
            };
            files.push(format!("{name} at offset {}", k.meta.offset));
        }
        if files.is_empty() {
            return;
        }
        self.checkpointed_gone += files.len() as u64;
        // info, not a warning: a file read to its end and then rotated away (Docker's
        // `-json.log.1`, outside the include pattern) lands here on every restart too; only
        // what it gained after the stop is lost, and that cannot be known any more
        tracing::info!(
            count = files.len(),
            files = %files.join(", "),
            "Files known from the checkpoint were not found again (deleted or rotated out of the include pattern while the receiver was stopped); anything written to them after the stored offset was not read."
        );
    }

    fn remember(&mut self, r: Reader) {
        if self.archive.is_empty() {
            self.archive.push_back(Vec::new());
        }
        if let Some(gen) = self.archive.back_mut() {
            gen.push(Known {
                id: r.id,
                meta: r.meta,
            });
        }
    }

    /// Read one reader; each token becomes an entry that is run through the operators and
    /// added to `out.logs` at once. Returns whether the reader reached its end.
    fn read_reader(
        &mut self,
        r: &mut Reader,
        now: Instant,
        budget_records: &mut usize,
        budget_bytes: &mut usize,
        out: &mut PollOutput,
    ) -> bool {
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut emitted = std::mem::take(&mut self.emitted);
        let observed = now_nanos();
        let file_attributes = r.meta.attributes.clone();
        let reader = r.id;
        let path: std::sync::Arc<str> = std::sync::Arc::from(r.path.to_string_lossy());
        let Tailer {
            splitter,
            attributes,
            resource,
            record_number,
            record_offset,
            pipeline,
            ..
        } = self;
        let mut emit = |t: Token| {
            let mut e = EntryData::new(t.body, observed);
            for (k, v) in attributes.iter() {
                if let Ok(val) = v.render(&e) {
                    e.attributes.insert(k.clone(), val);
                }
            }
            for (k, v) in resource.iter() {
                if let Ok(val) = v.render(&e) {
                    e.resource.insert(k.clone(), val);
                }
            }
            for (k, v) in &file_attributes {
                e.attributes.insert(k.clone(), v.clone());
            }
            if *record_number {
                e.attributes
                    .insert(ATTR_RECORD_NUMBER.into(), Value::Int(t.record_num));
            }
            if *record_offset {
                e.attributes
                    .insert(ATTR_RECORD_OFFSET.into(), Value::Int(t.start as i64));
            }
            e.origin = Some(Origin {
                reader,
                start: t.start,
                path: Some(path.clone()),
            });
            pipeline.process_one(e, &mut emitted, &mut out.stats);
            for e in emitted.drain(..) {
                out.logs.push(e);
            }
        };
        let res = r.read(
            splitter,
            *budget_records,
            *budget_bytes,
            now,
            &mut buf,
            &mut emit,
        );
        self.read_buf = buf;
        self.emitted = emitted;
        let res = match res {
            Ok(res) => res,
            Err(e) => {
                tracing::warn!(path = %r.path.display(), error = %e, "Failed to read file.");
                return false;
            }
        };
        if res.bytes > 0 {
            out.reading_files += 1;
        }
        *budget_records = budget_records.saturating_sub(res.tokens);
        *budget_bytes = budget_bytes.saturating_sub(res.bytes);
        if res.more {
            out.more = true;
        }
        res.eof
    }

    /// Every known file with the offset that is safe to store: not past an entry an
    /// operator still holds.
    pub fn checkpoint(&self) -> Vec<Metadata> {
        let held = self.pipeline.held();
        let commit = |id: u64, m: &Metadata| {
            let mut m = m.clone();
            if let Some(h) = held.get(&id) {
                m.offset = m.offset.min(*h);
            }
            m
        };
        let mut out = Vec::new();
        for gen in &self.archive {
            for k in gen {
                out.push(commit(k.id, &k.meta));
            }
        }
        for r in self.lost.iter().chain(self.previous.iter()) {
            out.push(commit(r.id, &r.meta));
        }
        out
    }
}

/// Whether two files hold the same bytes in `[0, upto)` (checked at both ends of the range,
/// at most 1 MiB each).
fn same_prefix(a: &mut File, b: &mut File, upto: u64) -> bool {
    const WINDOW: u64 = 1024 * 1024;
    let ranges = if upto <= 2 * WINDOW {
        vec![(0, upto)]
    } else {
        vec![(0, WINDOW), (upto - WINDOW, upto)]
    };
    for (s, e) in ranges {
        let read = |f: &mut File| -> Option<Vec<u8>> {
            f.seek(SeekFrom::Start(s)).ok()?;
            let mut buf = Vec::new();
            f.by_ref().take(e - s).read_to_end(&mut buf).ok()?;
            Some(buf)
        };
        match (read(a), read(b)) {
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
    true
}

/// A checkpoint with the held-back offsets of a reader map (used by tests).
pub fn offsets(files: &[Metadata]) -> HashMap<String, u64> {
    files
        .iter()
        .filter_map(|m| match m.attributes.get(super::reader::ATTR_FILE_NAME) {
            Some(Value::Str(n)) => Some((n.clone(), m.offset)),
            _ => None,
        })
        .collect()
}
