//! The process-wide memory budget: one bound, in bytes, on everything Ferrotel holds in memory
//! on the way through (the `batch` processor's buffers and the in-memory sending queues).
//!
//! A component reserves the memory of what it keeps (`Batch::memory_size`: the wire bytes,
//! or the heap of the decoded structs, several times larger) before it accepts it and holds the
//! [`MemoryPermit`] until the data has left; past the budget, new data is refused with a
//! retryable error (or waits, where the component is configured to block). One budget for
//! the whole graph means a fan-out to three exporters with one stuck backend cannot hold
//! three times the memory of one.
//!
//! Data moves from one holder to the next without being charged twice: the `batch` processor
//! reserves what it accepts with [`MemoryBudget::reserve_buffered`], joins the permits of a
//! send's requests ([`MemoryPermit::join`]) and makes them the sent batch's charge
//! (`Batch::hand_over_memory_charge`); a sending queue that keeps the batch holds that charge
//! instead of reserving the same bytes again. Buffers reserve from a share of the budget
//! ([`BUFFER_SHARE_PERCENT`]) so that what they hold can never take the room a queue needs to
//! take over an edited copy of it, and a send they retry always finds room in the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default budget's share of the memory limit (cgroup limit, else physical memory).
pub const DEFAULT_SHARE_DIVISOR: u64 = 4;
/// Without a cgroup memory limit the default budget stays at or below this: nobody said how
/// much the collector may take, so it stays lean (a 3-way fan-out at ~280k spans/s peaks at
/// about 230 MB RSS with it; `bench/README.md`). With a limit, a quarter of it.
pub const DEFAULT_CAP_UNLIMITED: u64 = 64 << 20;
/// Nor goes below this (a tiny cgroup limit still leaves room for a few requests).
pub const DEFAULT_FLOOR: u64 = 16 << 20;

/// The share of the budget, in percent, that buffers reserving with
/// [`MemoryBudget::reserve_buffered`] (the `batch` processor) may hold together; the rest is
/// always left to the sending queues.
pub const BUFFER_SHARE_PERCENT: u64 = 75;

/// Semaphore permits are counted in `u32` per acquisition; reservations are in bytes up to
/// this, larger ones are clamped (a single request cannot exceed the receivers' message
/// limits anyway).
const MAX_RESERVATION: u64 = u32::MAX as u64;

/// A cheaply cloneable handle on one budget.
#[derive(Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    limit: u64,
    /// `None`: unlimited.
    space: Option<Arc<Semaphore>>,
    /// The buffers' share of `space` ([`BUFFER_SHARE_PERCENT`] of `limit`).
    buffers: Option<(Arc<Semaphore>, u64)>,
    refused: AtomicU64,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("limit", &self.limit())
            .field("used", &self.used())
            .finish()
    }
}

impl Default for MemoryBudget {
    /// Unlimited: for tests and tools; the collector builds one with [`MemoryBudget::new`].
    fn default() -> Self {
        MemoryBudget::unlimited()
    }
}

/// Bytes held against a budget, given back when dropped.
#[derive(Debug)]
pub struct MemoryPermit {
    _permit: Option<OwnedSemaphorePermit>,
    /// With [`MemoryBudget::reserve_buffered`]: the hold on the buffers' share.
    _buffered: Option<OwnedSemaphorePermit>,
    /// The permits a [`MemoryPermit::join`] keeps alive.
    _parts: Vec<Arc<MemoryPermit>>,
    bytes: u64,
    /// Which budget it was taken from ([`MemoryBudget::id`]).
    budget: usize,
}

impl MemoryPermit {
    /// The bytes this permit holds (after clamping to the budget).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// A permit holding nothing.
    pub fn none() -> MemoryPermit {
        MemoryPermit {
            _permit: None,
            _buffered: None,
            _parts: Vec::new(),
            bytes: 0,
            budget: 0,
        }
    }

    /// One permit holding `parts` (the requests merged into one send): given back when the
    /// last holder of it and of each part is gone. A part shared by two joins (a request
    /// split over two sends) is counted in both `bytes`, but held once.
    pub fn join(parts: Vec<Arc<MemoryPermit>>) -> MemoryPermit {
        MemoryPermit {
            _permit: None,
            _buffered: None,
            bytes: parts.iter().map(|p| p.bytes).sum(),
            budget: parts.first().map_or(0, |p| p.budget),
            _parts: parts,
        }
    }

    pub fn budget_id(&self) -> usize {
        self.budget
    }
}

impl MemoryBudget {
    /// A budget of `limit` bytes (at least 1 byte).
    pub fn new(limit: u64) -> MemoryBudget {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS as u64);
        let share =
            (limit / 100 * BUFFER_SHARE_PERCENT + limit % 100 * BUFFER_SHARE_PERCENT / 100).max(1);
        MemoryBudget {
            inner: Arc::new(Inner {
                limit,
                space: Some(Arc::new(Semaphore::new(limit as usize))),
                buffers: Some((Arc::new(Semaphore::new(share as usize)), share)),
                refused: AtomicU64::new(0),
            }),
        }
    }

    pub fn unlimited() -> MemoryBudget {
        MemoryBudget {
            inner: Arc::new(Inner {
                limit: u64::MAX,
                space: None,
                buffers: None,
                refused: AtomicU64::new(0),
            }),
        }
    }

    /// Tells budgets apart (permits remember theirs).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// The budget in bytes (`u64::MAX` when unlimited).
    pub fn limit(&self) -> u64 {
        self.inner.limit
    }

    /// Bytes currently reserved.
    pub fn used(&self) -> u64 {
        match &self.inner.space {
            Some(s) => self.inner.limit - s.available_permits() as u64,
            None => 0,
        }
    }

    /// How many reservations were refused so far.
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// What a reservation of `bytes` costs: a request larger than the whole budget costs
    /// the whole budget, so it waits for an empty budget instead of never fitting.
    fn cost(&self, bytes: u64) -> u32 {
        bytes.clamp(1, self.inner.limit.min(MAX_RESERVATION)) as u32
    }

    fn permit(&self, held: Option<OwnedSemaphorePermit>, bytes: u64) -> MemoryPermit {
        MemoryPermit {
            _permit: held,
            _buffered: None,
            _parts: Vec::new(),
            bytes,
            budget: self.id(),
        }
    }

    fn refuse(&self) -> Option<MemoryPermit> {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Reserve `bytes` now, or `None` when the budget is spent.
    pub fn try_reserve(&self, bytes: u64) -> Option<MemoryPermit> {
        let Some(space) = &self.inner.space else {
            return Some(self.permit(None, bytes));
        };
        let cost = self.cost(bytes);
        match space.clone().try_acquire_many_owned(cost) {
            Ok(p) => Some(self.permit(Some(p), u64::from(cost))),
            Err(_) => self.refuse(),
        }
    }

    /// Reserve `bytes`, waiting up to `wait` for room (`None`: as long as it takes).
    pub async fn reserve(&self, bytes: u64, wait: Option<Duration>) -> Option<MemoryPermit> {
        let Some(space) = &self.inner.space else {
            return Some(self.permit(None, bytes));
        };
        let cost = self.cost(bytes);
        match acquire(space, cost, wait).await {
            Some(p) => Some(self.permit(Some(p), u64::from(cost))),
            None => self.refuse(),
        }
    }

    /// Reserve `bytes` for a buffer that holds data ahead of a sending queue (the `batch`
    /// processor), waiting up to `wait` for room: from the buffers' share of the budget
    /// ([`BUFFER_SHARE_PERCENT`]) and from the budget itself. A reservation larger than the
    /// share costs the whole share.
    pub async fn reserve_buffered(&self, bytes: u64, wait: Duration) -> Option<MemoryPermit> {
        let (Some(space), Some((buffers, share))) = (&self.inner.space, &self.inner.buffers) else {
            return Some(self.permit(None, bytes));
        };
        let started = tokio::time::Instant::now();
        let share_cost = bytes.clamp(1, (*share).min(MAX_RESERVATION)) as u32;
        let Some(buffered) = acquire(buffers, share_cost, Some(wait)).await else {
            return self.refuse();
        };
        let cost = self.cost(bytes);
        let left = wait.saturating_sub(started.elapsed());
        let Some(held) = acquire(space, cost, Some(left)).await else {
            return self.refuse();
        };
        let mut permit = self.permit(Some(held), u64::from(cost));
        permit._buffered = Some(buffered);
        Some(permit)
    }

    /// The default budget: a quarter of this process's cgroup memory limit (at least 16 MiB);
    /// without one, a quarter of the machine's memory, between 16 MiB and 64 MiB.
    pub fn default_limit() -> u64 {
        default_for(cgroup_limit(), physical_memory())
    }
}

/// `cost` permits of `space`, waiting up to `wait` (`None`: as long as it takes); a
/// timeout is only armed when there is no room at once.
async fn acquire(
    space: &Arc<Semaphore>,
    cost: u32,
    wait: Option<Duration>,
) -> Option<OwnedSemaphorePermit> {
    let acquire = space.clone().acquire_many_owned(cost);
    match wait {
        None => acquire.await.ok(),
        Some(w) => tokio::time::timeout(w, acquire).await.ok()?.ok(),
    }
}

/// The default budget for a cgroup limit and the machine's memory, when known.
pub fn default_for(cgroup: Option<u64>, physical: Option<u64>) -> u64 {
    match cgroup {
        Some(limit) => (limit / DEFAULT_SHARE_DIVISOR).max(DEFAULT_FLOOR),
        None => (physical.unwrap_or(1 << 30) / DEFAULT_SHARE_DIVISOR)
            .clamp(DEFAULT_FLOOR, DEFAULT_CAP_UNLIMITED),
    }
}

/// The cgroup memory limit of this process, if one is set (v2 `memory.max`, v1
/// `memory.limit_in_bytes`; "max" or a v1 "unlimited" sentinel mean none).
pub fn cgroup_limit() -> Option<u64> {
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok();
    let v1 = || std::fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes").ok();
    parse_cgroup_limit(v2.or_else(v1)?.as_str())
}

/// A cgroup memory limit file's content as a limit in bytes.
pub fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    // cgroup v1 reports "no limit" as a huge page-aligned number (about 2^63)
    (v < (1u64 << 60)).then_some(v)
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_total(&text)
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Parse a size as the `--memory-budget` flag takes it: bytes (`268435456`), with a unit
/// (`256MiB`, `1GiB`, `512MB`, `64KiB`), or a share of the memory limit (`10%`).
pub fn parse_size(text: &str, memory_limit: impl FnOnce() -> u64) -> Result<u64, String> {
    let t = text.trim();
    if let Some(pct) = t.strip_suffix('%') {
        let p: f64 = pct
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a percentage"))?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(format!("{text:?}: a percentage must be in (0, 100]"));
        }
        return Ok((memory_limit() as f64 * p / 100.0) as u64);
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 256MiB, 1GiB, 10%)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (B, KiB, MiB, GiB, KB, MB, GB or %)"
            ))
        }
    };
    let bytes = (n * mult as f64) as u64;
    if bytes == 0 {
        return Err(format!("{text:?}: the budget must be above zero"));
    }
    Ok(bytes)
}

/// The memory limit the default and `%` budgets are shares of.
pub fn memory_limit() -> u64 {
    cgroup_limit().or_else(physical_memory).unwrap_or(1 << 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_and_given_back() {
        let b = MemoryBudget::new(100);
        let p1 = b.try_reserve(60).unwrap();
        assert_eq!(b.used(), 60);
        assert!(b.try_reserve(50).is_none(), "60 + 50 passes 100");
        assert_eq!(b.refused(), 1);
        let p2 = b.try_reserve(40).unwrap();
        assert_eq!(b.used(), 100);
        drop(p1);
        assert_eq!(b.used(), 40);
        drop(p2);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_request_larger_than_the_budget_fits_an_empty_budget() {
        let b = MemoryBudget::new(100);
        let p = b.try_reserve(1000).unwrap();
        assert_eq!(p.bytes(), 100);
        assert!(b.try_reserve(1).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn reserve_waits_for_room_then_gives_up() {
        let b = MemoryBudget::new(100);
        let held = b.try_reserve(100).unwrap();
        assert!(b
            .reserve(10, Some(Duration::from_millis(500)))
            .await
            .is_none());
        let b2 = b.clone();
        let waiter =
            tokio::spawn(async move { b2.reserve(10, Some(Duration::from_secs(5))).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        assert_eq!(waiter.await.unwrap().unwrap().bytes(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn buffers_hold_at_most_their_share_and_leave_the_rest_to_queues() {
        let b = MemoryBudget::new(1000);
        let wait = Duration::from_millis(100);
        let a = b.reserve_buffered(500, wait).await.unwrap();
        let c = b.reserve_buffered(250, wait).await.unwrap();
        assert_eq!(b.used(), 750);
        assert!(
            b.reserve_buffered(1, wait).await.is_none(),
            "past the 75 % share"
        );
        let queued = b.try_reserve(250).unwrap();
        assert_eq!(b.used(), 1000, "a queue still had room");
        drop(a);
        let queued_more = b.try_reserve(400).unwrap();
        assert!(
            b.reserve_buffered(300, wait).await.is_none(),
            "the share has room, the budget has not"
        );
        assert_eq!(b.used(), 900, "a refusal holds nothing");
        drop((queued, queued_more));
        let d = b.reserve_buffered(300, wait).await.unwrap();
        assert_eq!(b.used(), 550);
        drop((c, d));
        assert_eq!(b.used(), 0);
        let whole = b.reserve_buffered(5000, wait).await.unwrap();
        assert_eq!(whole.bytes(), 1000, "larger than the budget: all of it");
    }

    #[test]
    fn a_joined_permit_holds_its_parts_until_the_last_holder_lets_go() {
        let b = MemoryBudget::new(1000);
        let p1 = Arc::new(b.try_reserve(100).unwrap());
        let p2 = Arc::new(b.try_reserve(200).unwrap());
        let first = MemoryPermit::join(vec![p1.clone(), p2.clone()]);
        // p2 is split over two sends
        let second = MemoryPermit::join(vec![p2]);
        assert_eq!((first.bytes(), second.bytes()), (300, 200));
        assert_eq!(first.budget_id(), b.id());
        drop(p1);
        assert_eq!(b.used(), 300);
        drop(first);
        assert_eq!(b.used(), 200, "the second send still holds p2");
        drop(second);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn clones_of_one_batch_are_charged_once() {
        use crate::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        let b = MemoryBudget::new(1000);
        let batch = crate::Batch::from_logs(ExportLogsServiceRequest::default());
        let clone = batch.clone();
        let first = batch.memory_charge(&b, || b.try_reserve(600)).unwrap();
        let second = clone.memory_charge(&b, || b.try_reserve(600)).unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second holder shares the charge"
        );
        assert_eq!(b.used(), 600);
        drop(first);
        assert_eq!(b.used(), 600, "held while any holder keeps it");
        drop(second);
        assert_eq!(b.used(), 0);
        // another batch pays for itself
        let other = crate::Batch::from_logs(ExportLogsServiceRequest::default());
        let _a = batch.memory_charge(&b, || b.try_reserve(600)).unwrap();
        assert!(other.memory_charge(&b, || b.try_reserve(600)).is_none());
    }

    #[test]
    fn unlimited_never_refuses() {
        let b = MemoryBudget::unlimited();
        assert!(b.try_reserve(u64::MAX).is_some());
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn sizes_and_limits_parse() {
        let limit = || 1000;
        assert_eq!(parse_size("256MiB", limit), Ok(256 << 20));
        assert_eq!(parse_size("1GiB", limit), Ok(1 << 30));
        assert_eq!(parse_size("512MB", limit), Ok(512_000_000));
        assert_eq!(parse_size("4096", limit), Ok(4096));
        assert_eq!(parse_size("10%", limit), Ok(100));
        assert!(parse_size("10 parsecs", limit).is_err());
        assert!(parse_size("0", limit).is_err());
        assert!(parse_size("150%", limit).is_err());
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("536870912\n"), Some(536870912));
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(
            parse_meminfo_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24576000 * 1024)
        );
    }

    #[test]
    fn default_is_a_share_of_the_limit() {
        let gib = 1u64 << 30;
        assert_eq!(default_for(Some(2 * gib), Some(24 * gib)), 512 << 20);
        assert_eq!(default_for(Some(32 << 20), None), DEFAULT_FLOOR);
        assert_eq!(default_for(None, Some(24 * gib)), 64 << 20);
        assert_eq!(default_for(None, Some(128 << 20)), 32 << 20);
        let d = MemoryBudget::default_limit();
        assert!(d >= DEFAULT_FLOOR, "{d}");
    }
}
