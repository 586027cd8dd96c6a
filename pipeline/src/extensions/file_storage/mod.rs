//! `file_storage` extension: a key-value store per component on the local disk, surviving
//! restarts and crashes (Go contrib `extension/storage/filestorage`). Each client gets its own
//! database file in `directory`, named as Go names it; the store is `redb` (see `store.rs`).

mod config;
mod store;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::{default_directory, CompactionConfig, FileStorageConfig};
use pipeline_api::storage::{StorageClient, StorageError, StorageExtension};
use pipeline_api::{
    async_trait, BuildError, ComponentId, ComponentKind, Extension, ExtensionFactory,
};
use pipeline_api::{declare, Meta, Stability};
pub use store::{file_name, hashed_name, sanitize};
use store::{FileStorageClient, OpenError, StoreSettings};

pub const META: Meta = Meta::new("file_storage").extension(Stability::Beta);

pub fn factory() -> Arc<dyn ExtensionFactory> {
    declare::extension::<FileStorageConfig>(META, |ctx, cfg| {
        Ok(Arc::new(FileStorage::new(ctx.id, cfg.clone())?))
    })
}

/// The built extension: a checked directory and the settings every client file is opened with.
pub struct FileStorage {
    id: ComponentId,
    directory: PathBuf,
    settings: StoreSettings,
}

impl FileStorage {
    /// Check (or create) the directory. Go checks it in `Validate` and creates it when the
    /// extension is created; here validation stays pure and both happen at build.
    pub fn new(id: ComponentId, cfg: FileStorageConfig) -> Result<Self, BuildError> {
        let directory = prepare_directory(&cfg)?;
        if cfg.compaction.on_rebound {
            tracing::info!(
                extension = %id,
                "compaction::on_rebound is accepted but not needed: this store reuses freed space; compaction::on_start compacts when a client opens."
            );
        }
        Ok(FileStorage {
            id,
            directory,
            settings: StoreSettings {
                fsync: cfg.fsync,
                timeout: cfg.timeout.get(),
                max_size: u64::try_from(cfg.max_size).unwrap_or(0),
                recreate: cfg.recreate,
                compact_on_start: cfg.compaction.on_start,
            },
        })
    }

    /// The directory holding the database files.
    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

fn prepare_directory(cfg: &FileStorageConfig) -> Result<PathBuf, BuildError> {
    let dir = Path::new(&cfg.directory);
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        // Go: "<dir> is not a directory".
        Ok(_) => {
            return Err(BuildError::new(format!(
                "{} is not a directory",
                dir.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !cfg.create_directory {
                // Go: "directory must exist: ... You can enable the create_directory option
                // to automatically create it".
                return Err(BuildError::new(format!(
                    "directory must exist: stat {}: {e}. You can enable the create_directory option to automatically create it",
                    dir.display()
                )));
            }
            create_directory(dir, cfg.directory_mode()).map_err(|e| {
                BuildError::new(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        Err(e) => {
            // Go: "problem accessing configured directory: <dir>, err: ...".
            return Err(BuildError::new(format!(
                "problem accessing configured directory: {}, err: {e}",
                dir.display()
            )));
        }
    }
    check_writable(dir)?;
    dir.canonicalize().map_err(|e| {
        BuildError::new(format!(
            "problem accessing configured directory: {}, err: {e}",
            dir.display()
        ))
    })
}

/// Create the directory and its parents with `mode` (before the umask), as Go's `MkdirAll`.
fn create_directory(dir: &Path, mode: u32) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder.create(dir)
}

/// Create and remove a probe file, so a read-only directory is reported at build rather than
/// when the first component opens its storage.
fn check_writable(dir: &Path) -> Result<(), BuildError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let probe = dir.join(format!(
        ".ferrotel-write-check-{}-{nanos}",
        std::process::id()
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| {
            BuildError::new(format!("directory {} is not writable: {e}", dir.display()))
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

impl StorageExtension for FileStorage {
    fn client(
        &self,
        kind: ComponentKind,
        id: &ComponentId,
        name: &str,
    ) -> Result<Arc<dyn StorageClient>, StorageError> {
        let file = file_name(kind, id, name);
        let path = self.directory.join(&file);
        let store = match store::open_shared(&path, &self.settings) {
            Err(OpenError::NameTooLong) => {
                // Go: a name too long for the file system is replaced by its SHA-256.
                let hashed = self.directory.join(hashed_name(&file));
                tracing::warn!(
                    extension = %self.id,
                    original_file = %path.display(),
                    hashed_file = %hashed.display(),
                    "Storage file name too long; using its hash instead."
                );
                store::open_shared(&hashed, &self.settings)
            }
            other => other,
        }
        .map_err(|e| {
            StorageError(format!(
                "extension {}: cannot open the storage of {} {id} (name {name:?}): {e}",
                self.id,
                kind.as_str()
            ))
        })?;
        Ok(Arc::new(FileStorageClient::new(store)))
    }
}

#[async_trait]
impl Extension for FileStorage {
    async fn start(&self) -> Result<(), BuildError> {
        tracing::info!(
            extension = %self.id,
            directory = %self.directory.display(),
            fsync = self.settings.fsync,
            "Starting file_storage extension"
        );
        Ok(())
    }

    /// Clients belong to the components that opened them and are closed by them (as in Go).
    async fn shutdown(&self) {}

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_storage(&self) -> Option<&dyn StorageExtension> {
        Some(self)
    }
}
