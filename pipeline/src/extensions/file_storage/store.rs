//! One embedded database file per storage client, in `redb` (pure Rust, copy-on-write B-trees,
//! checksummed pages, atomic commits): a commit interrupted by a crash is rolled back to the last
//! complete one when the file is next opened.
//!
//! Durability: every commit is a redb `Durability::Immediate` commit, so its pages and header
//! are written to the file before `commit` returns and survive the process being killed. With
//! `fsync: false` (Go's default, bbolt `NoSync`) the backend skips the `fsync` calls, so a commit
//! may be lost if the machine loses power; with `fsync: true` each commit is synced. redb's own
//! `Durability::None` is not used: it keeps commits in memory until a later durable commit, and
//! a killed process would lose them.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pipeline_api::storage::{StorageClient, StorageError, StorageOp};
use pipeline_api::{async_trait, ComponentId, ComponentKind};
use redb::backends::FileBackend;
use redb::{BackendError, Builder, Database, ReadableDatabase, StorageBackend, TableDefinition};

/// The one table of each file; Go's bbolt bucket has the same name, `default`.
const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("default");

/// Read cache per database. Storage clients (queues, checkpoints) read each value about once,
/// so a small cache is enough; redb's default is 1 GiB.
const CACHE_BYTES: usize = 16 << 20;

/// How often opening retries while another process holds the file's lock.
const LOCK_RETRY: Duration = Duration::from_millis(25);

/// The file name of a client, as Go's `GetClient` builds it: `{kind}_{type}_{name}` or
/// `{kind}_{type}_{name}_{storage name}` (the component name is empty for `type` alone), then
/// [`sanitize`]d. The same component gets the same file across restarts.
pub fn file_name(kind: ComponentKind, id: &ComponentId, name: &str) -> String {
    let component = id.name().unwrap_or("");
    let raw = if name.is_empty() {
        format!("{}_{}_{}", kind.as_str(), id.type_name(), component)
    } else {
        format!(
            "{}_{}_{}_{}",
            kind.as_str(),
            id.type_name(),
            component,
            name
        )
    };
    sanitize(&raw)
}

/// Go's rule: ASCII letters, digits, `.`, `-` and `_` are kept; every other character, `~`
/// included (so a sanitized name never equals a name that needed none), becomes `~` and its
/// code point in upper-case hex, at least four digits (`/` → `~002F`).
pub fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            out.push(c);
        } else {
            out.push_str(&format!("~{:04X}", u32::from(c)));
        }
    }
    out
}

/// Go's fallback when the sanitized name is too long for the file system: the SHA-256 of the
/// sanitized name, in lower-case hex (64 characters).
pub fn hashed_name(sanitized: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, sanitized.as_bytes());
    const_hex::encode(digest.as_ref())
}

/// What a [`Store`] is opened with.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub fsync: bool,
    /// Wait this long for another process's lock; zero waits for ever.
    pub timeout: Duration,
    /// Refuse writes that would make the database use more than this; 0 means no limit.
    pub max_size: u64,
    pub recreate: bool,
    pub compact_on_start: bool,
}

/// Why a database could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The path is too long for the file system (the caller retries with [`hashed_name`]).
    NameTooLong,
    Failed(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NameTooLong => f.write_str("file name too long"),
            OpenError::Failed(m) => f.write_str(m),
        }
    }
}

/// A redb backend over a file whose `sync_data` is a no-op unless `fsync` is set: the writes
/// still reach the kernel before a commit returns (so a killed process loses nothing), only
/// the wait for the disk is skipped. Everything else, locking included, is the file backend's.
#[derive(Debug)]
struct FileWithSyncSetting {
    inner: FileBackend,
    fsync: bool,
}

impl StorageBackend for FileWithSyncSetting {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        if self.fsync {
            self.inner.sync_data()
        } else {
            Ok(())
        }
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// An open database file.
pub struct Store {
    db: Database,
    path: PathBuf,
    max_size: u64,
}

/// Databases open in this process, by path. A file is opened once per process and shared by
/// every client of it, so two clients of the same key space never fight over the file lock.
static OPEN: Mutex<BTreeMap<PathBuf, Weak<Store>>> = Mutex::new(BTreeMap::new());

/// The open database at `path`, opening it if this process does not have it open yet.
pub fn open_shared(path: &Path, settings: &StoreSettings) -> Result<Arc<Store>, OpenError> {
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|_, store| store.strong_count() > 0);
    if let Some(store) = open.get(path).and_then(Weak::upgrade) {
        return Ok(store);
    }
    let store = Arc::new(Store::open(path, settings)?);
    open.insert(path.to_path_buf(), Arc::downgrade(&store));
    Ok(store)
}

/// Why one attempt to open failed.
enum Attempt {
    Locked,
    NameTooLong,
    /// The file is not a database this store can read.
    Unreadable(String),
    Other(String),
}

fn classify(e: redb::Error) -> Attempt {
    match e {
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => Attempt::Locked,
        redb::Error::Corrupted(_)
        | redb::Error::UpgradeRequired(_)
        | redb::Error::RepairAborted
        | redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. } => Attempt::Unreadable(e.to_string()),
        redb::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) =>
        {
            Attempt::Unreadable(io.to_string())
        }
        other => Attempt::Other(other.to_string()),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// A file written by another program: Go's collector keeps the same file names in bbolt
/// format (a meta page whose magic `0xED0CDAED` follows the 16-byte page header).
fn foreign_format(path: &Path) -> Option<String> {
    let mut head = [0u8; 20];
    let mut file = std::fs::File::open(path).ok()?;
    file.read_exact(&mut head).ok()?;
    let magic = u32::from_le_bytes([head[16], head[17], head[18], head[19]]);
    (magic == 0xED0C_DAED).then(|| {
        "it is a bbolt database written by the Go collector, which Ferrotel cannot read".into()
    })
}

fn open_file(path: &Path) -> Result<std::fs::File, Attempt> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Go opens its files with 0600.
        options.mode(0o600);
    }
    options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ENAMETOOLONG) {
            return Attempt::NameTooLong;
        }
        Attempt::Other(format!("cannot open {}: {e}", path.display()))
    })
}

fn try_open(path: &Path, settings: &StoreSettings) -> Result<(Database, bool), Attempt> {
    if let Some(reason) = foreign_format(path) {
        return Err(Attempt::Unreadable(reason));
    }
    let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let file = open_file(path)?;
    let inner = FileBackend::new(file).map_err(|e| classify(e.into()))?;
    let backend = FileWithSyncSetting {
        inner,
        fsync: settings.fsync,
    };
    let opened = catch_unwind(AssertUnwindSafe(|| -> Result<Database, redb::Error> {
        let mut builder = Builder::new();
        builder.set_cache_size(CACHE_BYTES);
        let db = builder.create_with_backend(backend)?;
        // Create the table up front, as Go creates its bucket, so reads never miss it.
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        Ok(db)
    }));
    match opened {
        Ok(Ok(db)) => Ok((db, existed)),
        Ok(Err(e)) => Err(classify(e)),
        Err(panic) => Err(Attempt::Unreadable(format!(
            "the database library failed on it: {}",
            panic_message(panic.as_ref())
        ))),
    }
}

/// Open, waiting up to the timeout while another process holds the file.
fn open_waiting(path: &Path, settings: &StoreSettings) -> Result<(Database, bool), Attempt> {
    let started = Instant::now();
    loop {
        match try_open(path, settings) {
            Err(Attempt::Locked) => {
                let waited = started.elapsed();
                if !settings.timeout.is_zero() && waited >= settings.timeout {
                    return Err(Attempt::Other(format!(
                        "{} is locked by another process (waited {}, the timeout setting)",
                        path.display(),
                        pipeline_api::config::format_go_duration(settings.timeout)
                    )));
                }
                std::thread::sleep(LOCK_RETRY);
            }
            other => return other,
        }
    }
}

/// Go's backup name: `<file>.<local time as 2006-01-02T15:04:05.000>.backup`; here the time
/// is UTC.
fn backup_path(path: &Path) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let stamp = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        now.subsec_millis()
    );
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{stamp}.backup"));
    PathBuf::from(name)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn sync_directory(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

impl Store {
    fn open(path: &Path, settings: &StoreSettings) -> Result<Store, OpenError> {
        let failed = |reason: String| OpenError::Failed(reason);
        let (mut db, existed) = match open_waiting(path, settings) {
            Ok(opened) => opened,
            Err(Attempt::NameTooLong) => return Err(OpenError::NameTooLong),
            Err(Attempt::Unreadable(reason)) if settings.recreate => {
                // Go's `recreate`: move the unreadable file aside and start a fresh one.
                let backup = backup_path(path);
                std::fs::rename(path, &backup).map_err(|e| {
                    failed(format!(
                        "{} cannot be read ({reason}) and could not be moved aside to {}; remove it by hand: {e}",
                        path.display(),
                        backup.display()
                    ))
                })?;
                tracing::warn!(
                    file = %path.display(),
                    backup = %backup.display(),
                    reason = %reason,
                    "Storage file could not be read; moved it aside and created a fresh one."
                );
                match open_waiting(path, settings) {
                    Ok(opened) => opened,
                    Err(Attempt::NameTooLong) => return Err(OpenError::NameTooLong),
                    Err(Attempt::Unreadable(m) | Attempt::Other(m)) => return Err(failed(m)),
                    Err(Attempt::Locked) => {
                        return Err(failed(format!("{} is locked", path.display())))
                    }
                }
            }
            Err(Attempt::Unreadable(reason)) => {
                return Err(failed(format!(
                    "{} is not a valid storage file: {reason}. Move it aside (its contents are lost) or set recreate: true",
                    path.display()
                )))
            }
            Err(Attempt::Other(reason)) => return Err(failed(reason)),
            Err(Attempt::Locked) => return Err(failed(format!("{} is locked", path.display()))),
        };
        if !existed && settings.fsync {
            // A new file's directory entry must reach the disk too.
            sync_directory(path);
        }
        if settings.compact_on_start {
            match catch_unwind(AssertUnwindSafe(|| db.compact())) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(file = %path.display(), error = %e, "Compaction on start failed.")
                }
                Err(p) => tracing::error!(
                    file = %path.display(),
                    error = %panic_message(p.as_ref()),
                    "Compaction on start failed."
                ),
            }
        }
        Ok(Store {
            db,
            path: path.to_path_buf(),
            max_size: settings.max_size,
        })
    }

    fn error(&self, e: impl Into<redb::Error>) -> String {
        format!("file_storage {}: {}", self.path.display(), e.into())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(TABLE).map_err(|e| self.error(e))?;
        let value = table.get(key).map_err(|e| self.error(e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Apply every operation in one transaction: all or nothing.
    fn apply(&self, ops: &[StorageOp]) -> Result<(), String> {
        if ops.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        {
            let mut table = txn.open_table(TABLE).map_err(|e| self.error(e))?;
            for op in ops {
                match op {
                    StorageOp::Set(k, v) => {
                        table
                            .insert(k.as_str(), v.as_slice())
                            .map_err(|e| self.error(e))?;
                    }
                    StorageOp::Delete(k) => {
                        table.remove(k.as_str()).map_err(|e| self.error(e))?;
                    }
                }
            }
        }
        if self.max_size > 0 && ops.iter().any(|op| matches!(op, StorageOp::Set(..))) {
            let stats = txn.stats().map_err(|e| self.error(e))?;
            let used = stats
                .allocated_pages()
                .saturating_mul(stats.page_size() as u64);
            if used > self.max_size {
                txn.abort().map_err(|e| self.error(e))?;
                return Err(format!(
                    "file_storage {}: the storage is full (max_size {} bytes)",
                    self.path.display(),
                    self.max_size
                ));
            }
        }
        txn.commit().map_err(|e| self.error(e))
    }
}

/// A component's client: a handle on the shared [`Store`] of its file.
pub struct FileStorageClient {
    store: Mutex<Option<Arc<Store>>>,
    path: PathBuf,
}

impl FileStorageClient {
    pub fn new(store: Arc<Store>) -> Self {
        let path = store.path.clone();
        FileStorageClient {
            store: Mutex::new(Some(store)),
            path,
        }
    }

    fn store(&self) -> Result<Arc<Store>, StorageError> {
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                StorageError(format!(
                    "file_storage {}: the client is closed",
                    self.path.display()
                ))
            })
    }

    /// Run blocking database work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, String> + Send + 'static,
    ) -> Result<T, StorageError> {
        let store = self.store()?;
        let path = self.path.clone();
        match tokio::task::spawn_blocking(move || work(&store)).await {
            Ok(result) => result.map_err(StorageError),
            Err(e) if e.is_panic() => Err(StorageError(format!(
                "file_storage {}: the database library failed: {}",
                path.display(),
                panic_message(e.into_panic().as_ref())
            ))),
            Err(e) => Err(StorageError(format!(
                "file_storage {}: {e}",
                path.display()
            ))),
        }
    }
}

#[async_trait]
impl StorageClient for FileStorageClient {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let key = key.to_string();
        self.blocking(move |s| s.get(&key)).await
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        let ops = vec![StorageOp::Set(key.to_string(), value)];
        self.blocking(move |s| s.apply(&ops)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let ops = vec![StorageOp::Delete(key.to_string())];
        self.blocking(move |s| s.apply(&ops)).await
    }

    async fn batch(&self, ops: Vec<StorageOp>) -> Result<(), StorageError> {
        self.blocking(move |s| s.apply(&ops)).await
    }

    /// Release this client. The file is closed when its last client is; closing twice is not
    /// an error (as in Go).
    async fn close(&self) -> Result<(), StorageError> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(store) = store else {
            return Ok(());
        };
        let path = self.path.clone();
        let closed = tokio::task::spawn_blocking(move || match Arc::try_unwrap(store) {
            Ok(store) => store.db.close().map_err(|e| e.to_string()),
            // Another client of the same file still uses it.
            Err(shared) => {
                drop(shared);
                Ok(())
            }
        })
        .await;
        match closed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StorageError(format!(
                "file_storage {}: closing: {e}",
                path.display()
            ))),
            Err(e) => Err(StorageError(format!(
                "file_storage {}: closing: {e}",
                path.display()
            ))),
        }
    }
}
