//! The fan-out: one batch to several consumers at once (the graph's branches, a routing
//! connector's pipelines).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use tokio::time::Instant;

use crate::{async_trait, Batch, ConsumeError, Consumer, DataIdentity, SharedConsumer};

/// Hands the same batch to every branch concurrently (an `Arc` clone each, no copy).
/// The result is an error if any branch failed; retryable only if all failures are.
///
/// When some branches took the batch and others refused it for lack of room (a full sending
/// queue, a spent memory budget: `ConsumeError::is_backpressure`), only the refusing branches
/// are tried again, for up to [`PARTIAL_RETRY`], before the caller gets the error.
///
/// A fan-out remembers which branches took a batch it answered with an error, for as long
/// as that batch lives: when the caller tries the same batch again (the `batch` processor
/// does, with a clone of the data it holds), only the branches that have not taken it yet
/// get it, so the others do not get it twice. A new request from a client is new data and
/// goes to every branch, as in the Go collector.
pub struct FanOut {
    branches: Vec<SharedConsumer>,
    /// Batches some branches took and others did not, while a batch holds their data.
    partial: Mutex<Vec<Partial>>,
    /// `partial.len()`, read without the lock on the way in.
    partial_count: AtomicUsize,
}

/// Which branches took a batch answered with an error.
struct Partial {
    data: DataIdentity,
    taken: Vec<bool>,
}

impl FanOut {
    /// One branch needs no fan-out: it is returned as is.
    pub fn consumer(branches: Vec<SharedConsumer>) -> SharedConsumer {
        if branches.len() == 1 {
            return branches.into_iter().next().expect("one branch");
        }
        Arc::new(FanOut::new(branches))
    }

    fn new(branches: Vec<SharedConsumer>) -> FanOut {
        FanOut {
            branches,
            partial: Mutex::new(Vec::new()),
            partial_count: AtomicUsize::new(0),
        }
    }

    /// `f` on the remembered batches, those no batch holds any more let go first.
    fn with_partial<R>(&self, f: impl FnOnce(&mut Vec<Partial>) -> R) -> R {
        let mut partial = self.partial.lock().unwrap_or_else(|e| e.into_inner());
        partial.retain(|p| p.data.is_live());
        let r = f(&mut partial);
        self.partial_count.store(partial.len(), Ordering::Release);
        r
    }

    /// The branches that already took `batch`, forgotten here: all false for a batch not
    /// seen before.
    fn taken_before(&self, batch: &Batch) -> Vec<bool> {
        if self.partial_count.load(Ordering::Acquire) > 0 {
            let found = self.with_partial(|partial| {
                let i = partial.iter().position(|p| p.data.is(batch))?;
                Some(partial.swap_remove(i).taken)
            });
            if let Some(taken) = found {
                return taken;
            }
        }
        vec![false; self.branches.len()]
    }

    /// Remember that only the `taken` branches have `batch`.
    fn remember(&self, batch: &Batch, taken: Vec<bool>) {
        let data = batch.identity();
        self.with_partial(|partial| partial.push(Partial { data, taken }));
    }
}

/// How long a fan-out tries again the branches that refused a batch others took.
pub const PARTIAL_RETRY: Duration = Duration::from_secs(5);

#[async_trait]
impl Consumer for FanOut {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let mut taken = self.taken_before(&batch);
        let todo: Vec<usize> = (0..self.branches.len()).filter(|&i| !taken[i]).collect();
        let results = join_all(
            todo.iter()
                .map(|&i| self.branches[i].consume(batch.clone())),
        )
        .await;
        let mut failed = Vec::new();
        for (&i, result) in todo.iter().zip(results) {
            match result {
                Ok(()) => taken[i] = true,
                Err(e) => failed.push((i, e)),
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        let some_taken = taken.contains(&true);
        if some_taken && failed.iter().all(|(_, e)| e.is_backpressure()) {
            let deadline = Instant::now() + PARTIAL_RETRY;
            let retried = join_all(failed.iter().map(|&(i, _)| {
                let branch = self.branches[i].clone();
                let batch = batch.clone();
                async move {
                    let mut pause = Duration::from_millis(20);
                    loop {
                        tokio::time::sleep(pause).await;
                        match branch.consume(batch.clone()).await {
                            Err(e) if e.is_backpressure() && Instant::now() + pause < deadline => {
                                pause = (pause * 2).min(Duration::from_millis(500));
                            }
                            other => return (i, other),
                        }
                    }
                }
            }))
            .await;
            failed.clear();
            for (i, result) in retried {
                match result {
                    Ok(()) => taken[i] = true,
                    Err(e) => failed.push((i, e)),
                }
            }
        }
        match ConsumeError::combine(failed.into_iter().map(|(_, e)| e).collect()) {
            None => Ok(()),
            Some(e) => {
                if some_taken {
                    self.remember(&batch, taken);
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchData, RequestContext, Signal};
    use std::sync::atomic::AtomicBool;

    /// Counts the batches it takes; refuses for lack of room while `full` is set.
    #[derive(Default)]
    struct Branch {
        taken: AtomicUsize,
        full: AtomicBool,
    }

    #[async_trait]
    impl Consumer for Branch {
        async fn consume(&self, _batch: Batch) -> Result<(), ConsumeError> {
            if self.full.load(Ordering::SeqCst) {
                return Err(ConsumeError::backpressure("queue is full"));
            }
            self.taken.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn batch() -> Batch {
        Batch::new(BatchData::empty(Signal::Traces), RequestContext::default())
    }

    /// A branch that takes everything and one that is full.
    fn up_and_full() -> (Arc<Branch>, Arc<Branch>) {
        let (up, full) = (Arc::new(Branch::default()), Arc::new(Branch::default()));
        full.full.store(true, Ordering::SeqCst);
        (up, full)
    }

    fn taken(b: &Branch) -> usize {
        b.taken.load(Ordering::SeqCst)
    }

    /// A branch that stays full past the fan-out's own retry: the caller gets the error and
    /// tries the same batch again, which reaches only the branch that had refused it.
    #[tokio::test(start_paused = true)]
    async fn a_batch_tried_again_goes_only_to_the_branches_that_refused_it() {
        let (up, full) = up_and_full();
        let fanout = FanOut::consumer(vec![up.clone(), full.clone()]);
        let b = batch();
        let err = fanout.consume(b.clone()).await.unwrap_err();
        assert!(err.is_backpressure(), "{err}");
        assert_eq!((taken(&up), taken(&full)), (1, 0));
        // still full: refused again, and the branch that took it is left alone
        fanout.consume(b.clone()).await.unwrap_err();
        assert_eq!(taken(&up), 1);
        full.full.store(false, Ordering::SeqCst);
        fanout.consume(b.clone()).await.unwrap();
        assert_eq!(
            (taken(&up), taken(&full)),
            (1, 1),
            "each branch got it once"
        );
        // delivered everywhere: forgotten, so a retry of it (or new data) goes everywhere
        fanout.consume(b).await.unwrap();
        fanout.consume(batch()).await.unwrap();
        assert_eq!((taken(&up), taken(&full)), (3, 3));
    }

    /// New data (a client's retry is a new request) goes to every branch, and what is
    /// remembered about a batch nobody holds any more is let go.
    #[tokio::test(start_paused = true)]
    async fn other_data_goes_everywhere_and_dropped_batches_are_forgotten() {
        let (up, full) = up_and_full();
        let fanout = FanOut::new(vec![up.clone(), full.clone()]);
        let first = batch();
        fanout.consume(first.clone()).await.unwrap_err();
        fanout.consume(batch()).await.unwrap_err();
        assert_eq!(
            taken(&up),
            2,
            "a batch with other data is not the first one"
        );
        let live = |f: &FanOut| {
            f.partial
                .lock()
                .unwrap()
                .iter()
                .filter(|p| p.data.is_live())
                .count()
        };
        assert_eq!(live(&fanout), 1, "the second batch is held by nobody");
        drop(first);
        full.full.store(false, Ordering::SeqCst);
        fanout.consume(batch()).await.unwrap();
        assert_eq!((taken(&up), taken(&full)), (3, 1));
        assert!(fanout.partial.lock().unwrap().is_empty());
        assert_eq!(fanout.partial_count.load(Ordering::SeqCst), 0);
    }
}
