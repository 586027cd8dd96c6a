//! Timers of the connectors that aggregate (flush, expire, clean): one task per timer,
//! stopped by a token, holding only a weak reference so a dropped connector ends it.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Run `tick` on `target` every `period` (the first one a period from now) until `stop`
/// fires or the target is gone.
pub fn every<T, F, Fut>(
    period: Duration,
    target: Weak<T>,
    stop: CancellationToken,
    tick: F,
) -> JoinHandle<()>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                _ = timer.tick() => {}
                _ = stop.cancelled() => return,
            }
            let Some(target) = target.upgrade() else {
                return;
            };
            tick(target).await;
        }
    })
}
