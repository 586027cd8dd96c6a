//! The remote write 1.0 messages (Prometheus `prompb/remote.proto`, `prompb/types.proto`),
//! declared by hand: `WriteRequest { timeseries = 1; metadata = 3 }`, `TimeSeries { labels = 1;
//! samples = 2; exemplars = 3; histograms = 4 }`, `Label { name = 1; value = 2 }`, `Sample {
//! value = 1; timestamp = 2 }` (milliseconds), `Exemplar { labels = 1; value = 2; timestamp =
//! 3 }`, `MetricMetadata { type = 1; metric_family_name = 2; help = 4; unit = 5 }`, and the
//! native `Histogram` with its `BucketSpan` (integer counts only: `count_int = 1; sum = 3;
//! schema = 4 (sint32); zero_threshold = 5; zero_count_int = 6; negative_spans = 8;
//! negative_deltas = 9 (sint64); positive_spans = 11; positive_deltas = 12; reset_hint = 14;
//! timestamp = 15`; `BucketSpan { offset = 1 (sint32); length = 2 }`).

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::{Buf, BufMut};
use prost::encoding::{self, WireType};
use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Sorted by name; `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Sorted by timestamp.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histograms (from OTLP exponential histograms), sorted by timestamp.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// A native histogram with integer counts; bucket counts as deltas from the previous bucket,
/// laid out in spans.
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    /// In a `oneof`: written even when 0.
    #[prost(uint64, optional, tag = "1")]
    pub count_int: Option<u64>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// In a `oneof`: written even when 0.
    #[prost(uint64, optional, tag = "6")]
    pub zero_count_int: Option<u64>,
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// `ResetHint`: 0 unknown (what a converted OTLP point says).
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// `Label { name = 1; value = 2 }`, both shared with the translated point's labels (so a
/// series' labels are not copied, nor a histogram's into each bucket): encoded by hand, as
/// prost's derive would encode two strings.
///
/// Labels compare by name, then value, as strings; two that share a string are equal without
/// reading it (the series map compares label lists whose names, and scope, job, instance and
/// histogram labels, are mostly the same shared strings).
#[derive(Clone, Debug, Default)]
pub struct Label {
    pub name: Arc<str>,
    pub value: Arc<str>,
}

fn cmp_shared(a: &Arc<str>, b: &Arc<str>) -> Ordering {
    if Arc::ptr_eq(a, b) {
        Ordering::Equal
    } else {
        a.cmp(b)
    }
}

impl Ord for Label {
    fn cmp(&self, other: &Label) -> Ordering {
        cmp_shared(&self.name, &other.name).then_with(|| cmp_shared(&self.value, &other.value))
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Label) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Label {
    fn eq(&self, other: &Label) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Label {}

/// A string field `tag` holding `s`, unless empty (proto3).
fn put_string(tag: u32, s: &str, buf: &mut impl BufMut) {
    if !s.is_empty() {
        encoding::encode_key(tag, WireType::LengthDelimited, buf);
        encoding::encode_varint(s.len() as u64, buf);
        buf.put_slice(s.as_bytes());
    }
}

fn string_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        encoding::key_len(tag) + encoding::encoded_len_varint(s.len() as u64) + s.len()
    }
}

/// Merges string field data into `into`, as prost does into a `String`.
fn merge_string(
    into: &mut Arc<str>,
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: encoding::DecodeContext,
) -> Result<(), prost::DecodeError> {
    let mut s = into.to_string();
    encoding::string::merge(wire_type, &mut s, buf, ctx)?;
    *into = s.into();
    Ok(())
}

impl Message for Label {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        put_string(1, &self.name, buf);
        put_string(2, &self.value, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            1 => merge_string(&mut self.name, wire_type, buf, ctx),
            2 => merge_string(&mut self.value, wire_type, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        string_len(1, &self.name) + string_len(2, &self.value)
    }

    fn clear(&mut self) {
        *self = Label::default();
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `MetricMetadata.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Unknown = 0,
    Counter = 1,
    Gauge = 2,
    Histogram = 3,
    Gaugehistogram = 4,
    Summary = 5,
    Info = 6,
    Stateset = 7,
}

#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}
