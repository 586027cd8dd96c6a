//! Data waiting to be sent as one larger batch, with who each item came from: the common
//! core of the `batch` processor and the sending queue's batching. Batches are kept as they
//! arrived and merged only when a send takes from the front (wire batches merge without a
//! decode); each owner is handed back with how many of its items a send holds, so the
//! caller can release what it reserved for them (or tell them the outcome) once the send is
//! done.

use std::collections::VecDeque;

use crate::{Batch, Signal};

pub struct Pending<T> {
    signal: Signal,
    batches: Vec<Batch>,
    /// Owners in arrival order with how many of their items are still pending.
    owners: VecDeque<(T, usize)>,
    items: usize,
    bytes: usize,
}

/// One send taken from the front.
pub struct Taken<T> {
    pub batch: Batch,
    /// The owners of its items, with how many items of each it holds.
    pub owners: Vec<(T, usize)>,
}

impl<T: Clone> Pending<T> {
    pub fn new(signal: Signal) -> Pending<T> {
        Pending {
            signal,
            batches: Vec::new(),
            owners: VecDeque::new(),
            items: 0,
            bytes: 0,
        }
    }

    /// Add `batch` (of `bytes` encoded bytes, as the caller measured it) owned by `owner`.
    pub fn push(&mut self, batch: Batch, bytes: usize, owner: T) {
        let n = batch.items();
        self.items += n;
        self.bytes += bytes;
        self.batches.push(batch);
        self.owners.push_back((owner, n));
    }

    pub fn items(&self) -> usize {
        self.items
    }

    /// Encoded bytes pending (as measured at `push`; after a partial take, pro rata).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// How many items make about `bytes` encoded bytes at the pending data's average item
    /// size (at least 1).
    pub fn items_for_bytes(&self, bytes: usize) -> usize {
        if self.bytes == 0 || self.items == 0 {
            return self.items.max(1);
        }
        ((bytes as u128 * self.items as u128 / self.bytes as u128) as usize).max(1)
    }

    /// Remove the first `n` items and their owners.
    pub fn take_front(&mut self, n: usize) -> Taken<T> {
        let mut rest = match self.batches.len() {
            0 | 1 => self.batches.pop(),
            _ => Batch::merge(std::mem::take(&mut self.batches)),
        }
        .unwrap_or_else(|| Batch::empty(self.signal));
        let head = if n >= rest.items() {
            std::mem::replace(&mut rest, Batch::empty(self.signal))
        } else {
            rest.split_front(n)
        };
        if !rest.is_empty() {
            self.batches.push(rest);
        }
        let taken = head.items().min(self.items);
        let bytes_taken = if taken == self.items {
            self.bytes
        } else {
            (self.bytes as u128 * taken as u128 / self.items.max(1) as u128) as usize
        };
        self.items -= taken;
        self.bytes -= bytes_taken.min(self.bytes);

        let mut owners = Vec::new();
        let mut left = head.items();
        while left > 0 {
            let Some(front) = self.owners.front_mut() else {
                break;
            };
            let k = front.1.min(left);
            owners.push((front.0.clone(), k));
            left -= k;
            front.1 -= k;
            if front.1 == 0 {
                self.owners.pop_front();
            }
        }
        // owners whose batches held no items (nothing left of them) go with this send
        while matches!(self.owners.front(), Some((_, 0))) {
            if let Some((o, _)) = self.owners.pop_front() {
                owners.push((o, 0));
            }
        }
        Taken {
            batch: head,
            owners,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(n: usize) -> Batch {
        crate::testing::spans("s", n)
    }

    #[test]
    fn takes_from_the_front_with_owners_and_bytes() {
        let mut p: Pending<&str> = Pending::new(Signal::Traces);
        p.push(spans(3), 300, "a");
        p.push(spans(5), 500, "b");
        assert_eq!((p.items(), p.bytes()), (8, 800));
        assert_eq!(p.items_for_bytes(250), 2);
        let t = p.take_front(4);
        assert_eq!(t.batch.items(), 4);
        assert_eq!(t.owners, vec![("a", 3), ("b", 1)]);
        assert_eq!((p.items(), p.bytes()), (4, 400));
        let t = p.take_front(p.items());
        assert_eq!(t.batch.items(), 4);
        assert_eq!(t.owners, vec![("b", 4)]);
        assert!(p.is_empty());
        assert_eq!(p.bytes(), 0);
    }

    #[test]
    fn an_empty_batch_is_handed_back_with_the_next_send() {
        let mut p: Pending<&str> = Pending::new(Signal::Traces);
        p.push(spans(2), 20, "a");
        p.push(spans(0), 0, "empty");
        let t = p.take_front(2);
        assert_eq!(t.owners, vec![("a", 2), ("empty", 0)]);
    }
}
