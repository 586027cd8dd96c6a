//! Storage a component gets from a storage extension (`file_storage`), as the Go
//! collector's `extension/xextension/storage.Client`: a key-value store per component,
//! surviving restarts. Used by filelog checkpoints and persistent exporter queues.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ids::{ComponentId, ComponentKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

/// One operation of [`StorageClient::batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageOp {
    Set(String, Vec<u8>),
    Delete(String),
}

/// A component's own key space. Every method is durable when it returns (subject to the
/// extension's `fsync` setting).
#[async_trait]
pub trait StorageClient: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Apply every operation atomically, in order.
    async fn batch(&self, ops: Vec<StorageOp>) -> Result<(), StorageError>;
    /// Flush and release the client; later calls fail.
    async fn close(&self) -> Result<(), StorageError>;
}

/// Implemented by extensions that hand out storage clients.
pub trait StorageExtension: Send + Sync {
    /// The client for one component; `name` separates several clients of one component
    /// (an exporter's queue per signal). The same arguments give the same key space across
    /// restarts.
    fn client(
        &self,
        kind: ComponentKind,
        id: &ComponentId,
        name: &str,
    ) -> Result<Arc<dyn StorageClient>, StorageError>;
}

/// An in-memory [`StorageClient`], for tests of components that use storage.
#[derive(Default, Clone)]
pub struct MemoryStorage {
    map: Arc<std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>>,
}

impl MemoryStorage {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Vec<u8>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key currently stored.
    pub fn keys(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }
}

#[async_trait]
impl StorageClient for MemoryStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.map().get(key).cloned())
    }
    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.map().insert(key.to_string(), value);
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.map().remove(key);
        Ok(())
    }
    async fn batch(&self, ops: Vec<StorageOp>) -> Result<(), StorageError> {
        let mut map = self.map();
        for op in ops {
            match op {
                StorageOp::Set(k, v) => {
                    map.insert(k, v);
                }
                StorageOp::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }
    async fn close(&self) -> Result<(), StorageError> {
        Ok(())
    }
}
