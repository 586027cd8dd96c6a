//! The heap a decoded export request takes: what the memory budget charges for a batch held
//! as structs (see [`crate::Batch::memory_size`]).
//!
//! A decoded request is several times larger than its encoding: every string and list is a
//! heap block with a 24-byte header in its parent, every attribute a 64-byte `KeyValue`
//! plus its key and value. Charging the encoded length for it would let the buffers behind a
//! `transform` hold several times the budget. The sizes here are the blocks' capacities
//! (what the allocator handed out), not counting the allocator's own overhead per block.

use std::mem::size_of;

use crate::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use crate::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, summary_data_point::ValueAtQuantile,
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use crate::proto::tonic::resource::v1::Resource;
use crate::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

/// Bytes a value owns on the heap, beyond its own `size_of`.
pub trait HeapSize {
    fn heap_size(&self) -> usize;
}

impl HeapSize for String {
    fn heap_size(&self) -> usize {
        self.capacity()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_size(&self) -> usize {
        self.capacity() * size_of::<T>() + self.iter().map(HeapSize::heap_size).sum::<usize>()
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_size(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_size)
    }
}

/// Plain values: nothing on the heap.
macro_rules! flat {
    ($($t:ty),*) => {$(
        impl HeapSize for $t {
            fn heap_size(&self) -> usize {
                0
            }
        }
    )*};
}
flat!(u8, u64, f64, ValueAtQuantile);

/// A message: the sum of its fields that own heap.
macro_rules! fields {
    ($($t:ty { $($f:ident),* })*) => {$(
        impl HeapSize for $t {
            fn heap_size(&self) -> usize {
                0 $(+ self.$f.heap_size())*
            }
        }
    )*};
}

fields! {
    AnyValue { value }
    ArrayValue { values }
    KeyValueList { values }
    KeyValue { key, value }
    InstrumentationScope { name, version, attributes }
    EntityRef { schema_url, r#type, id_keys, description_keys }
    Resource { attributes, entity_refs }
    ExportTraceServiceRequest { resource_spans }
    ResourceSpans { resource, scope_spans, schema_url }
    ScopeSpans { scope, spans, schema_url }
    Span { trace_id, span_id, trace_state, parent_span_id, name, attributes, events, links, status }
    span::Event { name, attributes }
    span::Link { trace_id, span_id, trace_state, attributes }
    Status { message }
    ExportLogsServiceRequest { resource_logs }
    ResourceLogs { resource, scope_logs, schema_url }
    ScopeLogs { scope, log_records, schema_url }
    LogRecord { severity_text, body, attributes, trace_id, span_id, event_name }
    ExportMetricsServiceRequest { resource_metrics }
    ResourceMetrics { resource, scope_metrics, schema_url }
    ScopeMetrics { scope, metrics, schema_url }
    Metric { name, description, unit, metadata, data }
    Gauge { data_points }
    Sum { data_points }
    Histogram { data_points }
    ExponentialHistogram { data_points }
    Summary { data_points }
    NumberDataPoint { attributes, exemplars }
    HistogramDataPoint { attributes, bucket_counts, explicit_bounds, exemplars }
    ExponentialHistogramDataPoint { attributes, positive, negative, exemplars }
    Buckets { bucket_counts }
    SummaryDataPoint { attributes, quantile_values }
    Exemplar { filtered_attributes, span_id, trace_id }
}

impl HeapSize for any_value::Value {
    fn heap_size(&self) -> usize {
        match self {
            any_value::Value::StringValue(s) => s.heap_size(),
            any_value::Value::BytesValue(b) => b.heap_size(),
            any_value::Value::ArrayValue(a) => a.heap_size(),
            any_value::Value::KvlistValue(l) => l.heap_size(),
            any_value::Value::BoolValue(_)
            | any_value::Value::IntValue(_)
            | any_value::Value::DoubleValue(_)
            | any_value::Value::StringValueStrindex(_) => 0,
        }
    }
}

impl HeapSize for metric::Data {
    fn heap_size(&self) -> usize {
        match self {
            metric::Data::Gauge(g) => g.heap_size(),
            metric::Data::Sum(s) => s.heap_size(),
            metric::Data::Histogram(h) => h.heap_size(),
            metric::Data::ExponentialHistogram(h) => h.heap_size(),
            metric::Data::Summary(s) => s.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The sum for a request built by hand, from the types' sizes and the strings' and
    /// lists' capacities.
    #[test]
    fn a_request_counts_every_block() {
        let span = Span {
            trace_id: vec![1; 16],
            name: "GET /users".into(),
            attributes: vec![KeyValue {
                key: "http.route".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("/users".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let rs = &req.resource_spans[0];
        let ss = &rs.scope_spans[0];
        let s = &ss.spans[0];
        let expected = req.resource_spans.capacity() * size_of::<ResourceSpans>()
            + rs.scope_spans.capacity() * size_of::<ScopeSpans>()
            + ss.spans.capacity() * size_of::<Span>()
            + s.trace_id.capacity()
            + s.name.capacity()
            + s.attributes.capacity() * size_of::<KeyValue>()
            + "http.route".len()
            + "/users".len();
        assert_eq!(req.heap_size(), expected);
        // and the decoded form is well over the encoding
        assert!(
            req.heap_size() > 3 * req.encoded_len(),
            "{}",
            req.heap_size()
        );
    }

    /// For random requests of every signal, the decoded form takes more than its encoding.
    #[test]
    fn decoded_requests_take_more_than_their_encoding() {
        use crate::batch::BatchData;
        use crate::ids::Signal;
        use crate::testing::random::{request, Rng};
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            for seed in 0..200 {
                let data = request(signal, &mut Rng(seed));
                let (heap, encoded) = match &data {
                    BatchData::Traces(r) => (r.heap_size(), r.encoded_len()),
                    BatchData::Metrics(r) => (r.heap_size(), r.encoded_len()),
                    BatchData::Logs(r) => (r.heap_size(), r.encoded_len()),
                };
                assert!(heap >= encoded, "{signal} seed {seed}: {heap} < {encoded}");
            }
        }
    }
}
