//! The limiter: a checker ticking every `check_interval` that flips "must refuse" when the
//! memory in use crosses the soft limit (Go `internal/memorylimiter.MemoryLimiter`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_api::CancellationToken;
use tokio::task::JoinHandle;

use super::config::Config;
use super::memory::{MemoryReader, MIB};

/// Hard limit and spike, in bytes; the soft limit is `limit - spike`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub limit: u64,
    pub spike: u64,
}

impl Limits {
    /// Go `getMemUsageChecker`: `limit_mib` wins over `limit_percentage`; a spike of 0 is 20% of
    /// the limit (`newFixedMemUsageChecker`).
    pub fn from_config(
        cfg: &Config,
        total_memory: impl FnOnce() -> Result<u64, String>,
    ) -> Result<Limits, String> {
        let (limit, spike) = if cfg.limit_mib != 0 {
            (
                u64::from(cfg.limit_mib) * MIB,
                u64::from(cfg.spike_limit_mib) * MIB,
            )
        } else {
            let total = total_memory().map_err(|e| {
                format!("failed to get total memory, use fixed memory settings (limit_mib): {e}")
            })?;
            tracing::info!(
                total_memory_mib = total / MIB,
                limit_percentage = cfg.limit_percentage,
                spike_limit_percentage = cfg.spike_limit_percentage,
                "Using percentage memory limiter"
            );
            (
                u64::from(cfg.limit_percentage) * total / 100,
                u64::from(cfg.spike_limit_percentage) * total / 100,
            )
        };
        let spike = if spike == 0 { limit / 5 } else { spike };
        Ok(Limits { limit, spike })
    }

    pub fn soft(&self) -> u64 {
        self.limit.saturating_sub(self.spike)
    }

    /// Go `aboveSoftLimit`: `Alloc >= memAllocLimit - memSpikeLimit`.
    pub fn above_soft(&self, used: u64) -> bool {
        used >= self.soft()
    }
}

struct Runner {
    users: usize,
    stop: Option<CancellationToken>,
    task: Option<JoinHandle<()>>,
}

/// Shared by every pipeline's instance of one `memory_limiter` (as Go's factory shares one per
/// config), so memory is measured once per tick.
pub struct Limiter {
    limits: Limits,
    check_interval: Duration,
    reader: Arc<dyn MemoryReader>,
    must_refuse: AtomicBool,
    unmeasurable_warned: AtomicBool,
    runner: Mutex<Runner>,
}

impl Limiter {
    pub fn new(limits: Limits, check_interval: Duration, reader: Arc<dyn MemoryReader>) -> Limiter {
        Limiter {
            limits,
            check_interval,
            reader,
            must_refuse: AtomicBool::new(false),
            unmeasurable_warned: AtomicBool::new(false),
            runner: Mutex::new(Runner {
                users: 0,
                stop: None,
                task: None,
            }),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Go `MustRefuse`.
    pub fn must_refuse(&self) -> bool {
        self.must_refuse.load(Ordering::Relaxed)
    }

    /// One measurement (Go `CheckMemLimits`, without the forced GC): logs once per transition.
    pub fn check(&self) {
        let Some(used) = self.reader.used_bytes() else {
            if !self.unmeasurable_warned.swap(true, Ordering::Relaxed) {
                tracing::warn!("Cannot measure the memory used by this process; memory_limiter does not limit.");
            }
            self.must_refuse.store(false, Ordering::Relaxed);
            return;
        };
        let cur_mem_mib = used / MIB;
        tracing::debug!(cur_mem_mib, "Currently used memory.");
        let above = self.limits.above_soft(used);
        let was_refusing = self.must_refuse.swap(above, Ordering::Relaxed);
        match (was_refusing, above) {
            (false, true) => tracing::warn!(
                cur_mem_mib,
                "Memory usage is above soft limit. Refusing data."
            ),
            (true, false) => tracing::info!(
                cur_mem_mib,
                "Memory usage back within limits. Resuming normal operation."
            ),
            _ => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Runner> {
        self.runner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count one more user; the first starts the checker (Go `Start`'s ref counter).
    pub fn start(self: &Arc<Self>) {
        let mut runner = self.lock();
        runner.users += 1;
        if runner.users > 1 {
            return;
        }
        let stop = CancellationToken::new();
        let me = Arc::downgrade(self);
        let token = stop.clone();
        let interval = self.check_interval;
        runner.task = Some(tokio::spawn(async move {
            let mut ticker =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                match me.upgrade() {
                    Some(limiter) => limiter.check(),
                    None => return,
                }
            }
        }));
        runner.stop = Some(stop);
    }

    /// Count one user less; the last stops the checker and waits for it.
    pub async fn stop(&self) {
        let task = {
            let mut runner = self.lock();
            match runner.users {
                0 => return,
                1 => {
                    runner.users = 0;
                    if let Some(stop) = runner.stop.take() {
                        stop.cancel();
                    }
                    runner.task.take()
                }
                _ => {
                    runner.users -= 1;
                    None
                }
            }
        };
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
