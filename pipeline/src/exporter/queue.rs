//! The sending queue: bounded by `queue_size` (in requests or items, per `sizer`), drained by
//! `num_consumers` workers. A full queue refuses (the refusal goes back to the client as a
//! retryable error) or, with `block_on_overflow`, makes the sender wait. With `storage`, every
//! accepted request is written to the storage extension before it is acknowledged, and what
//! was not sent survives a restart (see `persistent.rs`).

use std::collections::VecDeque;
use std::sync::Arc;

use pipeline_api::Batch;
use tokio::sync::{Mutex, Notify, OwnedSemaphorePermit, Semaphore};

/// One queued request.
pub struct Item {
    pub batch: Batch,
    /// Its index in the persistent queue, if any.
    pub index: Option<u64>,
    pub permit: OwnedSemaphorePermit,
}

pub enum Offer {
    Full,
    /// Larger than the whole queue: can never fit.
    TooLarge,
    Closed,
}

pub struct MemoryQueue {
    capacity: u32,
    count_items: bool,
    space: Arc<Semaphore>,
    items: Mutex<VecDeque<Item>>,
    ready: Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl MemoryQueue {
    pub fn new(capacity: u64, count_items: bool) -> MemoryQueue {
        let capacity = capacity.min(u64::from(u32::MAX >> 3)) as u32;
        MemoryQueue {
            capacity,
            count_items,
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

    pub fn cost(&self, batch: &Batch) -> u32 {
        if self.count_items {
            u32::try_from(batch.items().max(1)).unwrap_or(u32::MAX)
        } else {
            1
        }
    }

    /// Reserve room for `batch`: at once, or waiting for room when `block`.
    pub async fn reserve(&self, batch: &Batch, block: bool) -> Result<OwnedSemaphorePermit, Offer> {
        if self.is_closed() {
            return Err(Offer::Closed);
        }
        let cost = self.cost(batch);
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
