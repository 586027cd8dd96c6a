//! Protobuf encoding of decoded export requests that computes each item's nested lengths
//! once.
//!
//! prost writes a nested message as its length and then its fields, and finds the length by
//! walking the message; a request nests items five or six levels deep (request → resource →
//! scope → span/log record/metric → attribute → value), so every attribute string is walked
//! at each level above it. Here each item's (span, log record, metric) length is computed
//! once, the scope and resource lengths are summed from those, and each item is then
//! written with prost's `encode_raw` (which walks only the levels inside it). The output is byte for byte what prost's
//! `encode` writes (tested): the same fields in the same (field number) order.

use bytes::BufMut;
use prost::encoding::{encode_key, encode_varint, message, string, WireType};
use prost::Message;

use crate::proto::tonic::common::v1::InstrumentationScope;
use crate::proto::tonic::resource::v1::Resource;

/// The fields every `Resource*` level has (`resource` = 1, children = 2, `schema_url` = 3).
pub(crate) trait ResourceLevel {
    type Scope: ScopeLevel;
    fn parts(&self) -> (Option<&Resource>, &[Self::Scope], &String);
}

/// The fields every `Scope*` level has (`scope` = 1, items = 2, `schema_url` = 3).
pub(crate) trait ScopeLevel {
    type Item: Message;
    fn parts(&self) -> (Option<&InstrumentationScope>, &[Self::Item], &String);
}

macro_rules! levels {
    ($res:ty, $scopes:ident, $scope:ty, $items:ident, $item:ty) => {
        impl ResourceLevel for $res {
            type Scope = $scope;
            fn parts(&self) -> (Option<&Resource>, &[$scope], &String) {
                (self.resource.as_ref(), &self.$scopes, &self.schema_url)
            }
        }
        impl ScopeLevel for $scope {
            type Item = $item;
            fn parts(&self) -> (Option<&InstrumentationScope>, &[$item], &String) {
                (self.scope.as_ref(), &self.$items, &self.schema_url)
            }
        }
    };
}

use crate::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use crate::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

levels!(ResourceSpans, scope_spans, ScopeSpans, spans, Span);
levels!(ResourceLogs, scope_logs, ScopeLogs, log_records, LogRecord);
levels!(
    ResourceMetrics,
    scope_metrics,
    ScopeMetrics,
    metrics,
    Metric
);

/// Encode an `Export*ServiceRequest` given its resources (field 1 of every request).
///
/// Each item's length is computed once up front; the scope and resource lengths are summed
/// from them, and every byte is written straight into `out` (no intermediate buffers, so a
/// batch being encoded costs its encoding once in memory).
pub(crate) fn encode_request<R: ResourceLevel>(resources: &[R], out: &mut impl BufMut) {
    let mut item_lens: Vec<usize> = Vec::new();
    let mut scope_lens: Vec<usize> = Vec::new();
    for r in resources {
        let (res, scopes, schema_url) = r.parts();
        item_lens.clear();
        scope_lens.clear();
        let mut resource_len = res.map_or(0, |x| message::encoded_len(1, x));
        for s in scopes {
            let (sc, items, scope_schema_url) = s.parts();
            let mut scope_len = sc.map_or(0, |x| message::encoded_len(1, x));
            for it in items {
                let n = it.encoded_len();
                item_lens.push(n);
                scope_len += delimited_len(2, n);
            }
            if !scope_schema_url.is_empty() {
                scope_len += string::encoded_len(3, scope_schema_url);
            }
            scope_lens.push(scope_len);
            resource_len += delimited_len(2, scope_len);
        }
        if !schema_url.is_empty() {
            resource_len += string::encoded_len(3, schema_url);
        }

        put_header(out, 1, resource_len);
        if let Some(res) = res {
            message::encode(1, res, out);
        }
        let mut lens = item_lens.iter();
        for (s, &scope_len) in scopes.iter().zip(&scope_lens) {
            let (sc, items, scope_schema_url) = s.parts();
            put_header(out, 2, scope_len);
            if let Some(sc) = sc {
                message::encode(1, sc, out);
            }
            for (it, &n) in items.iter().zip(&mut lens) {
                put_header(out, 2, n);
                // `encode_raw` is what prost's own nested encoding calls after the length.
                it.encode_raw(out);
            }
            if !scope_schema_url.is_empty() {
                string::encode(3, scope_schema_url, out);
            }
        }
        if !schema_url.is_empty() {
            string::encode(3, schema_url, out);
        }
    }
}

/// The length of what [`encode_request`] writes, summed the same way.
pub(crate) fn encoded_len_request<R: ResourceLevel>(resources: &[R]) -> usize {
    resources
        .iter()
        .map(|r| {
            let (res, scopes, schema_url) = r.parts();
            let mut resource_len = res.map_or(0, |x| message::encoded_len(1, x));
            for s in scopes {
                let (sc, items, scope_schema_url) = s.parts();
                let mut scope_len = sc.map_or(0, |x| message::encoded_len(1, x));
                scope_len += items
                    .iter()
                    .map(|it| delimited_len(2, it.encoded_len()))
                    .sum::<usize>();
                if !scope_schema_url.is_empty() {
                    scope_len += string::encoded_len(3, scope_schema_url);
                }
                resource_len += delimited_len(2, scope_len);
            }
            if !schema_url.is_empty() {
                resource_len += string::encoded_len(3, schema_url);
            }
            delimited_len(1, resource_len)
        })
        .sum()
}

/// Key and length of a length-delimited field of `len` bytes.
fn put_header(out: &mut impl BufMut, field: u32, len: usize) {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// Bytes taken by a length-delimited field of `len` bytes .
fn delimited_len(field: u32, len: usize) -> usize {
    prost::encoding::key_len(field) + prost::encoding::encoded_len_varint(len as u64) + len
}
