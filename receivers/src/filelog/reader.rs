//! One file being read: its fingerprint, offset and attributes, and reading from the offset
//! to the end of the file.
//!
//! Go facts (`pkg/stanza/fileconsumer/internal/{fingerprint,reader}`, `attrs`):
//! - a fingerprint is the first `fingerprint_size` bytes; a file is known when its current
//!   fingerprint starts with a stored one (a growing file's fingerprint grows until full);
//!   an empty fingerprint matches nothing;
//! - the offset only moves past emitted tokens; a token that cannot be decoded is skipped;
//! - `gzip`: each read decompresses from the offset to the current end (appended gzip
//!   members), and the offset is set to that end;
//! - attributes: `log.file.name` (base name), `log.file.path` (as matched),
//!   `log.file.name_resolved` / `log.file.path_resolved` (symlinks resolved),
//!   `log.file.record_number` (counting every token read from the file, from 1),
//!   `log.file.record_offset` (the token's byte offset).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use stanza::entry::{Map, Value};

use super::split::{Cut, FlushState, Splitter};

pub use stanza::attrs::{
    ATTR_FILE_NAME, ATTR_FILE_NAME_RESOLVED, ATTR_FILE_PATH, ATTR_FILE_PATH_RESOLVED,
    ATTR_RECORD_NUMBER, ATTR_RECORD_OFFSET,
};

/// Which attributes to add (Go `attrs.Resolver`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AttrFlags {
    pub name: bool,
    pub path: bool,
    pub name_resolved: bool,
    pub path_resolved: bool,
}

impl AttrFlags {
    pub fn resolve(self, path: &Path) -> Map {
        let mut m = Map::new();
        let text = |p: &Path| p.to_string_lossy().into_owned();
        let base = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        if self.name {
            m.insert(ATTR_FILE_NAME.into(), Value::Str(base(path)));
        }
        if self.path {
            m.insert(ATTR_FILE_PATH.into(), Value::Str(text(path)));
        }
        if self.name_resolved || self.path_resolved {
            let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            if self.name_resolved {
                m.insert(ATTR_FILE_NAME_RESOLVED.into(), Value::Str(base(&resolved)));
            }
            if self.path_resolved {
                m.insert(ATTR_FILE_PATH_RESOLVED.into(), Value::Str(text(&resolved)));
            }
        }
        m
    }
}

/// Identity of a file on disk (device, inode); (0, 0) where unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            FileId::default()
        }
    }

    pub fn known(self) -> bool {
        self.ino != 0
    }
}

/// The first `size` bytes of an open file.
pub fn fingerprint(file: &mut File, size: usize) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::with_capacity(size.min(64 * 1024));
    file.by_ref().take(size as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Go `Fingerprint.StartsWith`: `new` begins with a non-empty `old`.
pub fn starts_with(new: &[u8], old: &[u8]) -> bool {
    !old.is_empty() && new.len() >= old.len() && new[..old.len()] == *old
}

/// What a checkpoint keeps about a file (Go `reader.Metadata`).
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub fingerprint: Vec<u8>,
    pub offset: u64,
    pub record_num: i64,
    pub attributes: Map,
    pub file_id: FileId,
    /// `truncate` behaviour: discarding the rest of an oversized token.
    pub discarding: bool,
    pub flush: FlushState,
}

/// A token read from a file.
#[derive(Debug, Clone)]
pub struct Token {
    pub body: Value,
    pub start: u64,
    pub record_num: i64,
}

/// What one read produced.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// Tokens handed to the caller.
    pub tokens: usize,
    /// The read stopped at the budget: more data is waiting.
    pub more: bool,
    /// The end of the file was reached with nothing left over.
    pub eof: bool,
    pub bytes: usize,
}

/// An open file being read.
#[derive(Debug)]
pub struct Reader {
    pub id: u64,
    pub meta: Metadata,
    pub path: PathBuf,
    pub file: Option<File>,
    pub gzip: bool,
}

/// Bytes asked of the file per read call. Lines are cut in the read buffer itself, so a block
/// holds many lines (about 700 Docker json-file lines of 350 bytes).
const BLOCK: usize = 256 * 1024;

/// A read buffer larger than this (grown for one long entry) is given back after the read.
const KEEP_BUFFER: usize = 4 * BLOCK;

impl Reader {
    /// Refresh the fingerprint when it is shorter than `size` and the file grew, unless the
    /// file's head changed (truncation).
    pub fn refresh_fingerprint(&mut self, size: usize) {
        if self.meta.fingerprint.len() >= size {
            return;
        }
        let Some(f) = self.file.as_mut() else { return };
        if let Ok(fp) = fingerprint(f, size) {
            if self.meta.fingerprint.is_empty() || starts_with(&fp, &self.meta.fingerprint) {
                self.meta.fingerprint = fp;
            }
        }
    }

    /// Whether the open handle still holds the file this reader knows (Go `Validate`).
    pub fn valid(&mut self, size: usize) -> bool {
        let Some(f) = self.file.as_mut() else {
            return false;
        };
        match fingerprint(f, size) {
            Ok(fp) => starts_with(&fp, &self.meta.fingerprint),
            Err(_) => false,
        }
    }

    /// Read tokens from the offset, at most `max_tokens` / about `max_bytes`, handing each to
    /// `emit` as it is cut. `buf` is a read buffer lent by the caller (reused across reads; its
    /// content does not matter).
    pub fn read(
        &mut self,
        sp: &Splitter,
        max_tokens: usize,
        max_bytes: usize,
        now: Instant,
        buf: &mut Vec<u8>,
        emit: &mut dyn FnMut(Token),
    ) -> std::io::Result<ReadResult> {
        if self.gzip {
            return self.read_gzip(sp, max_tokens, emit);
        }
        let Some(mut file) = self.file.take() else {
            return Ok(ReadResult::default());
        };
        let r = self.read_from(&mut file, sp, (max_tokens, max_bytes), now, buf, emit);
        self.file = Some(file);
        if buf.len() > KEEP_BUFFER {
            *buf = Vec::new();
        }
        r
    }

    fn read_from(
        &mut self,
        file: &mut File,
        sp: &Splitter,
        (max_tokens, max_bytes): (usize, usize),
        now: Instant,
        buf: &mut Vec<u8>,
        emit: &mut dyn FnMut(Token),
    ) -> std::io::Result<ReadResult> {
        let mut res = ReadResult::default();
        file.seek(SeekFrom::Start(self.meta.offset))?;
        if buf.len() < BLOCK {
            buf.resize(BLOCK, 0);
        }
        // `buf[lo..hi]` holds the bytes read and not yet consumed; `base` is the file offset
        // of `buf[lo]`.
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut base = self.meta.offset;
        let mut at_eof = false;
        loop {
            if !at_eof {
                if lo > 0 {
                    buf.copy_within(lo..hi, 0);
                    hi -= lo;
                    lo = 0;
                }
                if hi == buf.len() {
                    // one entry longer than the buffer: make room for more of it
                    buf.resize(buf.len() * 2, 0);
                }
                let n = file.read(&mut buf[hi..])?;
                if n == 0 {
                    at_eof = true;
                } else {
                    hi += n;
                    res.bytes += n;
                }
            }
            let mut pos = lo;
            loop {
                if res.tokens >= max_tokens {
                    break;
                }
                let data = &buf[pos..hi];
                if data.is_empty() {
                    break;
                }
                if self.meta.discarding {
                    match sp.skip_to_delimiter(data) {
                        Some(adv) => {
                            pos += adv;
                            self.meta.discarding = false;
                            continue;
                        }
                        None => {
                            pos = hi;
                            break;
                        }
                    }
                }
                let at = base + (pos - lo) as u64;
                match sp.cut(data, at_eof) {
                    Cut::Token {
                        advance,
                        start,
                        end,
                    } if advance > 0 => {
                        let end = end.max(start);
                        if end - start > sp.max {
                            // longer than max_log_size: cut (Go's scanner returns the first
                            // max_log_size bytes; `split` goes on from there)
                            let cut = sp.max - sp.max % sp.enc.unit();
                            let cut = cut.max(sp.enc.unit()).min(end - start);
                            self.push(sp, &mut res, &data[start..start + cut], at, emit);
                            if sp.behavior == super::config::MaxLogSizeBehavior::Split {
                                pos += start + cut;
                            } else {
                                pos += advance;
                            }
                        } else {
                            self.push(sp, &mut res, &data[start..end], at, emit);
                            pos += advance;
                        }
                        self.meta.flush = FlushState::default();
                    }
                    _ => {
                        if data.len() >= sp.max {
                            // an oversized token: cut at max_log_size
                            let cut = sp.max - sp.max % sp.enc.unit();
                            let cut = cut.max(sp.enc.unit()).min(data.len());
                            self.push(sp, &mut res, &data[..cut], at, emit);
                            pos += cut;
                            if sp.behavior == super::config::MaxLogSizeBehavior::Truncate {
                                self.meta.discarding = true;
                            }
                            continue;
                        }
                        break;
                    }
                }
            }
            base += (pos - lo) as u64;
            lo = pos;
            self.meta.offset = base;
            if res.tokens >= max_tokens || res.bytes >= max_bytes {
                res.more = lo < hi || !at_eof;
                return Ok(res);
            }
            if at_eof {
                break;
            }
        }
        // the end of the file: a partial token waits for more data or the flush period
        let rest = &buf[lo..hi];
        if rest.is_empty() {
            self.meta.flush = FlushState::default();
            res.eof = true;
            return Ok(res);
        }
        if self.meta.discarding {
            return Ok(res);
        }
        let grew = rest.len() > self.meta.flush.last_len || self.meta.flush.last_change.is_none();
        if grew {
            self.meta.flush = FlushState {
                last_change: Some(now),
                last_len: rest.len(),
            };
        } else if !sp.flush_period.is_zero()
            && self
                .meta
                .flush
                .last_change
                .is_some_and(|t| now.duration_since(t) >= sp.flush_period)
        {
            let len = rest.len().min(sp.max);
            self.push(sp, &mut res, &rest[..len], base, emit);
            self.meta.offset = base + len as u64;
            self.meta.flush = FlushState::default();
            res.eof = len == rest.len();
        }
        Ok(res)
    }

    fn push(
        &mut self,
        sp: &Splitter,
        res: &mut ReadResult,
        raw: &[u8],
        start: u64,
        emit: &mut dyn FnMut(Token),
    ) {
        self.meta.record_num += 1;
        let trimmed = sp.trim(raw);
        let body = match sp.enc.decode(trimmed) {
            Value::Str(s) if sp.enc.unit() != 1 => Value::Str(sp.trim_str(&s).to_string()),
            other => other,
        };
        let empty = match &body {
            Value::Str(s) => s.is_empty(),
            Value::Bytes(b) => b.is_empty(),
            _ => false,
        };
        if !empty {
            res.tokens += 1;
            emit(Token {
                body,
                start,
                record_num: self.meta.record_num,
            });
        }
    }

    /// Go: decompress from the offset to the current end, then the offset is that end.
    fn read_gzip(
        &mut self,
        sp: &Splitter,
        max_tokens: usize,
        emit: &mut dyn FnMut(Token),
    ) -> std::io::Result<ReadResult> {
        let mut res = ReadResult::default();
        let Some(file) = self.file.as_mut() else {
            return Ok(res);
        };
        let end = file.metadata()?.len();
        if end <= self.meta.offset {
            res.eof = true;
            return Ok(res);
        }
        file.seek(SeekFrom::Start(self.meta.offset))?;
        let section = file.by_ref().take(end - self.meta.offset);
        let mut data = Vec::new();
        let mut dec = flate2::read::MultiGzDecoder::new(section);
        if let Err(e) = dec.read_to_end(&mut data) {
            // an incomplete member (still being written): try again next poll
            tracing::debug!(path = %self.path.display(), error = %e, "Could not decompress yet.");
            return Ok(res);
        }
        res.bytes = data.len();
        let start = self.meta.offset;
        let mut pos = 0;
        while pos < data.len() {
            match sp.cut(&data[pos..], true) {
                Cut::Token {
                    advance,
                    start: s,
                    end: e,
                } if advance > 0 => {
                    let tok = data[pos + s..pos + e.max(s)].to_vec();
                    self.push(sp, &mut res, &tok, start, emit);
                    pos += advance;
                }
                _ => {
                    let tok = data[pos..].to_vec();
                    self.push(sp, &mut res, &tok, start, emit);
                    pos = data.len();
                }
            }
        }
        let _ = max_tokens;
        self.meta.offset = end;
        res.eof = true;
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_starts_with_as_go() {
        assert!(starts_with(b"abcdef", b"abc"));
        assert!(!starts_with(b"ab", b"abc"));
        assert!(!starts_with(b"abc", b""));
    }
}
