//! The tail-sampling state: traces held until their decision, bounded by `num_traces`,
//! the decision caches, and the counters. Owned by the processor's task; no locking.
//!
//! Go facts (`processor.go`):
//! - a trace is decided `decision_wait` after its first span (here within 100 ms after;
//!   Go decides on its one-second ticker, within the second before), or
//!   `decision_wait_after_root_received` after a root span when that is sooner;
//! - policies are evaluated in order, `drop` policies first; a `Dropped` ends evaluation,
//!   and so does `Sampled` with `sample_on_first_match`; an `invert_match` policy's decision
//!   is a plain sampled or not sampled (the invert decisions are gone since
//!   `disableinvertdecisions` became stable); the final decision is `Dropped` if any policy
//!   dropped, else sampled if any sampled, else not sampled;
//! - with a decision cache, a decided trace leaves the map and its id goes to the cache of
//!   its outcome; without one, the trace stays in the map (spans released) so late spans
//!   follow its decision until it is evicted;
//! - spans of a trace in the sampled cache are forwarded at once, those in the not-sampled
//!   cache dropped (`early_releases_from_cache_decision{sampled}`);
//! - when `num_traces` traces are held and a new one arrives, the oldest is evicted (an
//!   undecided one counts in `sampling_trace_dropped_too_early`); with `block_on_overflow`
//!   Go waits for room — here the new data is refused with a retryable error instead, so
//!   the client backs off rather than holding a connection;
//! - at shutdown, undecided traces are decided at once unless
//!   `drop_pending_traces_on_shutdown`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use pipeline_api::proto::tonic::trace::v1::ResourceSpans;
use pipeline_api::{IntCounter, IntGauge};
use prost::Message;
use tokio::time::Instant;

use super::policy::{Decision, Now, Policy, TraceData};

pub type TraceId = [u8; 16];

/// Decision granularity: a trace is decided at most this long after its `decision_wait`
/// (Go decides on a one-second ticker, within the second before it).
pub const DECISION_TICK: Duration = Duration::from_millis(100);

/// The spans of one trace from one resource of one incoming batch, held as bytes: an
/// encoded `ResourceSpans` (the resource, the scopes with the trace's spans), decoded only
/// while the policies decide, and forwarded as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceBatch {
    pub id: TraceId,
    pub bytes: Vec<u8>,
    pub spans: usize,
    pub has_root: bool,
}

/// Why spans were dropped (label `reason` of `otelcol_processor_tail_sampling_spans_dropped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    NotSampled,
    LateNotSampled,
    Evicted,
    TooLarge,
    ForwardFailed,
    Shutdown,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::NotSampled,
        DropReason::LateNotSampled,
        DropReason::Evicted,
        DropReason::TooLarge,
        DropReason::ForwardFailed,
        DropReason::Shutdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NotSampled => "not_sampled",
            DropReason::LateNotSampled => "late_not_sampled",
            DropReason::Evicted => "evicted",
            DropReason::TooLarge => "too_large",
            DropReason::ForwardFailed => "forward_failed",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// Counters and gauges (Go's names where Go has one).
pub struct Metrics {
    /// Per policy: `[sampled, not_sampled, dropped]`.
    pub policy: Vec<[IntCounter; 3]>,
    pub global: [IntCounter; 3],
    pub dropped_too_early: IntCounter,
    pub traces_on_memory: IntGauge,
    pub new_trace_id_received: IntCounter,
    /// `[sampled=false, sampled=true]`.
    pub early_releases: [IntCounter; 2],
    pub spans_dropped: [IntCounter; 6],
}

fn decision_index(d: Decision) -> usize {
    match d {
        Decision::Sampled | Decision::InvertSampled => 0,
        Decision::NotSampled | Decision::InvertNotSampled => 1,
        Decision::Dropped => 2,
    }
}

/// A small LRU set of trace ids (Go's decision caches); `get` refreshes recency.
#[derive(Debug)]
pub struct LruSet {
    capacity: usize,
    stamp: u64,
    by_id: HashMap<TraceId, u64>,
    by_stamp: BTreeMap<u64, TraceId>,
}

impl LruSet {
    pub fn new(capacity: usize) -> LruSet {
        LruSet {
            capacity,
            stamp: 0,
            by_id: HashMap::new(),
            by_stamp: BTreeMap::new(),
        }
    }

    pub fn get(&mut self, id: &TraceId) -> bool {
        let Some(old) = self.by_id.get(id).copied() else {
            return false;
        };
        self.by_stamp.remove(&old);
        self.stamp += 1;
        self.by_stamp.insert(self.stamp, *id);
        self.by_id.insert(*id, self.stamp);
        true
    }

    pub fn contains(&self, id: &TraceId) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn put(&mut self, id: TraceId) {
        if !self.get(&id) {
            self.stamp += 1;
            self.by_id.insert(id, self.stamp);
            self.by_stamp.insert(self.stamp, id);
        }
        while self.by_id.len() > self.capacity {
            match self.by_stamp.pop_first() {
                Some((_, old)) => {
                    self.by_id.remove(&old);
                }
                None => break,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

struct Entry {
    seq: u64,
    deadline: Instant,
    /// What the policies see; its `batches` are decoded from `pieces` only while they
    /// decide.
    data: TraceData,
    /// The trace's spans until the decision, as they came.
    pieces: Vec<TraceBatch>,
    decision: Option<Decision>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub decision_wait: Duration,
    pub decision_wait_after_root: Duration,
    pub num_traces: usize,
    pub block_on_overflow: bool,
    pub sample_on_first_match: bool,
    pub max_trace_size: u64,
}

pub struct Engine {
    settings: Settings,
    policies: Vec<Policy>,
    traces: HashMap<TraceId, Entry>,
    /// Arrival order (FIFO eviction).
    order: BTreeMap<u64, TraceId>,
    /// Undecided traces by deadline.
    pending: BTreeMap<(Instant, u64), TraceId>,
    seq: u64,
    sampled_cache: Option<LruSet>,
    non_sampled_cache: Option<LruSet>,
    start: Instant,
    metrics: Option<Metrics>,
}

/// `now + d`, without overflowing for absurdly long waits (about 136 years at most).
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

fn span_count(pieces: &[TraceBatch]) -> usize {
    pieces.iter().map(|p| p.spans).sum()
}

impl Engine {
    pub fn new(
        settings: Settings,
        policies: Vec<Policy>,
        sampled_cache_size: usize,
        non_sampled_cache_size: usize,
        metrics: Option<Metrics>,
        start: Instant,
    ) -> Engine {
        Engine {
            settings,
            policies,
            traces: HashMap::new(),
            order: BTreeMap::new(),
            pending: BTreeMap::new(),
            seq: 0,
            sampled_cache: (sampled_cache_size > 0).then(|| LruSet::new(sampled_cache_size)),
            non_sampled_cache: (non_sampled_cache_size > 0)
                .then(|| LruSet::new(non_sampled_cache_size)),
            start,
            metrics,
        }
    }

    pub fn settings_block_on_overflow(&self) -> bool {
        self.settings.block_on_overflow
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.keys().next().map(|(d, _)| *d)
    }

    /// Deadlines are rounded up to the next multiple of [`DECISION_TICK`] since start, so
    /// traces arriving close together are decided (and forwarded) together.
    fn align(&self, t: Instant) -> Instant {
        let tick = DECISION_TICK.as_nanos();
        let since = t.saturating_duration_since(self.start).as_nanos();
        let rounded = since.div_ceil(tick) * tick;
        self.start
            .checked_add(Duration::from_nanos(
                u64::try_from(rounded).unwrap_or(u64::MAX),
            ))
            .unwrap_or(t)
    }

    fn count_dropped(&self, reason: DropReason, spans: usize) {
        if spans == 0 {
            return;
        }
        if let Some(m) = &self.metrics {
            m.spans_dropped[reason as usize].inc_by(spans as u64);
        }
    }

    pub fn count_forward_failed(&self, spans: usize) {
        self.count_dropped(DropReason::ForwardFailed, spans);
    }

    fn update_gauge(&self) {
        if let Some(m) = &self.metrics {
            m.traces_on_memory.set(self.traces.len() as i64);
        }
    }

    fn is_cached(&self, id: &TraceId) -> bool {
        self.sampled_cache.as_ref().is_some_and(|c| c.contains(id))
            || self
                .non_sampled_cache
                .as_ref()
                .is_some_and(|c| c.contains(id))
    }

    /// With `block_on_overflow`: make room among decided traces, and say whether the new
    /// traces of `batch` still do not fit.
    pub fn refuse_for_overflow(&mut self, batch: &[TraceBatch]) -> bool {
        let mut new_ids: Vec<&TraceId> = batch
            .iter()
            .map(|t| &t.id)
            .filter(|id| !self.traces.contains_key(*id) && !self.is_cached(id))
            .collect();
        new_ids.sort_unstable();
        new_ids.dedup();
        let needed = new_ids.len();
        if needed == 0 || self.traces.len() + needed <= self.settings.num_traces {
            return false;
        }
        // Forget decided traces (they hold no spans), oldest first.
        let decided: Vec<(u64, TraceId)> = self
            .order
            .iter()
            .filter(|(_, id)| self.traces.get(*id).is_some_and(|e| e.decision.is_some()))
            .map(|(s, id)| (*s, *id))
            .collect();
        for (seq, id) in decided {
            if self.traces.len() + needed <= self.settings.num_traces {
                break;
            }
            self.order.remove(&seq);
            self.traces.remove(&id);
        }
        self.update_gauge();
        !self.traces.is_empty() && self.traces.len() + needed > self.settings.num_traces
    }

    fn evict_oldest(&mut self) {
        let Some((_, id)) = self.order.pop_first() else {
            return;
        };
        let Some(entry) = self.traces.remove(&id) else {
            return;
        };
        if entry.decision.is_none() {
            self.pending.remove(&(entry.deadline, entry.seq));
            let spans = span_count(&entry.pieces);
            self.count_dropped(DropReason::Evicted, spans);
            if let Some(m) = &self.metrics {
                m.dropped_too_early.inc();
            }
            tracing::warn!(
                num_traces = self.settings.num_traces,
                spans,
                "Trace dropped before its sampling decision: num_traces reached; raise num_traces or lower decision_wait."
            );
        }
    }

    fn remove(&mut self, id: &TraceId) {
        if let Some(e) = self.traces.remove(id) {
            self.order.remove(&e.seq);
            if e.decision.is_none() {
                self.pending.remove(&(e.deadline, e.seq));
            }
        }
    }

    /// Take in the spans of one incoming batch; returns spans to forward right away
    /// (those of traces already sampled).
    pub fn ingest(&mut self, batch: Vec<TraceBatch>, now: Instant) -> Vec<TraceBatch> {
        let mut forward = Vec::new();
        for tb in batch {
            let id = tb.id;
            if let Some(c) = self.sampled_cache.as_mut() {
                if c.get(&tb.id) {
                    if let Some(m) = &self.metrics {
                        m.early_releases[1].inc_by(tb.spans as u64);
                    }
                    forward.push(tb);
                    continue;
                }
            }
            if let Some(c) = self.non_sampled_cache.as_mut() {
                if c.get(&tb.id) {
                    if let Some(m) = &self.metrics {
                        m.early_releases[0].inc_by(tb.spans as u64);
                    }
                    self.count_dropped(DropReason::LateNotSampled, tb.spans);
                    continue;
                }
            }
            if !self.traces.contains_key(&tb.id) {
                while self.traces.len() >= self.settings.num_traces && !self.traces.is_empty() {
                    self.evict_oldest();
                }
                self.seq += 1;
                let deadline = self.align(later(now, self.settings.decision_wait));
                self.traces.insert(
                    tb.id,
                    Entry {
                        seq: self.seq,
                        deadline,
                        data: TraceData {
                            trace_id: tb.id,
                            ..TraceData::default()
                        },
                        pieces: Vec::new(),
                        decision: None,
                    },
                );
                self.order.insert(self.seq, tb.id);
                self.pending.insert((deadline, self.seq), tb.id);
                if let Some(m) = &self.metrics {
                    m.new_trace_id_received.inc();
                }
            }
            let root_wait = self.settings.decision_wait_after_root;
            let max_size = self.settings.max_trace_size;
            let root_deadline =
                (tb.has_root && !root_wait.is_zero()).then(|| self.align(later(now, root_wait)));
            let Some(entry) = self.traces.get_mut(&tb.id) else {
                continue;
            };
            entry.data.span_count += tb.spans as i64;
            match entry.decision {
                Some(Decision::Sampled) | Some(Decision::InvertSampled) => {
                    forward.push(tb);
                    continue;
                }
                Some(_) => {
                    let spans = tb.spans;
                    self.count_dropped(DropReason::LateNotSampled, spans);
                    continue;
                }
                None => {}
            }
            entry.data.size_bytes += tb.bytes.len() as u64;
            entry.pieces.push(tb);
            if let Some(sooner) = root_deadline {
                if sooner < entry.deadline {
                    self.pending.remove(&(entry.deadline, entry.seq));
                    entry.deadline = sooner;
                    self.pending.insert((sooner, entry.seq), id);
                }
            }
            if max_size > 0 && entry.data.size_bytes > max_size {
                let spans = span_count(&entry.pieces);
                let size = entry.data.size_bytes;
                tracing::warn!(
                    size,
                    max = max_size,
                    spans,
                    "Trace dropped: larger than maximum_trace_size_bytes."
                );
                self.finish(id, Decision::NotSampled);
                self.count_dropped(DropReason::TooLarge, spans);
            }
        }
        self.update_gauge();
        forward
    }

    /// Record `decision` for an undecided trace; returns its spans (the caller forwards
    /// them when sampled).
    fn finish(&mut self, id: TraceId, decision: Decision) -> Vec<TraceBatch> {
        let Some(entry) = self.traces.get_mut(&id) else {
            return Vec::new();
        };
        self.pending.remove(&(entry.deadline, entry.seq));
        entry.decision = Some(decision);
        let spans = std::mem::take(&mut entry.pieces);
        let sampled = decision == Decision::Sampled;
        let cache = if sampled {
            self.sampled_cache.as_mut()
        } else {
            self.non_sampled_cache.as_mut()
        };
        if let Some(c) = cache {
            c.put(id);
            self.remove(&id);
        }
        spans
    }

    fn make_decision(&mut self, id: &TraceId, now: Now) -> Option<Decision> {
        let entry = self.traces.get_mut(id)?;
        let data = &mut entry.data;
        // the spans decoded for the policies, dropped after (pieces the scan accepted or
        // prost wrote decode)
        data.batches = entry
            .pieces
            .iter()
            .filter_map(|p| ResourceSpans::decode(&p.bytes[..]).ok())
            .collect();
        let mut first: HashMap<Decision, usize> = HashMap::new();
        for (i, p) in self.policies.iter_mut().enumerate() {
            // an inverted match is a plain decision (Go: the invert decisions were removed
            // when `processor.tailsamplingprocessor.disableinvertdecisions` became stable)
            let d = match p.evaluator.evaluate(data, now) {
                Decision::InvertSampled => Decision::Sampled,
                Decision::InvertNotSampled => Decision::NotSampled,
                d => d,
            };
            if let Some(m) = &self.metrics {
                m.policy[i][decision_index(d)].inc();
            }
            first.entry(d).or_insert(i);
            if d == Decision::Dropped {
                break;
            }
            if self.settings.sample_on_first_match && d == Decision::Sampled {
                break;
            }
        }
        let has = |d| first.contains_key(&d);
        let decision = if has(Decision::Dropped) {
            Decision::Dropped
        } else if has(Decision::InvertNotSampled) {
            Decision::NotSampled
        } else if has(Decision::Sampled)
            || (has(Decision::InvertSampled) && !has(Decision::NotSampled))
        {
            Decision::Sampled
        } else {
            Decision::NotSampled
        };
        if let Some(m) = &self.metrics {
            m.global[decision_index(decision)].inc();
        }
        data.batches = Vec::new();
        Some(decision)
    }

    fn now(&self, now: Instant) -> Now {
        Now {
            second: now.saturating_duration_since(self.start).as_secs() as i64,
            instant: now,
        }
    }

    fn decide(&mut self, ids: Vec<TraceId>, now: Instant) -> Vec<TraceBatch> {
        let clock = self.now(now);
        let mut forward = Vec::new();
        for id in ids {
            let Some(decision) = self.make_decision(&id, clock) else {
                continue;
            };
            let spans = self.finish(id, decision);
            if decision == Decision::Sampled {
                forward.extend(spans);
            } else {
                self.count_dropped(DropReason::NotSampled, span_count(&spans));
            }
        }
        self.update_gauge();
        forward
    }

    /// Decide every trace whose deadline has passed; returns the sampled spans.
    pub fn decide_due(&mut self, now: Instant) -> Vec<TraceBatch> {
        let due: Vec<TraceId> = self
            .pending
            .range(..=(now, u64::MAX))
            .map(|(_, id)| *id)
            .collect();
        self.decide(due, now)
    }

    /// Shutdown: decide every undecided trace now.
    pub fn decide_all(&mut self, now: Instant) -> Vec<TraceBatch> {
        let all: Vec<TraceId> = self.pending.values().copied().collect();
        self.decide(all, now)
    }

    /// Shutdown with `drop_pending_traces_on_shutdown`: drop every undecided trace.
    pub fn drop_pending(&mut self) -> usize {
        let ids: Vec<TraceId> = self.pending.values().copied().collect();
        let mut spans = 0;
        for id in ids {
            if let Some(e) = self.traces.get(&id) {
                spans += span_count(&e.pieces);
            }
            self.remove(&id);
        }
        self.count_dropped(DropReason::Shutdown, spans);
        self.update_gauge();
        spans
    }
}
