//! Cutting a batch still in its wire form after its first `n` items, without decoding it.
//!
//! The `batch` processor and the sending queue cut what is pending into sends of at most
//! `send_batch_max_size` items. Cutting the decoded form decoded the whole batch and left
//! what stayed behind decoded, so every later request merged into it was decoded too, and
//! every send encoded again. Here the resource entries before the cut are kept as slices of
//! the chunks they came in, those after it likewise, and only the entry the cut falls in
//! is written anew: its resource, scope and schema URL fields in both halves, its scope
//! entries (and, for metrics, the metric and its data points) shared out as
//! [`Batch::split_front`](crate::Batch::split_front) shares out the decoded ones. For a
//! request prost encoded, each half is byte for byte prost's encoding of the decoded half.
//!
//! The input must be chunks [`crate::wire::scan`] accepted, without groups (a batch with
//! one is decoded on arrival); anything that does not walk gives `None`, and the caller
//! cuts the decoded form.

use bytes::Bytes;

use crate::ids::Signal;
use crate::wire_edit::{next_field, put_len_field};

/// What holds the items, one level of a request's tree below the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// `ResourceSpans`, `ResourceLogs`, `ResourceMetrics`: scope entries in field 2.
    Resource,
    /// `ScopeSpans`, `ScopeLogs`: the items in field 2.
    Scope,
    /// `ScopeMetrics`: metrics in field 2.
    ScopeMetrics,
    /// `Metric`: the data points of its data (a oneof), field 1 of it.
    Metric,
}

impl Level {
    /// The level of the children (field 2) of this one; `None` for items.
    fn child(self, signal: Signal) -> Option<Level> {
        match (self, signal) {
            (Level::Resource, Signal::Metrics) => Some(Level::ScopeMetrics),
            (Level::Resource, _) => Some(Level::Scope),
            (Level::ScopeMetrics, _) => Some(Level::Metric),
            (Level::Scope | Level::Metric, _) => None,
        }
    }
}

/// A metric's data fields (the oneof: gauge, sum, histogram, exponential histogram,
/// summary).
const METRIC_DATA: [u64; 5] = [5, 7, 9, 10, 11];

/// The items an encoded message of `level` holds, as the scan counts them.
fn weight(signal: Signal, level: Level, msg: &[u8]) -> Option<usize> {
    if level == Level::Metric {
        return metric_weight(msg);
    }
    let child = level.child(signal);
    let mut n = 0;
    let mut rest = msg;
    while !rest.is_empty() {
        let f = next_field(&mut rest)?;
        if f.number == 2 && f.wire_type == 2 {
            n += match child {
                Some(c) => weight(signal, c, f.value)?,
                None => 1,
            };
        }
    }
    Some(n)
}

/// An encoded metric's data field: its number and payload, `None` for a metric without
/// data; `Err` for one with several (prost merges or replaces them) or that does not walk.
fn metric_data(msg: &[u8]) -> Result<Option<(u64, &[u8])>, ()> {
    let mut data = None;
    let mut rest = msg;
    while !rest.is_empty() {
        let f = next_field(&mut rest).ok_or(())?;
        if f.wire_type == 2 && METRIC_DATA.contains(&f.number) {
            if data.is_some() {
                return Err(());
            }
            data = Some((f.number, f.value));
        }
    }
    Ok(data)
}

/// A metric's data points: those of its one data field, read directly; a metric with
/// several is counted by the scan.
fn metric_weight(msg: &[u8]) -> Option<usize> {
    let Ok(data) = metric_data(msg) else {
        return crate::wire::metric_points(msg);
    };
    let Some((_, mut data)) = data else {
        return Some(0);
    };
    let mut n = 0;
    while !data.is_empty() {
        let f = next_field(&mut data)?;
        n += usize::from(f.number == 1 && f.wire_type == 2);
    }
    Some(n)
}

/// `msg`, a message of `level` holding more than `n` items (`n > 0`), cut after its first
/// `n`: the two halves' payloads. Every field but the children is written in both, in its
/// place; children are shared out in order, whole while they fit (an empty one with the
/// head while nothing went to the rest yet), the one the cut falls in cut again.
fn cut(signal: Signal, level: Level, msg: &[u8], n: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    if level == Level::Metric {
        return cut_metric(msg, n);
    }
    let child = level.child(signal);
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let mut remaining = n;
    let mut cut_done = false;
    let mut rest = msg;
    while !rest.is_empty() {
        let f = next_field(&mut rest)?;
        if f.number != 2 || f.wire_type != 2 {
            head.extend_from_slice(f.raw);
            tail.extend_from_slice(f.raw);
            continue;
        }
        if cut_done {
            tail.extend_from_slice(f.raw);
            continue;
        }
        let w = match child {
            Some(c) => weight(signal, c, f.value)?,
            None => 1,
        };
        if w <= remaining {
            head.extend_from_slice(f.raw);
            remaining -= w;
            continue;
        }
        cut_done = true;
        match child {
            Some(c) if remaining > 0 => {
                let (a, b) = cut(signal, c, f.value, remaining)?;
                put_len_field(&mut head, 2, &a);
                put_len_field(&mut tail, 2, &b);
                remaining = 0;
            }
            _ => tail.extend_from_slice(f.raw),
        }
    }
    Some((head, tail))
}

/// A metric holding more than `n` data points cut after its first `n`: its name,
/// description, unit and metadata in both halves, its data's other fields (a sum's
/// temporality and monotonicity) in both, the points shared out. `None` for a metric with
/// more than one data field (prost merges or replaces them; left to the decoded cut).
fn cut_metric(msg: &[u8], n: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    let (number, _) = metric_data(msg).ok()??;
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let mut rest = msg;
    while !rest.is_empty() {
        let f = next_field(&mut rest)?;
        if f.number != number || f.wire_type != 2 {
            head.extend_from_slice(f.raw);
            tail.extend_from_slice(f.raw);
            continue;
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut taken = 0;
        let mut points = f.value;
        while !points.is_empty() {
            let p = next_field(&mut points)?;
            if p.number != 1 || p.wire_type != 2 {
                a.extend_from_slice(p.raw);
                b.extend_from_slice(p.raw);
            } else if taken < n {
                a.extend_from_slice(p.raw);
                taken += 1;
            } else {
                b.extend_from_slice(p.raw);
            }
        }
        put_len_field(&mut head, number, &a);
        put_len_field(&mut tail, number, &b);
    }
    Some((head, tail))
}

/// The chunks of a wire batch (each an export request of `signal`) cut after the first `n`
/// items: the head's chunks and the rest's, each list at least one chunk. Resource entries
/// are shared out as [`cut`] shares out children, the one the cut falls in written anew.
pub(crate) fn split_front(
    signal: Signal,
    chunks: &[Bytes],
    n: usize,
) -> Option<(Vec<Bytes>, Vec<Bytes>)> {
    let mut head = Vec::new();
    let mut remaining = n;
    for (i, chunk) in chunks.iter().enumerate() {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let start = chunk.len() - rest.len();
            let f = next_field(&mut rest)?;
            let w = if f.number == 1 && f.wire_type == 2 {
                weight(signal, Level::Resource, f.value)?
            } else {
                0
            };
            if w <= remaining {
                remaining -= w;
                continue;
            }
            // the cut is in this entry, or just before it
            let end = chunk.len() - rest.len();
            let mut tail = Vec::new();
            let resume = if remaining > 0 {
                let (a, b) = cut(signal, Level::Resource, f.value, remaining)?;
                let (mut x, mut y) = (Vec::new(), Vec::new());
                put_len_field(&mut x, 1, &a);
                put_len_field(&mut y, 1, &b);
                head.push(chunk.slice(..start));
                head.push(Bytes::from(x));
                tail.push(Bytes::from(y));
                end
            } else {
                head.push(chunk.slice(..start));
                start
            };
            tail.push(chunk.slice(resume..));
            tail.extend(chunks[i + 1..].iter().cloned());
            return Some((non_empty(head), non_empty(tail)));
        }
        head.push(chunk.clone());
    }
    Some((non_empty(head), non_empty(Vec::new())))
}

/// The chunks but the empty ones; one empty chunk when none is left (a wire batch holds
/// at least one).
fn non_empty(mut chunks: Vec<Bytes>) -> Vec<Bytes> {
    chunks.retain(|c| !c.is_empty());
    if chunks.is_empty() {
        chunks.push(Bytes::new());
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::random::{self, Rng};
    use crate::{Batch, BatchData, RequestContext};

    /// A wire batch of `parts` joined as chunks, and the decoded batch of the same items.
    fn both(parts: Vec<BatchData>) -> (Batch, Batch) {
        let signal = parts[0].signal();
        let wire = Batch::merge(
            parts
                .iter()
                .map(|d| {
                    let bytes = Batch::new(d.clone(), RequestContext::default()).encode();
                    Batch::from_wire(signal, bytes.into(), RequestContext::default()).unwrap()
                })
                .collect(),
        )
        .unwrap();
        let decoded = Batch::merge(
            parts
                .into_iter()
                .map(|d| Batch::new(d, RequestContext::default()))
                .collect(),
        )
        .unwrap();
        (wire, decoded)
    }

    /// Random requests of every signal, joined one to three as chunks, cut at every place
    /// in the wire form and in the decoded form: both halves are byte for byte alike, stay
    /// in the wire form, and hold what they count.
    #[test]
    fn a_wire_cut_is_byte_identical_to_the_decoded_cut() {
        let mut cuts = 0;
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            for seed in 0..300u64 {
                let mut rng = Rng(seed);
                let parts = (0..1 + rng.below(3))
                    .map(|_| random::request(signal, &mut rng))
                    .collect();
                let (wire, decoded) = both(parts);
                assert_eq!(wire.items(), decoded.items());
                for n in 0..wire.items() {
                    let (mut w, mut d) = (wire.clone(), decoded.clone());
                    let (wh, dh) = (w.split_front(n), d.split_front(n));
                    let what = format!("{signal} seed {seed}, cut after {n}");
                    assert!(wh.is_wire() && w.is_wire(), "{what}: decoded");
                    assert_eq!(wh.encode(), dh.encode(), "{what}: the head differs");
                    assert_eq!(w.encode(), d.encode(), "{what}: the rest differs");
                    assert_eq!((wh.items(), w.items()), (dh.items(), d.items()), "{what}");
                    assert_eq!(crate::wire::scan(signal, &wh.encode()), Ok(n), "{what}");
                    let left = wire.items() - n;
                    assert_eq!(crate::wire::scan(signal, &w.encode()), Ok(left), "{what}");
                    cuts += 1;
                }
            }
        }
        // enough cuts inside entries to mean something
        assert!(cuts > 4_000, "{cuts}");
    }

    /// A metric with two data fields (prost keeps the last) is not cut in the wire form:
    /// the decoded cut takes over, and the halves are what prost's decode holds.
    #[test]
    fn a_metric_with_two_data_fields_is_cut_decoded() {
        use crate::proto::tonic::metrics::v1::{metric, Gauge, Metric, NumberDataPoint, Sum};
        use prost::Message;
        let points = |n: usize| (0..n).map(|_| NumberDataPoint::default()).collect();
        let gauge = Metric {
            name: "m".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: points(2),
            })),
            ..Default::default()
        };
        let sum = Metric {
            data: Some(metric::Data::Sum(Sum {
                data_points: points(3),
                ..Default::default()
            })),
            ..Default::default()
        };
        // the metric's fields twice over: a gauge, then a sum, which prost keeps
        let mut m = gauge.encode_to_vec();
        m.extend(sum.encode_to_vec());
        let mut scope = Vec::new();
        put_len_field(&mut scope, 2, &m);
        let mut resource = Vec::new();
        put_len_field(&mut resource, 2, &scope);
        let mut request = Vec::new();
        put_len_field(&mut request, 1, &resource);
        let mut b =
            Batch::from_wire(Signal::Metrics, request.into(), RequestContext::default()).unwrap();
        assert_eq!(b.items(), 3);
        let head = b.split_front(1);
        assert_eq!((head.items(), b.items()), (1, 2));
        assert!(!b.is_wire(), "cut in the wire form");
        let kept = |b: &Batch| match b.data() {
            BatchData::Metrics(r) => r.resource_metrics[0].scope_metrics[0].metrics[0].clone(),
            _ => unreachable!(),
        };
        assert_eq!(kept(&head).name, "m");
        assert!(matches!(kept(&b).data, Some(metric::Data::Sum(_))));
    }
}
