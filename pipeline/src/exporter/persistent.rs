//! The persistent side of a sending queue: every accepted request is written to a storage
//! extension before it is acknowledged, and removed only once it was sent (or failed for
//! good). Keys: `wi` (next write index), `ri` (next index to dispatch), `di` (indexes being
//! sent), and each request under its decimal index. After a crash, the requests that were
//! being sent are sent again (at most one per consumer: the only duplicates), then the rest.

use std::collections::BTreeSet;
use std::sync::Arc;

use pipeline_api::storage::{StorageClient, StorageOp};
use pipeline_api::{Batch, RequestContext, Signal};
use tokio::sync::Mutex;

pub struct PersistentState {
    client: Arc<dyn StorageClient>,
    inner: Mutex<Indexes>,
}

struct Indexes {
    write: u64,
    read: u64,
    dispatched: BTreeSet<u64>,
}

fn encode_u64(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn decode_u64(bytes: Option<Vec<u8>>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

fn encode_set(set: &BTreeSet<u64>) -> Vec<u8> {
    set.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn decode_set(bytes: Option<Vec<u8>>) -> BTreeSet<u64> {
    bytes
        .unwrap_or_default()
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok())
        .map(u64::from_le_bytes)
        .collect()
}

/// What a restart found in storage.
pub struct Recovered {
    pub batches: Vec<(u64, Batch)>,
    /// Requests that were being sent when the process stopped: sent again.
    pub redispatched: usize,
    /// Stored requests that could not be decoded (dropped, with a log line).
    pub corrupt: usize,
}

impl PersistentState {
    /// Open the queue's key space and read back what a previous run left.
    pub async fn open(
        client: Arc<dyn StorageClient>,
        signal: Signal,
    ) -> Result<(PersistentState, Recovered), String> {
        let err = |e: pipeline_api::storage::StorageError| e.to_string();
        let write = decode_u64(client.get("wi").await.map_err(err)?);
        let read = decode_u64(client.get("ri").await.map_err(err)?).min(write);
        let dispatched = decode_set(client.get("di").await.map_err(err)?);
        let mut batches = Vec::new();
        let mut corrupt = 0;
        let indexes: BTreeSet<u64> = dispatched.iter().copied().chain(read..write).collect();
        for idx in &indexes {
            let Some(bytes) = client.get(&idx.to_string()).await.map_err(err)? else {
                continue;
            };
            match Batch::decode(signal, &bytes, RequestContext::default()) {
                Ok(b) => batches.push((*idx, b)),
                Err(e) => {
                    corrupt += 1;
                    tracing::error!(index = idx, error = %e, "Dropping a stored request that cannot be decoded");
                    let _ = client.delete(&idx.to_string()).await;
                }
            }
        }
        let first = batches.first().map(|(i, _)| *i).unwrap_or(write);
        let state = PersistentState {
            client,
            inner: Mutex::new(Indexes {
                write,
                read: first,
                dispatched: BTreeSet::new(),
            }),
        };
        // the recovered requests are queued again, none is dispatched yet
        state
            .client
            .batch(vec![
                StorageOp::Set("ri".into(), encode_u64(first)),
                StorageOp::Set("di".into(), Vec::new()),
            ])
            .await
            .map_err(err)?;
        let redispatched = dispatched
            .iter()
            .filter(|i| batches.iter().any(|(b, _)| b == *i))
            .count();
        Ok((
            state,
            Recovered {
                batches,
                redispatched,
                corrupt,
            },
        ))
    }

    /// Store a request; its index once it is durable.
    pub async fn put(&self, batch: &Batch) -> Result<u64, String> {
        let mut inner = self.inner.lock().await;
        let idx = inner.write;
        self.client
            .batch(vec![
                StorageOp::Set(idx.to_string(), batch.encode()),
                StorageOp::Set("wi".into(), encode_u64(idx + 1)),
            ])
            .await
            .map_err(|e| e.to_string())?;
        inner.write = idx + 1;
        Ok(idx)
    }

    /// A worker took request `idx`.
    pub async fn dispatched(&self, idx: u64) {
        let mut inner = self.inner.lock().await;
        inner.dispatched.insert(idx);
        inner.read = inner.read.max(idx + 1);
        let ops = vec![
            StorageOp::Set("ri".into(), encode_u64(inner.read)),
            StorageOp::Set("di".into(), encode_set(&inner.dispatched)),
        ];
        if let Err(e) = self.client.batch(ops).await {
            tracing::warn!(error = %e, "Cannot record a dispatched request in the persistent queue");
        }
    }

    /// Request `idx` is done (sent, or failed for good): forget it.
    pub async fn finished(&self, idx: u64) {
        let mut inner = self.inner.lock().await;
        inner.dispatched.remove(&idx);
        let ops = vec![
            StorageOp::Delete(idx.to_string()),
            StorageOp::Set("di".into(), encode_set(&inner.dispatched)),
        ];
        if let Err(e) = self.client.batch(ops).await {
            tracing::warn!(error = %e, "Cannot remove a sent request from the persistent queue");
        }
    }

    pub async fn close(&self) {
        if let Err(e) = self.client.close().await {
            tracing::warn!(error = %e, "Cannot close the persistent queue's storage");
        }
    }
}
