//! Builders for tests of components and of the runtime (feature `testing`): one copy instead
//! of one per crate.

use crate::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use crate::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::Batch;

/// A traces batch of `n` spans named `{prefix}0`, `{prefix}1`, … in one resource and scope.
pub fn spans(prefix: &str, n: usize) -> Batch {
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        name: format!("{prefix}{i}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// A string attribute.
pub fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}
