//! The fan-out: one batch to several consumers at once (the graph's branches, a routing
//! connector's pipelines).

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::time::Instant;

use crate::{async_trait, Batch, ConsumeError, Consumer, SharedConsumer};

/// Hands the same batch to every branch concurrently (an `Arc` clone each, no copy).
/// The result is an error if any branch failed; retryable only if all failures are.
///
/// When some branches took the batch and others refused it for lack of room (a full sending
/// queue, a spent memory budget: `ConsumeError::is_backpressure`), only the refusing branches
/// are tried again, for up to
/// [`PARTIAL_RETRY`]: answering the caller with a retryable error at once would make it send
/// the batch again to every branch, duplicating it in those that took it.
pub struct FanOut {
    branches: Vec<SharedConsumer>,
}

impl FanOut {
    /// One branch needs no fan-out: it is returned as is.
    pub fn consumer(branches: Vec<SharedConsumer>) -> SharedConsumer {
        if branches.len() == 1 {
            return branches.into_iter().next().expect("one branch");
        }
        Arc::new(FanOut { branches })
    }
}

/// How long a fan-out tries again the branches that refused a batch others took.
pub const PARTIAL_RETRY: Duration = Duration::from_secs(5);

#[async_trait]
impl Consumer for FanOut {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let results = join_all(self.branches.iter().map(|b| b.consume(batch.clone()))).await;
        let failed: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].is_err())
            .collect();
        let partial = !failed.is_empty()
            && failed.len() < self.branches.len()
            && failed
                .iter()
                .all(|&i| matches!(&results[i], Err(e) if e.is_backpressure()));
        if !partial {
            return match ConsumeError::combine(
                results.into_iter().filter_map(Result::err).collect(),
            ) {
                None => Ok(()),
                Some(e) => Err(e),
            };
        }
        let deadline = Instant::now() + PARTIAL_RETRY;
        let retried = join_all(failed.into_iter().map(|i| {
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
                        other => return other,
                    }
                }
            }
        }))
        .await;
        match ConsumeError::combine(retried.into_iter().filter_map(Result::err).collect()) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}
