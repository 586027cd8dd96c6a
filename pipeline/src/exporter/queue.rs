//! The sending queue: bounded by `queue_size` (in requests, items or encoded bytes, per
//! `sizer`) and by the process memory budget, drained by `num_consumers` workers (or by the
//! queue's batcher, with `sending_queue.batch`). A full queue refuses (the refusal goes back to the client as a
//! retryable error) or, with `block_on_overflow`, makes the sender wait. With `storage`, every
//! accepted request is written to the storage extension before it is acknowledged, and what
//! was not sent survives a restart (see `persistent.rs`).

use std::collections::VecDeque;
use std::sync::Arc;

use pipeline_api::{Batch, ConsumeError, MemoryPermit};
use tokio::sync::{oneshot, Mutex, Notify, OwnedSemaphorePermit, Semaphore};

use crate::config::QueueSizer;

/// One queued request.
pub struct Item {
    pub batch: Batch,
    /// Its index in the persistent queue, if any.
    pub index: Option<u64>,
    pub permit: OwnedSemaphorePermit,
    /// Shared by every queue holding the same data (see `Batch::memory_charge`).
    pub memory: std::sync::Arc<MemoryPermit>,
    /// With `wait_for_result`: the caller waiting for the export's outcome.
    pub done: Option<oneshot::Sender<Result<(), ConsumeError>>>,
    /// The `exporter/enqueue` span it was queued in: the send's parent (own traces).
    pub span: Option<pipeline_api::own_spans::SpanContext>,
}

pub enum Offer {
    Full,
    /// Larger than the whole queue: can never fit.
    TooLarge,
    Closed,
}

pub struct MemoryQueue {
    capacity: u32,
    sizer: QueueSizer,
    space: Arc<Semaphore>,
    items: Mutex<VecDeque<Item>>,
    ready: Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl MemoryQueue {
    pub fn new(capacity: u64, sizer: QueueSizer) -> MemoryQueue {
        let capacity = capacity.min(u64::from(u32::MAX >> 3)) as u32;
        MemoryQueue {
            capacity,
            sizer,
            space: Arc::new(Semaphore::new(capacity as usize)),
            items: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn capacity(&self) -> u64 {
        u64::from(self.capacity)
    }

    /// Occupied capacity (requests or items).
    pub fn size(&self) -> u64 {
        u64::from(self.capacity) - self.space.available_permits() as u64
    }

    /// What a request of `items` items and `bytes` encoded bytes costs in the queue's unit.
    pub fn cost(&self, items: usize, bytes: usize) -> u32 {
        match self.sizer {
            QueueSizer::Requests => 1,
            QueueSizer::Items => u32::try_from(items.max(1)).unwrap_or(u32::MAX),
            QueueSizer::Bytes => u32::try_from(bytes.max(1)).unwrap_or(u32::MAX),
        }
    }

    /// Reserve room for a request of `items` items and `bytes` bytes: at once, or waiting
    /// for room when `block`.
    pub async fn reserve(
        &self,
        items: usize,
        bytes: usize,
        block: bool,
    ) -> Result<OwnedSemaphorePermit, Offer> {
        if self.is_closed() {
            return Err(Offer::Closed);
        }
        let cost = self.cost(items, bytes);
        if cost > self.capacity {
            return Err(Offer::TooLarge);
        }
        if block {
            self.space
                .clone()
                .acquire_many_owned(cost)
                .await
                .map_err(|_| Offer::Closed)
        } else {
            self.space
                .clone()
                .try_acquire_many_owned(cost)
                .map_err(|e| match e {
                    tokio::sync::TryAcquireError::NoPermits => Offer::Full,
                    tokio::sync::TryAcquireError::Closed => Offer::Closed,
                })
        }
    }

    pub async fn push(&self, item: Item) {
        self.items.lock().await.push_back(item);
        self.ready.notify_one();
    }

    /// The next item; `None` once the queue is closed and empty.
    pub async fn pop(&self) -> Option<Item> {
        loop {
            let notified = self.ready.notified();
            if let Some(item) = self.items.lock().await.pop_front() {
                return Some(item);
            }
            if self.is_closed() {
                return None;
            }
            notified.await;
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// No more offers; workers drain what is queued and stop.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.space.close();
        self.ready.notify_waiters();
    }

    /// Add room beyond the configured capacity (recovered data that no longer fits).
    pub fn grow(&self, cost: u32) {
        self.space.add_permits(cost as usize);
    }

    /// Take everything still queued (at the shutdown deadline).
    pub async fn drain_now(&self) -> Vec<Item> {
        self.items.lock().await.drain(..).collect()
    }
}
