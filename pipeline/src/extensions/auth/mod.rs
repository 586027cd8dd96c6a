//! The authenticator extensions, `basicauth` and `bearertokenauth` (Go contrib
//! `extension/basicauthextension` and `extension/bearertokenauthextension`), and what they
//! share: credentials kept in a file, which follow the file as it changes (Go
//! `extension/internal/credentialsfile`).

pub mod basicauth;
pub mod bearertokenauth;
pub mod htpasswd;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use pipeline_api::BuildError;

/// A credential: written in the config, or the trimmed content of a file, read again when
/// the file changes (its modification time or length), as Go's watcher reads it again on
/// a write. A change that leaves the file unreadable or empty keeps the last value, with a
/// warning, as in Go.
#[derive(Debug)]
pub(crate) enum Credential {
    Inline(String),
    File(CredentialFile),
}

#[derive(Debug)]
pub(crate) struct CredentialFile {
    path: PathBuf,
    /// The file's stamp when last read, and the value then.
    last: Mutex<(Option<(SystemTime, u64)>, String)>,
}

impl Credential {
    /// `file` when set, else `inline` (Go `NewValueResolver`).
    pub(crate) fn new(inline: &str, file: &str) -> Credential {
        if file.is_empty() {
            Credential::Inline(inline.to_string())
        } else {
            Credential::File(CredentialFile {
                path: PathBuf::from(file),
                last: Mutex::new((None, String::new())),
            })
        }
    }

    /// Read a file for the first time: it must be there and not empty (Go's watcher
    /// `Start`).
    pub(crate) fn start(&self) -> Result<(), BuildError> {
        if let Credential::File(f) = self {
            let (stamp, value) = f.read().map_err(|e| {
                BuildError::new(format!(
                    "failed to read credentials file {:?}: {e}",
                    f.path.display().to_string()
                ))
            })?;
            *f.lock() = (stamp, value);
        }
        Ok(())
    }

    /// The value now.
    pub(crate) fn value(&self) -> String {
        match self {
            Credential::Inline(v) => v.clone(),
            Credential::File(f) => f.value(),
        }
    }
}

impl CredentialFile {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<(SystemTime, u64)>, String)> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    fn read(&self) -> Result<(Option<(SystemTime, u64)>, String), String> {
        let stamp = self.stamp();
        let data = std::fs::read_to_string(&self.path).map_err(|e| e.to_string())?;
        let value = data.trim().to_string();
        if value.is_empty() {
            return Err(format!(
                "credentials file {:?} is empty",
                self.path.display().to_string()
            ));
        }
        Ok((stamp, value))
    }

    fn value(&self) -> String {
        let stamp = self.stamp();
        let mut last = self.lock();
        if stamp.is_some() && stamp != last.0 {
            match self.read() {
                Ok(now) => *last = now,
                Err(e) => {
                    // keep the last value; look again only after the next change
                    last.0 = stamp;
                    tracing::warn!(file = %self.path.display(), error = %e, "failed to reload credentials file, keeping last value");
                }
            }
        }
        last.1.clone()
    }
}
