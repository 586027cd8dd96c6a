//! The files the `file` exporter writes: a buffered plain file, or a rotating one with
//! Go's timberjack semantics (the writer Go's exporter uses when `rotation` is set).
//!
//! timberjack facts relied on: the current file keeps its name; when a write would take it
//! past `max_megabytes` (0: 100) it is renamed to `<name>-<time>-size<ext>` (time formatted
//! `2006-01-02T15-04-05.000`, UTC unless `localtime`) and a new file is opened; a single write
//! larger than the maximum is refused; after a rotation the backups beyond the newest
//! `max_backups` (0: all kept) and those older than `max_days` days (0: no age limit) are
//! removed. An existing file is appended to when the exporter starts.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::config::{Rotation, DEFAULT_MAX_MEGABYTES};

/// The time format of backup names (Go layout `2006-01-02T15-04-05.000`).
const BACKUP_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S.%3f";

/// One output file.
pub enum Sink {
    Plain(BufWriter<File>),
    Rotating(RotatingFile),
}

impl Sink {
    /// Open `path`: truncated unless `append`; rotating when `rotation` is set.
    pub fn open(path: &Path, append: bool, rotation: Option<&Rotation>) -> io::Result<Sink> {
        match rotation {
            None => {
                let mut o = OpenOptions::new();
                o.create(true).read(true);
                if append {
                    o.append(true);
                } else {
                    o.write(true).truncate(true);
                }
                Ok(Sink::Plain(BufWriter::new(o.open(path)?)))
            }
            Some(r) => Ok(Sink::Rotating(RotatingFile::open(path, r.clone())?)),
        }
    }

    /// Write one framed record.
    pub fn write(&mut self, record: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(record),
            Sink::Rotating(r) => r.write(record),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Rotating(r) => r.file.flush(),
        }
    }
}

/// A file rotated by size, as timberjack does.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
}

impl RotatingFile {
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
        })
    }

    fn max_bytes(&self) -> u64 {
        let mb = if self.rotation.max_megabytes <= 0 {
            DEFAULT_MAX_MEGABYTES
        } else {
            self.rotation.max_megabytes
        };
        (mb as u64).saturating_mul(1024 * 1024)
    }

    pub fn write(&mut self, record: &[u8]) -> io::Result<()> {
        let len = record.len() as u64;
        let max = self.max_bytes();
        if len > max {
            return Err(io::Error::other(format!(
                "write length {len} exceeds maximum file size {max}"
            )));
        }
        if self.size + len > max {
            self.rotate()?;
        }
        self.file.write_all(record)?;
        self.size += len;
        Ok(())
    }

    /// Rename the current file to a backup name, open a new one and prune the backups.
    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let mut now = SystemTime::now();
        let mut backup = backup_name(&self.path, now, self.rotation.localtime);
        // Two rotations in one millisecond would share a name: move on a millisecond.
        while backup.exists() {
            now += Duration::from_millis(1);
            backup = backup_name(&self.path, now, self.rotation.localtime);
        }
        std::fs::rename(&self.path, &backup)?;
        self.file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        self.size = 0;
        prune(&self.path, &self.rotation, SystemTime::now());
        Ok(())
    }
}

/// `<dir>/<stem>-<time>-size<ext>`.
pub fn backup_name(path: &Path, at: SystemTime, local: bool) -> PathBuf {
    let (stem, ext) = split_name(path);
    let ts = jiff::Timestamp::try_from(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let tz = if local {
        jiff::tz::TimeZone::system()
    } else {
        jiff::tz::TimeZone::UTC
    };
    let when = ts.to_zoned(tz).strftime(BACKUP_TIME_FORMAT).to_string();
    path.with_file_name(format!("{stem}-{when}-size{ext}"))
}

/// The file name's stem and extension (with its dot), as Go's `filepath.Ext` splits them.
fn split_name(path: &Path) -> (String, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rfind('.') {
        Some(i) => (name[..i].to_string(), name[i..].to_string()),
        None => (name, String::new()),
    }
}

/// The backups of `path`, newest first, with the time in their names.
pub fn backups(path: &Path, local: bool) -> Vec<(PathBuf, jiff::Timestamp)> {
    let (stem, ext) = split_name(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{stem}-");
    let suffix = format!("-size{ext}");
    let tz = if local {
        jiff::tz::TimeZone::system()
    } else {
        jiff::tz::TimeZone::UTC
    };
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return found;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(middle) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(&suffix))
        else {
            continue;
        };
        let Ok(dt) = jiff::civil::DateTime::strptime(BACKUP_TIME_FORMAT, middle) else {
            continue;
        };
        let Ok(z) = dt.to_zoned(tz.clone()) else {
            continue;
        };
        found.push((e.path(), z.timestamp()));
    }
    found.sort_by_key(|b| std::cmp::Reverse(b.1));
    found
}

/// Remove the backups beyond `max_backups` and those older than `max_days`.
fn prune(path: &Path, rotation: &Rotation, now: SystemTime) {
    let list = backups(path, rotation.localtime);
    let now = jiff::Timestamp::try_from(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    for (i, (p, at)) in list.iter().enumerate() {
        let too_many = rotation.max_backups > 0 && i as i64 >= rotation.max_backups;
        let too_old = rotation.max_days > 0
            && now.as_second() - at.as_second() > rotation.max_days.saturating_mul(86_400);
        if too_many || too_old {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::warn!(path = %p.display(), error = %e, "Failed to remove an old rotated file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::write(p, b"x").unwrap();
    }

    /// `max_days`: backups whose name says they are older go at the next prune, the others
    /// stay; with `localtime` the names carry local time and are read back as such.
    #[test]
    fn backups_older_than_max_days_are_removed_in_utc_and_local_time() {
        for localtime in [false, true] {
            let dir = std::env::temp_dir().join(format!(
                "ferrotel-file-max-days-{}-{localtime}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("out.json");
            let now = SystemTime::now();
            let day = Duration::from_secs(86_400);
            let old = backup_name(&path, now - 3 * day, localtime);
            let recent = backup_name(&path, now - day / 2, localtime);
            touch(&old);
            touch(&recent);
            // the names parse back to their times, in the zone they were written in
            let found = backups(&path, localtime);
            assert_eq!(found.len(), 2);
            assert_eq!(found[0].0, recent);
            let age = now.duration_since(found[1].1.into()).unwrap().as_secs();
            assert!((3 * 86_400 - 2..=3 * 86_400 + 2).contains(&age), "{age}");
            let rotation = Rotation {
                max_days: 2,
                localtime,
                ..Rotation::default()
            };
            prune(&path, &rotation, now);
            assert!(!old.exists(), "older than max_days");
            assert!(recent.exists());
            // max_days 0 keeps every age
            touch(&old);
            prune(
                &path,
                &Rotation {
                    localtime,
                    ..Rotation::default()
                },
                now,
            );
            assert!(old.exists());
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
